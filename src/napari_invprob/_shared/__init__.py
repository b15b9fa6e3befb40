"""Helpers every layer uses: the device and thread count, memory release, provenance records, lazy exports."""

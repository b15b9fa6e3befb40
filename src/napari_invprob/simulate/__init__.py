"""Simulated measurements for trying methods on data with a known answer (float32 NumPy in and out)."""

from ._blur import blur

__all__ = ["blur"]

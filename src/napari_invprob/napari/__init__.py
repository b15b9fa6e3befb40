"""The napari face: the readers (MRC tilt series, TIFF stacks), the MRC writer, sample data, the demo and
the dock widgets (:mod:`~.widgets`), all named in ``napari.yaml``.

Only :mod:`~.widgets` imports napari or Qt; the readers, writer and sample data take and return plain
data, as npe2 asks.
"""

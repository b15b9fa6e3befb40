"""A measured PSF as controls: the bead image, a point on the bead (or the cursor), the PSF's size.

The Deconvolution widget shows them when its PSF source is "bead"; they describe a call of
:func:`napari_invprob.psf.from_bead_at` (background, centring and normalisation as
:func:`~napari_invprob.psf.from_bead`), made in the worker.
"""

from __future__ import annotations

import numpy as np
from magicgui.widgets import Container, SpinBox
from napari.layers import Image, Points

from ._controls import layer_picker


class BeadControls(Container):
    """The bead image layer, where the bead is (the last point of a points layer, or the cursor), and the
    PSF's size."""

    def __init__(self, napari_viewer):
        self.image = layer_picker(napari_viewer, Image, label="bead image",
                                  tooltip="an image of sub-resolution beads, taken like the sample")
        self.points = layer_picker(napari_viewer, Points, label="bead at", optional=True,
                                   tooltip="a points layer whose last point marks the bead (add one on it); "
                                           "none: the bead under the cursor (hover over it, then press the button)")
        self._viewer = napari_viewer
        self.size = SpinBox(value=31, min=3, max=255, step=2, label="PSF size (px)",
                            tooltip="the measured PSF's size in y and x, pixels (odd)")
        self.depth = SpinBox(value=21, min=1, max=255, step=2, label="PSF planes",
                             tooltip="the measured PSF's size in z for a 3D bead image (odd)")
        super().__init__(widgets=[self.image, self.points, self.size, self.depth], labels=True)
        self.margins = (0, 0, 0, 0)

    def parameters(self, ndim: int) -> tuple[Image, dict]:
        """The bead image layer and the keyword arguments of :func:`~napari_invprob.psf.from_bead_at`
        (``position`` in the bead image's indices, ``size``) for a PSF with ``ndim`` axes;
        ``ValueError`` saying what is missing."""
        layer, points = self.image.value, self.points.value
        if layer is None:
            raise ValueError("no bead image: open an image of beads and pick it as the bead image")
        if layer.data.ndim != ndim or layer.rgb:
            raise ValueError(f"the bead image {layer.name!r} has {layer.data.ndim} axes; the input has {ndim} "
                             "spatial axes")
        if points is None:  # the cursor's last place on the canvas, the current plane on the other axes
            position = layer.world_to_data(np.asarray(self._viewer.cursor.position, dtype=float)[-layer.ndim:])
            if not all(0 <= v <= n - 1 for v, n in zip(position[-ndim:], layer.data.shape[-ndim:])):
                raise ValueError(f"the cursor is not on the bead image {layer.name!r}: hover over a bead, or mark it "
                                 "with a point in a points layer picked as 'bead at'")
        elif len(points.data) == 0:
            raise ValueError("no bead marked: add a point on a bead in a points layer and pick it as 'bead at'")
        else:
            position = layer.world_to_data(points.data_to_world(np.asarray(points.data[-1], dtype=float)))
        position = [float(v) for v in position[-ndim:]]
        size = [int(self.size.value)] * 2
        return layer, {"position": position, "size": ([int(self.depth.value)] if ndim == 3 else []) + size}

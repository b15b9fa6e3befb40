"""Where the viewer looks when a result appears: at a slice through it, never at an index inherited
from another layer (the sliders' positions are shared by all layers)."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np


def show_at(viewer, layer, index: Sequence[float | None]) -> None:
    """Move the viewer's sliders to data ``index`` of ``layer`` (one entry per layer axis; None: its middle).

    Displayed axes are left alone; an axis not displayed (a slider) is set to that index's world
    position, so the layer is shown at that slice whatever the sliders held before.

    Parameters
    ----------
    viewer : napari.Viewer
    layer : napari.layers.Layer
        A layer of ``viewer``.
    index : sequence of float or None
        A data index per axis of ``layer``.
    """
    shape = layer.data.shape
    if len(index) != len(shape):
        raise ValueError(f"got {len(index)} indices for a layer of {len(shape)} axes")
    point = np.array([(size - 1) / 2 if i is None else float(i) for i, size in zip(index, shape)])
    world = np.asarray(layer.data_to_world(point), dtype=np.float64)
    dims = viewer.dims
    first = dims.ndim - len(shape)
    for axis, value in enumerate(world):
        if first + axis not in dims.displayed:
            dims.set_point(first + axis, float(value))


def middle_projection(angles) -> int:
    """The index of the projection nearest 0° tilt."""
    return int(np.argmin(np.abs(np.asarray(angles, dtype=np.float64))))

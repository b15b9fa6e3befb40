"""Tomography: a tilt series from its file to the volume, in the order it goes through.

1. :mod:`~.files`: a tilt-series file read with its conventions resolved (angles from a sidecar or the
   header, pixel size, unsigned counts stored as int16, the tilt axis), :func:`read_tilt_series`;
2. :mod:`~.tilt_axis`: the tilt axis's direction in the projections, :func:`estimate_tilt_axis`
   (:func:`estimate_tilt_axis_with_uncertainty`: how sure, and whether it is off the grid);
3. :mod:`~.preparation`: storage offset, contrast (dark- or bright-field, ``−log(I/I0)``) and the
   constant background a compact specimen's projections sit on, :func:`prepare`;
   :mod:`~.preprocessing`: intensity normalisation, cropping and binning;
4. :mod:`~.alignment`: drift and tilt-axis rotation removed, :func:`align`;
5. :mod:`~.geometry`: a volume as independent slices along the tilt axis, and :func:`project`;
6. :mod:`~.methods`: the table of reconstruction methods; :mod:`~.coarse_to_fine`: TV on a pyramid;
   :mod:`~.chunks`: the chunk engine solving slabs of slices side by side;
   :mod:`~.cross_validation`: λ from held-out projections;
7. :mod:`~.reconstruct`: the front door, :func:`napari_invprob.reconstruct`.

The wing uses the shared math (``operators``, ``priors``, ``solvers``, ``problems``, ``files``) and
never the deconvolution wing.
"""

from __future__ import annotations

from .._shared.lazy import lazy_exports

_LAZY = {
    "TiltSeries": ".files",
    "read_tilt_series": ".files",
    "estimate_stack_tilt_axis": ".files",
    "estimate_tilt_axis": ".tilt_axis",
    "estimate_tilt_axis_with_uncertainty": ".tilt_axis",
    "TiltAxisEstimate": ".tilt_axis",
    "choose_tilt_axis": ".tilt_axis",
    "prepare": ".preparation",
    "Preparation": ".preparation",
    "normalize_intensity": ".preprocessing",
    "to_absorption": ".preprocessing",
    "crop": ".preprocessing",
    "bin_series": ".preprocessing",
    "align": ".alignment",
    "align_iter": ".alignment",
    "project": ".geometry",
    "METHODS": ".methods",
    "cross_validate": ".cross_validation",
    "reconstruct_iter": ".reconstruct",
}

__getattr__, __dir__ = lazy_exports(__name__, _LAZY)

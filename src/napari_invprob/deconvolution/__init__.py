"""Deconvolution: a blurred stack from its PSF to the result, in the order it goes through.

1. the PSF: :mod:`~.psf` (a Gaussian), :mod:`~.bead` (measured from a bead image), :mod:`~.optics`
   (Born & Wolf, Gibson-Lanni, confocal, sampled on the image's grid); :mod:`~.measured_psf` prepares
   any PSF given (a bead stack's background, centre, box and voxel size) before use;
2. :mod:`~.background`: the camera's offset under the image, for Richardson-Lucy's Poisson model;
3. :mod:`~.problem`: the image in the solvers' layout with its blur (boundaries, channels, checks);
4. :mod:`~.methods`: the table of deconvolution methods, one adapter per solver;
5. :mod:`~.deconvolve`: the front door, :func:`napari_invprob.deconvolve` (channels, time points, λ from SURE).

A light-sheet stack taken by a stage scan is deskewed first: :mod:`~.deskew` (:func:`napari_invprob.deskew` into the
objective's frame, with its voxel size :func:`deskewed_voxel_size`; :func:`rotate_to_coverslip` into the
coverslip's frame).

The wing uses the shared math (``operators``, ``priors``, ``solvers``, ``problems``, ``files``) and
never the tomography wing.
"""

from __future__ import annotations

from .._shared.lazy import lazy_exports

_LAZY = {
    "gaussian": ".psf",
    "from_bead": ".bead",
    "from_bead_at": ".bead",
    "prepare_psf": ".measured_psf",
    "resample_psf": ".measured_psf",
    "optical_psf": ".optics",
    "estimate_background": ".background",
    "DeconvolutionProblem": ".problem",
    "METHODS": ".methods",
    "deconvolve_iter": ".deconvolve",
    "choose_lam": ".deconvolve",
    "deskewed_shape": ".deskew",
    "deskewed_voxel_size": ".deskew",
    "rotate_to_coverslip": ".deskew",
}

__getattr__, __dir__ = lazy_exports(__name__, _LAZY)

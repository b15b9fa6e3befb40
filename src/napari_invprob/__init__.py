"""napari-invprob: interactive deconvolution and tomography.

The public calls are imported lazily, so ``import napari_invprob`` is cheap and pulls in neither Qt
nor napari::

    import napari_invprob as nip
    restored = nip.deconvolve(blurred, psf, method="admm-tv", lam=0.01)
    volume = nip.reconstruct(tilt_series, angles, method="tv", tilt_axis="y")

The package has two wings, one per microscope, over the lecture's shared math (``operators``,
``priors``, ``solvers``, ``problems``): :mod:`napari_invprob.tomography` (a tilt series from its file to
the volume) and :mod:`napari_invprob.deconvolution` (a blurred stack from its PSF to the result). Its two
faces are :mod:`napari_invprob.napari` (readers, writer, sample data, dock widgets) and
:mod:`napari_invprob.cli`.
"""

from __future__ import annotations

from ._shared.lazy import lazy_exports
from ._version import __version__

_LAZY = {
    "deconvolve": ".deconvolution.deconvolve",
    "deconvolve_iter": ".deconvolution.deconvolve",
    "deskew": ".deconvolution.deskew",
    "reconstruct": ".tomography.reconstruct",
    "reconstruct_iter": ".tomography.reconstruct",
    "project": ".tomography.geometry",
    "align": ".tomography.alignment",
    "denoise": ".priors.denoisers",
}

__all__ = ["__version__", *_LAZY]

__getattr__, __dir__ = lazy_exports(__name__, _LAZY, also=__all__)

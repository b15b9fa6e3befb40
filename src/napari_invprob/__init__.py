"""napari-invprob: interactive deconvolution and tomography.

The public calls are imported lazily, so ``import napari_invprob`` is cheap and pulls in neither Qt
nor napari::

    import napari_invprob as nip
    restored = nip.deconvolve(blurred, psf, method="admm-tv", lam=0.01)
    volume = nip.reconstruct(tilt_series, angles, method="tv", tilt_axis="y")
"""

from __future__ import annotations

import importlib

from ._version import __version__

_LAZY = {
    "deconvolve": "napari_invprob.problems.deconvolution",
    "deconvolve_iter": "napari_invprob.problems.deconvolution",
    "reconstruct": "napari_invprob.problems.tomography",
    "reconstruct_iter": "napari_invprob.problems.tomography",
    "project": "napari_invprob.problems.tomography",
    "align": "napari_invprob.alignment",
    "denoise": "napari_invprob.priors.denoisers",
}

__all__ = ["__version__", *_LAZY]


def __getattr__(name: str):
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'napari_invprob' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__():
    return sorted(__all__)

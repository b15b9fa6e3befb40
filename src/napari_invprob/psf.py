"""Point-spread functions: Gaussian, measured from a bead, and optical models (Born & Wolf, Gibson-Lanni,
confocal); a measured PSF prepared for use (background, centre, crop, voxel size).

The public entry point only: the PSFs live in the deconvolution wing (:mod:`napari_invprob.deconvolution.psf`,
:mod:`~napari_invprob.deconvolution.bead`, :mod:`~napari_invprob.deconvolution.optics`).
"""

from .deconvolution.bead import BACKGROUNDS, from_bead, from_bead_at
from .deconvolution.measured_psf import PSFPreparation, prepare_psf, resample_psf
from .deconvolution.optics import (
    ENERGY,
    MAX_LATERAL_SIZE,
    OPTICAL_MODELS,
    born_wolf,
    confocal,
    gibson_lanni,
    optical_psf,
)
from .deconvolution.psf import gaussian

__all__ = [
    "BACKGROUNDS",
    "ENERGY",
    "MAX_LATERAL_SIZE",
    "OPTICAL_MODELS",
    "born_wolf",
    "confocal",
    "from_bead",
    "from_bead_at",
    "gaussian",
    "gibson_lanni",
    "optical_psf",
    "prepare_psf",
    "resample_psf",
    "PSFPreparation",
]

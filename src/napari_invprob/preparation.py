"""A tilt series prepared for reconstruction: storage offset, contrast (dark- or bright-field) and background.

The public entry point only: the preparation lives in the tomography wing
(:mod:`napari_invprob.tomography.preparation`).
"""

from .tomography.preparation import (
    CONTRASTS,
    Preparation,
    PreparationWarning,
    estimate_background,
    prepare,
    resolve_preparation,
    storage_offset,
)

__all__ = [
    "CONTRASTS",
    "Preparation",
    "PreparationWarning",
    "estimate_background",
    "prepare",
    "resolve_preparation",
    "storage_offset",
]

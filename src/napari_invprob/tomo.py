"""λ cross-validation for tomography, under the name the user guide and scripts know; it lives in
:mod:`napari_invprob.problems.cross_validation`, beside SURE."""

from .problems.cross_validation import (
    CrossValidation,
    cross_validate,
    cross_validate_iter,
    held_out_misfit,
    held_out_projections,
    normalised_cross_correlation,
)

__all__ = [
    "CrossValidation",
    "cross_validate",
    "cross_validate_iter",
    "held_out_misfit",
    "held_out_projections",
    "normalised_cross_correlation",
]

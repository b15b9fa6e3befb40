"""Point-spread functions: Gaussian, measured from a bead, and optical models (Born & Wolf, Gibson-Lanni,
confocal).

Every PSF is returned as a float32 NumPy array, normalised to sum 1 and centred: the pixel at index
``size // 2`` on every axis is the optical axis / focal plane (the zero shift of
:class:`napari_invprob.operators.Convolution`). Axes follow napari's order: ``(y, x)`` or ``(z, y, x)``.
Lengths (wavelengths, pixel sizes, z spacings, thicknesses, depths) are in **micrometres**.

The optical models integrate the scalar diffraction integral over the normalised pupil radius ``ρ``
numerically (Gauss-Legendre quadrature, with enough nodes for the oscillations of the integrand)::

    h(r, z) = | ∫₀¹ J₀(k·NA·r·ρ) · exp(i·W(ρ, z)) · ρ dρ |²,   k = 2π / λ,

evaluated exactly at the pixel centres (no radial interpolation). The models differ in the phase ``W``.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

from .._shared.budget import check_fits


# -- Gaussian ------------------------------------------------------------------------------------------
def gaussian(size, sigma, ndim=2) -> np.ndarray:
    """Sampled Gaussian PSF, centred and normalised to sum 1.

    Parameters
    ----------
    size : int or sequence of int
        Number of pixels per axis (the same on every axis for an int).
    sigma : float or sequence of float
        Standard deviation in pixels (per axis for a sequence).
    ndim : int
        Number of axes when both ``size`` and ``sigma`` are scalars; a sequence ``size`` or ``sigma``
        sets the number of axes itself.

    Returns
    -------
    numpy.ndarray
        float32, shape ``size``, maximum at pixel ``size // 2`` (symmetric for odd sizes).

    Raises
    ------
    ValueError
        If a size is < 1, a sigma is not > 0, or the lengths of ``size``, ``sigma`` disagree.
    """
    n_axes = _number_of_axes(size, sigma, ndim)
    sizes, sigmas = _pixel_counts(size, "size", n_axes), _per_axis(sigma, "sigma", n_axes)
    if any(not np.isfinite(s) or s <= 0 for s in sigmas):
        raise ValueError(f"sigma must be > 0, got {sigma}")
    check_fits(8.0 * (n_axes + 2) * math.prod(int(n) for n in sizes),
               f"a Gaussian PSF of {' x '.join(str(int(n)) for n in sizes)} pixels", "size is in pixels per axis")
    grids = np.meshgrid(*[np.arange(int(n)) - int(n) // 2 for n in sizes], indexing="ij")
    kernel = np.exp(-0.5 * sum((g / s) ** 2 for g, s in zip(grids, sigmas)))
    return _normalised(kernel)


def _is_sequence(value) -> bool:
    return isinstance(value, Sequence | np.ndarray)


def _number_of_axes(size, sigma, ndim: int) -> int:
    """Axes of a Gaussian: the length of a sequence ``size``/``sigma``, else ``ndim``."""
    lengths = {len(v) for v in (size, sigma) if _is_sequence(v)}
    if len(lengths) > 1:
        raise ValueError(f"size {_numbers(size)} and sigma {_numbers(sigma)} have different lengths")
    n_axes = lengths.pop() if lengths else int(ndim)
    if n_axes < 1:
        raise ValueError(f"a PSF needs at least one axis, got ndim={ndim}")
    return n_axes


def _per_axis(value, name: str, n_axes: int) -> tuple[float, ...]:
    """``value`` repeated on ``n_axes`` axes, or a sequence of that length as floats."""
    if not _is_sequence(value):
        return (float(value),) * n_axes
    values = tuple(float(v) for v in value)
    if len(values) != n_axes:
        raise ValueError(f"{name} {values} has {len(values)} entries for {n_axes} axes")
    return values


# -- measured from a bead ----------------------------------------------------------------------------
def _pixel_counts(value, name: str, n_axes: int) -> tuple[int, ...]:
    """``value`` (one count, or one per axis) as positive whole numbers of pixels; ``ValueError`` naming
    ``name`` otherwise (NaN and 8.5 included)."""
    counts = _per_axis(value, name, n_axes)
    if not all(math.isfinite(n) and n == int(n) and n >= 1 for n in counts):
        raise ValueError(f"{name} must be positive whole numbers of pixels, got {_numbers(counts)}")
    return tuple(int(n) for n in counts)


def _numbers(values) -> str:
    """``values`` as plain numbers for a message (``8, 8.5``, not ``np.float64(8.0)``)."""
    return ", ".join(f"{float(v):g}" for v in np.ravel(values))


def _normalised(kernel: np.ndarray) -> np.ndarray:
    kernel = np.asarray(kernel, dtype=np.float64)
    return (kernel / kernel.sum()).astype(np.float32)

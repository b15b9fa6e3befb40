"""Filtered back-projection: ramp-type filtering of each projection, then weighted back-projection.

The filters, their zero padding and the overall scale follow scikit-image's ``iradon``, so the two
agree on the same data; the back-projection is the adjoint of whatever projector is given (an exact
transpose), and each angle is weighted by the angular interval it stands for, which also handles
limited and non-uniform tilt ranges.
"""

from __future__ import annotations

from collections.abc import Iterator
from functools import lru_cache

import numpy as np
import torch

from ..operators.base import LinearOperator
from .base import Clock, Iterate

FILTERS = ("ramp", "shepp-logan", "cosine", "hamming", "hann")


def reconstruction_circle(n: int) -> np.ndarray:
    """Boolean ``(n, n)`` mask of the reconstruction circle, as ``skimage.transform.iradon`` uses it.

    Centre pixel ``n // 2``, radius ``n // 2``, boundary included.
    """
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 2:
        raise ValueError(f"n must be an integer >= 2, got {n!r}")
    r = np.arange(n) - n // 2
    return (r[:, None] ** 2 + r[None, :] ** 2) <= (n // 2) ** 2


def padded_size(n_detector: int) -> int:
    """Length of the zero-padded projections that are filtered, as in ``skimage.transform.iradon``.

    scikit-image first pads a sinogram to the image diagonal ``ceil(√2·n)`` and then to the next power
    of two of twice that (at least 64); circular filtering depends only on the final length.
    """
    diagonal = int(np.ceil(np.sqrt(2) * n_detector))
    return max(64, int(2 ** np.ceil(np.log2(2 * diagonal))))


def check_filter(name: str) -> str:
    """Return ``name`` if it is a known filter, else raise ``ValueError`` listing them."""
    if name not in FILTERS:
        raise ValueError(f"unknown filter {name!r}; valid filters are {', '.join(FILTERS)}")
    return name


@lru_cache(maxsize=16)
def fourier_filter(size: int, name: str) -> np.ndarray:
    """Frequency response of a reconstruction filter on the ``rfft`` grid of length ``size``.

    The ramp is the Fourier transform of the band-limited spatial ramp kernel (Kak & Slaney, ch. 3,
    eq. 61), multiplied by the window ``name`` exactly as in ``skimage.transform.iradon``. The windows
    scikit-image uses are not quite even in frequency; only their even part acts on a real signal, so
    that part is returned.

    Parameters
    ----------
    size : int
        Length of the padded projection (even).
    name : {"ramp", "shepp-logan", "cosine", "hamming", "hann"}
        The filter.

    Returns
    -------
    numpy.ndarray
        float64 array of length ``size // 2 + 1``.
    """
    check_filter(name)
    n = np.concatenate((np.arange(1, size / 2 + 1, 2, dtype=int), np.arange(size / 2 - 1, 0, -2, dtype=int)))
    kernel = np.zeros(size)
    kernel[0] = 0.25
    kernel[1::2] = -1 / (np.pi * n) ** 2
    response = 2 * np.real(np.fft.fft(kernel))
    if name == "shepp-logan":
        omega = np.pi * np.fft.fftfreq(size)[1:]
        response[1:] *= np.sin(omega) / omega
    elif name == "cosine":
        response *= np.fft.fftshift(np.sin(np.linspace(0, np.pi, size, endpoint=False)))
    elif name == "hamming":
        response *= np.fft.fftshift(np.hamming(size))
    elif name == "hann":
        response *= np.fft.fftshift(np.hanning(size))
    even = 0.5 * (response + np.roll(response[::-1], 1))
    return even[: size // 2 + 1]


def angle_weights(angles_deg) -> np.ndarray:
    """Back-projection weight of each angle: half the angular interval (radians) it represents.

    Projections at θ and θ + 180° carry the same line integrals, so the angles are taken modulo 180°
    and sorted; each one stands for half the gap to each neighbour (the gaps wrap around at 180°). A
    gap wider than twice the median gap is a missing wedge: it is counted as one median gap, so a
    limited tilt range is weighted like a full range with the wedge left empty, not interpolated
    across. For ``n`` uniformly spaced angles covering 180° every weight is ``π / (2n)``, the scale
    of ``skimage.transform.iradon``.

    Parameters
    ----------
    angles_deg : array-like
        Projection angles in degrees, any order (at least 2, distinct).

    Returns
    -------
    numpy.ndarray
        float64 weights, in the order of ``angles_deg``.
    """
    theta = np.deg2rad(np.asarray(angles_deg, dtype=np.float64)) % np.pi
    order = np.argsort(theta, kind="stable")
    sorted_theta = theta[order]
    gaps = np.diff(np.concatenate([sorted_theta, sorted_theta[:1] + np.pi]))  # gap after each angle
    typical = np.median(gaps)
    gaps = np.where(gaps > 2 * typical, typical, gaps)
    interval = 0.5 * (gaps + np.roll(gaps, 1))
    weights = np.empty_like(theta)
    weights[order] = 0.5 * interval
    return weights


def filter_projections(y: torch.Tensor, name: str = "ramp") -> torch.Tensor:
    """Filter each projection (the last axis of ``y``) with the reconstruction filter ``name``.

    The projections are zero-padded to :func:`padded_size` before the circular (FFT) filtering, as in
    ``skimage.transform.iradon``; the result has the shape of ``y``.
    """
    n_det = y.shape[-1]
    size = padded_size(n_det)
    response = torch.as_tensor(fourier_filter(size, name), dtype=y.dtype, device=y.device)
    spectrum = torch.fft.rfft(y, n=size, dim=-1) * response
    return torch.fft.irfft(spectrum, n=size, dim=-1)[..., :n_det]


def fbp(
    op: LinearOperator,
    y: torch.Tensor,
    *,
    weights: torch.Tensor,
    filter_name: str = "ramp",
    support: torch.Tensor | None = None,
) -> Iterator[Iterate]:
    """Filtered back-projection, a direct method (one yield).

    ``x = Aᵀ(w ⊙ (h * y))``: every projection (last axis of ``y``) is convolved with the filter ``h``,
    multiplied by the weight ``w`` of its angle (see :func:`angle_weights`), and back-projected with the
    adjoint of ``op``.

    Parameters
    ----------
    op : LinearOperator
        The projector; its output's last two axes are ``(n_angles, n_detector)``.
    y : torch.Tensor
        Projections ``(*batch, n_angles, n_detector)``.
    weights : torch.Tensor
        Per-angle weights, shape ``(n_angles,)``.
    filter_name : {"ramp", "shepp-logan", "cosine", "hamming", "hann"}
        Reconstruction filter.
    support : torch.Tensor of bool, optional
        Where the reconstruction is defined (e.g. the disc the detector sees); zero elsewhere.

    Yields
    ------
    Iterate
        One iterate, ``iteration == 1``.
    """
    check_filter(filter_name)
    clock = Clock()
    filtered = filter_projections(y, filter_name) * weights[:, None]
    x = op.adjoint(filtered)
    if support is not None:
        x = x * support
    yield Iterate(1, x, None, None, clock())


__all__ = [
    "FILTERS",
    "angle_weights",
    "check_filter",
    "fbp",
    "filter_projections",
    "fourier_filter",
    "padded_size",
]


"""The tilt axis's direction in the projections, from their common line (:func:`estimate_tilt_axis`)."""

from __future__ import annotations

import numpy as np
from scipy import fft, ndimage

from .preprocessing import _stack, bin_series, crop


def estimate_tilt_axis(tilt_series, *, max_size: int = 256) -> float:
    """Estimate the direction of the tilt axis in the projections from their common line.

    For a parallel beam, every projection's 2D Fourier transform holds the same central line: the one
    along the tilt axis (Fourier slice theorem; the object's projection onto the axis is the same
    from every angle). Drifts change only phases, so the amplitude spectra are compared: the axis is
    the direction ψ through the origin along which ``|F_θ(k)|`` varies least across the series
    (relative variance, mid frequencies, 0.25° steps; the projections binned to at most ``max_size``
    pixels, standardised and tapered to avoid edge artefacts). That line is then refined to 0.1°
    within ±5° in real space: the profiles of the projections summed across the candidate axis
    (their projections onto it) must agree, up to a shift along it; their amplitude spectra are
    compared (see ``_AxisProfiles``), which uses all the signal the Fourier line samples sparsely.

    Parameters
    ----------
    tilt_series : array-like, shape (n_angles, rows, cols)
        At least 3 projections over a range of tilts.
    max_size : int
        Bin so that the projections are at most this large (speed).

    Returns
    -------
    float
        ψ in degrees in [-90, 90): the tilt axis runs along the image's y axis (rows) for ψ = 0 and
        along its x axis for ψ = ±90; positive ψ turns it from +y towards +x.
    """
    data = _stack(tilt_series)
    if data.shape[0] < 3:
        raise ValueError("need at least 3 projections to estimate the tilt axis")
    factor = max(1, int(np.ceil(max(data.shape[1:]) / max_size)))
    if factor > 1:
        data = bin_series(data, factor)
    profile_factor = max(1, int(np.ceil(max(data.shape[1:]) / _PROFILE_SIZE)))
    data_for_profiles = bin_series(data, profile_factor) if profile_factor > 1 else data.copy()
    size = min(data.shape[1:])
    data = crop(data, (size, size))
    data -= data.mean(axis=(1, 2), keepdims=True)
    data /= data.std(axis=(1, 2), keepdims=True) + 1e-12
    data *= tukey_window((size, size), 0.25)
    amplitude = np.abs(fft.fftshift(fft.fft2(data), axes=(1, 2)))
    spread = amplitude.var(axis=0) / (amplitude.mean(axis=0) ** 2 + 1e-12)

    radii = np.arange(max(2, size // 32), size // 4)
    radii = np.concatenate([radii, -radii]).astype(np.float64)
    centre = size // 2

    def line_spreads(psi_deg: np.ndarray) -> np.ndarray:
        psi = np.radians(psi_deg)[:, None]
        coords = np.stack([centre + radii * np.cos(psi), centre + radii * np.sin(psi)])
        return ndimage.map_coordinates(spread, coords.reshape(2, -1), order=1).reshape(psi.shape[0], -1).mean(axis=1)

    coarse = np.arange(-90.0, 90.0, 0.25)
    best = coarse[int(np.argmin(line_spreads(coarse)))]
    fine = np.arange(best - _REFINE_SPAN, best + _REFINE_SPAN + 1e-9, _REFINE_STEP)
    profiles = _AxisProfiles(data_for_profiles)
    best = fine[int(np.argmin([profiles.spread(psi) for psi in fine]))]
    return wrap_axis_angle(best)


def wrap_axis_angle(angle: float) -> float:
    """An axis direction in degrees (a line: ψ and ψ + 180 are one axis), in [-90, 90)."""
    return float((angle + 90.0) % 180.0 - 90.0)


class _AxisProfiles:
    """The projections' profiles along a candidate tilt axis, and how much they differ.

    Summing a projection across the tilt axis gives the object's projection onto the axis, the same
    from every tilt (the Fourier transform's common line, with all its signal); drifts along the axis
    only shift it. So the spread of the profiles' amplitude spectra across the series is least at the
    true axis. Each projection's background (:func:`napari_invprob.preparation.estimate_background`,
    unbiased by the noise) is removed first, so that the empty area adds nothing whatever the
    candidate's chords through the image.
    """

    def __init__(self, data: np.ndarray):
        from .preparation import estimate_background

        rows, cols = data.shape[1:]
        self.data = (data - estimate_background(data)[:, None, None].astype(np.float32)).reshape(data.shape[0], -1)
        r, c = np.meshgrid(np.arange(rows) - rows / 2 + 0.5, np.arange(cols) - cols / 2 + 0.5, indexing="ij")
        self.r, self.c = r.ravel(), c.ravel()
        self.length = int(np.ceil(np.hypot(rows, cols))) + 3

    def spread(self, psi_deg: float) -> float:
        psi = np.radians(psi_deg)
        t = self.r * np.cos(psi) + self.c * np.sin(psi) + self.length / 2
        lower = np.floor(t).astype(np.intp)
        upper_weight = t - lower
        profiles = np.empty((self.data.shape[0], self.length))
        for profile, projection in zip(profiles, self.data):
            profile[:] = np.bincount(lower, projection * (1 - upper_weight), self.length)
            profile += np.bincount(lower + 1, projection * upper_weight, self.length)
        amplitude = np.abs(np.fft.rfft(profiles, axis=1))[:, 1 : self.length // 4]
        return float(amplitude.var(axis=0).sum() / (np.square(amplitude.mean(axis=0)).sum() + 1e-30))


_REFINE_SPAN = 5.0  # degrees either side of the Fourier estimate searched by the profiles
_REFINE_STEP = 0.1
_PROFILE_SIZE = 128  # projections binned to at most this size for the profiles


def choose_tilt_axis(tilt_series) -> str:
    """``"y"`` or ``"x"``: the image axis nearest the tilt axis :func:`estimate_tilt_axis` finds."""
    return "y" if abs(estimate_tilt_axis(tilt_series)) < 45.0 else "x"


def tukey_window(shape: tuple[int, int], fraction: float) -> np.ndarray:
    """Separable Tukey window: flat in the middle, cosine roll-off over ``fraction`` of each edge."""
    from scipy.signal.windows import tukey

    return np.outer(tukey(shape[0], fraction), tukey(shape[1], fraction)).astype(np.float32)

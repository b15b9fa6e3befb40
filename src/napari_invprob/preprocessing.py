"""Preparing a tilt series for alignment and reconstruction.

Every function takes a stack ``(n_angles, rows, cols)`` and returns a new float32 array; the input is
never modified.

- :func:`normalize_intensity`: equal mean per projection, or a per-projection background removed;
- :func:`to_absorption`: bright-field intensities to line integrals, ``−log(I / I0)``;
- :func:`crop` and :func:`bin_series`: smaller series for speed (binning by 2 or 4 for previews);
- :func:`estimate_tilt_axis` / :func:`choose_tilt_axis`: the tilt-axis direction from the common line.
"""

from __future__ import annotations

import numpy as np
from scipy import fft, ndimage


def _stack(tilt_series, *, name: str = "tilt_series") -> np.ndarray:
    data = np.asarray(tilt_series)
    if data.dtype.kind not in "biuf":
        raise TypeError(f"{name} must be real numbers, got dtype {data.dtype}")
    if data.ndim != 3 or min(data.shape) == 0:
        raise ValueError(f"{name} must be a stack (n_angles, rows, cols), got shape {data.shape}")
    data = data.astype(np.float32)  # always a copy: callers may modify the result
    if not np.all(np.isfinite(data)):
        raise ValueError(f"{name} contains NaN or Inf values")
    return data


def normalize_intensity(tilt_series, *, method: str = "mean", region=None, percentile: float = 2.0) -> np.ndarray:
    """Make the projections' intensities comparable.

    Parameters
    ----------
    tilt_series : array-like, shape (n_angles, rows, cols)
        The projections.
    method : {"mean", "background"}
        ``"mean"`` scales every projection so that its mean equals the mean of the whole series
        (exposure or beam-current changes). ``"background"`` subtracts each projection's background
        level: the median of ``region`` when given, else its ``percentile``-th percentile.
    region : tuple of two slices or None
        ``(row_slice, col_slice)`` of an empty area (vacuum or support film) for ``"background"``.
    percentile : float
        Background percentile used when no region is given.

    Returns
    -------
    numpy.ndarray
        float32 normalised series.
    """
    data = _stack(tilt_series)
    if method == "mean":
        means = data.mean(axis=(1, 2), keepdims=True, dtype=np.float64)
        if np.any(np.abs(means) < 1e-12 * max(1.0, float(np.abs(data).max()))):
            raise ValueError("a projection has zero mean; 'mean' normalisation needs positive intensities")
        return (data * (means.mean() / means)).astype(np.float32)
    if method == "background":
        if region is not None:
            rows, cols = region
            patch = data[:, rows, cols]
            if patch.size == 0:
                raise ValueError(f"background region {region} is empty for projections of {data.shape[1:]}")
            level = np.median(patch.reshape(data.shape[0], -1), axis=1)
        else:
            if not 0 <= percentile <= 100:
                raise ValueError(f"percentile must be in [0, 100], got {percentile}")
            level = np.percentile(data.reshape(data.shape[0], -1), percentile, axis=1)
        return data - level[:, None, None].astype(np.float32)
    raise ValueError(f"unknown normalisation {method!r}; use 'mean' or 'background'")


def to_absorption(tilt_series, *, i0=None, percentile: float = 99.5) -> np.ndarray:
    """Convert bright-field intensities to line integrals, ``−log(I / I0)``.

    Parameters
    ----------
    tilt_series : array-like, shape (n_angles, rows, cols)
        Transmitted intensities (positive).
    i0 : float, array-like of n_angles floats, or None
        The unattenuated beam intensity; None estimates it per projection as the ``percentile``-th
        percentile (the brightest, emptiest pixels).
    percentile : float
        Used when ``i0`` is None.

    Returns
    -------
    numpy.ndarray
        float32 line integrals (≥ 0 where ``I ≤ I0``). Non-positive intensities are clipped to the
        smallest positive intensity of their projection before the logarithm.
    """
    data = _stack(tilt_series)
    if i0 is None:
        i0 = np.percentile(data.reshape(data.shape[0], -1), percentile, axis=1)
    i0 = np.broadcast_to(np.asarray(i0, dtype=np.float64), (data.shape[0],))
    if np.any(~np.isfinite(i0)) or np.any(i0 <= 0):
        raise ValueError("the beam intensity I0 must be positive; is this a bright-field series?")
    result = np.empty_like(data)
    for k, (projection, reference) in enumerate(zip(data, i0)):
        positive = projection[projection > 0]
        if positive.size == 0:
            raise ValueError(f"projection {k} has no positive intensity; cannot take a logarithm")
        result[k] = -np.log(np.maximum(projection, positive.min()) / reference)
    return result


def crop(tilt_series, shape, *, centre=None) -> np.ndarray:
    """Cut the same ``(rows, cols)`` window out of every projection.

    Parameters
    ----------
    tilt_series : array-like, shape (n_angles, rows, cols)
    shape : tuple of two ints
        Size of the window.
    centre : tuple of two ints or None
        Window centre ``(row, col)``; None centres it on the image centre.

    Returns
    -------
    numpy.ndarray
        float32 series ``(n_angles, *shape)``.
    """
    data = _stack(tilt_series)
    height, width = (int(s) for s in shape)
    rows, cols = data.shape[1:]
    if not (0 < height <= rows and 0 < width <= cols):
        raise ValueError(f"crop size {shape} must be positive and fit in projections of {rows}x{cols}")
    row_centre, col_centre = (rows // 2, cols // 2) if centre is None else (int(c) for c in centre)
    top, left = row_centre - height // 2, col_centre - width // 2
    if top < 0 or left < 0 or top + height > rows or left + width > cols:
        raise ValueError(f"a {height}x{width} window centred at {(row_centre, col_centre)} leaves the {rows}x{cols} image")
    return data[:, top : top + height, left : left + width].copy()


def bin_series(tilt_series, factor: int) -> np.ndarray:
    """Average ``factor × factor`` pixel blocks of every projection (the pixel size grows by ``factor``).

    Rows and columns beyond a whole number of blocks are dropped.

    Parameters
    ----------
    tilt_series : array-like, shape (n_angles, rows, cols)
    factor : int
        Binning factor (1 returns a float32 copy; 2 and 4 are usual for previews).

    Returns
    -------
    numpy.ndarray
        float32 series ``(n_angles, rows // factor, cols // factor)``.
    """
    if isinstance(factor, bool) or not isinstance(factor, (int, np.integer)) or factor < 1:
        raise ValueError(f"binning factor must be a positive integer, got {factor!r}")
    data = np.asarray(tilt_series)
    if data.dtype.kind not in "biuf" or data.ndim != 3 or min(data.shape) == 0:
        raise ValueError(f"tilt_series must be a real stack (n_angles, rows, cols), got {data.dtype} {data.shape}")
    n, rows, cols = data.shape
    if rows < factor or cols < factor:
        raise ValueError(f"cannot bin {rows}x{cols} projections by {factor}")
    h, w = rows // factor, cols // factor
    binned = np.empty((n, h, w), dtype=np.float32)
    for projection, out in zip(data, binned):  # one projection at a time: large int16 stacks stay small
        blocks = projection[: h * factor, : w * factor].reshape(h, factor, w, factor)
        out[...] = blocks.mean(axis=(1, 3), dtype=np.float64)
    if not np.all(np.isfinite(binned)):
        raise ValueError("tilt_series contains NaN or Inf values")
    return binned


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

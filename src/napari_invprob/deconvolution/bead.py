"""A PSF measured from an image of a sub-resolution bead (background removed, centred, normalised), and
the check that an image holds one whole bead above the noise (:func:`one_bead`), which every measured
PSF goes through."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import ndimage

from .psf import _normalised, _numbers, _pixel_counts

BACKGROUNDS = ("median",)


def from_bead(image, *, size=None, background="median") -> np.ndarray:
    """PSF measured from an image of one sub-resolution bead: background removed, centred, normalised.

    Steps: subtract the background; find the bead (the maximum of the lightly smoothed image), take its
    centre of mass in a window of ``size`` around it (refined by re-centring the window); move that centre to pixel ``n // 2`` of every axis by a
    sub-pixel Fourier shift; crop ``size`` pixels around it; clip negatives to 0; normalise to sum 1.

    Parameters
    ----------
    image : array-like
        2D or 3D image holding a single bead (brighter than the background). Never modified.
    size : int, sequence of int or None
        Size of the returned PSF per axis; None keeps the image's shape. Must not exceed the image.
    background : "median" or float
        The background level to subtract: the image's median, or a given value.

    Returns
    -------
    numpy.ndarray
        float32 PSF of shape ``size``, summing to 1, with its centre of mass at pixel ``size // 2``.

    Raises
    ------
    ValueError
        If the image is not 2D/3D or not finite, ``size`` does not fit, ``background`` is unknown, or
        it holds no bead above the noise, two beads or a bead cut by the border (:func:`one_bead`).
    """
    data = np.array(image, dtype=np.float64)  # a copy: the input is never modified
    if data.ndim not in (2, 3):
        raise ValueError(f"bead image must be 2D or 3D, got shape {data.shape}")
    if not np.isfinite(data).all():
        raise ValueError("bead image contains NaN or Inf values")
    out_shape = data.shape if size is None else _pixel_counts(size, "size", data.ndim)
    if any(s < 1 or s > n for s, n in zip(out_shape, data.shape)):
        raise ValueError(f"size {size} does not fit the bead image of shape {data.shape}")
    if isinstance(background, str):
        if background not in BACKGROUNDS:
            raise ValueError(f"unknown background {background!r}; use {', '.join(BACKGROUNDS)} or a number")
        level = float(np.median(data))
    else:
        level = float(background)
        if not np.isfinite(level):
            raise ValueError(f"background must be finite, got {background}")
    data -= level
    signal = np.clip(data, 0.0, None)
    if not signal.any():
        raise ValueError("no signal above the background in the bead image")
    one_bead(data)  # one bead, whole, above the noise: else a message that says what was found

    centre = _bead_centre(signal, out_shape)
    target = np.array([n // 2 for n in data.shape], dtype=float)
    spectrum = ndimage.fourier_shift(np.fft.fftn(data), target - centre)
    centred = np.fft.ifftn(spectrum).real
    crop = tuple(slice(n // 2 - s // 2, n // 2 - s // 2 + s) for n, s in zip(data.shape, out_shape))
    psf = np.clip(centred[crop], 0.0, None)
    if not psf.any():
        raise ValueError("no signal above the background in the bead image")
    return _normalised(psf)


def from_bead_at(image, position, *, size, background="median") -> np.ndarray:
    """PSF measured from the bead at ``position`` in an image of several beads (or a sample with beads).

    A window of twice ``size`` around ``position`` (clipped at the image's edges) goes through
    :func:`from_bead`, which finds the bead in it, centres it and crops ``size``; so ``position`` need
    only be near the bead (a click on it).

    Parameters
    ----------
    image : array-like
        2D or 3D image. Never modified.
    position : sequence of float
        Index (row, column[, plane first for 3D]) near the bead's centre.
    size : int or sequence of int
        Size of the returned PSF per axis (odd sizes keep the centre on a pixel).
    background : "median" or float
        As in :func:`from_bead`: the window's median, or a given level.

    Returns
    -------
    numpy.ndarray
        float32 PSF of ``size``, summing to 1, centred.

    Raises
    ------
    ValueError
        If ``position`` lies outside the image or has the wrong length, or as :func:`from_bead`.
    """
    data = np.asarray(image)
    sizes = _pixel_counts(size, "size", data.ndim)
    centre = np.asarray(position, dtype=float)
    if centre.shape != (data.ndim,) or np.any(centre < -0.5) or np.any(centre > np.array(data.shape) - 0.5):
        raise ValueError(f"position ({_numbers(np.atleast_1d(centre))}) is not inside the image of shape {data.shape}")
    window = tuple(
        slice(max(0, int(round(c)) - s), min(n, int(round(c)) + s + 1)) for c, s, n in zip(centre, sizes, data.shape)
    )
    return from_bead(data[window], size=tuple(min(s, w.stop - w.start) for s, w in zip(sizes, window)),
                     background=background)


def _bead_centre(signal: np.ndarray, window: tuple[int, ...]) -> np.ndarray:
    """Centre of mass of ``signal`` in a ``window`` around its smoothed maximum, refined twice."""
    peak = np.unravel_index(np.argmax(ndimage.gaussian_filter(signal, 1.0)), signal.shape)
    centre = np.asarray(peak, dtype=float)
    for _ in range(3):
        lo = [int(np.clip(round(c) - w // 2, 0, n - w)) for c, w, n in zip(centre, window, signal.shape)]
        box = tuple(slice(a, a + w) for a, w in zip(lo, window))
        patch = signal[box]
        if not patch.any():
            break
        centre = np.asarray(ndimage.center_of_mass(patch)) + lo
    return centre


# -- one bead, whole: the checks every measured PSF goes through ---------------------------------------
#: A second bright region above this share of the bead's (smoothed) peak counts as a second bead, and
#: the bead's own region above it must not touch the border.
BEAD_CORE = 0.3
#: The bead's smoothed peak must stand this many noise standard deviations above the background.
BEAD_SNR = 5.0


@dataclass(frozen=True)
class Bead:
    """The one bead of a background-free image: its centre of mass (pixels), its peak, and the mask of
    the pixels it covers (its connected region above the noise)."""

    centre: np.ndarray
    peak: tuple[int, ...]
    mask: np.ndarray


def noise_sigma(values: np.ndarray) -> float:
    """The noise's standard deviation in an image that is mostly background: 1.4826 times the median
    absolute deviation from the median (0 for a noise-free image)."""
    values = np.asarray(values, dtype=np.float64)
    return float(1.4826 * np.median(np.abs(values - np.median(values))))


def one_bead(signal: np.ndarray, *, what: str = "the bead image") -> Bead:
    """Find the one bead in a background-free image, or say why there is none.

    The image is smoothed (a Gaussian of 1 pixel); the bead is its brightest point. It must stand
    :data:`BEAD_SNR` noise standard deviations above 0, be the only region above :data:`BEAD_CORE` of
    its peak, and that region must not touch the image's border. Its centre of mass is taken over the
    connected region around it above three standard deviations of the smoothed noise.

    Raises
    ------
    ValueError
        All background, no peak above the noise, two beads, or a bead cut by the border; the message
        says what was found.
    """
    smooth = ndimage.gaussian_filter(signal, 1.0)
    peak_index = tuple(int(i) for i in np.unravel_index(int(np.argmax(smooth)), smooth.shape))
    peak = float(smooth[peak_index])
    sigma = noise_sigma(signal)
    if not float(signal.max()) > 0 or not peak > 0:
        raise ValueError(f"{what} is all background: nothing lies above its background level")
    if peak < BEAD_SNR * sigma:
        raise ValueError(f"{what} has no bead: its brightest point is only {peak / sigma:.1f} noise standard "
                         f"deviations above the background (a bead stands out by {BEAD_SNR:g} or more)")
    labels, count = ndimage.label(smooth > BEAD_CORE * peak)
    bead_label = labels[peak_index]
    if count > 1:
        others = [i for i in range(1, count + 1) if i != bead_label]
        maxima = ndimage.maximum_position(smooth, labels, others)
        brightest = max(maxima, key=lambda p: smooth[p])
        raise ValueError(
            f"{what} holds {count} beads, not one: the brightest at {peak_index}, another at "
            f"{tuple(int(i) for i in brightest)} ({smooth[brightest] / peak:.0%} as bright); crop it around one "
            "bead (or pick one with psf.from_bead_at)")
    core = labels == bead_label
    for axis, n in enumerate(core.shape):
        ends = [side for side, index in (("first", 0), ("last", n - 1)) if core.take(index, axis=axis).any()]
        if ends:
            raise ValueError(
                f"the bead in {what} is cut by the border: its bright core (above {BEAD_CORE:.0%} of its peak, at "
                f"{peak_index}) reaches the {ends[0]} index of axis {axis} (of {n}); take a box with the whole bead")
    smooth_sigma = noise_sigma(smooth)
    region, _ = ndimage.label(smooth > max(3.0 * smooth_sigma, 1e-4 * peak))
    mask = region == region[peak_index]
    weights = np.where(mask, signal, 0.0)
    centre = np.array(ndimage.center_of_mass(weights))
    return Bead(centre, peak_index, mask)

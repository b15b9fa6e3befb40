"""A PSF measured from an image of a sub-resolution bead: background removed, centred, normalised."""

from __future__ import annotations

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
        nothing lies above the background.
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



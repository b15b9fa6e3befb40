"""Preparing a tilt series for alignment and reconstruction.

Every function takes a stack ``(n_angles, rows, cols)`` and returns a new float32 array; the input is
never modified.

- :func:`normalize_intensity`: equal mean per projection, or a per-projection background removed;
- :func:`to_absorption`: bright-field intensities to line integrals, ``−log(I / I0)``;
- :func:`crop` and :func:`bin_series`: smaller series for speed (binning by 2 or 4 for previews).

The tilt axis's direction is estimated by :mod:`~napari_invprob.tomography.tilt_axis`.
"""

from __future__ import annotations

import numpy as np


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

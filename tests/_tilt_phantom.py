"""Analytic tilt series of Gaussian blobs, for the I/O, alignment and cross-validation tests.

The projections are closed-form (an isotropic 3D Gaussian projects to a 2D Gaussian), so the test data
never come from the projector under test. Geometry as ``napari_invprob.project`` with ``tilt_axis="y"``:
the volume is ``(z, y, x)`` with the rotation centre at ``n // 2``; at tilt θ a point at offsets
``(z, y, x)`` from the centre lands on projection row ``y`` and column ``x cos θ − z sin θ``
(scikit-image's ``radon`` convention on each ``(z, x)`` slice).
"""

from __future__ import annotations

import numpy as np


def random_blobs(n: int, count: int, seed: int, *, thickness: float = 0.5) -> np.ndarray:
    """``count`` blobs as rows ``(z, y, x, sigma, amplitude)`` (pixel offsets from the centre).

    The blobs fill a slab: ``|x|, |y| < 0.38 n`` and ``|z| < thickness * 0.38 n``.
    """
    rng = np.random.default_rng(seed)
    radius = 0.38 * n
    blobs = []
    while len(blobs) < count:
        z, y, x = rng.uniform(-radius, radius, 3) * (thickness, 1.0, 1.0)
        if x * x + z * z > radius * radius:
            continue
        blobs.append((z, y, x, rng.uniform(1.2, 3.5), rng.uniform(0.5, 1.0)))
    return np.asarray(blobs)


def blob_volume(blobs: np.ndarray, n: int, *, supersample: int = 3) -> np.ndarray:
    """The blobs rendered on an ``(n, n, n)`` grid, averaged over each voxel."""
    offsets = (np.arange(supersample) + 0.5) / supersample - 0.5
    axis = (np.arange(n) - n // 2)[:, None] + offsets[None, :]
    axis = axis.ravel()
    volume = np.zeros((n * supersample,) * 3)
    for z, y, x, sigma, amplitude in blobs:
        gz = np.exp(-((axis - z) ** 2) / (2 * sigma**2))
        gy = np.exp(-((axis - y) ** 2) / (2 * sigma**2))
        gx = np.exp(-((axis - x) ** 2) / (2 * sigma**2))
        volume += amplitude * gz[:, None, None] * gy[None, :, None] * gx[None, None, :]
    s = supersample
    return volume.reshape(n, s, n, s, n, s).mean(axis=(1, 3, 5)).astype(np.float32)


def blob_tilt_series(
    blobs: np.ndarray, n: int, angles_deg, *, shifts=None, noise: float = 0.0, seed: int = 0
) -> np.ndarray:
    """Exact projections ``(n_angles, n, n)`` of the blobs, integrated over each detector pixel.

    ``shifts[i] = (dy, dx)`` moves projection ``i`` by that many pixels (a drift to be found by
    alignment); ``noise`` is Gaussian with that standard deviation as a fraction of the maximum.
    """
    from scipy.special import erf

    angles = np.radians(np.asarray(angles_deg, dtype=np.float64))
    shifts = np.zeros((angles.size, 2)) if shifts is None else np.asarray(shifts, dtype=np.float64)
    edges = np.arange(n + 1) - n // 2 - 0.5
    series = np.zeros((angles.size, n, n))
    for i, theta in enumerate(angles):
        for z, y, x, sigma, amplitude in blobs:
            u = x * np.cos(theta) - z * np.sin(theta) + shifts[i, 1]
            v = y + shifts[i, 0]
            scale = np.sqrt(2.0) * sigma
            profile_v = 0.5 * np.diff(erf((edges - v) / scale))
            profile_u = 0.5 * np.diff(erf((edges - u) / scale))
            weight = amplitude * sigma * np.sqrt(2 * np.pi) * (np.sqrt(2 * np.pi) * sigma) ** 2
            series[i] += weight * profile_v[:, None] * profile_u[None, :]
    if noise:
        rng = np.random.default_rng(seed)
        series += rng.normal(0.0, noise * series.max(), series.shape)
    return series.astype(np.float32)

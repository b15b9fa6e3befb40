"""Test objects with exactly known projections: the modified Shepp-Logan phantom, rods and spheres.

The modified Shepp-Logan phantom (Toft's ten ellipses, the table behind
``skimage.data.shepp_logan_phantom``) lives on the unit disc, ``X`` to the right and ``Y`` up. On an
``n x n`` grid the unit disc is the inscribed circle: pixel ``(i, j)`` covers
``X ∈ [j, j + 1] / R - 1`` and ``Y ∈ 1 - [i, i + 1] / R`` with ``R = n / 2``.

Its projections are computed in closed form (the Radon transform of an ellipse), in the geometry of
:class:`~napari_invprob.operators.ParallelBeamProjector` and ``skimage.transform.radon``: rotation
about the centre of pixel ``n // 2``, detector bins one pixel wide, values in pixel units (a
projection sums pixel values along the ray). Test data made this way carry no trace of the
projector under test.
"""

from __future__ import annotations

import numpy as np

from .solvers.fbp import reconstruction_circle  # noqa: F401 - public here too: the mask a reconstruction is scored in

# Toft's modified Shepp-Logan: value, semi-axes a (along X' ) and b, centre (x0, y0), rotation (degrees)
SHEPP_LOGAN_ELLIPSES = np.array(
    [
        [1.0, 0.6900, 0.9200, 0.00, 0.0000, 0.0],
        [-0.8, 0.6624, 0.8740, 0.00, -0.0184, 0.0],
        [-0.2, 0.1100, 0.3100, 0.22, 0.0000, -18.0],
        [-0.2, 0.1600, 0.4100, -0.22, 0.0000, 18.0],
        [0.1, 0.2100, 0.2500, 0.00, 0.3500, 0.0],
        [0.1, 0.0460, 0.0460, 0.00, 0.1000, 0.0],
        [0.1, 0.0460, 0.0460, 0.00, -0.1000, 0.0],
        [0.1, 0.0460, 0.0230, -0.08, -0.6050, 0.0],
        [0.1, 0.0230, 0.0230, 0.00, -0.6060, 0.0],
        [0.1, 0.0230, 0.0460, 0.06, -0.6050, 0.0],
    ]
)


def _check_int(value, name: str, minimum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < minimum:
        raise ValueError(f"{name} must be an integer >= {minimum}, got {value!r}")
    return int(value)


def _index_range(centre: float, half: float, scale: float, size: int) -> slice:
    """Sub-sample indices whose centres ``(i + 0.5) / scale - 1`` may lie within ``centre ± half``."""
    lo = int(np.floor((centre - half + 1.0) * scale - 0.5))
    hi = int(np.ceil((centre + half + 1.0) * scale - 0.5)) + 1
    return slice(max(lo, 0), min(hi, size))


def shepp_logan_image(n: int = 256, *, supersample: int = 8) -> np.ndarray:
    """The modified Shepp-Logan phantom averaged over each pixel of an ``n x n`` grid.

    Parameters
    ----------
    n : int
        Image size; the phantom's unit disc is the inscribed circle.
    supersample : int
        Each pixel is the mean of ``supersample²`` point samples on a regular sub-grid.

    Returns
    -------
    numpy.ndarray
        ``(n, n)`` float32 image, values in [0, 1].
    """
    n = _check_int(n, "n", 2)
    supersample = _check_int(supersample, "supersample", 1)
    scale = n * supersample / 2.0  # sub-samples per unit length
    coords = (np.arange(n * supersample) + 0.5) / scale - 1.0  # sub-sample centres; Y = -coords
    image = np.zeros((n * supersample, n * supersample))
    for value, a, b, x0, y0, phi in SHEPP_LOGAN_ELLIPSES:
        c, s = np.cos(np.deg2rad(phi)), np.sin(np.deg2rad(phi))
        # only the sub-samples inside the ellipse's bounding box need testing
        half_x, half_y = np.hypot(a * c, b * s), np.hypot(a * s, b * c)
        cols = _index_range(x0, half_x, scale, coords.size)
        rows = _index_range(-y0, half_y, scale, coords.size)
        X, Y = coords[None, cols], -coords[rows, None]
        u = (X - x0) * c + (Y - y0) * s
        v = -(X - x0) * s + (Y - y0) * c
        image[rows, cols] += value * ((u / a) ** 2 + (v / b) ** 2 <= 1.0)
    image = image.reshape(n, supersample, n, supersample).mean(axis=(1, 3))
    image[np.abs(image) < 1e-9] = 0.0  # round-off where values cancel (1 - 0.8 - 0.2)
    return image.astype(np.float32)


def _chord_integral(v: np.ndarray, s: np.ndarray) -> np.ndarray:
    """``∫₀^v sqrt(s² - w²) dw`` with ``v`` clipped to ``[-s, s]``."""
    v = np.clip(v, -s, s)
    return 0.5 * (v * np.sqrt(np.maximum(s * s - v * v, 0.0)) + s * s * np.arcsin(v / s))


def shepp_logan_sinogram(n: int, angles_deg, *, n_detector: int | None = None) -> np.ndarray:
    """Exact line integrals of the modified Shepp-Logan phantom, averaged over each detector bin.

    The Radon transform of an ellipse of value ``A``, semi-axes ``a, b`` and rotation ``φ`` is
    ``2 A a b / s² · sqrt(s² - (t - t₀)²)`` with ``s² = a² cos²(θ - φ) + b² sin²(θ - φ)``; its
    integral over a bin is closed-form too, so the bin averages are exact (no sub-sampling).

    Parameters
    ----------
    n : int
        Size of the ``n x n`` image grid the phantom is placed on (as :func:`shepp_logan_image`).
    angles_deg : array-like
        Projection angles in degrees.
    n_detector : int, optional
        Number of detector bins (one pixel wide), default ``n``.

    Returns
    -------
    numpy.ndarray
        ``(n_angles, n_detector)`` float32 sinogram in the geometry of
        :class:`~napari_invprob.operators.ParallelBeamProjector` (rotation centre at pixel ``n // 2``,
        bin ``k`` centred ``k - n_detector // 2`` pixels from it, angle 0 summing along rows).
    """
    from .operators.projector import validate_angles

    n = _check_int(n, "n", 2)
    n_detector = n if n_detector is None else _check_int(n_detector, "n_detector", 1)
    theta = np.deg2rad(validate_angles(angles_deg, name="angles_deg"))[:, None]
    radius = n / 2.0
    # the unit disc's centre sits `offset` pixels from the rotation centre along both image axes, so
    # with t = x cos θ - y_row sin θ and y_row = -R·Y + offset the detector sees it at offset·(cos - sin)
    offset = (n - 1) / 2.0 - n // 2
    t = np.arange(n_detector) - n_detector // 2 - offset * (np.cos(theta) - np.sin(theta))
    lower, upper = (t - 0.5) / radius, (t + 0.5) / radius  # bin edges in unit-disc coordinates
    sinogram = np.zeros((theta.shape[0], n_detector))
    for value, a, b, x0, y0, phi in SHEPP_LOGAN_ELLIPSES:
        rel = theta - np.deg2rad(phi)
        s = np.sqrt((a * np.cos(rel)) ** 2 + (b * np.sin(rel)) ** 2)
        t0 = x0 * np.cos(theta) + y0 * np.sin(theta)
        area = _chord_integral(upper - t0, s) - _chord_integral(lower - t0, s)
        sinogram += 2.0 * value * a * b / s**2 * area
    # line integrals scale by R (pixel units) and the bin width in unit-disc units is 1 / R
    return (sinogram * radius * radius).astype(np.float32)


def rods_and_spheres(shape=(64, 96, 96), *, seed: int = 0) -> np.ndarray:
    """A synthetic 3D specimen: a few solid spheres and rods of different densities in a slab.

    Parameters
    ----------
    shape : tuple of int
        Volume shape ``(z, y, x)``; ``z`` is the slab thickness (the beam direction at zero tilt).
    seed : int
        Seed of the random placement.

    Returns
    -------
    numpy.ndarray
        ``(z, y, x)`` float32 volume, values in [0, 1], zero within a margin of the x and z faces so
        that the object stays in view over a ±70° tilt about y or x.
    """
    shape = tuple(shape)
    if len(shape) != 3:
        raise ValueError(f"shape must be three integers (z, y, x), got {shape}")
    nz, ny, nx = (_check_int(s, "each axis of shape", 8) for s in shape)
    rng = np.random.default_rng(seed)
    z, y, x = np.meshgrid(np.arange(nz) + 0.5, np.arange(ny) + 0.5, np.arange(nx) + 0.5, indexing="ij")
    volume = np.zeros(shape)
    size = min(nz, ny, nx)
    lo = np.array([0.3 * nz, 0.2 * ny, 0.2 * nx])
    hi = np.array([0.7 * nz, 0.8 * ny, 0.8 * nx])
    for _ in range(6):  # spheres
        centre = rng.uniform(lo, hi)
        radius = rng.uniform(0.05, 0.12) * size
        inside = (z - centre[0]) ** 2 + (y - centre[1]) ** 2 + (x - centre[2]) ** 2 <= radius**2
        volume = np.maximum(volume, rng.uniform(0.5, 1.0) * inside)
    for _ in range(4):  # rods: cylinders between two points
        start, end = rng.uniform(lo, hi), rng.uniform(lo, hi)
        axis = (end - start) / np.linalg.norm(end - start)
        rel = np.stack([z - start[0], y - start[1], x - start[2]], axis=-1)
        along = rel @ axis
        distance = np.linalg.norm(rel - along[..., None] * axis, axis=-1)
        radius = rng.uniform(0.02, 0.05) * size
        inside = (distance <= radius) & (along >= 0) & (along <= np.linalg.norm(end - start))
        volume = np.maximum(volume, rng.uniform(0.3, 0.8) * inside)
    return volume.astype(np.float32)

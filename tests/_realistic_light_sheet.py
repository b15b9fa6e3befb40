"""A lattice light-sheet acquisition made like a real one, from an exact model (issue 25, item 4).

The specimen is a cell on the coverslip: a dome-shaped plasma membrane, a nuclear envelope inside it
and puncta (vesicles) between them. Every piece is a 3D Gaussian (a membrane is a sheet of flat
Gaussian patches tangent to an ellipsoid, a punctum a small round one), and the PSF is a sum of
anisotropic Gaussians elongated along the detection axis (a main lobe and two weak side lobes along it,
as a lattice light sheet's). A Gaussian blurred by a Gaussian is a Gaussian (means and covariances add),
so the blurred specimen is known in closed form at every point: the raw stack samples it where each
camera pixel looks during the stage scan, and never goes through :func:`napari_invprob.deskew` or a
convolution of ours.

Frames (lengths in µm; see :mod:`napari_invprob.deconvolution.deskew`):

- coverslip frame ``(Z, Y, X)``: ``Z`` height above the coverslip, ``X`` along the scan;
- objective frame ``(w, y, u)``: ``u = X cos θ + Z sin θ`` along the sheet, ``w = X sin θ − Z cos θ``
  along the detection axis (the PSF's long axis);
- raw pixel ``(k, r, c)`` (plane, row, column) sees ``w = k · step · sin θ``, ``y = r · pixel``,
  ``u = (c + k · step · cos θ / pixel) · pixel``; deskewed voxel ``(k, r, j)`` is at ``w = k · step · sin θ``,
  ``y = r · pixel``, ``u = j · pixel`` (``direction=1``; ``-1`` flips the columns of both).

The camera adds an offset (100) to Poisson counts and a little read noise; the file is a plain uint16
TIFF without a voxel size, as the real one.

Use::

    from _realistic_light_sheet import make_light_sheet, write_light_sheet, light_sheet_psf

    acquisition = write_light_sheet(tmp_path / "raw.tif")           # or make_light_sheet() in memory
    deskewed = nip.deskew(acquisition.raw, angle=acquisition.angle, step=acquisition.step,
                          pixel_size=acquisition.pixel_size)
    # compare a restoration with acquisition.truth (same shape as deskewed); the true PSF on that grid:
    psf = light_sheet_psf((15, 15, 15), acquisition.voxel_size)
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np

#: The PSF in the objective frame ``(w, y, u)``, µm: ``(weight, centre, sigmas)`` per Gaussian lobe; the
#: weights sum to 1. Main lobe FWHM 0.28 µm across and 0.71 µm along the detection axis, side lobes
#: 0.9 µm away along it.
PSF_LOBES = (
    (0.84, (0.0, 0.0, 0.0), (0.30, 0.12, 0.12)),
    (0.08, (0.9, 0.0, 0.0), (0.25, 0.15, 0.15)),
    (0.08, (-0.9, 0.0, 0.0), (0.25, 0.15, 0.15)),
)
#: Gaussians are evaluated out to this many standard deviations (Mahalanobis radius): exp(-4²/2) = 3e-4.
RADIUS = 4.0
#: The cell's height above the coverslip, µm.
CELL_HEIGHT = 3.0
#: Photons at the centre of a membrane patch and of the brightest punctum (before blurring): blurred, the
#: membranes peak near 300 counts and the puncta near 1,000, as in the real recording of issue 25.
MEMBRANE, PUNCTUM = 400.0, 40000.0


@dataclass(frozen=True)
class RealisticLightSheet:
    """A synthetic stage-scan acquisition and the truth behind it.

    Attributes
    ----------
    raw : numpy.ndarray
        uint16 ``(planes, rows, columns)``, the camera's counts (offset + Poisson + read noise).
    angle, step, pixel_size : float
        The acquisition's geometry (degrees, µm, µm); the file does not hold them.
    direction : int
        The sign of the shear (the ``direction`` of :func:`napari_invprob.deskew` that undoes it).
    offset : float
        The camera's offset in counts.
    truth : numpy.ndarray
        float32, the specimen (photons, unblurred) on the deskewed grid: the shape of
        ``deskew(raw, ...)``, voxel by voxel, each voxel the specimen's average over it (a Gaussian of
        the voxel's variance, so puncta thinner than a voxel are not point-sampled): convolved with
        :func:`light_sheet_psf` on this grid it is :attr:`blurred` within 2 % (RMS).
    blurred : numpy.ndarray
        float32, the noise-free blurred specimen (expected counts less the offset) on the same grid.
    voxel_size : tuple of float
        The deskewed grid's voxel size ``(step · sin θ, pixel, pixel)``, µm.
    path : pathlib.Path or None
        The TIFF :func:`write_light_sheet` wrote.
    """

    raw: np.ndarray
    angle: float
    step: float
    pixel_size: float
    direction: int
    offset: float
    truth: np.ndarray
    blurred: np.ndarray
    voxel_size: tuple[float, float, float]
    path: Path | None = None


def _rotation(angle: float) -> np.ndarray:
    """The matrix taking coverslip coordinates ``(Z, Y, X)`` to objective coordinates ``(w, y, u)``."""
    s, c = math.sin(math.radians(angle)), math.cos(math.radians(angle))
    return np.array([[-c, 0.0, s], [0.0, 1.0, 0.0], [s, 0.0, c]])


def _patches(centre, axes, spacing: float, thickness: float, *, dome: bool) -> list[tuple]:
    """Flat Gaussian patches tangent to an ellipsoid ``centre + axes · unit`` (coverslip frame), about
    ``spacing`` apart: ``(amplitude 1, centre, covariance)``; ``dome`` keeps the part above ``Z = 0``."""
    centre, axes = np.asarray(centre, float), np.asarray(axes, float)
    area = 4 * math.pi * (np.prod(axes) ** (2 / 3))
    n = int(area / spacing**2)
    i = np.arange(n) + 0.5
    polar, azimuth = np.arccos(1 - 2 * i / n), math.pi * (1 + 5**0.5) * i  # Fibonacci sphere
    unit = np.stack([np.cos(polar), np.sin(polar) * np.sin(azimuth), np.sin(polar) * np.cos(azimuth)], 1)
    points = centre + axes * unit
    normals = unit / axes
    normals /= np.linalg.norm(normals, axis=1, keepdims=True)
    length = 0.9 * spacing
    patches = []
    for point, normal in zip(points, normals):
        if dome and point[0] < 0.1:
            continue
        covariance = thickness**2 * np.outer(normal, normal) + length**2 * (np.eye(3) - np.outer(normal, normal))
        patches.append((1.0, point, covariance))
    return patches


def _specimen(rng: np.random.Generator, x_range: tuple[float, float], extent_y: float) -> list[tuple]:
    """The cell's Gaussians ``(amplitude, centre, covariance)`` in the coverslip frame, photons at the
    centre of each (before blurring): a dome 3 µm high over ``x_range`` and most of ``extent_y``."""
    cx, cy, half_x = sum(x_range) / 2, extent_y / 2, (x_range[1] - x_range[0]) / 2
    cell = (0.0, cy, cx), (CELL_HEIGHT, 0.42 * extent_y, 0.9 * half_x)
    nucleus = (1.5, cy + 0.3, cx + 0.4), (0.9, 0.2 * extent_y, 0.35 * half_x)
    gaussians = [(MEMBRANE * a, m, c) for a, m, c in _patches(*cell, 0.5, 0.06, dome=True)]
    gaussians += [(0.6 * MEMBRANE * a, m, c) for a, m, c in _patches(*nucleus, 0.5, 0.06, dome=False)]
    puncta = 0
    while puncta < 60:  # inside the cell, outside the nucleus
        point = rng.uniform([0.2, 0.0, x_range[0]], [CELL_HEIGHT, extent_y, x_range[1]])
        inside_cell = sum(((p - q) / a) ** 2 for p, q, a in zip(point, *cell)) < 0.8
        in_nucleus = sum(((p - q) / a) ** 2 for p, q, a in zip(point, *nucleus)) < 1.2
        if inside_cell and not in_nucleus:
            gaussians.append((rng.uniform(0.3, 1.0) * PUNCTUM, point, 0.05**2 * np.eye(3)))
            puncta += 1
    return gaussians


def _render(shape, to_position: np.ndarray, gaussians) -> np.ndarray:
    """Sum of Gaussians ``amplitude · exp(-½ (p − m)ᵀ C⁻¹ (p − m))`` at the points ``p = to_position @
    index`` of a grid of ``shape`` (objective frame), each over the box where it exceeds exp(-RADIUS²/2)."""
    out = np.zeros(shape, dtype=np.float64)
    inverse_map = np.linalg.inv(to_position)
    for amplitude, mean, covariance in gaussians:
        form = to_position.T @ np.linalg.inv(covariance) @ to_position  # in index units
        centre = inverse_map @ mean
        half = RADIUS * np.sqrt(np.diag(np.linalg.inv(form)))
        low = np.maximum(np.ceil(centre - half).astype(int), 0)
        high = np.minimum(np.floor(centre + half).astype(int) + 1, shape)
        if np.any(high <= low):
            continue
        d = [(np.arange(lo, hi) - m).astype(np.float32) for lo, hi, m in zip(low, high, centre)]
        form = form.astype(np.float32)
        d0, d1, d2 = d[0][:, None, None], d[1][None, :, None], d[2][None, None, :]
        q = (form[0, 0] * d0**2 + form[1, 1] * d1**2 + form[2, 2] * d2**2
             + 2 * (form[0, 1] * d0 * d1 + form[0, 2] * d0 * d2 + form[1, 2] * d1 * d2))
        out[low[0]:high[0], low[1]:high[1], low[2]:high[2]] += amplitude * np.exp(-0.5 * q)
    return out


def _voxel_lobe(dz: float, pixel_size: float) -> tuple:
    """A voxel's average as a Gaussian "lobe": the variance of a uniform box, ``size² / 12`` per axis."""
    return ((1.0, (0.0, 0.0, 0.0), tuple(size / math.sqrt(12) for size in (dz, pixel_size, pixel_size))),)


def _blur(gaussians, lobes=PSF_LOBES) -> list[tuple]:
    """The specimen's Gaussians convolved with the lobes of a sum of Gaussians (closed form)."""
    blurred = []
    for amplitude, mean, covariance in gaussians:
        for weight, centre, sigmas in lobes:
            total = covariance + np.diag(np.square(sigmas))
            scale = math.sqrt(np.linalg.det(covariance) / np.linalg.det(total))
            blurred.append((amplitude * weight * scale, mean + np.asarray(centre), total))
    return blurred


def light_sheet_psf(shape, voxel_size, *, centre=(0.0, 0.0, 0.0)) -> np.ndarray:
    """The acquisition's PSF sampled on a grid, normalised to sum 1.

    Parameters
    ----------
    shape : tuple of int
        Odd sizes ``(w, y, u)``; the PSF's centre lies at pixel ``n // 2`` plus ``centre``.
    voxel_size : tuple of float
        µm per voxel along ``(w, y, u)``: the deskewed grid's (``RealisticLightSheet.voxel_size``) for
        the true PSF on the data's grid, or a bead stack's own.
    centre : tuple of float
        Offset of the PSF's centre from the middle voxel, µm (an off-centre bead).

    Returns
    -------
    numpy.ndarray
        float32.
    """
    grid = [(np.arange(n) - n // 2) * v for n, v in zip(shape, voxel_size)]
    w, y, u = np.meshgrid(*grid, indexing="ij")
    psf = np.zeros(shape)
    for weight, lobe, sigmas in PSF_LOBES:
        q = sum(((p - c - o) / s) ** 2 for p, c, o, s in zip((w, y, u), lobe, centre, sigmas))
        psf += weight / np.prod(sigmas) * np.exp(-0.5 * q)
    return (psf / psf.sum()).astype(np.float32)


def make_light_sheet(*, shape=(64, 96, 96), angle: float = 30.0, step: float = 0.3, pixel_size: float = 0.104,
                     direction: int = 1, offset: float = 100.0, read_noise: float = 1.5,
                     seed: int = 0) -> RealisticLightSheet:
    """Simulate a stage-scanned lattice light-sheet stack of a cell, from the exact model.

    Parameters
    ----------
    shape : tuple of int
        Raw stack ``(planes, rows, columns)``; the default takes about a second.
    angle, step, pixel_size : float
        Sheet angle to the coverslip (degrees), stage step and camera pixel (µm).
    direction : {1, -1}
        1: later planes shift towards higher columns; -1: the columns flipped (the other scan direction).
    offset, read_noise : float
        The camera's offset and its Gaussian read noise (counts, RMS).
    seed : int
        The puncta's places and brightness, and the noise.

    Returns
    -------
    RealisticLightSheet
    """
    rng = np.random.default_rng(seed)
    planes, rows, columns = shape
    sin, cos = math.sin(math.radians(angle)), math.cos(math.radians(angle))
    dz, shift = step * sin, step * cos / pixel_size
    extra = math.ceil((planes - 1) * shift - 1e-6)
    # the cell lies where the scan sees every height up to the cell's: X from Z·cot θ to the scan's length
    top = CELL_HEIGHT / math.tan(math.radians(angle))
    if (columns - 1) * pixel_size * sin < CELL_HEIGHT + 0.5 or (planes - 1) * step < top + 4.0:
        raise ValueError(f"a stack of {shape} is too small for a cell {CELL_HEIGHT} µm high")
    specimen = _specimen(rng, (top, (planes - 1) * step), rows * pixel_size)
    to_objective = _rotation(angle)
    placed = [(a, to_objective @ m, to_objective @ c @ to_objective.T) for a, m, c in specimen]
    raw_grid = np.array([[dz, 0.0, 0.0], [0.0, pixel_size, 0.0], [shift * pixel_size, 0.0, pixel_size]])
    deskewed_grid = np.diag([dz, pixel_size, pixel_size])
    blurred_gaussians = _blur(placed)
    expected = _render(shape, raw_grid, blurred_gaussians)
    counts = rng.poisson(expected) + offset + rng.normal(0.0, read_noise, shape)
    raw = np.clip(np.rint(counts), 0, 65535).astype(np.uint16)
    out_shape = (planes, rows, columns + extra)
    truth = _render(out_shape, deskewed_grid, _blur(placed, _voxel_lobe(dz, pixel_size))).astype(np.float32)
    blurred = _render(out_shape, deskewed_grid, blurred_gaussians).astype(np.float32)
    if direction == -1:
        raw, truth, blurred = (np.ascontiguousarray(a[..., ::-1]) for a in (raw, truth, blurred))
    return RealisticLightSheet(raw, float(angle), float(step), float(pixel_size), direction, float(offset),
                               truth, blurred, (dz, float(pixel_size), float(pixel_size)))


def write_light_sheet(path, **options) -> RealisticLightSheet:
    """:func:`make_light_sheet` and write its raw stack to ``path`` as a plain uint16 TIFF, with no voxel
    size (no resolution tags, no ImageJ or OME metadata), as a real lattice light-sheet file."""
    import tifffile

    acquisition = make_light_sheet(**options)
    path = Path(path)
    tifffile.imwrite(path, acquisition.raw, photometric="minisblack", metadata=None)
    return RealisticLightSheet(**{**acquisition.__dict__, "path": path})

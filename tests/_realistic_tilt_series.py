"""A tilt-series file made like a real one, from exact projections of a 3D specimen.

The specimen is a porous support (ellipsoids, with pores made by ellipsoids of negative density lying
inside them) decorated with heavy nanoparticles (isotropic Gaussian blobs): a compact
object, so every projection has vacuum around it. Its projections are computed in closed form, never
with the projector under test (``napari_invprob.project``): an ellipsoid's line integral is its density
times the chord length through it, averaged over ``supersample × supersample`` points of each
detector pixel; a Gaussian blob projects to a 2D Gaussian, integrated over each pixel with ``erf``.

What the file gets from the microscope, as in the issue it was written for (issue 14):

- the tilt axis along the image's x axis (columns), turned in-plane a little off the grid: the
  detector coordinates are rotated exactly, no image is interpolated;
- a random drift per projection (a random walk, RMS of several pixels): the detector coordinates are
  shifted exactly;
- counts with Poisson noise: dark field (STEM HAADF) ``Poisson(background + dose · L)``, or bright
  field ``Poisson(I0 · exp(−μ L))``, ``L`` the line integral;
- unsigned counts written into a signed type, ``int16 = counts − 32768`` (some acquisition software
  does this), or plain ``uint16``;
- an MRC file with its pixel size, and a ``.rawtlt`` beside it.

Geometry. The volume is ``(z, y, x)`` with the rotation centre at pixel ``n // 2``; tilting by θ about x
maps a point at offsets ``(z, y, x)`` from the centre to the ideal detector coordinates
``v = y cos θ − z sin θ`` (perpendicular to the axis) and ``u = x`` (along it), as
``napari_invprob.project(volume, angles, tilt_axis="x")``. The detector is then turned so that the tilt
axis runs along the image direction ``(cos ψ, sin ψ)`` in ``(row, col)``: ψ as in
:func:`napari_invprob.tomography.tilt_axis.estimate_tilt_axis` (0 along the rows, i.e. the y axis; ±90 along
x; positive ψ turns +y towards +x). An image point at offsets ``(r, c)`` from pixel ``n // 2`` of a
projection drifted by ``(dr, dc)`` sees ``v = (r − dr) sin ψ − (c − dc) cos ψ`` and
``u = (r − dr) cos ψ + (c − dc) sin ψ``; ψ = 90 and no drift is the ideal grid (``v = r``, ``u = c``).
The default ψ = 88: the axis along x, 2° off, its +x end turned towards +y (down the rows).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
from scipy.special import erf

INT16_OFFSET = 32768
BENCHMARK = {"n": 256, "n_angles": 77, "max_tilt": 76.0, "drift_rms": 14.0}  # the size of the file of issue 14


@dataclass(frozen=True)
class Specimen:
    """A specimen in pixel units, offsets from the volume centre ``n // 2``.

    Attributes
    ----------
    ellipsoids : numpy.ndarray
        Rows ``(z, y, x, a, b, c, yaw, pitch, density)``: centre, semi-axes along the body's own
        axes, two rotation angles (radians) and density per pixel of path (negative: a pore).
    blobs : numpy.ndarray
        Rows ``(z, y, x, sigma, amplitude)``: isotropic Gaussians ``amplitude · exp(−r² / 2σ²)``.
    """

    ellipsoids: np.ndarray
    blobs: np.ndarray


@dataclass(frozen=True)
class RealisticTiltSeries:
    """What :func:`write_tilt_series` wrote, and the truth behind it.

    Attributes
    ----------
    path : pathlib.Path
        The MRC file (the ``.rawtlt`` has the same stem).
    angles : numpy.ndarray
        Tilt angles in degrees, in file order.
    drifts : numpy.ndarray
        ``(n_angles, 2)``: how far each projection's content moved, ``(d_rows, d_cols)`` pixels (the
        ``shifts`` convention of ``napari_invprob.tomography.alignment``).
    psi : float
        The true tilt-axis direction in degrees (see the module notes).
    contrast : str
        ``"dark-field"`` or ``"bright-field"``.
    storage : str
        ``"int16-offset"`` (stored = counts − 32768) or ``"uint16"``.
    counts : numpy.ndarray
        uint16: the counts of the file, ``(n_angles, n, n)``, the offset undone.
    reference : numpy.ndarray
        uint16: the same counts model for the exact, undrifted projections with the tilt axis on the
        grid (ψ = 90), an independent noise draw: the best a preparation and alignment can reach.
    line_integrals : numpy.ndarray
        float32: the noise-free line integrals behind ``reference``.
    specimen : Specimen
        The specimen projected.
    """

    path: Path
    angles: np.ndarray
    drifts: np.ndarray
    psi: float
    contrast: str
    storage: str
    counts: np.ndarray
    reference: np.ndarray
    line_integrals: np.ndarray
    specimen: Specimen


def make_specimen(n: int, seed: int = 0, *, n_particles: int = 40) -> Specimen:
    """A random porous support decorated with nanoparticles, within a radius ``0.3 n`` of the centre.

    Two flattened ellipsoids (a large body and a small satellite) form the support; five pores
    (ellipsoids of density −0.8 × the body's) lie wholly inside the body, so no line integral goes
    negative; ``n_particles`` heavy Gaussian blobs sit in and on the body.
    """
    rng = np.random.default_rng(seed)
    body = np.array([0.0, -0.03 * n, 0.02 * n, 0.09 * n, 0.21 * n, 0.26 * n, 0.35, 0.15, 0.05])
    satellite = (0.03 * n, 0.17 * n, -0.14 * n, 0.05 * n, 0.06 * n, 0.07 * n, -0.6, 0.4, 0.08)
    centre, axes, turn = body[:3], body[3:6], _rotation(body[6], body[7])

    def inside_body(reach):  # a point at normalised radius up to ``reach`` in the body's frame
        direction = rng.normal(size=3)
        return centre + turn @ (rng.uniform(0.0, reach) * direction / np.linalg.norm(direction) * axes)

    # a pore at normalised radius s ≤ 0.5 with semi-axes ≤ 0.4 × the smallest of the body lies inside it
    pores = [
        (*inside_body(0.5), *(rng.uniform(0.2, 0.4, 3) * axes.min()), rng.uniform(0, np.pi), rng.uniform(0, np.pi),
         -0.8 * body[8])
        for _ in range(5)
    ]
    blobs = [(*inside_body(1.05), rng.uniform(0.008, 0.025) * n, rng.uniform(0.4, 1.0)) for _ in range(n_particles)]
    return Specimen(np.asarray([body, satellite, *pores], dtype=np.float64), np.asarray(blobs, dtype=np.float64))


def _rotation(yaw: float, pitch: float) -> np.ndarray:
    """Rotation matrix in ``(z, y, x)``: ``yaw`` about z, then ``pitch`` about y."""
    cy, sy, cp, sp = np.cos(yaw), np.sin(yaw), np.cos(pitch), np.sin(pitch)
    about_z = np.array([[1.0, 0.0, 0.0], [0.0, cy, -sy], [0.0, sy, cy]])
    about_y = np.array([[cp, 0.0, sp], [0.0, 1.0, 0.0], [-sp, 0.0, cp]])
    return about_y @ about_z


def project_exact(
    specimen: Specimen, n: int, angles, *, psi: float = 90.0, drifts=None, supersample: int = 3
) -> np.ndarray:
    """Exact line integrals of ``specimen``, integrated over each pixel: ``(n_angles, n, n)`` float64.

    Parameters
    ----------
    specimen : Specimen
        What to project.
    n : int
        Projections are ``n × n`` pixels.
    angles : array-like of float
        Tilt angles about the x axis in degrees.
    psi : float
        Tilt-axis direction in the image, degrees (90: along x, on the grid; see the module notes).
    drifts : array-like or None
        ``(n_angles, 2)`` content shifts ``(d_rows, d_cols)`` in pixels; None for none.
    supersample : int
        Points per pixel side for the ellipsoids (the blobs are integrated exactly).

    Returns
    -------
    numpy.ndarray
        The projections, pixel-averaged line integrals (pixel area 1).
    """
    angles = np.radians(np.asarray(angles, dtype=np.float64))
    drifts = np.zeros((angles.size, 2)) if drifts is None else np.asarray(drifts, dtype=np.float64)
    psi = np.radians(psi)
    along = np.array([np.cos(psi), np.sin(psi)])  # the tilt axis (u) in (row, col)
    across = np.array([np.sin(psi), -np.cos(psi)])  # v in (row, col)
    centre = n // 2
    sub = (np.arange(supersample) + 0.5) / supersample - 0.5
    grid = (np.arange(n)[:, None] - centre + sub[None, :]).ravel()
    rows, cols = np.meshgrid(grid, grid, indexing="ij")
    edges = np.arange(n + 1) - centre - 0.5
    forms = [
        (np.asarray(e[:3]), _rotation(e[6], e[7]) @ np.diag(1.0 / np.asarray(e[3:6]) ** 2) @ _rotation(e[6], e[7]).T, e[8])
        for e in specimen.ellipsoids
    ]
    series = np.zeros((angles.size, n, n))
    for i, theta in enumerate(angles):
        e_v = np.array([-np.sin(theta), np.cos(theta), 0.0])  # detector axes and beam in (z, y, x)
        e_u = np.array([0.0, 0.0, 1.0])
        beam = np.array([np.cos(theta), np.sin(theta), 0.0])
        r, c = rows - drifts[i, 0], cols - drifts[i, 1]
        v = r * across[0] + c * across[1]
        u = r * along[0] + c * along[1]
        fine = np.zeros_like(v)
        for centre_3d, form, density in forms:
            # chord of the line p + t·beam through (q − c)ᵀ M (q − c) ≤ 1, p = v e_v + u e_u
            w = v[..., None] * e_v + u[..., None] * e_u - centre_3d
            a = beam @ form @ beam
            b = w @ (form @ beam)
            q = np.einsum("...i,ij,...j->...", w, form, w)
            fine += density * 2.0 * np.sqrt(np.maximum(b * b - a * (q - 1.0), 0.0)) / a
        series[i] = fine.reshape(n, supersample, n, supersample).mean(axis=(1, 3))
        for z, y, x, sigma, amplitude in specimen.blobs:
            point = np.array([z, y, x])
            on_detector = (point @ e_v) * across + (point @ e_u) * along + drifts[i]
            scale = np.sqrt(2.0) * sigma
            profile_r = 0.5 * np.diff(erf((edges - on_detector[0]) / scale))
            profile_c = 0.5 * np.diff(erf((edges - on_detector[1]) / scale))
            mass = amplitude * (np.sqrt(2 * np.pi) * sigma) ** 3
            series[i] += mass * profile_r[:, None] * profile_c[None, :]
    return series


def render_volume(specimen: Specimen, n: int, *, supersample: int = 2, planes: range | None = None) -> np.ndarray:
    """The specimen as an ``(n, n, n)`` float32 volume ``(z, y, x)`` of densities averaged over each voxel.

    The truth behind :func:`project_exact` (``psi = 90``): the blobs are averaged exactly (products of
    error functions), the ellipsoids on ``supersample³`` points per voxel. ``planes`` renders only those
    z planes (``(len(planes), n, n)``), for volumes too large to hold whole.
    """
    planes = range(n) if planes is None else planes
    centre = n // 2
    edges = np.arange(n + 1) - centre - 0.5
    volume = np.zeros((len(planes), n, n))
    for z, y, x, sigma, amplitude in specimen.blobs:
        profiles = [np.diff(erf((edges - c) / (np.sqrt(2.0) * sigma))) * sigma * np.sqrt(np.pi / 2) for c in (z, y, x)]
        volume += amplitude * profiles[0][planes, None, None] * profiles[1][None, :, None] * profiles[2][None, None, :]
    sub = (np.arange(supersample) + 0.5) / supersample - 0.5
    grid = (np.arange(n)[:, None] - centre + sub[None, :]).ravel()
    y, x = np.meshgrid(grid, grid, indexing="ij")
    for e in specimen.ellipsoids:
        form = _rotation(e[6], e[7]) @ np.diag(1.0 / np.asarray(e[3:6]) ** 2) @ _rotation(e[6], e[7]).T
        for i, k in enumerate(planes):  # one plane of voxels at a time
            inside = np.zeros((supersample, n * supersample, n * supersample))
            for s, z in enumerate(k - centre + sub):
                w = np.stack([np.full_like(y, z), y, x], axis=-1) - e[:3]
                inside[s] = np.einsum("...i,ij,...j->...", w, form, w) <= 1.0
            volume[i] += e[8] * inside.reshape(supersample, n, supersample, n, supersample).mean(axis=(0, 2, 4))
    return volume.astype(np.float32)


def random_drifts(n_angles: int, rms: float, seed: int = 0, *, peak: float | None = None) -> np.ndarray:
    """``(n_angles, 2)`` drifts: a random walk in each axis, mean removed, scaled to ``rms`` pixels
    (root mean square of the drift vectors' lengths). With ``peak``, a drift that grows at the
    highest tilts (as a stage's does) is added, so that the longest drift vector is ``peak`` pixels
    (e.g. RMS 15 and up to 45, as in issue 26's file)."""
    rng = np.random.default_rng(seed)
    walk = np.cumsum(rng.normal(size=(n_angles, 2)), axis=0)
    t = np.linspace(-1.0, 1.0, n_angles)
    ramp = np.stack([t**9, 0.8 * np.abs(t) ** 10], axis=1)

    def scaled(weight: float) -> np.ndarray:
        drifts = walk + weight * ramp
        drifts = drifts - drifts.mean(axis=0)
        return drifts * (rms / np.sqrt(np.mean(np.sum(drifts**2, axis=1))))

    if peak is None:
        return scaled(0.0)
    low, high = 0.0, 1e3 * np.abs(walk).max()
    if not np.hypot(*scaled(0.0).T).max() <= peak <= np.hypot(*scaled(high).T).max():
        raise ValueError(f"no drifts of RMS {rms} reach a peak of {peak} over {n_angles} projections")
    for _ in range(60):  # the ramp's weight that makes the longest drift ``peak``
        middle = 0.5 * (low + high)
        low, high = (middle, high) if np.hypot(*scaled(middle).T).max() < peak else (low, middle)
    return scaled(0.5 * (low + high))


def shifted(specimen: Specimen, offset) -> Specimen:
    """The specimen moved by ``offset`` ``(z, y, x)`` pixels: off the volume centre and the tilt axis."""
    offset = np.asarray(offset, dtype=np.float64)
    return Specimen(specimen.ellipsoids + np.r_[offset, np.zeros(6)], specimen.blobs + np.r_[offset, 0.0, 0.0])


def project_box(half_sizes, n: int, angles, *, psi: float = 90.0, drifts=None, density: float = 0.05,
                supersample: int = 8) -> np.ndarray:
    """Exact chord lengths through a box ``|z|, |y|, |x| ≤ half_sizes`` about the volume centre, tilted
    about x: its straight edges run along (and across) the tilt axis in every projection.

    Each pixel averages ``supersample²`` points of a grid turned by arctan(1/2), so that an edge along
    the pixel grid is covered in steps of ``1 / supersample²`` of a pixel, not ``1 / supersample``
    (a coarse staircase would differ between drifts). Geometry as :func:`project_exact`.
    """
    angles = np.radians(np.asarray(angles, dtype=np.float64))
    drifts = np.zeros((angles.size, 2)) if drifts is None else np.asarray(drifts, dtype=np.float64)
    psi = np.radians(psi)
    along, across = np.array([np.cos(psi), np.sin(psi)]), np.array([np.sin(psi), -np.cos(psi)])
    k = (np.arange(supersample) + 0.5) / supersample - 0.5
    a, b = np.meshgrid(k, k, indexing="ij")
    turn = np.arctan(0.5)
    sub_r = ((a * np.cos(turn) - b * np.sin(turn)) + 0.5) % 1.0 - 0.5
    sub_c = ((a * np.sin(turn) + b * np.cos(turn)) + 0.5) % 1.0 - 0.5
    base = np.arange(n) - n // 2.0
    rows = base[:, None, None] + sub_r.ravel()[None, None, :] + 0.0 * base[None, :, None]
    cols = 0.0 * base[:, None, None] + base[None, :, None] + sub_c.ravel()[None, None, :]
    half = np.asarray(half_sizes, dtype=np.float64)
    series = np.zeros((angles.size, n, n))
    for i, theta in enumerate(angles):
        e_v, e_u = np.array([-np.sin(theta), np.cos(theta), 0.0]), np.array([0.0, 0.0, 1.0])
        beam = np.array([np.cos(theta), np.sin(theta), 0.0])
        r, c = rows - drifts[i, 0], cols - drifts[i, 1]
        v, u = r * across[0] + c * across[1], r * along[0] + c * along[1]
        points = v[..., None] * e_v + u[..., None] * e_u
        enter, leave = np.full(v.shape, -np.inf), np.full(v.shape, np.inf)
        for j in range(3):  # the line p + t·beam between the two faces of each slab |q_j| ≤ half_j
            if abs(beam[j]) < 1e-12:
                enter = np.where(np.abs(points[..., j]) <= half[j], enter, np.inf)
                continue
            near, far = (-half[j] - points[..., j]) / beam[j], (half[j] - points[..., j]) / beam[j]
            enter, leave = np.maximum(enter, np.minimum(near, far)), np.minimum(leave, np.maximum(near, far))
        chord = np.where(np.isfinite(enter) & np.isfinite(leave), np.clip(leave - enter, 0.0, None), 0.0)
        series[i] = density * chord.mean(axis=-1)
    return series


def _counts(line_integrals: np.ndarray, contrast: str, peak: float, rng, *, background: float, i0: float) -> np.ndarray:
    """Poisson counts (uint16) from line integrals normalised so that their maximum is 1."""
    if contrast == "dark-field":
        mean = background + peak * line_integrals
    elif contrast == "bright-field":
        mean = i0 * np.exp(-peak * line_integrals)
    else:
        raise ValueError(f"contrast must be 'dark-field' or 'bright-field', got {contrast!r}")
    return np.minimum(rng.poisson(mean), np.iinfo(np.uint16).max).astype(np.uint16)


def write_tilt_series(
    directory,
    *,
    n: int = 112,
    n_angles: int = 41,
    max_tilt: float = 60.0,
    psi: float = 88.0,
    drift_rms: float = 7.0,
    drift_peak: float | None = None,
    offset=(0.0, 0.0, 0.0),
    specimen_size: int | None = None,
    contrast: str = "dark-field",
    storage: str = "int16-offset",
    pixel_size: float = 2.5,
    seed: int = 0,
    name: str = "specimen",
) -> RealisticTiltSeries:
    """Write ``<name>.mrc`` and ``<name>.rawtlt`` into ``directory``, made like a microscope's file.

    Parameters
    ----------
    directory : str or path-like
        An existing folder.
    n : int
        Projections are ``n × n`` pixels (``BENCHMARK`` holds the issue's 77 × 256 × 256, ±76°).
    n_angles : int
        Number of projections, evenly spaced over ``±max_tilt`` degrees.
    max_tilt : float
        Largest tilt in degrees.
    psi : float
        Tilt-axis direction in degrees (module notes; 88 = along x, 2° off the grid).
    drift_rms : float
        RMS length of the drift vectors in pixels.
    drift_peak : float or None
        The longest drift vector in pixels (:func:`random_drifts`); None: a plain random walk.
    offset : sequence of 3 floats
        ``(z, y, x)`` pixels the specimen sits off the volume centre (and the tilt axis).
    specimen_size : int or None
        The specimen is made for a volume this size (:func:`make_specimen`), None: ``n``; smaller
        leaves room for large drifts in the field of view.
    contrast : {"dark-field", "bright-field"}
        Dark field: ``Poisson(870 + 8000 · L / max L)`` counts (a STEM HAADF detector with a dark
        level). Bright field: ``Poisson(20000 · exp(−1.5 · L / max L))``.
    storage : {"int16-offset", "uint16"}
        The file's data type: the counts minus 32768 as int16, or the counts as uint16.
    pixel_size : float
        Written to the MRC header, in ångström.
    seed : int
        Seeds the specimen, the drifts and the noise.
    name : str
        File stem.

    Returns
    -------
    RealisticTiltSeries
        The path, angles, drifts, ψ, the counts and the undrifted reference.
    """
    import mrcfile

    if storage not in ("int16-offset", "uint16"):
        raise ValueError(f"storage must be 'int16-offset' or 'uint16', got {storage!r}")
    angles = np.linspace(-max_tilt, max_tilt, n_angles)
    specimen = shifted(make_specimen(specimen_size or n, seed), offset)
    drifts = random_drifts(n_angles, drift_rms, seed, peak=drift_peak)
    exact = project_exact(specimen, n, angles, psi=psi, drifts=drifts)
    ideal = project_exact(specimen, n, angles)
    scale = ideal.max()
    peak, background, i0 = (8000.0, 870.0, 0.0) if contrast == "dark-field" else (1.5, 0.0, 20000.0)
    rng = np.random.default_rng(seed + 1)
    counts = _counts(exact / scale, contrast, peak, rng, background=background, i0=i0)
    reference = _counts(ideal / scale, contrast, peak, rng, background=background, i0=i0)
    stored = (counts.astype(np.int32) - INT16_OFFSET).astype(np.int16) if storage == "int16-offset" else counts
    path = Path(directory) / f"{name}.mrc"
    with mrcfile.new(path, overwrite=True) as mrc:
        mrc.set_data(stored)
        mrc.set_image_stack()
        mrc.voxel_size = pixel_size
    path.with_suffix(".rawtlt").write_text("".join(f"{angle:.2f}\n" for angle in angles))
    return RealisticTiltSeries(
        path, angles, drifts, float(psi), contrast, storage, counts, reference, ideal.astype(np.float32), specimen
    )

"""PSFs from the microscope's optics: Born & Wolf, Gibson-Lanni and confocal, sized to their energy."""

from __future__ import annotations

import math
import warnings

import numpy as np
from scipy import signal, special

from .._shared.budget import check_fits
from .psf import _normalised, _pixel_counts

_NODES_PER_PANEL = 16
#: The most quadrature nodes a pupil integral takes: 0.065 µm pixels at NA 1.4 take about 1,100, a
#: Gibson-Lanni PSF 100 µm deep about 6,400; beyond this the voxels or the depth are in a wrong unit
#: (1 mm voxels took 3.8 million nodes and 49 GiB).
MAX_QUADRATURE_NODES = 2**17


# -- optical models --------------------------------------------------------------------------------------
def born_wolf(shape, *, na, wavelength, refractive_index, pixel_size, z_spacing=None) -> np.ndarray:
    """Scalar widefield PSF of Born & Wolf: an aberration-free objective with paraxial defocus.

    ``W(ρ, z) = −½ · k · z · NA² · ρ² / n``, so the in-focus plane is the Airy pattern
    ``[2 J₁(v)/v]²`` with ``v = k·NA·r`` (first zero at ``r = 0.61 λ/NA``) and the axial profile is
    ``sinc²`` with its first zero at ``z = 2 λ n / NA²``.

    Parameters
    ----------
    shape : tuple of int
        ``(ny, nx)`` for the in-focus plane, or ``(nz, ny, nx)`` for a stack centred on focus
        (plane ``k`` at defocus ``(k − nz // 2) · z_spacing``).
    na : float
        Numerical aperture of the objective (``0 < na <= refractive_index``).
    wavelength : float
        Emission wavelength in vacuum, micrometres.
    refractive_index : float
        Refractive index of the immersion medium (= the sample's, in this model).
    pixel_size : float
        Lateral pixel size in the sample, micrometres.
    z_spacing : float or None
        Distance between planes, micrometres; required for a 3D ``shape``.

    Returns
    -------
    numpy.ndarray
        float32 PSF of ``shape``, normalised to sum 1, centred at pixel ``shape // 2``.
    """
    _check_optics(shape, na, wavelength, pixel_size, z_spacing, refractive_index=refractive_index)
    k = 2 * np.pi / wavelength
    z = _defocus(shape, z_spacing)

    def phase(rho):
        return -0.5 * k * z[:, None] * na**2 * rho[None, :] ** 2 / refractive_index

    return _normalised(_pupil_integral(shape, na, k, pixel_size, phase))


def gibson_lanni(
    shape,
    *,
    na,
    wavelength,
    ni,
    ns,
    ng=1.5,
    ti0=150.0,
    tg=170.0,
    pixel_size,
    z_spacing=None,
    particle_depth=0.0,
    ni0=None,
    ng0=None,
    tg0=None,
) -> np.ndarray:
    """Gibson-Lanni widefield PSF: an oil/water objective used off its design conditions.

    The phase is the optical path difference between the actual and the design conditions (Gibson &
    Lanni 1991, in the form of Li, Xue & Blu 2017)::

        W(ρ) = k [ z_p √(n_s² − (NA ρ)²) + t_i √(n_i² − (NA ρ)²) − t_i0 √(n_i0² − (NA ρ)²)
                   + t_g √(n_g² − (NA ρ)²) − t_g0 √(n_g0² − (NA ρ)²) ]

    with the immersion thickness ``t_i = t_i,focus + z``: ``z`` is the stage displacement from the
    plane where the particle is in paraxial focus, ``t_i,focus = n_i (t_i0/n_i0 + t_g0/n_g0 − t_g/n_g
    − z_p/n_s)``. The remaining aberration (spherical, from the index mismatch at depth ``z_p``) moves
    the intensity maximum and makes the stack axially asymmetric. Square roots of negative numbers
    (rays beyond the critical angle) are taken as imaginary, so those waves decay with depth. With
    matched indices and ``particle_depth = 0`` the model is the non-paraxial form of :func:`born_wolf`
    (identical in focus).

    Parameters
    ----------
    shape : tuple of int
        ``(ny, nx)`` (the plane ``z = 0``) or ``(nz, ny, nx)`` (plane ``k`` at ``(k − nz // 2) · z_spacing``).
    na : float
        Numerical aperture (``0 < na <= ni``).
    wavelength : float
        Emission wavelength in vacuum, micrometres.
    ni, ns, ng : float
        Refractive indices of the immersion medium, the sample and the coverslip.
    ti0 : float
        Working distance (design immersion thickness), micrometres.
    tg : float
        Coverslip thickness, micrometres.
    pixel_size : float
        Lateral pixel size in the sample, micrometres.
    z_spacing : float or None
        Distance between planes, micrometres; required for a 3D ``shape``.
    particle_depth : float
        Depth ``z_p`` of the point source below the coverslip, micrometres (>= 0).
    ni0, ng0, tg0 : float or None
        Design values of the immersion index, coverslip index and coverslip thickness; None: equal to
        the actual ``ni``, ``ng``, ``tg``.

    Returns
    -------
    numpy.ndarray
        float32 PSF of ``shape``, normalised to sum 1, centred on the paraxial focus.
    """
    ni0 = ni if ni0 is None else ni0
    ng0 = ng if ng0 is None else ng0
    tg0 = tg if tg0 is None else tg0
    _check_optics(shape, na, wavelength, pixel_size, z_spacing, refractive_index=ni)
    indices = {"ni": ni, "ns": ns, "ng": ng, "ni0": ni0, "ng0": ng0}
    for name, value in {**indices, "ti0": ti0, "tg": tg, "tg0": tg0}.items():
        if not np.isfinite(value) or value <= 0:
            raise ValueError(f"{name} must be > 0, got {value}")
    if not np.isfinite(particle_depth) or particle_depth < 0:
        raise ValueError(f"particle_depth must be >= 0 micrometres, got {particle_depth}")
    k = 2 * np.pi / wavelength
    z = _defocus(shape, z_spacing)
    ti = ni * (ti0 / ni0 + tg0 / ng0 - tg / ng - particle_depth / ns) + z

    def phase(rho):
        def path(n):
            return np.sqrt((n**2 - (na * rho) ** 2).astype(complex))[None, :]

        fixed = particle_depth * path(ns) - ti0 * path(ni0) + tg * path(ng) - tg0 * path(ng0)
        return k * (fixed + ti[:, None] * path(ni))

    critical = [n / na for n in indices.values()]
    return _normalised(_pupil_integral(shape, na, k, pixel_size, phase, critical))


def confocal(
    shape, *, na, excitation_wavelength, emission_wavelength, refractive_index, pixel_size, z_spacing=None,
    pinhole=None,
) -> np.ndarray:
    """Confocal PSF: the product of the excitation and emission Born & Wolf PSFs.

    Without ``pinhole`` the pinhole is a point (an ideal confocal microscope, pinhole much smaller than
    one Airy unit). A pinhole of finite size broadens the emission factor: every plane of the emission
    PSF is convolved with the pinhole's disk back-projected into the sample, of diameter
    ``pinhole · 1.22 λ_em / NA`` (the disk sampled on the pixel grid, 5x5 points per pixel).

    Parameters
    ----------
    shape : tuple of int
        ``(ny, nx)`` or ``(nz, ny, nx)``, as in :func:`born_wolf`.
    na : float
        Numerical aperture.
    excitation_wavelength, emission_wavelength : float
        Vacuum wavelengths of the laser and of the detected light, micrometres.
    refractive_index : float
        Refractive index of the immersion medium.
    pixel_size : float
        Lateral pixel size, micrometres.
    z_spacing : float or None
        Distance between planes, micrometres; required for a 3D ``shape``.
    pinhole : float or None
        Pinhole diameter in Airy units (1 AU = 1.22 λ_em / NA in the sample; microscopes typically use
        about 1); None: a point.

    Returns
    -------
    numpy.ndarray
        float32 PSF of ``shape``, normalised to sum 1, centred.
    """
    common = dict(na=na, refractive_index=refractive_index, pixel_size=pixel_size, z_spacing=z_spacing)
    excitation = born_wolf(shape, wavelength=excitation_wavelength, **common).astype(np.float64)
    emission = born_wolf(shape, wavelength=emission_wavelength, **common).astype(np.float64)
    if pinhole is not None:
        if not np.isfinite(pinhole) or pinhole <= 0:
            raise ValueError(f"pinhole must be > 0 Airy units, got {pinhole}")
        # beyond the grid's diagonal the disk meets no pixel of the "same" convolution: the result is exact
        radius = min(0.5 * pinhole * 1.22 * emission_wavelength / na / pixel_size, math.hypot(*shape[-2:]) + 2)
        disk = _disk(radius)
        emission = np.clip(signal.fftconvolve(emission, disk.reshape((1,) * (emission.ndim - 2) + disk.shape),
                                              mode="same", axes=(-2, -1)), 0.0, None)
    return _normalised(excitation * emission)


def _disk(radius: float, oversampling: int = 5) -> np.ndarray:
    """The area of a disk of ``radius`` pixels that falls in each pixel (odd size, centred)."""
    half = int(np.ceil(radius + 0.5))
    offsets = (np.arange(oversampling) + 0.5) / oversampling - 0.5
    points = (np.arange(-half, half + 1)[:, None] + offsets[None, :]).ravel()
    inside = (points[:, None] ** 2 + points[None, :] ** 2 <= radius**2).astype(np.float64)
    n = 2 * half + 1
    return inside.reshape(n, oversampling, n, oversampling).mean(axis=(1, 3))


# -- a model on an image's grid --------------------------------------------------------------------------
#: The optical models by the names users pick them (widget, command line).
OPTICAL_MODELS = ("born-wolf", "gibson-lanni", "confocal")
#: Vacuum wavelengths of the light microscopes use, nanometres (deep UV to two-photon excitation).
LIGHT_WAVELENGTHS_NM = (150.0, 2500.0)
#: :func:`optical_psf` keeps the smallest centred box holding this share of the PSF's energy ...
ENERGY = 0.99
#: ... of what a grid as large as the image holds, at most this many pixels across in y and x ...
MAX_LATERAL_SIZE = 255
#: ... and this many planes in z.
MAX_AXIAL_SIZE = 255
#: Warn that the PSF is smaller than a voxel when its central voxel holds more than this share of it ...
SUBPIXEL_SHARE = 0.5
#: ... and that it is flat over its box along an axis when the box's ends along it keep this share of its
#: peak (the grid is too fine or too small to hold it).
FLAT_SHARE = 0.5
#: The parameters only some models take (the others refuse them).
_MODEL_PARAMETERS = {
    "born-wolf": (),
    "gibson-lanni": ("ns", "ng", "depth"),
    "confocal": ("excitation_wavelength", "pinhole"),
}


def optical_psf(model, *, image_shape, voxel_size, na, wavelength=None, ni=1.518, ns=None, ng=None, depth=None,
                excitation_wavelength=None, pinhole=None, energy=ENERGY, wavelength_nm=None,
                excitation_wavelength_nm=None) -> np.ndarray:
    """A PSF from the microscope's optics, sampled on an image's (anisotropic) grid, sized to its energy.

    The model is evaluated on a grid as large as the image (odd sizes; at most
    :data:`MAX_LATERAL_SIZE` pixels across in y and x, :data:`MAX_AXIAL_SIZE` planes), then cropped to the smallest centred box that
    holds ``energy`` of what that grid holds: in 3D the planes holding ``√energy`` of it, then the
    square in (y, x) holding ``√energy`` of those planes'. A widefield PSF spreads its light over a
    cone, so in 3D it keeps most planes of the grid; a confocal one is compact.

    Parameters
    ----------
    model : {"born-wolf", "gibson-lanni", "confocal"}
        :func:`born_wolf`, :func:`gibson_lanni` or :func:`confocal`.
    image_shape : tuple of int
        The image's spatial shape, ``(ny, nx)`` or ``(nz, ny, nx)``.
    voxel_size : sequence of float
        The image's sampling in micrometres, ``(y, x)`` or ``(z, y, x)``; pixels must be square (y = x).
    na : float
        Numerical aperture.
    wavelength : float
        Emission wavelength in vacuum, micrometres (or give ``wavelength_nm``).
    ni : float
        Refractive index of the immersion medium.
    ns, ng : float or None
        Gibson-Lanni only: the sample's and the coverslip's refractive indices (default ``ni`` and 1.5).
    depth : float or None
        Gibson-Lanni only: depth of the point source below the coverslip, micrometres (default 0).
    excitation_wavelength : float or None
        Confocal only (required there, or ``excitation_wavelength_nm``): the laser's vacuum wavelength,
        micrometres.
    pinhole : float or None
        Confocal only: pinhole diameter in Airy units (default: a point).
    energy : float
        Share of the energy to hold, in (0, 1].
    wavelength_nm, excitation_wavelength_nm : float or None
        The wavelengths in nanometres, as microscopes state them, in place of ``wavelength`` and
        ``excitation_wavelength``.

    Returns
    -------
    numpy.ndarray
        float32 PSF with odd sizes no larger than the image, centred, normalised to sum 1.

    Raises
    ------
    ValueError
        An unknown model, a parameter the model does not take (or a missing excitation wavelength),
        a wavelength given twice (in µm and nm) or not a wavelength of light in its unit, an image shape
        that is not positive, a voxel size without one positive entry per axis, non-square pixels, optics
        the model refuses, or optics whose evaluation would not fit in memory (sizes in a wrong unit).

    Warns
    -----
    UserWarning
        When the PSF is smaller than a voxel (its central voxel holds more than :data:`SUBPIXEL_SHARE`
        of it) or flat over its box along an axis (the box's ends keep :data:`FLAT_SHARE` of its peak):
        the voxel size is then often in a wrong unit.
    """
    if model not in OPTICAL_MODELS:
        raise ValueError(f"unknown PSF model {model!r}; the models are {', '.join(OPTICAL_MODELS)}")
    wavelength = _one_wavelength(wavelength, wavelength_nm, "wavelength")
    if excitation_wavelength is not None or excitation_wavelength_nm is not None:
        excitation_wavelength = _one_wavelength(excitation_wavelength, excitation_wavelength_nm, "excitation_wavelength")
    given = {"ns": ns, "ng": ng, "depth": depth, "excitation_wavelength": excitation_wavelength, "pinhole": pinhole}
    foreign = [name for name, value in given.items() if value is not None and name not in _MODEL_PARAMETERS[model]]
    if foreign:
        takers = {name: m for m, names in _MODEL_PARAMETERS.items() for name in names}
        raise ValueError(f"the {model} model takes no {', '.join(foreign)} (a parameter of "
                         f"{', '.join(sorted({takers[name] for name in foreign}))})")
    if len(image_shape) not in (2, 3):
        raise ValueError(f"image_shape must be (ny, nx) or (nz, ny, nx), got {tuple(image_shape)}")
    shape = _pixel_counts(image_shape, "image_shape", len(image_shape))
    sizes = tuple(float(v) for v in voxel_size)
    if len(sizes) != len(shape):
        raise ValueError(f"voxel_size {sizes} needs one entry per axis of the image shape {shape} (2 or 3 axes)")
    if not all(math.isfinite(v) and v > 0 for v in sizes):
        raise ValueError(f"voxel_size must be positive micrometres, got {sizes}")
    if depth is not None and not (math.isfinite(depth) and depth >= 0):
        raise ValueError(f"depth must be >= 0 micrometres (below the coverslip), got {depth}")
    if not np.isclose(sizes[-1], sizes[-2], rtol=1e-6):
        raise ValueError(f"the optical models take square pixels; the voxel size has y {sizes[-2]} and x {sizes[-1]}")
    if not 0 < energy <= 1:
        raise ValueError(f"energy must be in (0, 1], got {energy}")
    grid = tuple(min(n - 1 + n % 2, MAX_LATERAL_SIZE if axis >= len(shape) - 2 else MAX_AXIAL_SIZE)
                 for axis, n in enumerate(shape))
    optics = dict(na=na, pixel_size=sizes[-1], z_spacing=sizes[0] if len(shape) == 3 else None)
    if model == "born-wolf":
        kernel = born_wolf(grid, wavelength=wavelength, refractive_index=ni, **optics)
    elif model == "gibson-lanni":
        kernel = gibson_lanni(grid, wavelength=wavelength, ni=ni, ns=ni if ns is None else ns,
                              ng=1.5 if ng is None else ng, particle_depth=0.0 if depth is None else depth, **optics)
    else:
        if excitation_wavelength is None:
            raise ValueError("the confocal model needs the excitation wavelength")
        kernel = confocal(grid, excitation_wavelength=excitation_wavelength, emission_wavelength=wavelength,
                          refractive_index=ni, pinhole=pinhole, **optics)
    kernel = _normalised(_energy_box(kernel, energy))
    _warn_sampling(kernel, sizes, wavelength, na)
    return kernel


def _one_wavelength(micrometres, nanometres, name: str) -> float:
    """The wavelength in micrometres from ``name`` (µm) or ``name_nm`` (nm): exactly one given, of light."""
    if (micrometres is None) == (nanometres is None):
        raise ValueError(f"give {name} (micrometres) or {name}_nm (nanometres), " +
                         ("not both" if micrometres is not None else "got neither"))
    if micrometres is not None:
        return wavelength_um(micrometres, name)
    return wavelength_um(nanometres, f"{name}_nm", unit="nm")


def _warn_sampling(kernel: np.ndarray, sizes: tuple[float, ...], wavelength: float, na: float) -> None:
    """Warn when ``kernel`` (normalised) is smaller than a voxel or flat over its box along an axis."""
    hint = "is the voxel size in micrometres?"
    spacing = " x ".join(f"{v:g}" for v in sizes)
    if kernel.max() > SUBPIXEL_SHARE:
        warnings.warn(f"the PSF is smaller than a voxel ({spacing} µm): its central voxel holds "
                      f"{kernel.max():.0%} of it (Airy radius {0.61 * wavelength / na:.3g} µm), so deconvolution "
                      f"will hardly change the image; {hint}", UserWarning, stacklevel=3)
        return
    names = "zyx"[-kernel.ndim:]
    for axis in range(kernel.ndim):
        profile = kernel.max(axis=tuple(a for a in range(kernel.ndim) if a != axis))
        if len(profile) >= 3 and min(profile[0], profile[-1]) >= FLAT_SHARE * profile.max():
            warnings.warn(f"the PSF is flat over its box along {names[axis]} ({len(profile)} voxels of "
                          f"{sizes[axis]:g} µm): the box holds only its middle, so the model is cut off; {hint} (or "
                          "the image too small along that axis)", UserWarning, stacklevel=3)


def _energy_box(kernel: np.ndarray, energy: float) -> np.ndarray:
    """The smallest centred box of ``kernel`` holding ``energy`` of its sum: in 3D the planes holding
    ``√energy``, then the square in (y, x) holding ``√energy`` of theirs."""
    keep = np.sqrt(energy) if kernel.ndim == 3 else energy
    if kernel.ndim == 3:
        half = _centred_half_width(kernel.sum(axis=(1, 2)), keep)
        centre = kernel.shape[0] // 2
        kernel = kernel[max(centre - half, 0):centre + half + 1]
    ny, nx = kernel.shape[-2:]
    ring = np.maximum.outer(np.abs(np.arange(ny) - ny // 2), np.abs(np.arange(nx) - nx // 2))
    per_ring = np.bincount(ring.ravel(), weights=kernel.reshape(-1, ny * nx).sum(axis=0))
    half = int(np.searchsorted(np.cumsum(per_ring) / per_ring.sum(), keep * (1 - 1e-12)))
    return kernel[..., max(ny // 2 - half, 0):ny // 2 + half + 1, max(nx // 2 - half, 0):nx // 2 + half + 1]


def _centred_half_width(profile: np.ndarray, keep: float) -> int:
    """The smallest ``h`` with ``profile[c − h : c + h + 1]`` holding ``keep`` of the sum (``c = n // 2``)."""
    centre = len(profile) // 2
    held = [profile[max(centre - h, 0):centre + h + 1].sum() for h in range(centre + 1)]
    return int(np.searchsorted(np.asarray(held) / profile.sum(), keep * (1 - 1e-12)))


# -- helpers ---------------------------------------------------------------------------------------------
def wavelength_um(value, name: str, *, unit: str = "µm") -> float:
    """A vacuum wavelength given in ``unit`` (``"µm"`` or ``"nm"``) in micrometres, refused outside
    :data:`LIGHT_WAVELENGTHS_NM`, saying so when it looks like the other unit (520 typed as µm, 0.52 as nm).

    Parameters
    ----------
    value : float
        The wavelength.
    name : str
        Its name in the caller's terms, for the message (``"wavelength"``, ``"--wavelength"``).
    unit : {"µm", "nm"}
        The unit ``value`` is in.

    Raises
    ------
    ValueError
        If ``value`` is not a wavelength of light in ``unit``.
    """
    scale = {"µm": 1000.0, "nm": 1.0}[unit]
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)) or not math.isfinite(value):
        raise ValueError(f"{name} must be a number of {unit}, got {value!r}")
    low, high = LIGHT_WAVELENGTHS_NM
    nm = float(value) * scale
    if not low <= nm <= high:
        other, other_unit = (float(value), "nanometres") if unit == "µm" else (float(value) * 1000.0, "micrometres")
        hint = (f": it looks like {other_unit}; {name} takes {unit} ({other / scale:g})" if low <= other <= high
                else "")
        raise ValueError(f"{name} {float(value):g} {unit} is not a wavelength of light ({low:g} to {high:g} nm){hint}")
    return nm / 1000.0


def _check_optics(shape, na, wavelength, pixel_size, z_spacing, *, refractive_index) -> None:
    """Refuse shapes and optical parameters the models cannot use, before any work."""
    shape = tuple(shape)
    if len(shape) not in (2, 3) or any(int(n) != n or n < 1 for n in shape):
        raise ValueError(f"shape must be (ny, nx) or (nz, ny, nx) of positive integers, got {shape}")
    for name, value in {"wavelength": wavelength, "pixel_size": pixel_size, "na": na}.items():
        if not np.isfinite(value) or value <= 0:
            raise ValueError(f"{name} must be > 0, got {value}")
    wavelength_um(wavelength, "wavelength")
    if na > refractive_index:
        raise ValueError(f"na {na} exceeds the immersion refractive index {refractive_index}")
    if len(shape) == 3 and (z_spacing is None or not np.isfinite(z_spacing) or z_spacing <= 0):
        raise ValueError(f"a 3D shape {shape} needs z_spacing > 0 (micrometres), got {z_spacing}")


def _defocus(shape, z_spacing) -> np.ndarray:
    """Defocus of each plane in micrometres: ``(k − nz // 2) · z_spacing`` (a single 0 for 2D)."""
    if len(shape) == 2:
        return np.zeros(1)
    nz = int(shape[0])
    return (np.arange(nz) - nz // 2) * float(z_spacing)


def _pupil_integral(shape, na, k, pixel_size, phase, breaks=()) -> np.ndarray:
    """``|∫₀¹ J₀(k NA r ρ) exp(i W(ρ, z)) ρ dρ|²`` at every pixel of ``shape`` (centre ``n // 2``).

    ``phase(rho)`` returns ``W`` of shape ``(n_planes, len(rho))``. The integral is evaluated once per
    distinct pixel radius (integer ``dy² + dx²``), by :func:`_pupil_quadrature`; ``breaks`` are pupil
    radii where ``W`` is not smooth (critical angles).
    """
    ny, nx = int(shape[-2]), int(shape[-1])
    dy = np.arange(ny) - ny // 2
    dx = np.arange(nx) - nx // 2
    r2 = dy[:, None] ** 2 + dx[None, :] ** 2
    radii2, inverse = np.unique(r2, return_inverse=True)
    r = np.sqrt(radii2) * pixel_size

    rho, weights = _pupil_quadrature(phase, k * na * float(r.max()), breaks)
    n_planes = int(shape[0]) if len(shape) == 3 else 1
    advice = ("the PSF would be far finer than the grid, or its phase wraps too often: check that the voxel size and "
              "depth are in micrometres and the wavelength is that of light")
    if rho.size > MAX_QUADRATURE_NODES:
        raise ValueError(f"the PSF model's pupil integral would take {rho.size} quadrature nodes (at most "
                         f"{MAX_QUADRATURE_NODES}; a PSF sampled as microscopes sample it takes a few thousand): {advice}")
    check_fits(16.0 * (2 * r.size * rho.size + 2 * n_planes * (rho.size + r.size) + n_planes * ny * nx),
               f"the PSF model's pupil integral ({rho.size} quadrature nodes, {r.size} radii, {n_planes} planes)", advice)
    bessel = special.j0(k * na * r[:, None] * rho[None, :]) * (weights * rho)[None, :]  # (n_r, n_nodes)
    pupil = np.exp(1j * np.asarray(phase(rho)))  # (n_planes, n_nodes)
    amplitude = pupil @ bessel.T  # (n_planes, n_r)
    intensity = np.abs(amplitude) ** 2
    planes = intensity[:, inverse.reshape(ny, nx)]
    return planes if len(shape) == 3 else planes[0]


def _pupil_quadrature(phase, bessel_span: float, breaks=()) -> tuple[np.ndarray, np.ndarray]:
    """Composite Gauss-Legendre nodes and weights on [0, 1] fine enough for the integrand's oscillations.

    The integrand turns through about ``bessel_span`` radians in ``J₀`` plus the total variation of the
    real phase ``W`` over the pupil (measured on a fine grid); each panel of 16 nodes covers at most
    about π of it, and panels also end at ``breaks``.
    """
    probe = np.linspace(0.0, 1.0, 2049)
    phase_variation = float(np.abs(np.diff(np.asarray(phase(probe)).real, axis=1)).sum(axis=1).max())
    n_panels = 4 + int(np.ceil((bessel_span + phase_variation) / np.pi))
    edges = np.union1d(np.linspace(0.0, 1.0, n_panels + 1), [b for b in breaks if 0.0 < b < 1.0])
    nodes, weights = np.polynomial.legendre.leggauss(_NODES_PER_PANEL)
    half = 0.5 * np.diff(edges)[:, None]
    rho = (edges[:-1, None] + half * (nodes[None, :] + 1.0)).ravel()
    return rho, (half * weights[None, :]).ravel()

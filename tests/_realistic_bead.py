"""A bead stack made like a real one, and a specimen blurred by the same PSF, from exact formulas.

The PSF is analytic (micrometres): a light-sheet-like spot, elongated along z and asymmetric about its
focus, whose lateral width grows with defocus, with a faint side lobe on one side::

    h(z, y, x) = a(z) · exp(−(y² + x²) / (2 s(z)²)) / (2π s(z)²),   s(z) = s₀ √(1 + (z / z_R)²),
    a(z) = exp(−z² / (2 σ₋²)) for z < 0, exp(−z² / (2 σ₊²)) for z ≥ 0, + L · exp(−(z − z_L)² / (2 σ_L²)).

Each plane's lateral integral is ``a(z)``, so the centre of mass along z is a 1D integral. A bead stack
cannot tell where the emitter sits inside its own PSF, so the origin is put at the PSF's centre of mass
(the convention of :func:`napari_invprob.deconvolution.measured_psf.prepare_psf`).

The bead is a point source imaged at the bead stack's own voxel size (finer z steps than the data), off
the stack's centre, on a camera offset, with Poisson noise and read noise, stored as uint16. The
specimen (Gaussian puncta) is blurred by the PSF on a grid finer than the data (scipy's FFT convolution,
not our operator) and sampled at the data's voxels, then recorded the same way. None of it uses
napari-invprob.
"""

from __future__ import annotations

import numpy as np
from scipy import signal

#: The PSF's parameters in micrometres: lateral width in focus, its Rayleigh-like range, the axial widths
#: below and above focus, and the side lobe (height, place, width).
S0, Z_R, SIGMA_BELOW, SIGMA_ABOVE = 0.14, 0.9, 0.45, 0.75
LOBE_HEIGHT, LOBE_Z, LOBE_SIGMA = 0.08, 1.6, 0.25


def _axial(z: np.ndarray) -> np.ndarray:
    """The PSF's energy per unit z: ``a(z)``."""
    z = np.asarray(z, dtype=np.float64)
    width = np.where(z < 0, SIGMA_BELOW, SIGMA_ABOVE)
    return np.exp(-0.5 * (z / width) ** 2) + LOBE_HEIGHT * np.exp(-0.5 * ((z - LOBE_Z) / LOBE_SIGMA) ** 2)


def _centre_of_mass_z() -> float:
    """``∫ z a(z) dz / ∫ a(z) dz`` (a fine 1D quadrature of the closed form)."""
    z = np.linspace(-8.0, 8.0, 160_001)
    weights = _axial(z)
    return float((z * weights).sum() / weights.sum())


Z_COM = _centre_of_mass_z()


def psf_value(z, y, x) -> np.ndarray:
    """The PSF at points ``(z, y, x)`` (micrometres from its centre of mass); integrates to 1 over the
    lateral plane times ``a(z)``."""
    z = np.asarray(z, dtype=np.float64) + Z_COM
    s2 = S0**2 * (1.0 + (z / Z_R) ** 2)
    return _axial(z) * np.exp(-(np.asarray(y) ** 2 + np.asarray(x) ** 2) / (2 * s2)) / (2 * np.pi * s2)


def true_psf(shape, voxel_size) -> np.ndarray:
    """The PSF sampled on a grid of ``voxel_size`` (z, y, x), its centre of mass at pixel ``n // 2``,
    normalised to sum 1 (float64)."""
    axes = [(np.arange(n) - n // 2) * v for n, v in zip(shape, voxel_size)]
    kernel = psf_value(*np.meshgrid(*axes, indexing="ij"))
    return kernel / kernel.sum()


def bead_stack(shape=(71, 40, 40), voxel_size=(0.1, 0.104, 0.104), *, offset_um=(0.43, -0.61, 0.37),
               photons=60_000.0, camera_offset=100.0, read_noise=2.0, seed=0) -> np.ndarray:
    """A bead stack as a microscope records it: uint16, the bead ``offset_um`` from the stack's centre,
    ``photons`` in total, on ``camera_offset`` with Poisson and Gaussian read noise."""
    axes = [(np.arange(n) - n // 2) * v - o for n, v, o in zip(shape, voxel_size, offset_um)]
    return recorded(psf_value(*np.meshgrid(*axes, indexing="ij")), photons=photons, camera_offset=camera_offset,
                    read_noise=read_noise, seed=seed)


def recorded(spot, *, photons=600_000.0, camera_offset=100.0, read_noise=2.0, seed=0) -> np.ndarray:
    """A bead's expected image ``spot`` (any scale) as a camera records it: ``photons`` in total, Poisson
    noise, ``camera_offset`` and Gaussian read noise, rounded to uint16."""
    rng = np.random.default_rng(seed)
    expected = np.asarray(spot, dtype=np.float64) * (photons / np.sum(spot))
    counts = rng.poisson(expected) + camera_offset + read_noise * rng.standard_normal(expected.shape)
    return np.clip(np.round(counts), 0, 65535).astype(np.uint16)


#: The puncta's Gaussian width, micrometres.
PUNCTUM_SIGMA = 0.12


def puncta(shape, voxel_size, *, count=40, seed=1) -> tuple[np.ndarray, np.ndarray]:
    """Random Gaussian puncta (centres and brightnesses), away from the border; the centres in µm."""
    rng = np.random.default_rng(seed)
    extent = np.array(shape) * np.array(voxel_size)
    margin = np.minimum(1.5, 0.2 * extent)
    centres = margin + rng.random((count, 3)) * (extent - 2 * margin)
    return centres, 0.5 + rng.random(count)


def specimen(shape, voxel_size, *, oversample=(3, 2, 2), peak_photons=400.0, camera_offset=100.0,
             read_noise=2.0, count=40, seed=2) -> tuple[np.ndarray, np.ndarray]:
    """The truth (float64, photons per voxel, on the data's grid) and the recorded data (uint16): puncta
    blurred by the PSF on a grid ``oversample`` times finer (scipy's FFT convolution), sampled at the
    data's voxels, Poisson and read noise on ``camera_offset``."""
    rng = np.random.default_rng(seed)
    centres, brightness = puncta(shape, voxel_size, count=count)

    def spots(grid_shape, grid_voxel):
        """The puncta sampled on a grid (each within 5 widths of its centre)."""
        out = np.zeros(grid_shape)
        reach = [int(np.ceil(5 * PUNCTUM_SIGMA / v)) for v in grid_voxel]
        for c, b in zip(centres, brightness):
            index = [int(round(ci / v)) for ci, v in zip(c, grid_voxel)]
            box = tuple(slice(max(i - r, 0), min(i + r + 1, n)) for i, r, n in zip(index, reach, grid_shape))
            profiles = [np.exp(-0.5 * ((np.arange(sl.start, sl.stop) * v - ci) / PUNCTUM_SIGMA) ** 2)
                        for sl, v, ci in zip(box, grid_voxel, c)]
            out[box] += b * profiles[0][:, None, None] * profiles[1][None, :, None] * profiles[2][None, None, :]
        return out

    truth = spots(shape, voxel_size)
    fine_voxel = tuple(v / o for v, o in zip(voxel_size, oversample))
    fine_shape = tuple(n * o for n, o in zip(shape, oversample))
    kernel_shape = tuple(2 * int(np.ceil(r / v)) + 1 for r, v in zip((3.5, 1.2, 1.2), fine_voxel))
    blurred = signal.fftconvolve(spots(fine_shape, fine_voxel), true_psf(kernel_shape, fine_voxel), mode="same")
    blurred = blurred[::oversample[0], ::oversample[1], ::oversample[2]]
    scale = peak_photons / blurred.max()
    counts = rng.poisson(np.clip(blurred, 0, None) * scale) + camera_offset + read_noise * rng.standard_normal(shape)
    return truth * scale, np.clip(np.round(counts), 0, 65535).astype(np.uint16)

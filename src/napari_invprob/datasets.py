"""The lecture's test problems, made reproducibly (fixed seeds) and without the operators under test.

These cases feed the tests' quality floors, the benchmarks, the examples and the sample data, so all
of them measure the same thing.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import ndimage
from skimage import data as skdata
from skimage.util import img_as_float32

from . import phantom


@dataclass(frozen=True)
class DeconvolutionCase:
    """A blurred, noisy measurement with its clean reference and PSF (all float32)."""

    clean: np.ndarray
    blurred: np.ndarray
    psf: np.ndarray
    noise_sigma: float
    channel_axis: int | None


def gaussian_kernel(size: int, sigma: float) -> np.ndarray:
    """The lecture's centred ``size x size`` Gaussian kernel, normalised to sum 1 (float32).

    Written out here, independent of :mod:`napari_invprob.psf`, so test data never depend on the
    code under test.
    """
    r = np.arange(size) - size // 2
    kernel = np.exp(-(r[:, None] ** 2 + r[None, :] ** 2) / (2.0 * sigma**2))
    return (kernel / kernel.sum()).astype(np.float32)


def lecture_astronaut(*, seed: int = 0, noise_sigma: float = 0.05, clip: bool = True) -> DeconvolutionCase:
    """The lecture's deconvolution case.

    ``skimage.data.astronaut()`` on [0, 1] (512x512x3 RGB), blurred per channel with a centred 7x7
    Gaussian of sigma 4 with periodic boundaries (as the lecture's FFT blur, but without its
    half-kernel shift), plus Gaussian noise of ``noise_sigma``, then clipped to [0, 1] as a stored
    image would be (the peers' published figures on this case, 21.96 dB for the input, were made so).

    Parameters
    ----------
    seed : int
        Seed of the noise.
    noise_sigma : float
        Standard deviation of the additive Gaussian noise.
    clip : bool
        Clip the measurement to [0, 1].

    Returns
    -------
    DeconvolutionCase
    """
    clean = img_as_float32(skdata.astronaut())
    psf = gaussian_kernel(7, 4.0)
    blurred = np.stack(
        [ndimage.convolve(clean[..., c], psf, mode="wrap") for c in range(clean.shape[-1])], axis=-1
    )
    rng = np.random.default_rng(seed)
    noisy = blurred + noise_sigma * rng.standard_normal(blurred.shape)
    if clip:
        noisy = np.clip(noisy, 0.0, 1.0)
    return DeconvolutionCase(clean, noisy.astype(np.float32), psf, noise_sigma, -1)


@dataclass(frozen=True)
class TomographyCase:
    """Noisy projections of a phantom with exactly known line integrals (all float32).

    ``phantom`` is the pixel-averaged reference ``(n, n)``, ``sinogram`` the data
    ``(n_angles, n)``, ``angles`` in degrees, ``mask`` the reconstruction circle to score inside.
    """

    phantom: np.ndarray
    sinogram: np.ndarray
    angles: np.ndarray
    mask: np.ndarray


TOMOGRAPHY_ANGLES = {
    "wedge": lambda: np.linspace(-70.0, 70.0, 50),  # the lecture's missing wedge
    "full": lambda: np.arange(180.0),
}


def shepp_logan_case(
    kind: str = "wedge", *, n: int = 256, seed: int = 0, noise: float = 0.01
) -> TomographyCase:
    """The tomography test case: the modified Shepp-Logan phantom seen over a wedge or all angles.

    The sinogram is the phantom's exact line integrals (closed form, averaged over each detector bin;
    rotation centre at pixel ``n // 2``, as scikit-image), never our projector's output, plus
    Gaussian noise of ``noise`` times the sinogram's maximum.

    Parameters
    ----------
    kind : {"wedge", "full"}
        ``"wedge"``: 50 angles over -70..70 degrees; ``"full"``: 180 angles over [0, 180).
    n : int
        Image size.
    seed : int
        Seed of the noise.
    noise : float
        Noise standard deviation as a fraction of the sinogram's maximum.

    Returns
    -------
    TomographyCase
    """
    if kind not in TOMOGRAPHY_ANGLES:
        raise ValueError(f"kind must be one of {sorted(TOMOGRAPHY_ANGLES)}, got {kind!r}")
    angles = TOMOGRAPHY_ANGLES[kind]()
    exact = phantom.shepp_logan_sinogram(n, angles)
    rng = np.random.default_rng(seed)
    noisy = exact + noise * float(exact.max()) * rng.standard_normal(exact.shape)
    return TomographyCase(
        phantom.shepp_logan_image(n), noisy.astype(np.float32), angles, phantom.reconstruction_circle(n)
    )

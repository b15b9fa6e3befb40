"""Simulated blurred, noisy measurements: ``y = psf * x + e``."""

from __future__ import annotations

import numpy as np

from .._shared.device import to_numpy, to_tensor
from ..operators import Convolution


def blur(image, psf, noise_sigma=0.0, seed=None, *, channel_axis=None, boundary="periodic"):
    """Blur an image with a centred PSF and add white Gaussian noise.

    Parameters
    ----------
    image : array-like
        2D or 3D image, or a multi-channel image with ``channel_axis``; integers are converted to
        float, not rescaled. Never modified.
    psf : array-like
        Centred PSF (pixel ``size // 2`` on each axis is the zero shift) with one axis per spatial
        axis of the image; used as given (normalise it to sum 1 to preserve brightness).
    noise_sigma : float
        Standard deviation of the additive Gaussian noise, in the image's units (0: noiseless).
    seed : int, numpy.random.Generator or None
        Seed of ``numpy.random.default_rng`` for the noise, so measurements are reproducible.
    channel_axis : int or None
        Axis of independent channels (e.g. ``-1`` for RGB); the PSF is applied to each channel.
    boundary : {"periodic", "zero"}
        Boundary of the convolution, see :class:`napari_invprob.operators.Convolution`.

    Returns
    -------
    numpy.ndarray
        float32 array of the image's shape. Not clipped: noise may push values outside the input's range.

    Raises
    ------
    ValueError
        On a negative or non-finite ``noise_sigma``, NaN/Inf in the image, or a PSF that does not fit
        the image (see :class:`~napari_invprob.operators.Convolution`).
    """
    noise_sigma = float(noise_sigma)
    if not np.isfinite(noise_sigma) or noise_sigma < 0:
        raise ValueError(f"noise_sigma must be a finite number >= 0, got {noise_sigma}")
    x = to_tensor(image, name="image")
    op = Convolution(psf, tuple(x.shape), boundary=boundary, channel_axis=channel_axis, device=x.device)
    blurred = to_numpy(op(x))
    if noise_sigma > 0:
        noise = np.random.default_rng(seed).standard_normal(blurred.shape, dtype=np.float32)
        blurred += np.float32(noise_sigma) * noise
    return blurred

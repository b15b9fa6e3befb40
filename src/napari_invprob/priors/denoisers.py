"""Denoisers ``D(x, sigma)`` for plug-and-play solvers, by name, and :func:`denoise` for users.

A denoiser is a callable ``D(x: Tensor, sigma: float) -> Tensor`` on a batch of images shaped
``(n, *spatial)`` (2 or 3 spatial axes; the leading axis holds channels or independent images),
``sigma`` being the standard deviation of the Gaussian noise to remove, in the data's units.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import torch
from skimage.restoration import estimate_sigma

from .._shared.device import check_float32, to_numpy, to_tensor
from .gaussian import GaussianDenoiser
from .learned import learned_denoiser
from .tv import TVDenoiser

Denoiser = Callable[[torch.Tensor, float], torch.Tensor]


@dataclass(frozen=True)
class DenoiserSpec:
    """One denoiser a user can pick.

    Attributes
    ----------
    name : str
        The name users type (``"tv"``, ...).
    summary : str
        What it is, in one line (the widgets' tooltips, the command line's help).
    factory : callable
        Returns a fresh denoiser ``D(x, sigma)``; keyword options go to it.
    standalone : dict
        Options :func:`denoise` gives the factory when the denoiser is used on its own, not as a prior.
    annealed : bool
        Whether plug-and-play ADMM should let its strength fall from large to λ over the iterations
        (trained networks behave best that way) rather than hold it at λ.
    """

    name: str
    summary: str
    factory: Callable[..., Denoiser]
    standalone: dict = field(default_factory=dict)
    annealed: bool = False


#: The denoisers, by name.
DENOISERS: dict[str, DenoiserSpec] = {
    spec.name: spec
    for spec in (
        DenoiserSpec("tv", "total variation (ROF): flat regions and sharp edges, in 2D or 3D", TVDenoiser,
                     standalone={"n_iter": 100}),
        DenoiserSpec("gaussian", "Gaussian smoothing of matching strength: fast, blurs edges", GaussianDenoiser),
        DenoiserSpec("learned", "the shipped network, trained for Gaussian noise (sharpest; 3D volumes slice by "
                     "slice)", learned_denoiser, annealed=True),
    )
}


def check_denoiser(name) -> DenoiserSpec:
    """The entry of :data:`DENOISERS` named ``name``.

    Raises
    ------
    ValueError
        If the name is unknown (the message lists the valid ones).
    """
    spec = DENOISERS.get(name) if isinstance(name, str) else None
    if spec is None:
        raise ValueError(f"unknown denoiser {name!r}; valid denoisers are {', '.join(sorted(DENOISERS))}")
    return spec


def get_denoiser(name: str, **options) -> Denoiser:
    """A fresh denoiser ``D(x, sigma)`` by name (one of :data:`DENOISERS`).

    Parameters
    ----------
    name : str
        ``"tv"`` (total variation, ROF), ``"gaussian"`` (Gaussian smoothing), or another registered name.
    **options
        Passed to the denoiser's factory (e.g. ``n_iter`` for ``"tv"``).

    Raises
    ------
    ValueError
        If the name is unknown (the message lists the valid ones).
    """
    return check_denoiser(name).factory(**options)


def denoise(image, *, method: str = "tv", sigma: float | None = None, channel_axis: int | None = None,
            device=None) -> np.ndarray:
    """Remove Gaussian noise from a 2D or 3D image (optionally with a channel axis).

    Parameters
    ----------
    image : array-like
        2D or 3D image, plus a channel axis when ``channel_axis`` is given (channels are denoised
        independently). Integer images are converted to float, not truncated. Never modified.
    method : str
        Denoiser name, see :func:`get_denoiser`.
    sigma : float, optional
        Noise standard deviation in the image's units (a finite number >= 0 that float32 can hold);
        :func:`noise_level` when None.
    channel_axis : int, optional
        Axis of independent channels (e.g. -1 for RGB).
    device : str or torch.device, optional
        Where to compute; None picks the best available device.

    Returns
    -------
    numpy.ndarray
        Float32, the shape of ``image``.

    Raises
    ------
    ValueError
        An unknown method, a ``sigma`` that is negative, NaN, infinite or beyond float32's range, a
        constant image without ``sigma`` (see :func:`noise_level`), data that are not 2D/3D finite
        numbers, or a result that is not finite.
    TypeError
        A ``sigma`` that is not a number, non-numeric or complex data.
    """
    denoiser = get_denoiser(method, **check_denoiser(method).standalone)
    if sigma is not None and check_float32(sigma, "sigma") < 0:
        raise ValueError(f"sigma must be non-negative, got {sigma}")
    x = to_tensor(image, device, name="image")
    if channel_axis is not None:
        if not -x.ndim <= channel_axis < x.ndim:
            raise ValueError(f"channel_axis {channel_axis} is out of range for an image of shape {tuple(x.shape)}")
        x = x.movedim(channel_axis, 0)
    else:
        x = x.unsqueeze(0)
    if x.ndim - 1 not in (2, 3):
        raise ValueError(f"denoise takes 2D or 3D images (plus a channel axis), got shape {np.shape(image)}")
    if sigma is None:
        sigma = noise_level(image, channel_axis=channel_axis)
    peak = float(x.abs().max()) or 1.0
    out = denoiser(x / peak, float(sigma) / peak) * peak
    if not bool(torch.isfinite(out).all()):
        raise ValueError(f"denoising with {method!r} at sigma = {sigma:g} gave NaN or Inf values (beyond float32's "
                         "range); give a sigma near the noise's standard deviation")
    out = out.movedim(0, channel_axis) if channel_axis is not None else out.squeeze(0)
    return to_numpy(out)


def noise_level(image, *, channel_axis: int | None = None) -> float:
    """The standard deviation of an image's Gaussian noise, in its units, as :func:`denoise` estimates it:
    :func:`skimage.restoration.estimate_sigma` (wavelet median absolute deviation), averaged over channels.

    Parameters
    ----------
    image : array-like
        2D or 3D image, plus a channel axis when ``channel_axis`` is given.
    channel_axis : int, optional
        Axis of independent channels.

    Returns
    -------
    float

    Raises
    ------
    ValueError
        If the image is constant (or all zero): it holds no noise to measure, so give ``sigma``.
    """
    data = np.asarray(image, dtype=np.float32)
    if data.size and float(data.max()) == float(data.min()):
        raise ValueError(f"cannot estimate the noise of a constant image (every value is {float(data.flat[0]):g}): "
                         "give sigma")
    with warnings.catch_warnings(), np.errstate(all="ignore"):
        warnings.simplefilter("ignore", RuntimeWarning)
        sigma = float(estimate_sigma(data, channel_axis=channel_axis, average_sigmas=True))
    if not np.isfinite(sigma):
        raise ValueError("cannot estimate the noise of this image (the estimate is not a number): give sigma")
    return sigma


__all__ = ["DENOISERS", "Denoiser", "DenoiserSpec", "check_denoiser", "denoise", "get_denoiser", "noise_level"]

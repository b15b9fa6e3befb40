"""Image-quality metrics with an explicit data range (PSNR, SSIM)."""

from __future__ import annotations

import numpy as np
import torch
from skimage.metrics import structural_similarity


def _as_array(data, name: str) -> np.ndarray:
    if isinstance(data, torch.Tensor):
        data = data.detach().cpu().numpy()
    arr = np.asarray(data, dtype=np.float64)
    if not np.all(np.isfinite(arr)):
        raise ValueError(f"{name} contains NaN or Inf values")
    return arr


def _check_pair(reference, estimate) -> tuple[np.ndarray, np.ndarray]:
    ref = _as_array(reference, "reference")
    est = _as_array(estimate, "estimate")
    if ref.shape != est.shape:
        raise ValueError(f"reference has shape {ref.shape} but estimate has shape {est.shape}")
    return ref, est


def psnr(reference, estimate, *, data_range: float, mask=None) -> float:
    """Peak signal-to-noise ratio in dB, ``10 log10(data_range² / MSE)``.

    Parameters
    ----------
    reference, estimate : array-like or torch.Tensor
        Images of the same shape.
    data_range : float
        The peak value range of the reference (1 for images on [0, 1]); always explicit, never guessed
        from the data.
    mask : array-like of bool, optional
        Score only where the mask is true (e.g. inside a tomographic reconstruction circle); it must
        broadcast to the images' shape.

    Returns
    -------
    float
        PSNR in dB (``inf`` for identical images).
    """
    if data_range <= 0:
        raise ValueError(f"data_range must be positive, got {data_range}")
    ref, est = _check_pair(reference, estimate)
    sq = (ref - est) ** 2
    if mask is not None:
        mask = np.broadcast_to(np.asarray(mask, dtype=bool), ref.shape)
        if not mask.any():
            raise ValueError("mask selects no pixels")
        sq = sq[mask]
    mse = float(np.mean(sq))
    if mse == 0.0:
        return float("inf")
    return float(10.0 * np.log10(data_range**2 / mse))


def ssim(reference, estimate, *, data_range: float, channel_axis: int | None = None) -> float:
    """Structural similarity (mean SSIM, scikit-image's definition) with an explicit data range.

    Parameters
    ----------
    reference, estimate : array-like or torch.Tensor
        Images of the same shape (2D, 3D, or with a channel axis).
    data_range : float
        The data range of the reference (1 for images on [0, 1]).
    channel_axis : int, optional
        Axis of colour channels (e.g. -1 for RGB), scored per channel and averaged.

    Returns
    -------
    float
        Mean SSIM in [-1, 1].
    """
    if data_range <= 0:
        raise ValueError(f"data_range must be positive, got {data_range}")
    ref, est = _check_pair(reference, estimate)
    return float(structural_similarity(ref, est, data_range=data_range, channel_axis=channel_axis))

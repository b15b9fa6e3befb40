"""Estimates from the measured data of a periodic deconvolution problem: the noise level and the
Wiener filter's noise-to-signal ratio."""

from __future__ import annotations

import math

import numpy as np
import torch
from skimage.restoration import estimate_sigma

from ..operators.convolution import Convolution

#: Frequencies where ``|H| <`` this carry (almost) only noise; the spectral noise estimate uses them.
NOISE_ONLY_GAIN = 0.01
#: ... provided they are at least this fraction of all frequencies.
MIN_NOISE_FRACTION = 0.01


def estimate_noise_sigma(op: Convolution, y: torch.Tensor) -> float:
    """Standard deviation of white noise in ``y = Hx + e`` (``y`` shaped ``(batch, *spatial)``).

    Where the PSF removes the signal (``|H| < 0.01``), the data's power spectrum is the noise's:
    ``σ² = mean |Y(k)|² / N`` over those frequencies (``N`` pixels per image). This is unbiased by the
    image content, unlike wavelet estimates on a blurred image (on the lecture's case it gives 0.0472
    for an effective 0.0477, where ``skimage.restoration.estimate_sigma`` gives 0.0455). When the PSF
    passes (nearly) all frequencies, falls back to ``estimate_sigma``.
    """
    if op.boundary == "periodic":
        quiet = op.otf.abs() < NOISE_ONLY_GAIN
        if float(quiet.float().mean()) >= MIN_NOISE_FRACTION:
            power = op.rfft(y).abs() ** 2
            return math.sqrt(float(power[..., quiet].mean()) / math.prod(op.in_shape))
    batch = y.detach().cpu().numpy()
    return float(np.mean([estimate_sigma(image) for image in batch]))


def wiener_nsr(op: Convolution, y: torch.Tensor, sigma: float) -> torch.Tensor:
    """Per-frequency noise-to-signal power ratio for the Wiener filter, estimated from the data.

    The signal's power spectrum is modelled as isotropic and a power law ``S_x(|k|) = A·|k|^−β`` (natural
    images have β ≈ 2). In each ring of spatial frequency the blurred signal's power is the data's
    less the noise's, ``max(mean |Y|² − Nσ², 0)``, and ``S_x = that / mean |H|²``; the power law is fitted
    in log-log to the rings where the signal is above the noise, and extrapolated to the others
    (ring-wise estimates there are noise divided by a vanishing ``|H|²``). ``NSR(k) = Nσ² / S_x(|k|)``.
    Returns a real tensor on the grid of ``op.otf``.
    """
    shape = op.spatial_shape
    noise_power = math.prod(shape) * max(sigma, 1e-12) ** 2
    radius = _frequency_radius(shape, op.otf.device).double()
    rings = torch.round(radius * max(shape)).long().flatten()
    n_rings = int(rings.max()) + 1
    counts = torch.bincount(rings, minlength=n_rings).clamp(min=1)

    def ring_mean(values: torch.Tensor) -> torch.Tensor:
        return torch.bincount(rings, weights=values.flatten().double(), minlength=n_rings) / counts

    data_power = (op.rfft(y).abs() ** 2).mean(dim=0)
    # average before subtracting the noise: clamping first would bias noise-only rings upwards
    blurred_signal = ring_mean(data_power) - noise_power
    ring_radius = ring_mean(radius)
    fit = (blurred_signal > noise_power) & (ring_radius > 0)
    if int(fit.sum()) < 2:
        return torch.full_like(op.otf.real, 1.0 / max(float(blurred_signal[0]) / noise_power, 1e-12))
    signal = blurred_signal[fit] / ring_mean(op.otf.abs() ** 2)[fit]
    design = torch.stack([torch.ones_like(ring_radius[fit]), torch.log(ring_radius[fit])], dim=1)
    log_a, slope = torch.linalg.lstsq(design, torch.log(signal).unsqueeze(1)).solution.flatten()
    model = torch.exp(log_a + slope * torch.log(radius.clamp(min=float(ring_radius[fit].min()))))
    return (noise_power / model).to(torch.float32)


def _frequency_radius(shape: tuple[int, ...], device) -> torch.Tensor:
    """``|k|`` in cycles per pixel on the ``rfftn`` grid of ``shape``."""
    axes = [torch.fft.fftfreq(n, device=device) for n in shape[:-1]]
    axes.append(torch.fft.rfftfreq(shape[-1], device=device))
    grids = torch.meshgrid(*axes, indexing="ij")
    return torch.sqrt(sum(g**2 for g in grids))

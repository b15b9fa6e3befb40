"""A blurred image in the solvers' layout with its forward model (:class:`DeconvolutionProblem`), and its checks."""

from __future__ import annotations

import math
import warnings
from collections.abc import Iterator
from dataclasses import dataclass, replace
from functools import cached_property

import numpy as np
import scipy.fft
import torch

from .._shared.device import resolve_device, to_tensor
from ..operators.convolution import Convolution, check_psf_fits
from ..operators.gradient import Gradient
from ..problems.noise import estimate_noise_sigma
from ..solvers.base import Iterate

#: Blur models at the image edges: those of :class:`Convolution`, and ``"reflect"``: the image is
#: extended by mirror reflection (see :func:`reflect_margins`) and deconvolved with a
#: periodic blur, then cropped back, so edges that do not wrap around cause no ringing.
BOUNDARIES = ("periodic", "zero", "reflect")

#: Fewest mirrored pixels per side: the seam where the extended image wraps around must stay out of
#: reach of the estimate's edge pixels, also for the learned denoiser's wide receptive field (the
#: learned PnP-ADMM on a 256-pixel crop of ``camera``, 7x7 PSF: 23.2 dB with 7 pixels, 25.8 with 16).
MIN_REFLECT_MARGIN = 16


@dataclass
class DeconvolutionProblem:
    """A measured image in the solvers' layout, with its forward model.

    Attributes
    ----------
    op : Convolution
        The blur on one spatial image (batched over channels).
    y : torch.Tensor
        The data, ``(n, *spatial)``, divided by ``scale``.
    scale : float
        The data's peak ``max|y|`` (1 for an all-zero image).
    channel_axis : int or None
        Where the channels sit in the input layout.
    margins : tuple of (int, int) or None
        For ``boundary="reflect"``: the mirrored pixels added before and after each spatial axis
        (``op`` and ``y`` are on the extended grid); None otherwise.
    """

    op: Convolution
    y: torch.Tensor
    scale: float
    channel_axis: int | None
    margins: tuple[tuple[int, int], ...] | None = None

    @cached_property
    def gradient(self) -> Gradient:
        """Forward differences over the spatial axes (periodic to match a periodic blur)."""
        boundary = "periodic" if self.op.boundary == "periodic" else "neumann"
        return Gradient(self.op.in_shape, boundary=boundary, device=self.op.device)

    @cached_property
    def step(self) -> float | None:
        """Gradient step ``0.95/‖H‖²``, exact from the transfer function for a periodic blur (None:
        the solvers estimate ‖H‖ by power iteration)."""
        if self.op.boundary != "periodic":
            return None
        return 0.95 / float(self.op.otf.abs().max()) ** 2

    @cached_property
    def noise_sigma(self) -> float:
        """Estimated noise standard deviation of the scaled data."""
        return estimate_noise_sigma(self.op, self.y)

    def cropped(self, x: torch.Tensor) -> torch.Tensor:
        """A tensor in the solvers' layout without the mirrored margins of ``boundary="reflect"``."""
        for dim, (before, after) in enumerate(self.margins or (), start=1):
            x = x.narrow(dim, before, x.shape[dim] - before - after)
        return x

    def to_output(self, x: torch.Tensor) -> torch.Tensor:
        """An estimate in the solvers' layout -> a new tensor in the input's layout and scale."""
        out = self.cropped(x) * self.scale
        out = out.movedim(0, self.channel_axis) if self.channel_axis is not None else out[0]
        return out.contiguous()

    def to_internal(self, x: torch.Tensor) -> torch.Tensor:
        """A tensor in the input's layout and scale -> the solvers' layout, scaled (and mirrored out
        to the extended grid for ``boundary="reflect"``)."""
        x = x.movedim(self.channel_axis, 0) if self.channel_axis is not None else x.unsqueeze(0)
        return _reflect_pad(x.contiguous() / self.scale, self.margins)

    def residual_sq(self, x: torch.Tensor) -> float:
        """``‖Hx − y‖²`` in the scaled units."""
        return float(torch.sum((self.op.forward(x) - self.y) ** 2))

    def to_output_iterate(self, it: Iterate) -> Iterate:
        """An iterate in the input's layout and scale: ``x``, and the residuals in the input's units (with
        ``boundary="reflect"`` the data residual covers the mirrored margins too)."""
        return replace(it, x=self.to_output(it.x), residual=_scaled(it.residual, self.scale),
                       algorithm_residual=_scaled(it.algorithm_residual, self.scale))


def _scaled(value: float | None, scale: float) -> float | None:
    return None if value is None else value * scale


# -- the methods: each adapts one solver to the problem; keyword-only options are its parameters ----


def _clamped(problem: DeconvolutionProblem, iterates: Iterator[Iterate], nonneg: bool) -> Iterator[Iterate]:
    """Direct methods honour ``nonneg`` by projecting their answer onto ``x ≥ 0`` (and report the data
    residual of the projected answer)."""
    if not nonneg:
        return iterates
    return (_with_residual(problem, replace(it, x=it.x.clamp(min=0.0))) for it in iterates)


def _with_residual(problem: DeconvolutionProblem, it: Iterate) -> Iterate:
    return replace(it, residual=math.sqrt(problem.residual_sq(it.x)))


def _require_periodic(problem: DeconvolutionProblem, method: str) -> None:
    if problem.op.boundary != "periodic":
        raise ValueError(f"method {method!r} is a Fourier-space filter and needs boundary='periodic' or "
                         "'reflect'; use tikhonov or an iterative method with boundary='zero'")



# -- checks, all before any work ------------------------------------------------------------------------


def _problem(image, psf, *, channel_axis, boundary, device, data_peak=None) -> DeconvolutionProblem:
    if boundary not in BOUNDARIES:
        raise ValueError(f"unknown boundary {boundary!r}; valid boundaries are {', '.join(BOUNDARIES)}")
    device = resolve_device(device)
    y = to_tensor(image, device, name="image")
    if channel_axis is not None:
        if isinstance(channel_axis, bool) or not isinstance(channel_axis, (int, np.integer)):
            raise TypeError(f"channel_axis must be an integer or None, got {channel_axis!r}")
        if not -y.ndim <= channel_axis < y.ndim:
            raise ValueError(f"channel_axis {channel_axis} is out of range for an image of shape {tuple(y.shape)}")
        channel_axis = int(channel_axis) % y.ndim
        y = y.movedim(channel_axis, 0).contiguous()
    else:
        y = y.unsqueeze(0)
    if y.ndim - 1 not in (2, 3):
        raise ValueError(
            f"deconvolve takes 2D or 3D images (plus a channel axis); got shape {tuple(np.shape(image))}"
            + ("" if channel_axis is not None else "; pass channel_axis for a colour image")
        )
    kernel = to_tensor(psf, device, name="psf")
    _warn_about_psf(kernel)
    total = float(kernel.sum())
    margins = None
    if boundary == "reflect":
        check_psf_fits(tuple(kernel.shape), tuple(y.shape[1:]), tuple(np.shape(image)))  # before mirroring
        margins = reflect_margins(tuple(y.shape[1:]), tuple(kernel.shape))
        y = _reflect_pad(y, margins)
    op = Convolution(kernel / (total if total != 0 else 1.0), y.shape[1:],
                     boundary="periodic" if boundary == "reflect" else boundary, device=device)
    if not total > 0:
        raise ValueError(f"psf must have a positive sum to be normalised, its sum is {total}")
    if data_peak is None:
        scale = float(y.abs().max()) or 1.0
    elif not (np.isfinite(data_peak) and data_peak > 0):
        raise ValueError(f"data_peak must be a positive finite number, got {data_peak!r}")
    else:
        scale = float(data_peak)
    return DeconvolutionProblem(op, y / scale, scale, channel_axis, margins)


def _warn_about_psf(kernel: torch.Tensor) -> None:
    """Warn about a PSF with negative values or without a centre pixel (the run goes on)."""
    lowest, total = float(kernel.min()), float(kernel.sum())
    if lowest < 0:
        warnings.warn(
            f"the PSF has negative values (down to {lowest:.3g}; its sum is {total:.3g}); a blur is "
            "non-negative: subtract less background from a measured PSF, or clip it at 0",
            UserWarning, stacklevel=4,
        )
    even = [n for n in kernel.shape if n % 2 == 0]
    if even:
        warnings.warn(
            f"the PSF has an even size {tuple(kernel.shape)}: with no centre pixel it is taken as centred at "
            f"pixel {tuple(n // 2 for n in kernel.shape)}, so a PSF centred between pixels shifts the result "
            "by half a pixel; use an odd-sized PSF",
            UserWarning, stacklevel=4,
        )


def reflect_margins(shape: tuple[int, ...], psf_shape: tuple[int, ...]) -> tuple[tuple[int, int], ...]:
    """Mirrored pixels ``(before, after)`` per axis for ``boundary="reflect"``: twice the PSF's size and
    at least :data:`MIN_REFLECT_MARGIN` on each side (but less than the image's size, as a mirror
    needs), the total rounded up to a size the FFT handles fast."""
    margins = []
    for n, k in zip(shape, psf_shape):
        margin = min(max(2 * k, MIN_REFLECT_MARGIN), n - 1)
        extra = scipy.fft.next_fast_len(n + 2 * margin, real=True) - n - 2 * margin
        margins.append((min(margin + extra // 2, n - 1), min(margin + extra - extra // 2, n - 1)))
    return tuple(margins)


def _reflect_pad(x: torch.Tensor, margins) -> torch.Tensor:
    """Mirror ``x`` (``(n, *spatial)``) out by ``margins`` along its spatial axes, edge pixels not repeated."""
    if margins is None:
        return x
    pad = [p for before_after in reversed(margins) for p in before_after]
    return torch.nn.functional.pad(x.unsqueeze(0), pad, mode="reflect")[0]



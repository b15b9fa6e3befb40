"""Deconvolution: ``napari_invprob.deconvolve`` and the table of methods behind it.

The image is brought to one layout for every method: a batch of float32 images ``(n, *spatial)`` with
the colour channels (if any) as the batch, divided by its peak ``max|y|`` so that one default λ suits
8-bit, 16-bit and float data alike. Every iterate goes back to the input's layout and scale before it
is yielded, so a GUI can show it directly. λ is therefore the weight of the objective on data scaled to
a peak of 1 (e.g. ``½‖Hx − y‖² + λ‖∇x‖₁`` for TV).
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Iterator
from dataclasses import dataclass, replace
from functools import cached_property

import numpy as np
import scipy.fft
import torch

from .._device import resolve_device, to_numpy, to_tensor
from ..operators.convolution import Convolution, check_psf_fits
from ..operators.gradient import Gradient
from ..operators.gradient_and_identity import GradientAndIdentity
from ..priors.denoisers import check_denoiser, get_denoiser
from ..priors.proximal import l1_norm, soft_threshold
from ..priors.tv import TVProx
from ..solvers.adam import adam_l1
from ..solvers.admm_tv import admm_tv
from ..solvers.base import Clock, Iterate, finite_iterates, last
from ..solvers.conjugate_gradient import least_squares_step, tikhonov
from ..solvers.fista import fista
from ..solvers.fourier import fourier_filter, fourier_least_squares_step
from ..solvers.landweber import landweber
from ..solvers.pnp import geometric_schedule, pnp_admm, pnp_fista
from ..solvers.richardson_lucy import richardson_lucy, richardson_lucy_tv
from .background import OFFSET_WARNING_FRACTION, background_levels
from .lam_selection import minimise_risk_lam
from .methods import MethodSpec, check_bool, check_lam, check_n_iter, check_options, check_x0, method_spec
from .noise import estimate_noise_sigma, wiener_nsr

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


def _fourier(problem, *, lam, n_iter, nonneg, x0, eps=None):
    _require_periodic(problem, "fourier")
    if eps is not None and not eps >= 0:
        raise ValueError(f"eps must be non-negative, got {eps}")
    return _clamped(problem, fourier_filter(problem.op, problem.y, symbol=lam if eps is None else eps), nonneg)


def _wiener(problem, *, lam, n_iter, nonneg, x0, nsr=None):
    _require_periodic(problem, "wiener")
    if nsr is None:
        nsr = wiener_nsr(problem.op, problem.y, problem.noise_sigma)
    elif not nsr >= 0:
        raise ValueError(f"nsr must be non-negative, got {nsr}")
    return _clamped(problem, fourier_filter(problem.op, problem.y, symbol=nsr), nonneg)


def _tikhonov(problem, *, lam, n_iter, nonneg, x0, regulariser="gradient"):
    if regulariser not in ("gradient", "identity"):
        raise ValueError(f"regulariser must be 'gradient' or 'identity', got {regulariser!r}")
    gradient = problem.gradient if regulariser == "gradient" else None
    if problem.op.boundary == "periodic":
        symbol = lam * gradient.gram_symbol() if gradient is not None else lam
        return _clamped(problem, fourier_filter(problem.op, problem.y, symbol=symbol), nonneg)
    start = x0 if x0 is not None else problem.y
    return _clamped(problem, tikhonov(problem.op, problem.y, lam=lam, n_iter=n_iter, regulariser=gradient, x0=start),
                    nonneg)


def _landweber(problem, *, lam, n_iter, nonneg, x0, step=None):
    return landweber(problem.op, problem.y, n_iter=n_iter, step=_step(problem, step), x0=_start(problem, x0),
                     nonneg=nonneg)


def _fista_l1(problem, *, lam, n_iter, nonneg, x0, step=None):
    return fista(problem.op, problem.y, soft_threshold, lam=lam, n_iter=n_iter, step=_step(problem, step),
                 x0=_start(problem, x0), nonneg=nonneg, penalty=l1_norm)


def _fista_tv(problem, *, lam, n_iter, nonneg, x0, step=None, n_inner=5):
    prox = TVProx(problem.gradient, n_iter=n_inner, nonneg=nonneg)
    return fista(problem.op, problem.y, prox, lam=lam, n_iter=n_iter, step=_step(problem, step),
                 x0=_start(problem, x0), penalty=prox.penalty)


def _admm_tv(problem, *, lam, n_iter, nonneg, x0, rho=None):
    rho = _rho(rho, 10.0 * lam)
    data_step = None  # CG, for a blur that is not diagonal in Fourier space
    if problem.op.boundary == "periodic":  # the gradient is periodic too: the data step is a division
        transform = GradientAndIdentity(problem.gradient) if nonneg else problem.gradient
        data_step = fourier_least_squares_step(problem.op, problem.y, rho=rho, transform=transform)
    return admm_tv(problem.op, problem.y, problem.gradient, lam=lam, rho=rho, n_iter=n_iter,
                   x0=_start(problem, x0), nonneg=nonneg, data_step=data_step)


def _pnp_fista(problem, *, lam, n_iter, nonneg, x0, denoiser="tv", step=None):
    return pnp_fista(problem.op, problem.y, get_denoiser(denoiser), sigma=lam, n_iter=n_iter,
                     step=_step(problem, step), x0=_start(problem, x0), nonneg=nonneg)


#: PnP-ADMM with the learned denoiser: its strength σ_k falls geometrically from this to λ ...
LEARNED_SIGMA_START = 0.15
#: ... while the data step's penalty ρ_k = this·λ²/σ_k² rises, so the prior's weight ρ_k·σ_k² is fixed
#: (tuned on the lecture's case; below ~0.2 the data step lets noise through).
LEARNED_RHO_WEIGHT = 0.23


def _pnp_admm(problem, *, lam, n_iter, nonneg, x0, denoiser="tv", rho=None):
    """With an annealed denoiser (``"learned"``) and no ``rho``, runs the decreasing schedule of
    LEARNED_SIGMA_START."""
    def data_step(rho_k: float):
        if problem.op.boundary == "periodic":
            return fourier_least_squares_step(problem.op, problem.y, rho=rho_k)
        return least_squares_step(problem.op, problem.y, rho=rho_k)

    denoise = get_denoiser(denoiser)
    if check_denoiser(denoiser).annealed and rho is None and lam > 0:
        sigma = geometric_schedule(max(LEARNED_SIGMA_START, lam), lam, n_iter)
        rho = [LEARNED_RHO_WEIGHT * (lam / s) ** 2 for s in sigma]
    else:
        sigma, rho = lam, _rho(rho, 0.2)
    return pnp_admm(data_step, denoise, _start(problem, x0), sigma=sigma, rho=rho, n_iter=n_iter, nonneg=nonneg)


def _adam(problem, *, lam, n_iter, nonneg, x0, lr=1e-3):
    return adam_l1(problem.op, problem.y, lam=lam, n_iter=n_iter, lr=lr, x0=_start(problem, x0),
                   nonneg=nonneg)


def _richardson_lucy(problem, *, lam, n_iter, nonneg, x0, background=None, measure_fit=True):
    return richardson_lucy(problem.op, problem.y, n_iter=n_iter, x0=x0,
                           background=_poisson_background(problem, background), measure_fit=measure_fit)


def _rl_tv(problem, *, lam, n_iter, nonneg, x0, background=None, measure_fit=True):
    return richardson_lucy_tv(problem.op, problem.y, problem.gradient, lam=lam, n_iter=n_iter, x0=x0,
                              background=_poisson_background(problem, background), measure_fit=measure_fit)


def _poisson_background(problem: DeconvolutionProblem, background) -> float | torch.Tensor:
    """The background ``b`` of ``y ~ Poisson(Hx + b)`` in the scaled units: one level per image of the
    batch, shaped to broadcast; 0 for None, after a warning when the data sit on an offset."""
    if background is None:
        level = float(background_levels(problem.cropped(problem.y)).max())
        peak = float(problem.y.max())
        if level > OFFSET_WARNING_FRACTION * peak:
            warnings.warn(
                f"the data sit on a background of about {level * problem.scale:.4g} ({level / peak:.0%} of their "
                "peak), e.g. a camera offset, which Richardson-Lucy takes as signal: set the background to "
                "'auto' (estimated from the data) or to the offset",
                UserWarning, stacklevel=5,
            )
        return 0.0
    n_images = problem.y.shape[0]
    if isinstance(background, str):
        if background != "auto":
            raise ValueError(f"unknown background {background!r}; use 'auto', a number or one number per channel")
        levels = background_levels(problem.cropped(problem.y))
    else:
        levels = torch.tensor(_background_numbers(background, n_images), dtype=problem.y.dtype) / problem.scale
    shape = (-1,) + (1,) * (problem.y.ndim - 1)
    return levels.to(problem.y.device).reshape(shape)


def _background_numbers(background, n_images: int) -> list[float]:
    """``background`` as finite non-negative numbers: one, or one per channel."""
    values = list(background) if isinstance(background, (list, tuple, np.ndarray)) else [background]
    for value in values:
        if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, float, np.integer, np.floating)):
            raise TypeError(f"background must be 'auto', a number or one number per channel, got {background!r}")
        if not (math.isfinite(value) and value >= 0):
            raise ValueError(f"background must be finite and >= 0 (counts the camera adds), got {background!r}")
    if len(values) not in (1, n_images):
        raise ValueError(f"background has {len(values)} levels for an image of {n_images} channel(s); give one "
                         "level, or one per channel")
    return [float(v) for v in values]


def _start(problem: DeconvolutionProblem, x0: torch.Tensor | None) -> torch.Tensor:
    """Iterative methods start from the warm start, or from the data itself."""
    return problem.y if x0 is None else x0


def _step(problem: DeconvolutionProblem, step: float | None) -> float | None:
    return problem.step if step is None else step


def _rho(rho: float | None, default: float) -> float:
    if rho is None:
        return default if default > 0 else 0.1
    if not rho > 0:
        raise ValueError(f"rho must be positive, got {rho}")
    return float(rho)


_ADMM_TV = MethodSpec(
    "admm-tv",
    "Total variation by ADMM with a closed-form FFT step: the fastest edge-preserving answer.",
    _admm_tv, uses_lam=True, iterative=True, default_lam=0.0075, default_n_iter=10, auto_lam=True,
)

#: The deconvolution methods users pick from, by name.
METHODS: dict[str, MethodSpec] = {
    spec.name: spec
    for spec in (
        MethodSpec("fourier", "Direct Fourier inversion H*Y/(|H|²+λ) (the lecture's eps = λ); small λ "
                   "amplifies noise.", _fourier, uses_lam=True, iterative=False, default_lam=0.05, auto_lam=True),
        MethodSpec("wiener", "Wiener filter; noise-to-signal ratio per frequency estimated from the data "
                   "(or the nsr option).", _wiener, uses_lam=False, iterative=False),
        MethodSpec("tikhonov", "Smoothness-regularised least squares (HᵀH+λDᵀD)⁻¹Hᵀy, closed form for "
                   "periodic boundaries.", _tikhonov, uses_lam=True, iterative=False, default_lam=0.1,
                   auto_lam=True),
        MethodSpec("landweber", "Gradient descent on the data fit; the iteration count regularises.",
                   _landweber, uses_lam=False, iterative=True, default_n_iter=10),
        MethodSpec("fista-l1", "FISTA with an L1 penalty on the pixels (sparse, e.g. bright spots).",
                   _fista_l1, uses_lam=True, iterative=True, default_lam=0.01, default_n_iter=10, auto_lam=True),
        MethodSpec("fista-tv", "FISTA with total variation (edge-preserving).", _fista_tv, uses_lam=True,
                   iterative=True, default_lam=0.0075, default_n_iter=20, auto_lam=True),
        _ADMM_TV,
        MethodSpec("pnp-fista", "Plug-and-play FISTA: a denoiser (option denoiser, default 'tv') as prior; "
                   "λ is its strength σ.", _pnp_fista, uses_lam=True, iterative=True, default_lam=0.015,
                   default_n_iter=20, auto_lam=True),
        MethodSpec("pnp-admm", "Plug-and-play ADMM: a denoiser (option denoiser, default 'tv') as prior; "
                   "λ is its strength σ (with 'learned': the end of a decreasing σ schedule).", _pnp_admm,
                   uses_lam=True, iterative=True, default_lam=0.05, default_n_iter=10, auto_lam=True),
        MethodSpec("adam", "Adam with torch autograd on the data fit + λ‖x‖₁, as in the lecture.", _adam,
                   uses_lam=True, iterative=True, default_lam=1e-3, default_n_iter=30),
        MethodSpec("richardson-lucy", "Richardson-Lucy for Poisson (photon-counting) data; stop early.",
                   _richardson_lucy, uses_lam=False, iterative=True, default_n_iter=10),
        MethodSpec("rl-tv", "Richardson-Lucy with total variation (Dey et al. 2006) for noisy Poisson data.",
                   _rl_tv, uses_lam=True, iterative=True, default_lam=0.01, default_n_iter=10),
    )
}
METHODS["tv"] = _ADMM_TV.alias("tv", f"Total variation by our fastest TV solver ({_ADMM_TV.name}).")
#: Methods for Poisson (photon-counting) data: they take the option ``background`` (a camera's offset).
POISSON_METHODS = tuple(name for name, spec in METHODS.items() if "background" in spec.keywords())
#: What :func:`deconvolve` passes to every method itself (``nonneg`` is its own argument, not an option).
_PASSED = ("lam", "n_iter", "nonneg", "x0")
#: Size of the Monte-Carlo probe of SURE's divergence, relative to the noise level.
PROBE_SIZE = 0.01


# -- the calls -----------------------------------------------------------------------------------------


def deconvolve_iter(
    image,
    psf,
    *,
    method: str = "admm-tv",
    lam: float | str | None = None,
    n_iter: int | None = None,
    channel_axis: int | None = None,
    boundary: str = "periodic",
    nonneg: bool = True,
    x0=None,
    device=None,
    data_peak: float | None = None,
    time_axis: int | None = None,
    first_time_point: int = 0,
    **options,
) -> Iterator[Iterate]:
    """Deconvolve step by step: a generator of iterates in the input's layout.

    Takes the arguments of :func:`deconvolve`. Everything is checked before the generator is returned;
    the work (including the search of ``lam="auto"``) happens as it is consumed, one yield per
    iteration (direct methods yield once), and it may be abandoned between any two yields.

    Returns
    -------
    iterator of Iterate
        Each ``Iterate.x`` is a new float32 tensor of the input image's shape and scale. With
        ``time_axis``, it is one float32 CPU tensor of the whole series, updated in place (copy it to
        keep it): the time points done, the current one's iterate, zeros for those to come; the
        iterations count on over the time points. ``residual`` is ``‖Hx − y‖`` in the input's units
        where the method has it for free (admm-tv, pnp-admm and adam report ``algorithm_residual``,
        ADMM's primal residual, or the objective instead).
    """
    if time_axis is not None:
        return _time_points(image, psf, time_axis=time_axis, first=first_time_point, channel_axis=channel_axis,
                            x0=x0, method=method, lam=lam, n_iter=n_iter, boundary=boundary, nonneg=nonneg,
                            device=device, data_peak=data_peak, **options)
    psfs = _channel_psfs(image, psf, channel_axis)
    if psfs is not None:
        return _channel_by_channel(image, psfs, method=method, lam=lam, n_iter=n_iter, channel_axis=channel_axis,
                                   boundary=boundary, nonneg=nonneg, x0=x0, device=device, data_peak=data_peak,
                                   **options)
    spec = method_spec(METHODS, method, "deconvolution")
    check_options(spec, options, passed=_PASSED)
    spec.warn_unused(lam, n_iter)
    nonneg = check_bool(nonneg, "nonneg")
    problem = _problem(image, psf, channel_axis=channel_axis, boundary=boundary, device=device,
                       data_peak=data_peak)
    lam = check_lam(lam, spec)
    n_iter = check_n_iter(n_iter, spec.default_n_iter)
    start = None if x0 is None else problem.to_internal(check_x0(x0, np.shape(image), problem.op.device,
                                                                 "the image"))
    what = f"deconvolution with method {spec.name!r} (λ = {lam})"
    if lam == "auto":
        return _stream(problem, _auto_iterates(problem, spec, n_iter, nonneg, start, options), what)
    # built now, so that bad option values are refused here (set-up such as FFTs of the data runs too)
    return _stream(problem, spec.solver(problem, lam=lam, n_iter=n_iter, nonneg=nonneg, x0=start, **options),
                   what)


def deconvolve(
    image,
    psf,
    *,
    method: str = "admm-tv",
    lam: float | str | None = None,
    n_iter: int | None = None,
    channel_axis: int | None = None,
    boundary: str = "periodic",
    nonneg: bool = True,
    x0=None,
    device=None,
    data_peak: float | None = None,
    time_axis: int | None = None,
    first_time_point: int = 0,
    **options,
) -> np.ndarray:
    """Deconvolve a 2D or 3D image, optionally with colour channels.

    Parameters
    ----------
    image : array-like
        The measured image: 2D ``(y, x)`` or 3D ``(z, y, x)``, plus a channel axis when
        ``channel_axis`` is given (channels are deconvolved independently with the same PSF) and a
        time axis when ``time_axis`` is given. Integer images are converted to float (not truncated).
        Never modified.
    psf : array-like or list of array-like
        Centred point-spread function with one axis per spatial axis, no larger than the image; it is
        normalised to sum 1 here. Its centre is the pixel ``shape // 2``: an odd size has its peak
        there; an even size has no centre pixel, so a PSF centred between pixels shifts the result by
        half a pixel (a warning says so). Negative values are warned about too. With ``channel_axis``,
        one PSF per channel (e.g. per emission wavelength) may be given: a list of PSFs, or an array
        with a leading channel axis; each channel is then deconvolved with its own, scaled by the
        whole image's peak so that λ means the same (``lam="auto"`` chooses one λ per channel).
    method : str
        One of :data:`METHODS` (``"tv"`` is our fastest TV method).
    lam : float, "auto" or None
        Regularisation weight on data scaled to a peak of 1 (for ``pnp-*`` the denoiser strength σ, for
        ``fourier`` the lecture's eps); None takes the method's default (tuned on the lecture's case);
        ``"auto"`` picks the λ that minimises SURE, an unbiased estimate of the predicted risk
        ``E‖H(x_λ − x)‖²`` computed from the data and their estimated noise level (no reference
        needed; six to ten solves, see :mod:`napari_invprob.problems.lam_selection`). Ignored by
        methods without λ.
    n_iter : int, optional
        Iterations (default: the method's); ignored by direct methods.
    channel_axis : int, optional
        Axis of colour channels (e.g. -1 for RGB).
    boundary : {"periodic", "zero", "reflect"}
        Blur model at the image edges: ``"periodic"`` (the lecture's; for images whose opposite edges
        match), ``"zero"`` (dark outside), or ``"reflect"`` (the image mirrored out by twice the PSF's
        size, at least 16 pixels, deconvolved periodically, then cropped: no ringing from edges that
        differ, the usual case for microscopy images, at the cost of a larger grid). ``fourier`` and
        ``wiener`` need ``"periodic"`` or ``"reflect"``.
    nonneg : bool
        Constrain the estimate to ``x ≥ 0`` (direct methods clip their result); True or False only.
    x0 : array-like, optional
        Warm start for iterative methods, in the image's layout and units (default: the image itself).
    device : str or torch.device, optional
        Where to compute; None picks CUDA, then MPS, then the CPU.
    data_peak : float, optional
        The value the data are divided by before solving (default: their own peak ``max|y|``). Give
        the whole image's peak when deconvolving a piece of it (a tile), so λ means the same in every
        piece.
    time_axis : int, optional
        Axis of time points (e.g. 0 for ``(t, z, y, x)`` or ``(t, c, z, y, x)``): each time point is
        deconvolved alone, one at a time (memory: one time point's problem plus the float32 result),
        exactly as ``deconvolve`` of that time point (its own peak, its own ``"auto"`` estimates).
    first_time_point : int
        With ``time_axis``: the time point solved first (e.g. the one in view); the others follow in
        order, wrapping around.
    **options
        Method-specific options: ``eps`` (fourier), ``nsr`` (wiener), ``regulariser`` ("gradient" or
        "identity", tikhonov), ``step`` (landweber, fista-*), ``n_inner`` (fista-tv), ``rho`` (admm-tv,
        pnp-admm), ``denoiser`` (pnp-*), ``lr`` (adam). ``pnp-admm`` with ``denoiser="learned"`` and no
        ``rho`` runs a decreasing noise schedule: the denoiser's σ_k falls geometrically from 0.15 to λ
        over the iterations while the data step's penalty rises as ``ρ_k = 0.23·λ²/σ_k²`` (see
        :func:`~napari_invprob.solvers.pnp.pnp_admm` for the update rule); λ is then the noise level the
        schedule ends at, best set near the data's noise standard deviation over their peak.
        ``background`` (richardson-lucy, rl-tv): the constant ``b`` of the model ``y ~ Poisson(Hx + b)``
        (a camera's offset, typically 100 counts), in the image's units: a number, one number per
        channel, or ``"auto"``: estimated per channel by
        :func:`~napari_invprob.problems.background.estimate_background` (the 1st percentile of the
        image averaged over 7-pixel boxes). Without it, data whose estimated background exceeds 5 % of
        their peak get a ``UserWarning``: Richardson-Lucy would take the offset as signal.
        ``measure_fit`` (richardson-lucy, rl-tv): measure every iterate's objective and residual (True by
        default in :func:`deconvolve_iter`; this function, which returns only the image, skips them).

    Returns
    -------
    numpy.ndarray
        Float32, the image's shape.

    Raises
    ------
    ValueError
        Unknown method (the message lists the valid ones) or option value, λ < 0 or beyond float32's
        range, a PSF with the wrong number of axes, larger than the image or summing to 0, NaN/Inf,
        a masked array with masked values, wrong ``x0`` shape, an unavailable device; and, during the
        run, an estimate that became NaN or Inf (the solve diverged or left float32's range).
    TypeError
        Non-numeric or complex data, an option the method does not take or of the wrong type, a
        ``nonneg`` that is not True or False.

    Warns
    -----
    UserWarning
        A λ given to a method without one, an iteration count given to a direct method, a PSF with
        negative values or an even size.
    """
    iterates = deconvolve_iter(
        image, psf, method=method, lam=lam, n_iter=n_iter, channel_axis=channel_axis, boundary=boundary,
        nonneg=nonneg, x0=x0, device=device, data_peak=data_peak, time_axis=time_axis,
        first_time_point=first_time_point, **_unmeasured(method, options),
    )
    return to_numpy((iterates.final() if isinstance(iterates, _Stream) else last(iterates)).x)


def _unmeasured(method, options: dict) -> dict:
    """``options`` with ``measure_fit=False`` for a method that measures every iterate's fit only when asked
    (Richardson-Lucy: 15 % of an iteration in 3D), unless the caller set it: :func:`deconvolve` returns
    only the image."""
    spec = METHODS.get(method) if isinstance(method, str) else None
    if spec is None or "measure_fit" not in spec.keywords():
        return options
    return {"measure_fit": False, **options}


def choose_lam(
    image,
    psf,
    *,
    method: str = "admm-tv",
    n_iter: int | None = None,
    channel_axis: int | None = None,
    boundary: str = "periodic",
    nonneg: bool = True,
    device=None,
    **options,
) -> float:
    """The λ that ``lam="auto"`` would use: the minimiser of SURE's predicted risk.

    Takes the arguments of :func:`deconvolve` (without ``lam`` and ``x0``); the noise level is estimated
    from the data's spectrum where the PSF passes no signal (see
    :func:`~napari_invprob.problems.noise.estimate_noise_sigma`). Costs six to ten solves. λ refers to
    the data scaled to a peak of 1, as everywhere in :func:`deconvolve`.
    """
    spec = method_spec(METHODS, method, "deconvolution")
    check_options(spec, options, passed=_PASSED)
    check_lam("auto", spec)
    nonneg = check_bool(nonneg, "nonneg")
    problem = _problem(image, psf, channel_axis=channel_axis, boundary=boundary, device=device)
    return _auto_lam(problem, spec, check_n_iter(n_iter, spec.default_n_iter), nonneg, options)


def _time_points(image, psf, *, time_axis, first, channel_axis, x0, **keywords) -> Iterator[Iterate]:
    """Each time point deconvolved alone, ``first`` first; the first one's problem is built (and its
    arguments checked) before this returns."""
    shape = tuple(np.shape(image))
    ndim = len(shape)
    if isinstance(time_axis, bool) or not isinstance(time_axis, (int, np.integer)) or not -ndim <= time_axis < ndim:
        raise ValueError(f"time_axis {time_axis!r} is not an axis of an image of shape {shape}")
    axis = int(time_axis) % ndim
    count = shape[axis]
    if isinstance(first, bool) or not isinstance(first, (int, np.integer)) or not 0 <= first < count:
        raise ValueError(f"first_time_point {first!r} is not one of the {count} time points")
    inner_channel = None
    if channel_axis is not None:
        if int(channel_axis) % ndim == axis:
            raise ValueError(f"channel_axis and time_axis are the same axis ({axis})")
        inner_channel = int(channel_axis) % ndim - (int(channel_axis) % ndim > axis)
    if x0 is not None and tuple(np.shape(x0)) != shape:
        raise ValueError(f"x0 has shape {tuple(np.shape(x0))}, the image has shape {shape}")
    order = [*range(first, count), *range(first)]

    def solve(t: int) -> Iterator[Iterate]:
        start = None if x0 is None else np.take(x0, t, axis=axis)
        return deconvolve_iter(np.take(image, t, axis=axis), psf, channel_axis=inner_channel, x0=start, **keywords)

    return _over_time(solve(order[0]), solve, order, shape, axis)


def _over_time(first_iterates: Iterator[Iterate], solve, order: list[int], shape, axis: int) -> Iterator[Iterate]:
    clock = Clock()
    series = torch.zeros(shape, dtype=torch.float32)
    done = 0
    for index, t in enumerate(order):
        iterations = 0
        for it in first_iterates if index == 0 else solve(t):
            series.select(axis, t).copy_(it.x)
            iterations = it.iteration
            yield replace(it, iteration=done + it.iteration, x=series, elapsed=clock())
        done += iterations


def _channel_psfs(image, psf, channel_axis) -> list | None:
    """The channels' PSFs when ``psf`` gives one per channel: a list or tuple of PSFs with one axis per
    spatial axis each, or an array with a leading channel axis (one axis more than the spatial axes);
    None for one PSF shared by all channels."""
    ndim = np.ndim(image)
    if channel_axis is None or isinstance(channel_axis, bool) or not isinstance(channel_axis, (int, np.integer)):
        return None  # one PSF (a bad channel_axis is refused with the image's other checks)
    listed = isinstance(psf, (list, tuple)) and len(psf) > 0 and all(np.ndim(p) == ndim - 1 for p in psf)
    if not (listed or np.ndim(psf) == ndim) or not -ndim <= channel_axis < ndim:
        return None
    n_channels = np.shape(image)[channel_axis]
    if len(psf) != n_channels:
        given = ("a list of" if listed else f"psf has {ndim} axes, one more than the image's spatial axes, so it is "
                 "taken as one PSF per channel along its first axis:")
        raise ValueError(f"{given} {len(psf)} PSFs for {n_channels} channels (axis {channel_axis} of the image); "
                         "give one PSF per channel, or one PSF for all")
    return list(psf)


def _channel_by_channel(image, psfs: list, *, channel_axis: int, x0, data_peak, background=None,
                        **keywords) -> Iterator[Iterate]:
    """Each channel deconvolved with its own PSF (all checked before any work), scaled by the whole
    image's peak so that λ means what it means for one PSF; one iterate per iteration, the channels'
    estimates stacked along ``channel_axis``, their objectives summed."""
    data = to_tensor(image, "cpu", name="image")
    axis = int(channel_axis) % data.ndim
    peak = data_peak if data_peak is not None else (float(data.abs().max()) or 1.0)
    levels = (list(background) if isinstance(background, (list, tuple, np.ndarray)) and len(background) == len(psfs)
              else [background] * len(psfs))
    if x0 is not None:
        x0 = check_x0(x0, np.shape(image), "cpu", "the image")
    streams = [
        deconvolve_iter(data.select(axis, c), kernel, channel_axis=None, data_peak=peak,
                        x0=None if x0 is None else x0.select(axis, c),
                        **keywords, **({} if levels[c] is None else {"background": levels[c]}))
        for c, kernel in enumerate(psfs)
    ]
    return _stacked(streams, axis)


def _stacked(streams: list, axis: int) -> Iterator[Iterate]:
    for iterates in zip(*streams):
        objectives = [it.objective for it in iterates]
        residuals = [it.residual for it in iterates]
        yield Iterate(iterates[0].iteration, torch.stack([it.x for it in iterates], dim=axis),
                      None if None in objectives else sum(objectives),
                      None if None in residuals else math.sqrt(sum(r * r for r in residuals)),
                      max(it.elapsed for it in iterates))


def _stream(problem: DeconvolutionProblem, iterates: Iterator[Iterate], what: str) -> _Stream:
    """The iterates in the input's layout and scale (residuals too); NaN or Inf (a diverged solve) raises
    ``ValueError``."""
    return _Stream(problem, iterates, what)


class _Stream(Iterator[Iterate]):
    """A solver's iterates converted to the input's layout one by one; :meth:`final` converts the last only."""

    def __init__(self, problem: DeconvolutionProblem, iterates: Iterator[Iterate], what: str):
        # the conversion needs the layout and the scale, not the data: a solver that is done with y (ADMM-TV
        # keeps its Fourier transform instead) lets it go, one image less while it runs
        problem = replace(problem, y=problem.y.new_empty((0, *problem.y.shape[1:])))
        self._problem, self._iterates, self._what = problem, iterates, what
        self._converted = finite_iterates((problem.to_output_iterate(it) for it in iterates), what=what)

    def __next__(self) -> Iterate:
        return next(self._converted)

    def final(self) -> Iterate:
        """Drain the solver and convert its last iterate: no copy of every iterate in the input's layout
        (one full-size image less at the peak of a large stack)."""
        answer = last(finite_iterates(self._iterates, what=self._what))
        return last(finite_iterates([self._problem.to_output_iterate(answer)], what=self._what))


def _auto_iterates(problem, spec, n_iter, nonneg, x0, options) -> Iterator[Iterate]:
    """The λ search runs when the stream is first consumed (in the caller's worker thread)."""
    lam = _auto_lam(problem, spec, n_iter, nonneg, options)
    yield from spec.solver(problem, lam=lam, n_iter=n_iter, nonneg=nonneg, x0=x0, **options)


def _auto_lam(problem, spec, n_iter, nonneg, options) -> float:
    """λ minimising SURE's estimate of the predicted risk ``E‖H(x_λ − x)‖²`` (two solves per λ)."""
    sigma = problem.noise_sigma
    if not sigma > 0:
        raise ValueError("the data look noise-free (estimated noise level 0); give lam explicitly")
    generator = torch.Generator(device="cpu").manual_seed(0)
    probe = torch.randn(problem.y.shape, generator=generator).to(problem.y.device)
    epsilon = PROBE_SIZE * sigma
    perturbed = replace(problem, y=problem.y + epsilon * probe)

    def solve(data: DeconvolutionProblem, lam: float) -> torch.Tensor:
        return last(spec.solver(data, lam=lam, n_iter=n_iter, nonneg=nonneg, x0=None, **options)).x

    def risk(lam: float) -> float:
        fitted = problem.op.forward(solve(problem, lam))
        divergence = float(torch.sum(probe * (problem.op.forward(solve(perturbed, lam)) - fitted))) / epsilon
        misfit = float(torch.sum((fitted - problem.y) ** 2))
        return misfit - problem.y.numel() * sigma**2 + 2.0 * sigma**2 * divergence

    return minimise_risk_lam(risk, lam_start=spec.default_lam)


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


__all__ = ["METHODS", "DeconvolutionProblem", "choose_lam", "deconvolve", "deconvolve_iter"]

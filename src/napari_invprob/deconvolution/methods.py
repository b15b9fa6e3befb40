"""The deconvolution methods (:data:`METHODS`): one adapter per method from the problem to its solver."""

from __future__ import annotations

import math
import warnings

import numpy as np
import torch

from ..operators.gradient_and_identity import GradientAndIdentity
from ..priors.denoisers import check_denoiser, get_denoiser
from ..priors.proximal import l1_norm, soft_threshold
from ..priors.tv import TVProx
from ..problems.methods import MethodSpec
from ..problems.noise import wiener_nsr
from ..solvers.adam import adam_l1
from ..solvers.admm_tv import admm_tv
from ..solvers.conjugate_gradient import least_squares_step, tikhonov
from ..solvers.fista import fista
from ..solvers.fourier import fourier_filter, fourier_least_squares_step
from ..solvers.landweber import landweber
from ..solvers.pnp import geometric_schedule, pnp_admm, pnp_fista
from ..solvers.richardson_lucy import richardson_lucy, richardson_lucy_tv
from .background import OFFSET_WARNING_FRACTION, background_levels
from .problem import DeconvolutionProblem, _clamped, _require_periodic


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
    batch, shaped to broadcast; 0 for None, after a warning when the data sit on an offset. Negative data
    without a positive value, or a positive level at or above an image's maximum (nothing left to
    deconvolve: the result would be all zeros), are refused."""
    data = problem.cropped(problem.y).flatten(start_dim=1)
    peaks = data.amax(dim=1)
    if float(peaks.max()) <= 0 and float(data.min()) < 0:
        raise ValueError(f"Richardson-Lucy models photon counts (y >= 0), but the data have no positive value (maximum "
                         f"{float(peaks.max()) * problem.scale:.4g}): add the offset the data were stored with, or use a "
                         "method for Gaussian noise (e.g. admm-tv)")
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
        above = [i for i, (level, peak) in enumerate(zip(levels.expand(n_images), peaks.cpu())) if 0 < level >= peak]
        if above:
            raise ValueError(f"the background {background} is at or above the data's maximum "
                             f"({', '.join(f'{float(peaks[i]) * problem.scale:.4g}' for i in above)}"
                             f"{' in channel(s) ' + ', '.join(map(str, above)) if n_images > 1 else ''}): nothing would be "
                             "left to deconvolve; give the camera's offset (below the data), or 'auto' to estimate it")
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

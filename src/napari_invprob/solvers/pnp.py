"""Plug-and-play FISTA and ADMM: a denoiser ``D_σ`` takes the place of a proximal map."""

from __future__ import annotations

import math
import numbers
from collections.abc import Callable, Iterator, Sequence

import torch

from ..operators.base import LinearOperator
from .admm import admm
from .base import Clock, Iterate
from .start import initial_estimate
from .step_size import check_n_iter, check_step

Denoiser = Callable[[torch.Tensor, float], torch.Tensor]
DataStep = Callable[[torch.Tensor], torch.Tensor]
#: A per-iteration parameter: one value for all iterations, one value per iteration, or a function of
#: the iteration ``k = 1 … n_iter``.
Schedule = float | Sequence[float] | Callable[[int], float]
#: PnP-FISTA keeps its last iterate when a step would raise the data fit above this multiple of the
#: lowest fit reached so far: the denoiser is then drifting away from the data.
DRIFT_TOLERANCE = 1.1


def schedule_values(value: Schedule, n_iter: int, name: str) -> list[float]:
    """The values ``[v_1, …, v_n]`` of a schedule, each checked to be positive and finite.

    Parameters
    ----------
    value : float, sequence of float or callable
        A constant, a sequence of exactly ``n_iter`` values, or ``k -> v_k`` for ``k = 1 … n_iter``.
    n_iter : int
        Number of iterations.
    name : str
        The parameter's name, for error messages.

    Raises
    ------
    ValueError
        A sequence of the wrong length, or a value that is not a positive finite number.
    """
    if callable(value):
        values = [value(k) for k in range(1, n_iter + 1)]
    elif hasattr(value, "__len__") and not isinstance(value, str):
        values = list(value)
        if len(values) != n_iter:
            raise ValueError(f"the {name} schedule has {len(values)} values for {n_iter} iterations")
    else:
        values = [value] * n_iter
    checked = []
    for v in values:
        number = float(v) if isinstance(v, numbers.Real) and not isinstance(v, bool) else math.nan
        if not (math.isfinite(number) and number > 0):
            raise ValueError(f"{name} must be a positive finite number, got {v!r}")
        checked.append(number)
    return checked


def pnp_fista(
    op: LinearOperator,
    y: torch.Tensor,
    denoiser: Denoiser,
    *,
    sigma: Schedule,
    n_iter: int,
    step: float | None = None,
    x0: torch.Tensor | None = None,
    nonneg: bool = False,
) -> Iterator[Iterate]:
    """PnP-FISTA: FISTA on ``½‖Ax − y‖²`` with the prox replaced by a denoiser, with two safeguards.

    Update rule (lecture 8, ``q_0 = 1``, ``f(x) = ½‖Ax − y‖²`` the data fit, ``f*`` its lowest value
    so far, starting from ``f(x_0)``)::

        z_k = s_{k−1} − γ·Aᵀ(A s_{k−1} − y)
        x̃ = D_{σ_k}(z_k)                                    (then clamped to x ≥ 0 when nonneg)
        if f(x̃) > 1.1·f*:     x_k = x_{k−1}, s_k = x_{k−1}, q_k = 1     (drift: reject the step)
        else:                 x_k = x̃; if f(x_k) > f(x_{k−1}): q_{k−1} = 1  (uphill: restart momentum)
                              q_k = (1 + √(1 + 4 q_{k−1}²)) / 2
                              s_k = x_k + ((q_{k−1} − 1)/q_k)·(x_k − x_{k−1})

    A denoiser is not the prox of a convex penalty and a learned one is not non-expansive: where the
    data leave directions unmeasured (a missing wedge in tomography), momentum, and even plain
    steps, let it inflate them without bound while the data fit climbs. The restart drops the
    momentum on any rise of the data fit (a mild one is normal: the denoiser removes fitted noise); a
    rise of more than 10% (:data:`DRIFT_TOLERANCE`) above the lowest fit stops the iterates where
    they are. With the TV denoiser on the lecture's deconvolution case neither fires.

    Parameters
    ----------
    op : LinearOperator
        Forward model ``A``.
    y : torch.Tensor
        Data, shaped ``(*batch, *op.out_shape)``.
    denoiser : callable
        ``D(x, sigma)`` on a batch of images shaped ``(n, *spatial)`` (see
        :mod:`napari_invprob.priors.denoisers`), so ``y`` should carry exactly one batch axis.
    sigma : float, sequence of float or callable
        Denoiser strength σ (a noise standard deviation in the data's units): a constant, one value
        per iteration, or ``k -> σ_k`` (see :func:`schedule_values`).
    n_iter : int
        Number of iterations (one yield each).
    step : float, optional
        Step γ; by default ``0.95/‖A‖²``.
    x0 : torch.Tensor, optional
        Warm start; zeros by default.
    nonneg : bool
        Clamp to ``x ≥ 0`` after the denoiser.

    Yields
    ------
    Iterate
        ``x_k`` with the data fit ``½‖Ax_k − y‖²`` as objective (a denoiser has no penalty value) and
        ``residual = ‖Ax_k − y‖``.
    """
    n_iter = check_n_iter(n_iter)
    sigmas = schedule_values(sigma, n_iter, "sigma")
    step = check_step(step, op)
    clock = Clock()
    x = initial_estimate(op, y, x0)
    ax = op.forward(x)
    fit = 0.5 * float(torch.sum((ax - y) ** 2))
    s, as_ = x, ax
    q, lowest_fit = 1.0, fit
    for k, sigma_k in enumerate(sigmas, start=1):
        x_new = denoiser(s - step * op.adjoint(as_ - y), sigma_k)
        if nonneg:
            x_new = x_new.clamp(min=0.0)
        ax_new = op.forward(x_new)
        fit_new = 0.5 * float(torch.sum((ax_new - y) ** 2))
        if fit_new > DRIFT_TOLERANCE * lowest_fit:  # drifting away from the data: stay at x_{k-1}
            s, as_, q = x, ax, 1.0
        else:
            if fit_new > fit:  # uphill: restart the momentum
                q = 1.0
            q_new = 0.5 * (1.0 + math.sqrt(1.0 + 4.0 * q * q))
            beta = (q - 1.0) / q_new
            s = x_new + beta * (x_new - x)
            as_ = ax_new + beta * (ax_new - ax)
            x, ax, q, fit = x_new, ax_new, q_new, fit_new
            lowest_fit = min(lowest_fit, fit)
        yield Iterate(k, x, fit, math.sqrt(2.0 * fit), clock())


def pnp_admm(
    data_step: DataStep | Callable[[float], DataStep],
    denoiser: Denoiser,
    x0: torch.Tensor,
    *,
    sigma: Schedule,
    n_iter: int,
    rho: Schedule | None = None,
    nonneg: bool = False,
) -> Iterator[Iterate]:
    """PnP-ADMM: ADMM with a denoiser in place of the prior's proximal map.

    Update rule (lecture 8), with a per-iteration denoiser strength σ_k and penalty ρ_k::

        z_k = argmin_z ½‖Az − y‖² + ρ_k/2‖z − (x_{k−1} − s_{k−1})‖²   = data_step(x_{k−1} − s_{k−1})
        x_k = D_{σ_k}(z_k + s_{k−1})                                  (then clamped to x ≥ 0 when nonneg)
        s_k = s_{k−1} + (z_k − x_k)

    A decreasing schedule (strong denoising first, the data's noise level last, with ρ_k growing as
    ``1/σ_k²`` so the prior's weight ``ρ_k σ_k²`` stays fixed) is what makes a learned denoiser work
    best (Zhang et al., DPIR, 2021); see :func:`napari_invprob.deconvolution.deconvolve.deconvolve`.

    Parameters
    ----------
    data_step : callable
        With ``rho`` None: ``v -> argmin_z ½‖Az − y‖² + ρ/2‖z − v‖²`` for a fixed ρ (a closed-form FFT
        solve for periodic convolution,
        :func:`~napari_invprob.solvers.conjugate_gradient.least_squares_step` otherwise). With
        ``rho`` given: a factory ``ρ -> that step``, called again whenever ρ_k changes.
    denoiser : callable
        ``D(x, sigma)`` on a batch of images shaped ``(n, *spatial)``.
    x0 : torch.Tensor
        Starting image ``x_0`` (e.g. the data, for deconvolution).
    sigma : float, sequence of float or callable
        Denoiser strength σ_k: a constant, one value per iteration, or ``k -> σ_k`` (see
        :func:`schedule_values`).
    n_iter : int
        Number of iterations (one yield each).
    rho : float, sequence of float or callable, optional
        Penalty ρ_k of the data step, as ``sigma``; None when ``data_step`` has its ρ built in.
    nonneg : bool
        Clamp the denoiser's output to ``x ≥ 0``.

    Yields
    ------
    Iterate
        ``x_k`` (the denoised iterate), with the primal residual ``‖z_k − x_k‖`` as ``algorithm_residual``.
    """
    n_iter = check_n_iter(n_iter)
    sigmas = iter(schedule_values(sigma, n_iter, "sigma"))
    if rho is None:
        data_steps = iter([data_step] * n_iter)
    else:
        data_steps = iter(_steps_for(data_step, schedule_values(rho, n_iter, "rho")))

    # admm calls the data step, then the prior step, once per iteration: each takes the next value
    def scheduled_data_step(v: torch.Tensor) -> torch.Tensor:
        return next(data_steps)(v)

    def prior_step(w: torch.Tensor) -> torch.Tensor:
        x = denoiser(w, next(sigmas))
        return x.clamp(min=0.0) if nonneg else x

    return admm(scheduled_data_step, prior_step, x0, n_iter=n_iter)


def _steps_for(factory: Callable[[float], DataStep], rhos: list[float]) -> Iterator[DataStep]:
    """The data step of each iteration, built once per run of equal ρ."""
    step, current = None, None
    for rho in rhos:
        if rho != current:
            step, current = factory(rho), rho
        yield step


def geometric_schedule(start: float, end: float, n_iter: int) -> list[float]:
    """``n_iter`` values from ``start`` to ``end`` in constant ratio (``[end]`` for one iteration).

    Raises
    ------
    ValueError
        If ``start`` or ``end`` is not positive.
    """
    if not (start > 0 and end > 0):
        raise ValueError(f"a geometric schedule needs positive ends, got {start} and {end}")
    n_iter = check_n_iter(n_iter)
    if n_iter == 1:
        return [float(end)]
    ratio = (end / start) ** (1.0 / (n_iter - 1))
    return [float(start * ratio**i) for i in range(n_iter)]

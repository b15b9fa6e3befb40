"""Primal-dual hybrid gradient (Chambolle–Pock) for least squares plus total variation, with x ≥ 0."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import torch

from ..operators.base import LinearOperator
from ..operators.gradient import Gradient
from ..priors.tv import pointwise_norm
from .base import Clock, Iterate
from .sirt import inverse_sums
from .start import initial_estimate
from .step_size import check_n_iter


def _project_dual_ball_(q: torch.Tensor, lam: float, component_dim: int) -> None:
    """Project, in place, each pixel's gradient-space vector onto the ball of radius ``lam`` (isotropic TV)."""
    if lam == 0:
        q.zero_()
        return
    q.div_(pointwise_norm(q, component_dim).div_(lam).clamp_min_(1.0).unsqueeze(component_dim))


@dataclass
class Duals:
    """The dual variables of :func:`pdhg_tv`: ``data`` (``p``, shaped like the data) and ``gradient``
    (``q``, shaped like ``∇x``).

    Given to :func:`pdhg_tv` they are its starting point and are updated in place, so that after the
    run they hold the final duals, ready to be carried to a finer grid (:mod:`~napari_invprob.tomography.coarse_to_fine`).
    """

    data: torch.Tensor
    gradient: torch.Tensor

    @classmethod
    def zeros(cls, y: torch.Tensor, gradient_of_x: torch.Tensor) -> Duals:
        """Zero duals for data like ``y`` and a gradient field like ``gradient_of_x``."""
        return cls(torch.zeros_like(y), torch.zeros_like(gradient_of_x))


def pdhg_tv(
    op: LinearOperator,
    y: torch.Tensor,
    *,
    lam: float,
    n_iter: int,
    x0: torch.Tensor | None = None,
    nonneg: bool = True,
    gradient: LinearOperator | None = None,
    step_ratio: float = 3.0,
    relaxation: float = 1.8,
    duals: Duals | None = None,
) -> Iterator[Iterate]:
    """Diagonally preconditioned, over-relaxed primal-dual TV: ``min_x ½‖Ax − y‖² + λ‖∇x‖₂,₁ + ι(x ≥ 0)``.

    Chambolle–Pock with the diagonal step sizes of Pock & Chambolle (ICCV 2011, α = 1) on the stacked
    operator ``K = [A; ∇]``: a dual step ``σ = 1/Σⱼ|Kᵢⱼ|`` per row (for ``A``, the inverse ray sums, as in
    SIRT) and a primal step ``τ = 1/Σᵢ|Kᵢⱼ|`` per pixel, then ``τ ← ρτ`` and ``σ ← σ/ρ`` with
    ``ρ = step_ratio``; over-relaxed by ``γ = relaxation`` (Condat, JOTA 2013; Chambolle & Pock, Acta
    Numerica 2016, §5.1). Update rule (``p`` dual to the data fit, ``q`` dual to the gradient)::

        p̃ ← (p + σ_A ⊙ (A x − y)) / (1 + σ_A)              (prox of the conjugate of ½‖· − y‖²)
        q̃ ← proj_{|qᵢ| ≤ λ}(q + σ_∇ ⊙ ∇x)                   (pixel-wise projection, isotropic TV)
        x̃ ← max(0, x − τ ⊙ (Aᵀ(2p̃ − p) + ∇ᵀ(2q̃ − q)))      (no clamp when not nonneg)
        (x, p, q) ← (x, p, q) + γ ((x̃, p̃, q̃) − (x, p, q))

    and ``x̃`` (feasible) is the estimate yielded. ``γ = 1`` is plain Chambolle–Pock; any ``γ < 2``
    converges. On the tomography cases ``γ = 1.8`` reached in 80 iterations the PSNR that ``γ = 1``
    reached in 150 (Shepp–Logan, 77 angles over ±76°, λ = 0.05: 32.75 against 31.50 dB at 80 iterations).

    ``A x`` is carried by linearity, so an iteration costs one forward and one adjoint of ``A`` (the
    expensive operator) and two forwards and one adjoint of the cheap ``∇`` (one for the dual step, one
    for the TV of the objective). The extrapolated duals ``2p̃ − p`` and ``2q̃ − q`` overwrite ``p``
    and ``q``, from which the relaxed duals follow, so the state is ``x``, ``x̃``, ``q``, ``q̃`` (two or
    three times ``x`` each) and ``Ax``, ``Ax̃``, ``p``, ``p̃`` (data-sized); ``x``, ``Ax``, ``p̃`` and ``q̃``
    are buffers made once and updated in place, and ``x̃`` (the yielded estimate) is new at every
    iteration. Converges for any ``ρ > 0``
    and any non-negative ``A``-weights; ``ρ`` only changes the speed.

    Parameters
    ----------
    op : LinearOperator
        Forward model ``A`` (the diagonal steps use ``|A| 𝟙`` and ``|A|ᵀ 𝟙``, computed as ``A𝟙`` and
        ``Aᵀ𝟙``, so ``A`` must have non-negative entries, as projectors and blurs do).
    y : torch.Tensor
        Data ``(*batch, *op.out_shape)``.
    lam : float
        TV weight λ ≥ 0.
    n_iter : int
        Number of iterations (one yield each).
    x0 : torch.Tensor, optional
        Warm start (default zeros).
    nonneg : bool
        Constrain ``x ≥ 0``.
    gradient : LinearOperator, optional
        The discrete gradient ``∇`` on ``op.in_shape`` (default: forward differences with Neumann
        boundaries along all axes of one unknown; leading batch axes are separate problems).
    step_ratio : float
        ``ρ > 0``: primal steps are multiplied by it and dual steps divided by it. The default suits
        tomography with the data term divided by the number of angles (2 to 3 were best over 150
        iterations on the Shepp-Logan wedge and full-range cases; 0.1 or 10 need several times more).
    relaxation : float
        ``γ`` in ``(0, 2)``: 1 is plain Chambolle–Pock, larger moves further along each step.
    duals : Duals, optional
        Starting duals, updated in place (default: zeros, not returned).

    Yields
    ------
    Iterate
        ``x`` with ``objective = ½‖Ax − y‖² + λ‖∇x‖₂,₁`` and ``residual = ‖Ax − y‖``.
    """
    n_iter = check_n_iter(n_iter)
    if not lam >= 0:
        raise ValueError(f"lam must be non-negative, got {lam}")
    if not step_ratio > 0:
        raise ValueError(f"step_ratio must be positive, got {step_ratio}")
    if not 0 < relaxation < 2:
        raise ValueError(f"relaxation must lie in (0, 2), got {relaxation}")
    clock = Clock()
    grad = Gradient(op.in_shape, device=op.device) if gradient is None else gradient
    component_dim = -len(op.in_shape) - 1
    sigma_data, sigma_grad, tau = _steps(op, grad, y, step_ratio)
    x = initial_estimate(op, y, x0)  # a fresh copy, updated in place below
    ax = op.forward(x)
    if ax is x:  # an operator may return its input
        ax = ax.clone()
    if duals is None:
        duals = Duals.zeros(ax, grad.forward(x))
    p, q = duals.data, duals.gradient
    # the state lives in buffers made once: a chunk of a volume solved for hundreds of iterations by
    # allocating each of them anew fragmented the heap to twice what it held (77x256x256, 8 slices)
    p_new, q_new = torch.empty_like(p), torch.empty_like(q)
    for k in range(1, n_iter + 1):
        torch.sub(ax, y, out=p_new).mul_(sigma_data).add_(p).div_(1.0 + sigma_data)
        grad.forward_into(x, q_new).mul_(sigma_grad).add_(q)
        _project_dual_ball_(q_new, lam, component_dim)
        # the extrapolated duals d = 2·new − old overwrite the old ones (no extra buffers); the relaxed
        # duals (1 − γ)·old + γ·new are then (2 − γ)·new − (1 − γ)·d
        p.mul_(-1.0).add_(p_new, alpha=2.0)
        q.mul_(-1.0).add_(q_new, alpha=2.0)
        x_new = grad.adjoint(q).add_(op.adjoint(p)).mul_(tau).neg_().add_(x)  # new: never written again
        if nonneg:
            x_new.clamp_min_(0.0)
        ax_new = op.forward(x_new)
        p.mul_(relaxation - 1.0).add_(p_new, alpha=2.0 - relaxation)
        q.mul_(relaxation - 1.0).add_(q_new, alpha=2.0 - relaxation)
        # not torch.lerp, whose result depends on the thread count
        x.mul_(1.0 - relaxation).add_(x_new, alpha=relaxation)
        ax.mul_(1.0 - relaxation).add_(ax_new, alpha=relaxation)
        residual = float(torch.dist(ax_new, y))
        tv = float(pointwise_norm(grad.forward_into(x_new, q_new), component_dim).sum())
        yield Iterate(k, x_new, 0.5 * residual**2 + lam * tv, residual, clock())


def _steps(op: LinearOperator, grad: LinearOperator, y: torch.Tensor, step_ratio: float):
    """The diagonal step sizes of Pock & Chambolle (ICCV 2011, α = 1): the data dual's ``1/(ρ·row sums of A)``,
    the gradient dual's ``1/(2ρ)`` (each row of ∇ holds a +1 and a −1) and the primal
    ``ρ/(column sums of A + 2·axes)`` (∇: ±1 twice per axis); made here so that the ones and sums they
    come from are not held for the whole solve."""
    sigma_data = inverse_sums(op.forward(torch.ones(op.in_shape, dtype=y.dtype, device=y.device))) / step_ratio
    column_sums = op.adjoint(torch.ones(op.out_shape, dtype=y.dtype, device=y.device))
    tau = step_ratio * inverse_sums(column_sums.add_(2.0 * grad.out_shape[0]))
    return sigma_data, 1.0 / (2.0 * step_ratio), tau


__all__ = ["Duals", "pdhg_tv"]

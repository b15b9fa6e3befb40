"""Gradient-based reconstruction with Adam and torch autograd, as in the lecture."""

from __future__ import annotations

from collections.abc import Iterator

import torch

from ..operators.base import LinearOperator
from .base import Clock, Iterate
from .start import initial_estimate
from .step_size import check_n_iter


def adam_l1(
    op: LinearOperator,
    y: torch.Tensor,
    *,
    lam: float,
    n_iter: int,
    lr: float = 1e-2,
    x0: torch.Tensor | None = None,
    nonneg: bool = False,
) -> Iterator[Iterate]:
    """Adam (Kingma & Ba 2015) on ``½‖Ax − y‖² + λ‖x‖₁``, the gradient taken by torch autograd.

    Update rule (``∇`` by back-propagation through ``op.forward``; β₁ = 0.9, β₂ = 0.999)::

        g_k = ∇(½‖A x_{k−1} − y‖² + λ‖x_{k−1}‖₁)
        m_k = β₁ m_{k−1} + (1 − β₁) g_k,    v_k = β₂ v_{k−1} + (1 − β₂) g_k²
        x_k = x_{k−1} − lr · m̂_k / (√v̂_k + ε)         (then clamped to x ≥ 0 when nonneg)

    The lecture minimises a *mean* squared error; the sum used here gives λ the same meaning as in
    the other solvers. Adam's steps are scale-free, so ``lr`` is roughly the largest change of a
    pixel per iteration, in the data's units.

    Parameters
    ----------
    op : LinearOperator
        Forward model ``A``; its ``forward`` must be differentiable by torch (all ours are).
    y : torch.Tensor
        Data, shaped ``(*batch, *op.out_shape)``.
    lam : float
        Weight λ ≥ 0 of the L1 penalty.
    n_iter : int
        Number of Adam steps (one yield each).
    lr : float
        Adam's learning rate.
    x0 : torch.Tensor, optional
        Warm start; zeros by default.
    nonneg : bool
        Clamp to ``x ≥ 0`` after every step.

    Yields
    ------
    Iterate
        ``x_k``, with the objective evaluated at ``x_{k−1}`` (where the gradient was taken); no data
        residual (that of ``x_k`` would cost another application of ``A``).
    """
    n_iter = check_n_iter(n_iter)
    if lam < 0:
        raise ValueError(f"lam must be non-negative, got {lam}")
    if not lr > 0:
        raise ValueError(f"lr must be positive, got {lr}")
    clock = Clock()
    x = initial_estimate(op, y, x0).requires_grad_(True)
    optimiser = torch.optim.Adam([x], lr=lr)
    for k in range(1, n_iter + 1):
        optimiser.zero_grad(set_to_none=True)
        with torch.enable_grad():
            data_fit = 0.5 * torch.sum((op.forward(x) - y) ** 2)
            loss = data_fit + lam * x.abs().sum()
            loss.backward()
        optimiser.step()
        if nonneg:
            with torch.no_grad():
                x.clamp_(min=0.0)
        yield Iterate(k, x.detach(), float(loss.detach()), None, clock())

"""CGLS: conjugate gradients on the normal equations of a least-squares problem."""

from __future__ import annotations

from collections.abc import Iterator

import torch

from ..operators.base import LinearOperator
from .base import Clock, Iterate
from .start import initial_estimate
from .step_size import check_n_iter


def cgls(
    op: LinearOperator,
    y: torch.Tensor,
    *,
    n_iter: int = 30,
    x0: torch.Tensor | None = None,
) -> Iterator[Iterate]:
    """CGLS for ``min ½‖Ax − y‖²`` (conjugate gradients on ``AᵀAx = Aᵀy`` without forming ``AᵀA``).

    Update rule, from ``r = y − Ax₀``, ``s = p = Aᵀr``::

        q = Ap,  α = ‖s‖² / ‖q‖²,  x ← x + αp,  r ← r − αq,
        s' = Aᵀr,  β = ‖s'‖² / ‖s‖²,  p ← s' + βp,  s ← s'.

    The residual ``‖Ax − y‖`` decreases at every iteration (a Krylov method: few iterations act as the
    regulariser). Leading (batch) axes are independent problems, each with its own ``α`` and ``β``, so a
    batch gives exactly the results of solving its members one by one.

    Parameters
    ----------
    op : LinearOperator
        The forward model.
    y : torch.Tensor
        Data, ``(*batch, *op.out_shape)``.
    n_iter : int
        Number of iterations.
    x0 : torch.Tensor, optional
        Warm start (default zeros); not modified.

    Yields
    ------
    Iterate
        After every iteration, with ``residual = ‖Ax − y‖₂`` and ``objective = ½‖Ax − y‖²`` (over the
        whole batch).
    """
    n_iter = check_n_iter(n_iter)
    clock = Clock()
    n_in, n_out = len(op.in_shape), len(op.out_shape)
    tiny = torch.finfo(y.dtype).tiny
    x = initial_estimate(op, y, x0)
    r = y - op.forward(x)
    s = op.adjoint(r)
    p = s.clone()
    gamma = _squared_norms(s, n_in)
    for k in range(1, n_iter + 1):
        q = op.forward(p)
        q_norm2 = _squared_norms(q, n_out)
        alpha = torch.where(q_norm2 > 0, gamma / q_norm2.clamp_min(tiny), 0.0)
        x = x + _expand(alpha, n_in) * p
        r = r - _expand(alpha, n_out) * q
        s = op.adjoint(r)
        gamma_next = _squared_norms(s, n_in)
        beta = torch.where(gamma > 0, gamma_next / gamma.clamp_min(tiny), 0.0)
        p = s + _expand(beta, n_in) * p
        gamma = gamma_next
        residual = float(torch.linalg.vector_norm(r))
        yield Iterate(k, x, 0.5 * residual**2, residual, clock())


def _squared_norms(t: torch.Tensor, n_core: int) -> torch.Tensor:
    """``‖t_b‖²`` of each problem ``b`` of a batch (sum over the trailing ``n_core`` axes)."""
    return torch.sum(t * t, dim=tuple(range(t.ndim - n_core, t.ndim)))


def _expand(values: torch.Tensor, n_core: int) -> torch.Tensor:
    """Per-problem scalars shaped to broadcast against ``(*batch, *core)`` tensors."""
    return values.reshape(*values.shape, *([1] * n_core))


__all__ = ["cgls"]

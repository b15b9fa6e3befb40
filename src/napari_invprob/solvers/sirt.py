"""SIRT: the simultaneous iterative reconstruction technique (preconditioned Landweber)."""

from __future__ import annotations

from collections.abc import Iterator

import torch

from ..operators.base import LinearOperator
from .base import Clock, Iterate
from .start import initial_estimate
from .step_size import check_n_iter


def inverse_sums(sums: torch.Tensor) -> torch.Tensor:
    """``1 / sums`` where the sums are positive, 0 where a row or column of an operator is empty.

    The diagonal weights of SIRT and of the preconditioned primal-dual method, from ``A𝟙`` (row sums)
    or ``Aᵀ𝟙`` (column sums) of an operator with non-negative entries.
    """
    return torch.where(sums > 0, 1.0 / sums.clamp_min(torch.finfo(sums.dtype).tiny), torch.zeros_like(sums))


def sirt(
    op: LinearOperator,
    y: torch.Tensor,
    *,
    n_iter: int = 100,
    x0: torch.Tensor | None = None,
    nonneg: bool = False,
) -> Iterator[Iterate]:
    """SIRT for ``Ax = y`` with a non-negative system matrix ``A`` (e.g. a projector).

    Update rule: ``x ← P(x + C Aᵀ R (y − Ax))`` with ``R = diag(1 / A𝟙)`` (inverse row sums, e.g. ray
    lengths) and ``C = diag(1 / Aᵀ𝟙)`` (inverse column sums), and ``P`` the projection onto ``x ≥ 0``
    when ``nonneg`` (else the identity). It is projected gradient descent on ``½‖Ax − y‖²_R`` in the
    ``C⁻¹`` metric with a step of 1, which ``‖R^½ A C^½‖ ≤ 1`` makes safe: the weighted residual never
    increases. Rows or columns whose sum is 0 are left out.

    Parameters
    ----------
    op : LinearOperator
        The system matrix, with non-negative entries.
    y : torch.Tensor
        Data, ``(*batch, *op.out_shape)``.
    n_iter : int
        Number of iterations.
    x0 : torch.Tensor, optional
        Warm start (default zeros), ``(*batch, *op.in_shape)``; not modified.
    nonneg : bool
        Project onto ``x ≥ 0`` after every step.

    Yields
    ------
    Iterate
        After every iteration, with ``residual = ‖Ax − y‖₂`` (plain, unweighted) of the new ``x``.
    """
    n_iter = check_n_iter(n_iter)
    clock = Clock()
    row_weights = inverse_sums(op.forward(torch.ones(op.in_shape, dtype=y.dtype, device=y.device)))
    column_weights = inverse_sums(op.adjoint(torch.ones(op.out_shape, dtype=y.dtype, device=y.device)))
    x = initial_estimate(op, y, x0)
    misfit = y - op.forward(x)
    for k in range(1, n_iter + 1):
        x = x + column_weights * op.adjoint(row_weights * misfit)
        if nonneg:
            x = x.clamp_min(0.0)
        misfit = y - op.forward(x)
        yield Iterate(k, x, None, float(torch.linalg.vector_norm(misfit)), clock())


__all__ = ["inverse_sums", "sirt"]

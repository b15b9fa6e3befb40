"""Landweber iteration: gradient descent on the least-squares data fit."""

from __future__ import annotations

from collections.abc import Iterator

import torch

from ..operators.base import LinearOperator
from .base import Clock, Iterate
from .start import initial_estimate
from .step_size import check_n_iter, check_step


def landweber(
    op: LinearOperator,
    y: torch.Tensor,
    *,
    n_iter: int,
    step: float | None = None,
    x0: torch.Tensor | None = None,
    nonneg: bool = False,
) -> Iterator[Iterate]:
    """Landweber (projected gradient descent) for ``min_x ½‖Ax − y‖²``.

    Update rule, with ``P`` the projection onto ``x ≥ 0`` when ``nonneg`` (else the identity)::

        x_k = P(x_{k−1} − t·Aᵀ(A x_{k−1} − y))

    Stopping early regularises (the iteration count plays the role of λ).

    Parameters
    ----------
    op : LinearOperator
        Forward model ``A``.
    y : torch.Tensor
        Data, shaped ``(*batch, *op.out_shape)``.
    n_iter : int
        Number of iterations (one yield each).
    step : float, optional
        Step ``t``; by default ``0.95/‖A‖²`` from power iteration.
    x0 : torch.Tensor, optional
        Warm start, shaped ``(*batch, *op.in_shape)``; zeros by default.
    nonneg : bool
        Project onto ``x ≥ 0`` after every step.

    Yields
    ------
    Iterate
        ``x_k`` with ``objective = ½‖Ax_k − y‖²`` and ``residual = ‖Ax_k − y‖``.
    """
    n_iter = check_n_iter(n_iter)
    step = check_step(step, op)
    clock = Clock()
    x = initial_estimate(op, y, x0)
    residual = op.forward(x) - y
    for k in range(1, n_iter + 1):
        x = x - step * op.adjoint(residual)
        if nonneg:
            x = x.clamp_(min=0.0)
        residual = op.forward(x) - y
        norm = float(torch.linalg.vector_norm(residual))
        yield Iterate(k, x, 0.5 * norm**2, norm, clock())

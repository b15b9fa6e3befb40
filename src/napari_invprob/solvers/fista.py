"""FISTA: accelerated proximal gradient for a least-squares data fit plus a penalty."""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator

import torch

from ..operators.base import LinearOperator
from .base import Clock, Iterate
from .start import initial_estimate
from .step_size import check_n_iter, check_step

Prox = Callable[[torch.Tensor, float], torch.Tensor]


def fista(
    op: LinearOperator,
    y: torch.Tensor,
    prox: Prox,
    *,
    lam: float,
    n_iter: int,
    step: float | None = None,
    x0: torch.Tensor | None = None,
    nonneg: bool = False,
    penalty: Callable[[torch.Tensor], float] | None = None,
) -> Iterator[Iterate]:
    """FISTA (Beck & Teboulle 2009) for ``min_x ½‖Ax − y‖² + λ·h(x)``.

    Update rule, in the lecture's form (``g`` the data fit, ``t`` the step, ``q_0 = 1``)::

        z_k = s_{k−1} − t·Aᵀ(A s_{k−1} − y)                 (gradient step on g)
        x_k = prox_{tλh}(z_k)                              (then clamped to x ≥ 0 when nonneg)
        q_k = (1 + √(1 + 4 q_{k−1}²)) / 2
        s_k = x_k + ((q_{k−1} − 1)/q_k)·(x_k − x_{k−1})

    ``A s_k`` is formed from ``A x_k`` and ``A x_{k−1}`` by linearity, so each iteration costs one
    forward and one adjoint, and the objective at ``x_k`` comes for free.

    Parameters
    ----------
    op : LinearOperator
        Forward model ``A``.
    y : torch.Tensor
        Data, shaped ``(*batch, *op.out_shape)``.
    prox : callable
        ``prox(v, tau)`` returning ``argmin_x ½‖x − v‖² + tau·h(x)`` (see :mod:`napari_invprob.priors`).
    lam : float
        Weight λ ≥ 0 of the penalty.
    n_iter : int
        Number of iterations (one yield each).
    step : float, optional
        Step ``t`` ≤ 1/‖A‖²; by default ``0.95/‖A‖²`` from power iteration.
    x0 : torch.Tensor, optional
        Warm start, shaped ``(*batch, *op.in_shape)``; zeros by default.
    nonneg : bool
        Clamp to ``x ≥ 0`` after the prox (exact for separable penalties such as L1).
    penalty : callable, optional
        ``h(x)``, to report the full objective; without it the objective is the data fit alone.

    Yields
    ------
    Iterate
        ``x_k`` with ``objective = ½‖Ax_k − y‖² + λ h(x_k)`` and ``residual = ‖Ax_k − y‖``.
    """
    n_iter = check_n_iter(n_iter)
    step = check_step(step, op)
    if lam < 0:
        raise ValueError(f"lam must be non-negative, got {lam}")
    clock = Clock()
    x = initial_estimate(op, y, x0)
    ax = op.forward(x)
    s, as_ = x, ax
    q = 1.0
    for k in range(1, n_iter + 1):
        x_new = prox(s - step * op.adjoint(as_ - y), step * lam)
        if nonneg:
            x_new = x_new.clamp(min=0.0)
        ax_new = op.forward(x_new)
        q_new = 0.5 * (1.0 + math.sqrt(1.0 + 4.0 * q * q))
        beta = (q - 1.0) / q_new
        s = x_new + beta * (x_new - x)
        as_ = ax_new + beta * (ax_new - ax)
        x, ax, q = x_new, ax_new, q_new
        norm = float(torch.linalg.vector_norm(ax - y))
        objective = 0.5 * norm**2 + (lam * penalty(x) if penalty is not None else 0.0)
        yield Iterate(k, x, objective, norm, clock())

"""Conjugate gradients for symmetric positive definite systems, and the regularised least-squares
problems built on them (Tikhonov, ADMM data steps) for operators without a closed-form inverse."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import torch

from ..operators.base import LinearOperator
from .base import Clock, Iterate
from .start import initial_estimate
from .step_size import check_n_iter


def conjugate_gradient(
    apply: Callable[[torch.Tensor], torch.Tensor],
    b: torch.Tensor,
    *,
    n_iter: int,
    x0: torch.Tensor | None = None,
    tol: float = 0.0,
) -> Iterator[Iterate]:
    """Conjugate gradients (Hestenes & Stiefel) for ``M x = b`` with ``M`` symmetric positive definite.

    Update rule (``r_0 = b − M x_0``, ``p_0 = r_0``)::

        α_k = ⟨r_{k−1}, r_{k−1}⟩ / ⟨p_{k−1}, M p_{k−1}⟩
        x_k = x_{k−1} + α_k p_{k−1}
        r_k = r_{k−1} − α_k M p_{k−1}
        p_k = r_k + (⟨r_k, r_k⟩ / ⟨r_{k−1}, r_{k−1}⟩) p_{k−1}

    A batch of independent systems (leading axes) is solved as one block-diagonal system.

    Parameters
    ----------
    apply : callable
        ``x -> M x``.
    b : torch.Tensor
        Right-hand side.
    n_iter : int
        Maximum number of iterations (one yield each).
    x0 : torch.Tensor, optional
        Warm start (zeros by default), shaped like ``b``.
    tol : float
        Stop early once ``‖r_k‖ ≤ tol·‖b‖``; it also stops at the float precision (``tol`` = 0 runs all
        ``n_iter`` unless the residual reaches that floor), so a converged solve yields fewer iterates.

    Yields
    ------
    Iterate
        ``x_k`` with ``algorithm_residual = ‖b − M x_k‖`` (the system's residual) and no objective.
    """
    n_iter = check_n_iter(n_iter)
    if x0 is not None and x0.shape != b.shape:
        raise ValueError(f"x0 has shape {tuple(x0.shape)}, b has shape {tuple(b.shape)}")
    clock = Clock()
    x = torch.zeros_like(b) if x0 is None else x0.detach().to(b).clone()
    r = b - apply(x) if x0 is not None else b.clone()
    p = r.clone()
    rs = torch.sum(r * r)
    threshold = (max(tol, torch.finfo(b.dtype).eps) * float(torch.linalg.vector_norm(b))) ** 2
    for k in range(1, n_iter + 1):
        if float(rs) <= threshold:
            return
        mp = apply(p)
        curvature = torch.sum(p * mp)
        if not float(curvature) > 0:
            return
        alpha = rs / curvature
        x = x + alpha * p
        r = r - alpha * mp
        rs_new = torch.sum(r * r)
        p = r + (rs_new / rs) * p
        rs = rs_new
        yield Iterate(k, x, None, None, clock(), algorithm_residual=float(rs.sqrt()))


def cg_solve(
    apply: Callable[[torch.Tensor], torch.Tensor],
    b: torch.Tensor,
    *,
    n_iter: int,
    x0: torch.Tensor | None = None,
) -> torch.Tensor:
    """Run :func:`conjugate_gradient` to the end and return the solution (for inner loops)."""
    x = torch.zeros_like(b) if x0 is None else x0
    for iterate in conjugate_gradient(apply, b, n_iter=n_iter, x0=x0):
        x = iterate.x
    return x


def normal_operator(
    op: LinearOperator, *, weight: float = 0.0, transform: LinearOperator | None = None
) -> Callable[[torch.Tensor], torch.Tensor]:
    """``x -> AᵀA x + weight·KᵀK x`` (``K`` the identity when ``transform`` is None)."""

    def apply(x: torch.Tensor) -> torch.Tensor:
        out = op.adjoint(op.forward(x))
        if weight:
            out = out + weight * (transform.adjoint(transform.forward(x)) if transform is not None else x)
        return out

    return apply


def tikhonov(
    op: LinearOperator,
    y: torch.Tensor,
    *,
    lam: float,
    n_iter: int,
    regulariser: LinearOperator | None = None,
    x0: torch.Tensor | None = None,
    tol: float = 0.0,
) -> Iterator[Iterate]:
    """Tikhonov regularisation ``min_x ½‖Ax − y‖² + λ/2‖Dx‖²`` by conjugate gradients.

    Solves the normal equations ``(AᵀA + λDᵀD) x = Aᵀy`` with :func:`conjugate_gradient`
    (``D`` = ``regulariser``, the identity by default; e.g. a gradient for smoothness).

    Parameters
    ----------
    op : LinearOperator
        Forward model ``A``.
    y : torch.Tensor
        Data, shaped ``(*batch, *op.out_shape)``.
    lam : float
        Weight λ ≥ 0 (λ = 0 with the identity gives least squares, which needs ``A`` injective).
    n_iter : int
        Maximum number of CG iterations.
    regulariser : LinearOperator, optional
        ``D``; None for the identity.
    x0 : torch.Tensor, optional
        Warm start, shaped ``(*batch, *op.in_shape)``.
    tol : float
        Relative residual at which CG stops early.

    Yields
    ------
    Iterate
        One per CG iteration, ``algorithm_residual`` being the normal equations' residual.
    """
    if lam < 0:
        raise ValueError(f"lam must be non-negative, got {lam}")
    x_start = initial_estimate(op, y, x0) if x0 is not None else None
    return conjugate_gradient(
        normal_operator(op, weight=lam, transform=regulariser),
        op.adjoint(y),
        n_iter=n_iter,
        x0=x_start,
        tol=tol,
    )


def least_squares_step(
    op: LinearOperator,
    y: torch.Tensor,
    *,
    rho: float,
    transform: LinearOperator | None = None,
    n_iter: int = 10,
) -> Callable[[torch.Tensor], torch.Tensor]:
    """The ADMM data step ``b -> argmin_z ½‖Az − y‖² + ρ/2‖Kz‖² − ρ⟨z, b⟩`` by warm-started CG.

    Each call runs ``n_iter`` CG iterations on ``(AᵀA + ρKᵀK) z = Aᵀy + ρb``, starting from the
    previous call's answer, so a handful suffices once ADMM settles. ``b = Kᵀv`` makes it
    ``argmin_z ½‖Az − y‖² + ρ/2‖Kz − v‖²`` (``K`` = ``transform``, the identity by default; then ``b``
    is ``v`` and the step is ``prox_{g/ρ}``). Use it with :func:`napari_invprob.solvers.admm.admm` or
    :func:`napari_invprob.solvers.admm_tv.admm_tv` for operators without a closed-form inverse.
    """
    if rho <= 0:
        raise ValueError(f"rho must be positive, got {rho}")
    apply = normal_operator(op, weight=rho, transform=transform)
    aty = op.adjoint(y)
    state: dict[str, torch.Tensor] = {}

    def step(b: torch.Tensor) -> torch.Tensor:
        z = cg_solve(apply, aty + rho * b, n_iter=n_iter, x0=state.get("z"))
        state["z"] = z
        return z

    return step

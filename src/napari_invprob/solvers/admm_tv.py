"""ADMM for total-variation regularised least squares (ADMM-TV), optionally with x ≥ 0."""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator

import torch

from ..operators.base import LinearOperator
from ..operators.gradient import Gradient
from ..operators.gradient_and_identity import GradientAndIdentity
from ..priors.tv import pointwise_norm
from .base import Clock, Iterate
from .conjugate_gradient import least_squares_step
from .start import initial_estimate
from .step_size import check_n_iter

#: Elements of the split variable handled per block of planes (about 2 MB of float32): the prior step's
#: temporaries stay small beside a large stack.
BLOCK_ELEMENTS = 2**19


def admm_tv(
    op: LinearOperator,
    y: torch.Tensor,
    gradient: Gradient,
    *,
    lam: float,
    rho: float,
    n_iter: int,
    x0: torch.Tensor | None = None,
    nonneg: bool = False,
    data_step: Callable[[torch.Tensor], torch.Tensor] | None = None,
    n_cg: int = 10,
) -> Iterator[Iterate]:
    """ADMM-TV for ``min_x ½‖Ax − y‖² + λ·TV(x)`` (+ the indicator of ``x ≥ 0`` when ``nonneg``).

    Scaled-form ADMM with the split ``w = Kz``, ``K = ∇`` (or ``[∇; I]`` with ``nonneg``), written with
    the scaled dual ``u`` only::

        z_k = (AᵀA + ρKᵀK)⁻¹ (Aᵀy + ρKᵀ(w_{k−1} − u_{k−1}))      (data_step)
        v_k = K z_k + u_{k−1}
        w_k = shrink_{λ/ρ}(v_k),   u_k = v_k − w_k                (the last component: w = max(v, 0))

    ``u_k`` is the projection of ``v_k`` onto the balls of radius λ/ρ (onto ``v ≤ 0`` for the last
    component), so ``v_k`` alone is kept: ``u_{k−1}``, ``w_k``, ``u_k`` and ``w_k − u_k = v_k − 2u_k``
    follow from it pixel by pixel. Both passes over the split variable go a few planes at a time
    (:meth:`Gradient.forward_planes`, :meth:`Gradient.adjoint_planes_add`), and ``Kᵀ(w − u)`` is formed
    in the memory of ``z`` once ``z`` has been yielded: besides ``y`` and what ``data_step`` keeps, the
    solver holds ``z`` and ``v`` (1 + 3 or 4 images for 3D).

    Parameters
    ----------
    op : LinearOperator
        Forward model ``A``.
    y : torch.Tensor
        Data, shaped ``(*batch, *op.out_shape)``.
    gradient : Gradient
        The discrete gradient over the spatial axes of ``op.in_shape``.
    lam : float
        TV weight λ ≥ 0.
    rho : float
        ADMM penalty ρ > 0 (about 10·λ converges fast for deconvolution).
    n_iter : int
        Number of ADMM iterations (one yield each).
    x0 : torch.Tensor, optional
        Warm start; zeros by default.
    nonneg : bool
        Constrain ``x ≥ 0``.
    data_step : callable, optional
        ``b -> z`` solving ``(AᵀA + ρKᵀK) z = Aᵀy + ρb``; it may work in ``b``'s memory (``b`` is made by
        ``op.scratch``). The caller passes a closed form where the problem has one (for a periodic blur
        and gradient: :func:`~napari_invprob.solvers.fourier.fourier_least_squares_step`); by default
        ``n_cg`` warm-started CG iterations (:func:`~napari_invprob.solvers.conjugate_gradient.least_squares_step`).
    n_cg : int
        CG iterations per data step when ``data_step`` is not given.

    Yields
    ------
    Iterate
        The image ``z_k`` (projected onto ``x ≥ 0`` when ``nonneg``), with ``algorithm_residual`` the
        primal residual ``‖Kz_k − w_k‖``. ``z_k`` is overwritten by the next iteration: copy it to keep it.
    """
    if lam < 0:
        raise ValueError(f"lam must be non-negative, got {lam}")
    n_iter = check_n_iter(n_iter)
    transform = GradientAndIdentity(gradient) if nonneg else gradient
    if data_step is None:
        data_step = least_squares_step(op, y, rho=rho, transform=transform, n_iter=n_cg)
    clock = Clock()
    batch = op.batch_shape(y, op.out_shape)
    spatial = len(op.in_shape)
    if x0 is None or tuple(x0.shape) != (*batch, *op.in_shape):
        start = initial_estimate(op, y, x0)  # zeros, or the error for a wrong shape
    else:
        start = x0.detach().to(device=y.device, dtype=y.dtype)  # only read
    blocks = _plane_blocks(transform, batch)
    rhs = op.scratch(batch)  # Kᵀ(w − u); the closed-form data step turns it into z in place
    for first, stop in blocks:  # w_0 = K z_0, u_0 = 0
        transform.adjoint_planes_add(rhs, transform.forward_planes(start, first, stop), first)
    del start, x0, y  # not kept: the data step holds what it needs of y
    threshold = lam / rho
    split = None  # v_k
    for k in range(1, n_iter + 1):
        z = data_step(rhs)
        if split is None:
            split = z.new_empty((*batch, *transform.out_shape))
        squares = 0.0
        for first, stop in blocks:
            v = transform.forward_planes(z, first, stop)
            stored = split.narrow(-spatial, first, stop - first)
            previous = _projection(stored, threshold, nonneg, spatial) if k > 1 else torch.zeros_like(v)
            v.add_(previous)
            squares += float(_projection(v, threshold, nonneg, spatial).sub_(previous).square_().sum())
            stored.copy_(v)
        if nonneg:
            z.clamp_(min=0.0)
        yield Iterate(k, z, None, None, clock(), algorithm_residual=math.sqrt(squares))
        if k == n_iter:
            return
        rhs.zero_()  # z's memory when the data step works in place: z_k has been yielded
        for first, stop in blocks:  # Kᵀ(w_k − u_k) = Kᵀ(v_k − 2u_k)
            v = split.narrow(-spatial, first, stop - first)
            transform.adjoint_planes_add(rhs, _projection(v, threshold, nonneg, spatial).mul_(-2.0).add_(v), first)


def _projection(v: torch.Tensor, radius: float, nonneg: bool, spatial: int) -> torch.Tensor:
    """The scaled dual ``u = v − shrink(v)`` (a new tensor): each pixel's gradient vector projected onto
    the ball of ``radius``; with ``nonneg`` the last component (the image) projected onto ``v ≤ 0``."""
    axis = -(spatial + 1)
    n_axes = v.shape[axis] - (1 if nonneg else 0)
    field = v.narrow(axis, 0, n_axes)
    scale = torch.reciprocal(pointwise_norm(field, axis).clamp_(min=1e-12)).mul_(radius).clamp_(max=1.0)
    u = torch.empty_like(v)
    torch.mul(field, scale.unsqueeze(axis), out=u.narrow(axis, 0, n_axes))
    if nonneg:
        torch.clamp(v.select(axis, n_axes), max=0.0, out=u.select(axis, n_axes))
    return u


def _plane_blocks(transform: LinearOperator, batch: tuple[int, ...]) -> list[tuple[int, int]]:
    """Consecutive ``(start, stop)`` ranges of planes of the first spatial axis, each holding about
    :data:`BLOCK_ELEMENTS` elements of the split variable."""
    n = transform.in_shape[0]
    per_plane = math.prod(batch) * math.prod(transform.out_shape) // n
    step = max(1, BLOCK_ELEMENTS // per_plane)
    return [(first, min(first + step, n)) for first in range(0, n, step)]

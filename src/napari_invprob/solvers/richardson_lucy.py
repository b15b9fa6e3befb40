"""Richardson-Lucy for Poisson data, plain and with total-variation regularisation."""

from __future__ import annotations

import math
from collections.abc import Iterator
from functools import partial

import numpy as np
import torch

from ..operators.base import LinearOperator
from ..priors.tv import gradient_magnitude, tv_norm
from .base import Clock, Iterate
from .step_size import check_n_iter

#: Floor of the predicted data and of the update's denominator, against division by zero.
EPS = 1e-6
#: RL-TV's denominator ``Aᵀ1 − λ·div(∇x/|∇x|)`` is floored at this fraction of ``Aᵀ1`` (the TV factor
#: multiplies a pixel by at most 1/this per iteration): with λ beyond the small values the method is
#: meant for (about 1e-3 to 1e-2) the one-step-late factor ``1/(1 − λ div)`` changes sign and the
#: iterates blew up (camera/4, 7x7 PSF, λ = 0.3: a peak of 1e5 on data of peak 0.25; NaN at λ = 10).
#: Floored, they stay within a few times the data's peak and a too large λ over-smooths instead.
TV_DENOMINATOR_FLOOR = 0.5
#: ``Aᵀ1`` varying by less than this fraction of its peak is taken as a constant (one number, not an image).
CONSTANT_SENSITIVITY = 1e-5
#: Elements per block of the elementwise passes (8 MB of float32): the temporaries of a block stay
#: small beside a large stack, and a 128^3 volume is one block (each pass is one call).
BLOCK_ELEMENTS = 2**21


def _start(op: LinearOperator, y: torch.Tensor, x0: torch.Tensor | None, background) -> torch.Tensor:
    batch = op.batch_shape(y, op.out_shape)
    shape = (*batch, *op.in_shape)
    if x0 is None:  # each image of the batch flat at its own mean, less its background
        means = y.mean(dim=tuple(range(len(batch), y.ndim))).reshape(*batch, *(1,) * len(op.in_shape))
        return (means - background).expand(shape).clamp(min=EPS).contiguous()
    if tuple(x0.shape) != shape:
        raise ValueError(f"x0 has shape {tuple(x0.shape)}, the unknown has shape {shape}")
    if bool((x0 < 0).any()):
        raise ValueError("x0 has negative values; Richardson-Lucy needs a non-negative start")
    return x0.detach().to(device=y.device, dtype=y.dtype).clone()


def richardson_lucy(
    op: LinearOperator,
    y: torch.Tensor,
    *,
    n_iter: int,
    x0: torch.Tensor | None = None,
    background: float | torch.Tensor = 0.0,
    measure_fit: bool = True,
) -> Iterator[Iterate]:
    """Richardson-Lucy (EM for Poisson data) for a non-negative forward model ``A``.

    The data are counts ``y ~ Poisson(A x + b)`` with a known background ``b ≥ 0`` (a camera's
    offset; 0 by default). Update rule (multiplicative, so ``x`` stays non-negative)::

        x_k = x_{k−1} · Aᵀ(y / (A x_{k−1} + b)) / Aᵀ1

    Stopping early regularises. Negative data values count as zero counts.

    Parameters
    ----------
    op : LinearOperator
        Forward model ``A`` with non-negative entries (e.g. a convolution with a PSF).
    y : torch.Tensor
        Counts, shaped ``(*batch, *op.out_shape)``.
    n_iter : int
        Number of iterations (one yield each).
    x0 : torch.Tensor, optional
        Non-negative warm start; a flat image at the data's mean less ``b`` by default. Zero pixels stay
        zero.
    background : float or torch.Tensor
        The background ``b`` in the units of ``y``: a number, or a tensor broadcasting against ``y``
        (e.g. one level per image of a batch, shaped ``(n, 1, 1)``).
    measure_fit : bool
        Measure every iterate's fit (``objective`` and ``residual``). Their sums and logarithm cost about
        15 % of an iteration of a 3D blur (2.2 of 14.3 ms at 128³); False skips them and yields None for
        both, for a caller that keeps only the last image.

    Yields
    ------
    Iterate
        ``x_k`` with ``objective`` the I-divergence of ``A x_k + b`` from ``y`` and
        ``residual = ‖Ax_k + b − y‖`` (both None without ``measure_fit``).
    """
    return _richardson_lucy(op, y, n_iter=n_iter, x0=x0, lam=0.0, gradient=None, background=background,
                            measure_fit=measure_fit)


def richardson_lucy_tv(
    op: LinearOperator,
    y: torch.Tensor,
    gradient: LinearOperator,
    *,
    lam: float,
    n_iter: int,
    x0: torch.Tensor | None = None,
    background: float | torch.Tensor = 0.0,
    measure_fit: bool = True,
) -> Iterator[Iterate]:
    """Richardson-Lucy with total-variation regularisation (Dey et al. 2006).

    Minimises the I-divergence of ``A x + b`` from ``y`` plus ``λ·TV(x)`` by the one-step-late
    multiplicative update::

        x_k = x_{k−1} · Aᵀ(y / (A x_{k−1} + b)) / (Aᵀ1 − λ·div(∇x_{k−1} / |∇x_{k−1}|))

    with ``div = −∇ᵀ``. λ should stay small (about 1e-3 to 1e-2) so the denominator stays near ``Aᵀ1``;
    it is floored at :data:`TV_DENOMINATOR_FLOOR` ``· Aᵀ1``, so a larger λ over-smooths but the iterates
    stay bounded (within a few times the data's peak).

    Parameters
    ----------
    op : LinearOperator
        Forward model ``A`` with non-negative entries.
    y : torch.Tensor
        Counts, shaped ``(*batch, *op.out_shape)``.
    gradient : LinearOperator
        The discrete gradient over the spatial axes of ``op.in_shape``.
    lam : float
        Weight λ ≥ 0 of the TV term (λ = 0 gives plain Richardson-Lucy).
    n_iter : int
        Number of iterations (one yield each).
    x0 : torch.Tensor, optional
        Non-negative warm start; a flat image at the data's mean less ``b`` by default.
    background : float or torch.Tensor
        The background ``b``, as in :func:`richardson_lucy`.
    measure_fit : bool
        Measure every iterate's ``objective`` and ``residual``, as in :func:`richardson_lucy`.

    Yields
    ------
    Iterate
        ``x_k`` with ``objective`` the I-divergence plus ``λ·TV(x_k)``, and ``residual = ‖Ax_k + b − y‖``
        (both None without ``measure_fit``).
    """
    if lam < 0:
        raise ValueError(f"lam must be non-negative, got {lam}")
    return _richardson_lucy(op, y, n_iter=n_iter, x0=x0, lam=float(lam), gradient=gradient, background=background,
                            measure_fit=measure_fit)


def _richardson_lucy(op, y, *, n_iter, x0, lam, gradient, background, measure_fit) -> Iterator[Iterate]:
    n_iter = check_n_iter(n_iter)
    if not isinstance(measure_fit, bool):
        raise TypeError(f"measure_fit must be True or False, got {measure_fit!r}")
    if bool(torch.any(torch.as_tensor(background) < 0)):
        raise ValueError("the background must be non-negative (counts the camera adds)")
    clock = Clock()
    if bool((y < 0).any()):  # a copy only for data that need one
        y = y.clamp(min=0.0)
    x = _start(op, y, x0, background)
    sensitivity = _sensitivity(op)
    batch = op.batch_shape(y, op.out_shape)
    background = torch.as_tensor(background, dtype=y.dtype, device=y.device)
    background = background.expand_as(y) if bool(background.any()) else None
    # Up to one block, A x and the correction Aᵀ(y / (A x + b)) are the operators' own new tensors and the
    # ratio y / (A x + b) overwrites A x (no buffer, no copy); beyond, all three are made in one scratch
    # tensor, the correction in one more buffer when the shapes differ (no temporary of the data's size)
    if y.numel() <= BLOCK_ELEMENTS:
        forward, adjoint = partial(_new_result, op.forward), op.adjoint
    else:
        work = op.scratch(batch)
        correction = work if op.in_shape == op.out_shape else x.new_empty(x.shape)
        forward, adjoint = partial(op.forward_into, out=work), partial(op.adjoint_into, out=correction)
    fit = _Fit(y, background, measure=measure_fit)
    ratio = forward(x)
    fit.ratio_(ratio)
    for k in range(1, n_iter + 1):
        correction = adjoint(ratio)
        if lam:
            dx = gradient.forward(x)
            unit = dx / torch.sqrt(gradient_magnitude(gradient, dx) ** 2 + EPS**2).unsqueeze(
                -(len(gradient.in_shape) + 1)
            )
            denominator = gradient.adjoint(unit).mul_(lam).add_(sensitivity)
            floor = torch.as_tensor(TV_DENOMINATOR_FLOOR * sensitivity, dtype=x.dtype, device=x.device)
            x.mul_(correction).div_(torch.maximum(denominator, floor, out=denominator))
        else:
            x.mul_(correction)
            if not isinstance(sensitivity, float) or sensitivity != 1.0:
                x.div_(sensitivity)
        ratio = forward(x)
        divergence, distance = fit.ratio_(ratio)
        objective = None if divergence is None else divergence + (lam * tv_norm(gradient, x) if lam else 0.0)
        yield Iterate(k, x, objective, distance, clock())


def _new_result(apply, v: torch.Tensor) -> torch.Tensor:
    """``apply(v)`` in memory of its own (an operator may return its input or a view of it, e.g. the
    identity), for the caller to overwrite."""
    result = apply(v)
    return result.clone() if result.untyped_storage().data_ptr() == v.untyped_storage().data_ptr() else result


def _sensitivity(op: LinearOperator) -> float | torch.Tensor:
    """``Aᵀ1`` floored at EPS: one number when it is constant (1 for a blur by a PSF of sum 1), else an
    image."""
    sensitivity = op.adjoint_ones()
    high, low = float(sensitivity.max()), float(sensitivity.min())
    if high - low <= CONSTANT_SENSITIVITY * high:
        return 1.0 if abs(high - 1.0) <= CONSTANT_SENSITIVITY else max(high, EPS)
    return sensitivity.clamp(min=EPS)


class _Fit:
    """The data's side of every iteration: turns ``A x`` into ``y / (A x + b)`` in place and, when asked
    to ``measure``, measures the fit on the way, block by block (:func:`_blocks`), with two contiguous
    buffers of one block.

    ``background`` is None when ``b`` is zero (no pass adds it). Each block of ``A x + b`` is copied
    into a buffer once, and the sums, the difference and the logarithm are taken there: on the strided
    view of a large :meth:`~napari_invprob.operators.LinearOperator.scratch` tensor (rows padded to hold
    a spectrum) torch's ``log`` is not vectorised, and ``torch.dist`` allocates its difference.
    """

    def __init__(self, y: torch.Tensor, background: torch.Tensor | None, *, measure: bool):
        self.y, self.background, self.measure = y, background, measure
        if measure:
            tiny = torch.finfo(y.dtype).tiny  # 0·log(tiny) = 0, the limit of y log y at 0
            self.constant = sum(float(torch.log(part.clamp(min=tiny)).mul_(part).sum() - part.sum())
                                for (part,) in _blocks(y))
            size = min(y.numel(), BLOCK_ELEMENTS)
            self._predicted, self._other = y.new_empty(size), y.new_empty(size)

    def ratio_(self, work: torch.Tensor) -> tuple[float, float] | tuple[None, None]:
        """Turn ``work = A x`` into ``y / (A x + b)`` in place and return the fit of ``A x + b`` (floored
        at EPS): Csiszár's I-divergence ``Σ y log(y/Ax) − y + Ax`` (the Poisson negative log-likelihood
        up to a constant, zero for a perfect fit; ``constant`` is ``Σ y log y − y``) and ``‖Ax + b − y‖``;
        None and None when not measuring."""
        parts = _blocks(work, self.y) if self.background is None else _blocks(work, self.y, self.background)
        if not self.measure:
            for block, counts, *level in parts:
                if level:
                    block.add_(level[0])
                torch.div(counts, block.clamp_(min=EPS), out=block)
            return None, None
        divergence, squares = self.constant, 0.0
        for block, counts, *level in parts:
            if level:
                block.add_(level[0])
            n = block.numel()
            floored = self._predicted[:n].view(block.shape).copy_(block).clamp_(min=EPS)
            torch.div(counts, floored, out=block)
            difference = torch.sub(floored, counts, out=self._other[:n].view(block.shape))
            squares += float(_dot(difference, difference))
            divergence += float(floored.sum()) - float(_dot(floored.log_(), counts))
        return divergence, math.sqrt(squares)


def _dot(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """``Σ a·b`` of two contiguous tensors of one shape, in one pass."""
    return torch.dot(a.view(-1), b.reshape(-1))


def _blocks(*tensors: torch.Tensor) -> Iterator[tuple[torch.Tensor, ...]]:
    """Matching blocks of same-shaped tensors of about :data:`BLOCK_ELEMENTS` elements (slices along
    the leading axes), so that elementwise passes over them stay in cache and need no full-size
    temporaries."""
    shape = tensors[0].shape
    dim = next(d for d in range(len(shape)) if math.prod(shape[d + 1:]) <= BLOCK_ELEMENTS)
    size = max(1, BLOCK_ELEMENTS // math.prod(shape[dim + 1:]))
    for index in np.ndindex(*shape[:dim]):
        for start in range(0, shape[dim], size):
            yield tuple(t[index].narrow(0, start, min(size, shape[dim] - start)) for t in tensors)

"""ADMM for total-variation regularised least squares (ADMM-TV), optionally with x ≥ 0."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace

import torch

from ..operators.base import LinearOperator
from ..operators.convolution import Convolution
from ..operators.gradient import Gradient
from ..priors.tv import shrink_magnitude
from .admm import admm
from .base import Iterate
from .conjugate_gradient import least_squares_step
from .fourier import fourier_least_squares_step
from .start import initial_estimate


class GradientAndIdentity(LinearOperator):
    """``K = [∇; I]``: the gradient with the image itself appended as one more component.

    Splitting ``Kx`` lets ADMM handle TV and ``x ≥ 0`` in one prior step. ``KᵀK = ∇ᵀ∇ + I``.
    """

    def __init__(self, gradient: Gradient):
        n_axes = gradient.out_shape[0]
        super().__init__(gradient.in_shape, (n_axes + 1, *gradient.in_shape), device=gradient.device)
        self.gradient = gradient
        self._axis = -(len(gradient.in_shape) + 1)

    def forward(self, x):
        return torch.cat([self.gradient.forward(x), x.unsqueeze(self._axis)], dim=self._axis)

    def adjoint(self, y):
        n_axes = self.gradient.out_shape[0]
        return self.gradient.adjoint(y.narrow(self._axis, 0, n_axes)) + y.select(self._axis, n_axes)

    def gram_symbol(self) -> torch.Tensor:
        """Fourier symbol of ``KᵀK`` (periodic gradient only)."""
        return self.gradient.gram_symbol() + 1.0


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
    n_cg: int = 10,
) -> Iterator[Iterate]:
    """ADMM-TV for ``min_x ½‖Ax − y‖² + λ·TV(x)`` (+ the indicator of ``x ≥ 0`` when ``nonneg``).

    :func:`~napari_invprob.solvers.admm.admm` with ``K = ∇`` (or ``[∇; I]`` with ``nonneg``)::

        z_k = (AᵀA + ρKᵀK)⁻¹ (Aᵀy + ρKᵀ(x_{k−1} − s_{k−1}))     (closed form by FFT, else CG)
        x_k = shrink_{λ/ρ}(K z_k + s_{k−1})                      (the last component clamped to ≥ 0)
        s_k = s_{k−1} + K z_k − x_k

    For a periodic :class:`~napari_invprob.operators.Convolution` and a periodic ``gradient`` the
    ``z`` step is one division in Fourier space; otherwise it is ``n_cg`` warm-started CG iterations.

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
    n_cg : int
        CG iterations per data step when there is no closed form.

    Yields
    ------
    Iterate
        The image ``z_k`` (projected onto ``x ≥ 0`` when ``nonneg``), with the primal residual
        ``‖Kz_k − x_k‖``.
    """
    if lam < 0:
        raise ValueError(f"lam must be non-negative, got {lam}")
    transform = GradientAndIdentity(gradient) if nonneg else gradient
    closed_form = (
        isinstance(op, Convolution) and op.boundary == "periodic" and gradient.boundary == "periodic"
    )
    if closed_form:
        data_step = fourier_least_squares_step(op, y, rho=rho, transform=transform)
    else:
        data_step = least_squares_step(op, y, rho=rho, transform=transform, n_iter=n_cg)
    threshold = lam / rho
    n_axes = gradient.out_shape[0]
    axis = -(len(gradient.in_shape) + 1)

    def prior_step(w: torch.Tensor) -> torch.Tensor:
        if not nonneg:
            return shrink_magnitude(gradient, w, threshold)
        return torch.cat(
            [shrink_magnitude(gradient, w.narrow(axis, 0, n_axes), threshold),
             w.narrow(axis, n_axes, 1).clamp(min=0.0)],
            dim=axis,
        )

    iterates = admm(data_step, prior_step, initial_estimate(op, y, x0), n_iter=n_iter, transform=transform)
    if not nonneg:
        return iterates
    # z_k meets x ≥ 0 only in the limit (its split copy meets it at every step): yield its projection
    return (replace(it, x=it.x.clamp(min=0.0)) for it in iterates)

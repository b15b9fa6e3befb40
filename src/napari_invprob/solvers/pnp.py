"""Plug-and-play FISTA and ADMM: a denoiser ``D_σ`` takes the place of a proximal map."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import torch

from ..operators.base import LinearOperator
from .admm import admm
from .base import Iterate
from .fista import fista

Denoiser = Callable[[torch.Tensor, float], torch.Tensor]


def _check_sigma(sigma: float) -> float:
    if not sigma > 0:
        raise ValueError(f"the denoiser strength sigma must be positive, got {sigma}")
    return float(sigma)


def pnp_fista(
    op: LinearOperator,
    y: torch.Tensor,
    denoiser: Denoiser,
    *,
    sigma: float,
    n_iter: int,
    step: float | None = None,
    x0: torch.Tensor | None = None,
    nonneg: bool = False,
) -> Iterator[Iterate]:
    """PnP-FISTA: FISTA on ``½‖Ax − y‖²`` with the prox replaced by a denoiser.

    Update rule (lecture 8)::

        z_k = s_{k−1} − γ·Aᵀ(A s_{k−1} − y)
        x_k = D_σ(z_k)
        s_k = x_k + ((q_{k−1} − 1)/q_k)·(x_k − x_{k−1})

    Parameters
    ----------
    op : LinearOperator
        Forward model ``A``.
    y : torch.Tensor
        Data, shaped ``(*batch, *op.out_shape)``.
    denoiser : callable
        ``D(x, sigma)`` on a batch of images shaped ``(n, *spatial)`` (see
        :mod:`napari_invprob.priors.denoisers`), so ``y`` should carry exactly one batch axis.
    sigma : float
        Denoiser strength σ (a noise standard deviation in the data's units).
    n_iter : int
        Number of iterations (one yield each).
    step : float, optional
        Step γ; by default ``0.95/‖A‖²``.
    x0 : torch.Tensor, optional
        Warm start; zeros by default.
    nonneg : bool
        Clamp to ``x ≥ 0`` after the denoiser.

    Yields
    ------
    Iterate
        ``x_k`` with the data fit ``½‖Ax_k − y‖²`` as objective (a denoiser has no penalty value).
    """
    sigma = _check_sigma(sigma)
    return fista(op, y, lambda v, tau: denoiser(v, sigma), lam=0.0, n_iter=n_iter, step=step, x0=x0,
                 nonneg=nonneg)


def pnp_admm(
    data_step: Callable[[torch.Tensor], torch.Tensor],
    denoiser: Denoiser,
    x0: torch.Tensor,
    *,
    sigma: float,
    n_iter: int,
    nonneg: bool = False,
) -> Iterator[Iterate]:
    """PnP-ADMM: ADMM with a denoiser in place of the prior's proximal map.

    Update rule (lecture 8)::

        z_k = prox_{αg}(x_{k−1} − s_{k−1})          = data_step(x_{k−1} − s_{k−1})
        x_k = D_σ(z_k + s_{k−1})
        s_k = s_{k−1} + (z_k − x_k)

    Parameters
    ----------
    data_step : callable
        ``v -> prox_{αg}(v) = argmin_z ½‖Az − y‖² + 1/(2α)‖z − v‖²`` (a closed-form FFT solve for
        periodic convolution, :func:`~napari_invprob.solvers.conjugate_gradient.least_squares_step`
        otherwise).
    denoiser : callable
        ``D(x, sigma)`` on a batch of images shaped ``(n, *spatial)``.
    x0 : torch.Tensor
        Starting image ``x_0`` (e.g. the data, for deconvolution).
    sigma : float
        Denoiser strength σ.
    n_iter : int
        Number of iterations (one yield each).
    nonneg : bool
        Clamp the denoiser's output to ``x ≥ 0``.

    Yields
    ------
    Iterate
        ``x_k`` (the denoised iterate), with the primal residual ``‖z_k − x_k‖``.
    """
    sigma = _check_sigma(sigma)

    def prior_step(w: torch.Tensor) -> torch.Tensor:
        x = denoiser(w, sigma)
        return x.clamp(min=0.0) if nonneg else x

    return admm(data_step, prior_step, x0, n_iter=n_iter)

"""ADMM in the lecture's scaled form, with a pluggable data step and prior step."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import torch

from ..operators.base import LinearOperator
from .base import Clock, Iterate
from .step_size import check_n_iter


def admm(
    data_step: Callable[[torch.Tensor], torch.Tensor],
    prior_step: Callable[[torch.Tensor], torch.Tensor],
    x0: torch.Tensor,
    *,
    n_iter: int,
    transform: LinearOperator | None = None,
    objective: Callable[[torch.Tensor], float] | None = None,
) -> Iterator[Iterate]:
    """Scaled-form ADMM for ``min_z g(z) + h(Kz)`` (``K`` = ``transform``, the identity by default).

    Update rule, in the lecture's form (penalty parameter ρ folded into the two steps)::

        z_k = argmin_z g(z) + ρ/2‖Kz − (x_{k−1} − s_{k−1})‖²    = data_step(x_{k−1} − s_{k−1})
        x_k = prox_{h/ρ}(K z_k + s_{k−1})                       = prior_step(K z_k + s_{k−1})
        s_k = s_{k−1} + K z_k − x_k

    With ``K`` the identity, ``data_step`` is ``prox_{g/ρ}`` and the iterate is ``x_k`` (the lecture's
    output; PnP-ADMM puts a denoiser in ``prior_step``). With ``K`` the gradient (ADMM-TV) ``x`` lives in
    gradient space and the iterate is the image ``z_k``.

    Parameters
    ----------
    data_step : callable
        ``v -> argmin_z g(z) + ρ/2‖Kz − v‖²`` (e.g. a closed-form FFT solve, or a few CG steps).
    prior_step : callable
        ``w -> prox_{h/ρ}(w)`` (e.g. soft thresholding, or a denoiser ``D_σ``).
    x0 : torch.Tensor
        Warm start of the image (``z_0``); ``x_0 = K z_0`` and ``s_0 = 0``.
    n_iter : int
        Number of iterations (one yield each).
    transform : LinearOperator, optional
        ``K``; None for the identity.
    objective : callable, optional
        ``f(image) -> float`` to report (costs what it costs; leave it out when speed matters).

    Yields
    ------
    Iterate
        The image estimate (``x_k`` without a transform, ``z_k`` with one) and the objective when given;
        ``algorithm_residual`` is the primal residual ``‖K z_k − x_k‖``, which goes to 0 as ADMM
        converges (the data residual is not computed: it would cost an application of ``H``).
    """
    n_iter = check_n_iter(n_iter)
    forward = transform.forward if transform is not None else (lambda v: v)
    clock = Clock()
    x = forward(x0)
    s = torch.zeros_like(x)
    for k in range(1, n_iter + 1):
        z = data_step(x - s)
        kz = forward(z)
        x = prior_step(kz + s)
        gap = kz - x
        s = s + gap
        image = z if transform is not None else x
        value = objective(image) if objective is not None else None
        yield Iterate(k, image, value, None, clock(), algorithm_residual=float(torch.linalg.vector_norm(gap)))

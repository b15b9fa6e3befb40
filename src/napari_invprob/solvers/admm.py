"""ADMM in the lecture's scaled form, with a pluggable data step and prior step."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import torch

from .base import Clock, Iterate
from .step_size import check_n_iter


def admm(
    data_step: Callable[[torch.Tensor], torch.Tensor],
    prior_step: Callable[[torch.Tensor], torch.Tensor],
    x0: torch.Tensor,
    *,
    n_iter: int,
    objective: Callable[[torch.Tensor], float] | None = None,
) -> Iterator[Iterate]:
    """Scaled-form ADMM for ``min_z g(z) + h(z)``.

    Update rule, in the lecture's form (penalty parameter ρ folded into the two steps)::

        z_k = argmin_z g(z) + ρ/2‖z − (x_{k−1} − s_{k−1})‖²    = data_step(x_{k−1} − s_{k−1})
        x_k = prox_{h/ρ}(z_k + s_{k−1})                        = prior_step(z_k + s_{k−1})
        s_k = s_{k−1} + z_k − x_k

    ``data_step`` is ``prox_{g/ρ}`` and the iterate is ``x_k`` (the lecture's output; PnP-ADMM puts a
    denoiser in ``prior_step``). For ``h(Kz)`` with ``K`` the gradient (TV) see
    :func:`~napari_invprob.solvers.admm_tv.admm_tv`.

    Parameters
    ----------
    data_step : callable
        ``v -> argmin_z g(z) + ρ/2‖z − v‖²`` (e.g. a closed-form FFT solve, or a few CG steps).
    prior_step : callable
        ``w -> prox_{h/ρ}(w)`` (e.g. soft thresholding, or a denoiser ``D_σ``).
    x0 : torch.Tensor
        Warm start (``x_0``); ``s_0 = 0``.
    n_iter : int
        Number of iterations (one yield each).
    objective : callable, optional
        ``f(image) -> float`` to report (costs what it costs; leave it out when speed matters).

    Yields
    ------
    Iterate
        ``x_k`` and the objective when given; ``algorithm_residual`` is the primal residual
        ``‖z_k − x_k‖``, which goes to 0 as ADMM converges (the data residual is not computed: it would
        cost an application of ``H``).
    """
    n_iter = check_n_iter(n_iter)
    clock = Clock()
    x = x0
    s = torch.zeros_like(x)
    for k in range(1, n_iter + 1):
        z = data_step(x - s)
        x = prior_step(z + s)
        gap = z - x
        s = s + gap
        value = objective(x) if objective is not None else None
        yield Iterate(k, x, value, None, clock(), algorithm_residual=float(torch.linalg.vector_norm(gap)))

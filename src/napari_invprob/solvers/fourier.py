"""Closed-form solvers for periodic convolution, in Fourier space.

Circular convolution is diagonal in Fourier space (transfer function ``H``, the operator's ``otf``), and
so are ``DᵀD`` for a periodic gradient and the identity; every quadratic problem built from them is a
pointwise division there. These functions need a
:class:`~napari_invprob.operators.Convolution` with ``boundary="periodic"``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

import torch

from ..operators.convolution import Convolution
from ..operators.gradient import Gradient
from ..operators.gradient_and_identity import GradientAndIdentity
from .base import Clock, Iterate


def _require_periodic(op) -> Convolution:
    if not isinstance(op, Convolution) or op.boundary != "periodic":
        raise ValueError(
            f"Fourier-space solvers need a periodic Convolution, got {op!r}; use boundary='periodic' or "
            "an iterative method"
        )
    return op


def fourier_filter(op: Convolution, y: torch.Tensor, *, symbol: float | torch.Tensor) -> Iterator[Iterate]:
    """Regularised Fourier inversion ``X = H̄·Y / (|H|² + R)``, one yield.

    This single formula is, depending on ``R`` (``symbol``):

    - the lecture's direct deconvolution with an ``eps`` regulariser (``R = eps``, a constant): as eps
      shrinks the noise at frequencies where ``|H|`` is small is amplified without bound;
    - the Wiener filter (``R`` the noise-to-signal power ratio, constant or per frequency);
    - Tikhonov ``(HᵀH + λDᵀD)⁻¹Hᵀy`` (``R = λ`` for ``D`` the identity, ``λ·|D̂|²`` for a periodic gradient,
      see :meth:`napari_invprob.operators.Gradient.gram_symbol`).

    Parameters
    ----------
    op : Convolution
        Periodic convolution ``H``.
    y : torch.Tensor
        Data, shaped ``(*batch, *op.in_shape)``.
    symbol : float or torch.Tensor
        ``R ≥ 0``, a constant or a real tensor broadcasting against ``op.otf``. Where ``|H|² + R`` is 0
        the result's spectrum is set to 0.

    Yields
    ------
    Iterate
        Once, with ``residual = ‖Hx − y‖``.
    """
    _require_periodic(op)
    clock = Clock()
    otf = op.otf
    spectrum = op.rfft(y)
    denominator = otf.abs() ** 2 + symbol
    gain = torch.where(denominator > 0, otf.conj() / denominator.clamp(min=torch.finfo(y.dtype).tiny), 0)
    x_hat = spectrum * gain
    x = op.irfft(x_hat)
    residual = float(torch.linalg.vector_norm(op.irfft(x_hat * otf - spectrum)))
    yield Iterate(1, x, 0.5 * residual**2, residual, clock())


def fourier_least_squares_step(
    op: Convolution, y: torch.Tensor, *, rho: float, transform: Gradient | GradientAndIdentity | None = None
) -> Callable[[torch.Tensor], torch.Tensor]:
    """The ADMM data step ``b -> argmin_z ½‖Hz − y‖² + ρ/2‖Kz‖² − ρ⟨z, b⟩`` in closed form.

    ``Z = (H̄·Y + ρ·F(b)) / (|H|² + ρ·|K̂|²)``, the solution of ``(HᵀH + ρKᵀK) z = Hᵀy + ρb``, with ``K``
    the identity (``transform`` None; then ``b = v`` gives ``prox_{g/ρ}(v)``) or a periodic
    :class:`~napari_invprob.operators.Gradient` (optionally with the identity appended) over the
    spatial axes; ``b = Kᵀv`` gives ``argmin_z ½‖Hz − y‖² + ρ/2‖Kz − v‖²``. The step works in ``b``'s
    memory and returns it (with ``b`` made by ``op.scratch`` it allocates no full-size temporary).
    Kept between calls: ``H̄·Y`` and the real ``ρ / (|H|² + ρ·|K̂|²)``.
    """
    _require_periodic(op)
    if rho <= 0:
        raise ValueError(f"rho must be positive, got {rho}")
    otf = op.otf
    data_term = op.rfft(y).mul_(otf.conj())
    gram = 1.0 if transform is None else transform.gram_symbol()
    gain = (op.otf_power.add_(rho * gram)).reciprocal_()  # ρ / (|H|² + ρ|K̂|²) after the next line
    data_term.mul_(gain)  # H̄Y / (|H|² + ρ|K̂|²)
    gain.mul_(rho)

    def update(spectrum: torch.Tensor) -> None:
        torch.view_as_real(spectrum).mul_(gain.unsqueeze(-1))
        spectrum.add_(data_term)

    def step(b: torch.Tensor) -> torch.Tensor:
        return op.transform_in_place(b, update)

    return step

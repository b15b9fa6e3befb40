"""``K = [∇; I]``: the gradient with the image itself appended as one more component."""

from __future__ import annotations

import torch

from .base import LinearOperator
from .gradient import Gradient


class GradientAndIdentity(LinearOperator):
    """``K = [∇; I]``: the gradient with the image itself appended as one more component.

    Splitting ``Kx`` lets ADMM handle TV and ``x ≥ 0`` in one prior step. ``KᵀK = ∇ᵀ∇ + I``.

    Parameters
    ----------
    gradient : Gradient
        The discrete gradient; its components come first, the image last.
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

    def forward_planes(self, x: torch.Tensor, start: int, stop: int) -> torch.Tensor:
        """``Kx`` on the planes ``start:stop`` of the first axis (see :meth:`Gradient.forward_planes`)."""
        planes = x.narrow(self._axis + 1, start, stop - start)
        return torch.cat([self.gradient.forward_planes(x, start, stop), planes.unsqueeze(self._axis)], dim=self._axis)

    def adjoint_planes_add(self, out: torch.Tensor, p: torch.Tensor, start: int) -> None:
        """``out += Kᵀp`` for ``p`` on the planes from ``start`` (see :meth:`Gradient.adjoint_planes_add`)."""
        n_axes = self.gradient.out_shape[0]
        self.gradient.adjoint_planes_add(out, p.narrow(self._axis, 0, n_axes), start)
        out.narrow(self._axis + 1, start, p.shape[self._axis + 1]).add_(p.select(self._axis, n_axes))

    def gram_symbol(self) -> torch.Tensor:
        """Fourier symbol of ``KᵀK`` (periodic gradient only)."""
        return self.gradient.gram_symbol() + 1.0

"""A small dense-matrix operator for testing generic solvers without the projector."""

from __future__ import annotations

import torch

from napari_invprob.operators.base import LinearOperator


class DenseOperator(LinearOperator):
    """``x ↦ M x`` on vectors (batched over leading axes), ``M`` a float32 matrix."""

    def __init__(self, matrix: torch.Tensor):
        super().__init__((matrix.shape[1],), (matrix.shape[0],), device="cpu")
        self.matrix = matrix.to(torch.float32)

    def forward(self, x):
        return x @ self.matrix.T

    def adjoint(self, y):
        return y @ self.matrix


def random_nonneg_system(m: int, n: int, *, seed: int = 0) -> DenseOperator:
    """A well-conditioned random system with non-negative entries (like a projector's)."""
    gen = torch.Generator().manual_seed(seed)
    return DenseOperator(torch.rand((m, n), generator=gen) + 0.1 * torch.eye(m, n))

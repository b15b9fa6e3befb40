"""The operator algebra: composition, sums, scaling, adjoints and the power-iteration norm."""

import pytest
import torch

from napari_invprob.operators import Identity, LinearOperator
from napari_invprob.testing import adjoint_test


class Matrix(LinearOperator):
    """A dense matrix as an operator, for testing the algebra against plain linear algebra."""

    def __init__(self, matrix):
        super().__init__((matrix.shape[1],), (matrix.shape[0],), device="cpu")
        self.matrix = matrix

    def forward(self, x):
        return x @ self.matrix.T

    def adjoint(self, y):
        return y @ self.matrix


class Mismatched(Matrix):
    """A pair whose 'adjoint' is slightly off, as an unmatched projector pair would be."""

    def adjoint(self, y):
        return y @ (self.matrix * (1 + 0.02 * torch.rand(self.matrix.shape, generator=torch.Generator().manual_seed(1))))


@pytest.fixture
def mats():
    gen = torch.Generator().manual_seed(0)
    return torch.randn(5, 4, generator=gen), torch.randn(4, 3, generator=gen), torch.randn(5, 4, generator=gen)


def test_composition_sum_scaling_match_matrices(mats):
    a, b, c = mats
    A, B, C = Matrix(a), Matrix(b), Matrix(c)
    x = torch.randn(2, 3)
    torch.testing.assert_close((A @ B).forward(x), x @ (a @ b).T)
    torch.testing.assert_close((A @ B).H.forward(torch.ones(2, 5)), torch.ones(2, 5) @ (a @ b))
    torch.testing.assert_close((2.5 * A - C).forward(x @ b.T), (x @ b.T) @ (2.5 * a - c).T)
    torch.testing.assert_close((-A / 2).forward(x @ b.T), -(x @ b.T) @ a.T / 2)
    assert (A @ B).in_shape == (3,) and (A @ B).out_shape == (5,)
    assert A.H.H is A


def test_adjoint_test_accepts_exact_pairs_and_catches_mismatched_ones(mats):
    a, b, c = mats
    assert adjoint_test(Matrix(a) @ Matrix(b) + Matrix(c) @ Matrix(b), batch_shape=(3,)) < 1e-5
    assert adjoint_test(Mismatched(a)) > 1e-3


def test_norm_is_the_largest_singular_value(mats):
    a = mats[0]
    expected = float(torch.linalg.matrix_norm(a, ord=2))
    assert Matrix(a).norm() == pytest.approx(expected, rel=1e-3)
    assert (3 * Identity((8, 8))).norm() == 3.0


def test_shape_errors_are_specific(mats):
    a, b, _ = mats
    with pytest.raises(ValueError, match="cannot compose"):
        Matrix(b) @ Matrix(a)
    with pytest.raises(ValueError, match="cannot add"):
        Matrix(a) + Matrix(b)
    with pytest.raises(ValueError, match="trailing axes"):
        Identity((4, 4)).batch_shape(torch.zeros(4, 5))

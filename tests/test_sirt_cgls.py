"""SIRT and CGLS: generic behaviour on dense systems, monotone residuals on the tomography case."""

import numpy as np
import pytest
import torch
from _dense import random_nonneg_system

from napari_invprob.datasets import shepp_logan_case
from napari_invprob.operators.projector import ParallelBeamProjector
from napari_invprob.solvers.base import last
from napari_invprob.solvers.cgls import cgls
from napari_invprob.solvers.sirt import sirt


def _least_squares(op, y):
    return torch.linalg.lstsq(op.matrix.double(), y.double().T).solution.T.float()


def test_cgls_reaches_the_least_squares_solution_and_batches_independently():
    op = random_nonneg_system(30, 12)
    gen = torch.Generator().manual_seed(1)
    y = torch.randn((3, 30), generator=gen)
    x = last(cgls(op, y, n_iter=40)).x
    assert torch.allclose(x, _least_squares(op, y), atol=1e-3)
    for n_iter in (3, 40):  # each problem keeps its own step sizes
        one_by_one = torch.stack([last(cgls(op, y[i], n_iter=n_iter)).x for i in range(3)])
        assert torch.allclose(last(cgls(op, y, n_iter=n_iter)).x, one_by_one, atol=1e-3)


def test_sirt_converges_to_a_consistent_solution_and_respects_nonneg():
    op = random_nonneg_system(20, 8)
    x_true = torch.rand(8, generator=torch.Generator().manual_seed(2))
    y = op.forward(x_true)
    x = last(sirt(op, y, n_iter=3000)).x
    assert torch.allclose(x, x_true, atol=1e-3)
    y_neg = op.forward(x_true - 0.5)
    assert float(last(sirt(op, y_neg, n_iter=50, nonneg=True)).x.min()) >= 0.0


def test_warm_start_is_not_modified_and_yields_every_iteration():
    op = random_nonneg_system(10, 6)
    y = torch.ones(10)
    x0 = torch.full((6,), 0.25)
    for solver in (sirt, cgls):
        iterates = list(solver(op, y, n_iter=4, x0=x0))
        assert [it.iteration for it in iterates] == [1, 2, 3, 4]
        assert torch.equal(x0, torch.full((6,), 0.25))


@pytest.fixture(scope="module")
def wedge():
    case = shepp_logan_case("wedge")
    op = ParallelBeamProjector(case.phantom.shape, case.angles, device="cpu")
    return op, torch.from_numpy(case.sinogram)


@pytest.mark.parametrize("solver, options", [(sirt, {"nonneg": True}), (sirt, {}), (cgls, {})])
def test_data_residual_decreases_every_iteration(wedge, solver, options):
    op, y = wedge
    residuals = [it.residual for it in solver(op, y, n_iter=20, **options)]
    assert all(np.diff(residuals) < 0), residuals

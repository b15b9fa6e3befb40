"""Preconditioned primal-dual TV: the right minimiser on problems with known answers."""

import pytest
import torch
from _dense import random_nonneg_system

from napari_invprob.operators.base import Identity
from napari_invprob.operators.gradient import Gradient
from napari_invprob.priors.tv import TVProx
from napari_invprob.solvers.base import last
from napari_invprob.solvers.pdhg import pdhg_tv


def test_without_tv_it_solves_least_squares():
    op = random_nonneg_system(24, 10)
    gen = torch.Generator().manual_seed(3)
    y = torch.randn((2, 24), generator=gen)
    x = last(pdhg_tv(op, y, lam=0.0, n_iter=300, nonneg=False, gradient=Gradient((10,)))).x
    expected = torch.linalg.lstsq(op.matrix.double(), y.double().T).solution.T.float()
    torch.testing.assert_close(x, expected, atol=1e-4, rtol=0)


def test_tv_denoising_matches_the_tv_prox():
    gen = torch.Generator().manual_seed(4)
    clean = torch.zeros((32, 32))
    clean[8:24, 10:20] = 1.0
    noisy = clean + 0.2 * torch.randn((32, 32), generator=gen)
    lam = 0.15
    gradient = Gradient((32, 32))
    ours = pdhg_tv(Identity((32, 32)), noisy, lam=lam, n_iter=1000, gradient=gradient, nonneg=True)
    iterates = list(ours)
    reference = TVProx(gradient, n_iter=2000, nonneg=True, warm_start=False)(noisy, lam)
    torch.testing.assert_close(iterates[-1].x, reference, atol=2e-3, rtol=0)
    assert min(iterates[-1].x.min().item(), 0.0) == 0.0
    assert iterates[-1].objective < iterates[0].objective


def test_warm_start_and_bad_parameters():
    op = random_nonneg_system(12, 6)
    y = torch.ones(12)
    x0 = torch.full((6,), 0.5)
    iterates = list(pdhg_tv(op, y, lam=0.1, n_iter=3, x0=x0, gradient=Gradient((6,))))
    assert [it.iteration for it in iterates] == [1, 2, 3]
    assert torch.equal(x0, torch.full((6,), 0.5))
    with pytest.raises(ValueError, match="lam"):
        next(pdhg_tv(op, y, lam=-1.0, n_iter=3))
    with pytest.raises(ValueError, match="step_ratio"):
        next(pdhg_tv(op, y, lam=0.1, n_iter=3, step_ratio=0.0))
    with pytest.raises(ValueError, match="n_iter"):
        next(pdhg_tv(op, y, lam=0.1, n_iter=0))

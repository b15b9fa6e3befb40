"""Generic solvers on small dense problems: each streams one iterate per step, honours x0, and
converges to the answer known in closed form."""

import numpy as np
import pytest
import torch

from napari_invprob.operators import Convolution, Gradient, GradientAndIdentity, Identity, LinearOperator
from napari_invprob.priors.proximal import l1_norm, soft_threshold
from napari_invprob.solvers.adam import adam_l1
from napari_invprob.solvers.admm import admm
from napari_invprob.solvers.admm_tv import admm_tv
from napari_invprob.solvers.base import last
from napari_invprob.solvers.conjugate_gradient import conjugate_gradient, least_squares_step, tikhonov
from napari_invprob.solvers.fista import fista
from napari_invprob.solvers.fourier import fourier_filter, fourier_least_squares_step
from napari_invprob.solvers.landweber import landweber
from napari_invprob.solvers.pnp import pnp_admm, pnp_fista
from napari_invprob.solvers.richardson_lucy import richardson_lucy, richardson_lucy_tv
from napari_invprob.solvers.step_size import lipschitz_step
from napari_invprob.testing import adjoint_test


class Matrix(LinearOperator):
    """A dense matrix acting on the last axis (test helper)."""

    def __init__(self, matrix: torch.Tensor):
        super().__init__((matrix.shape[1],), (matrix.shape[0],), device="cpu")
        self.matrix = matrix

    def forward(self, x):
        return x @ self.matrix.T

    def adjoint(self, y):
        return y @ self.matrix


@pytest.fixture
def problem():
    """A well-conditioned overdetermined least-squares problem with an exact solution, batch of 2."""
    gen = torch.Generator().manual_seed(0)
    matrix = torch.randn(40, 20, generator=gen) / 6 + torch.eye(40, 20)
    x_true = torch.rand(2, 20, generator=gen)
    op = Matrix(matrix)
    return op, op(x_true), x_true


def _least_squares(op, y):
    return torch.linalg.lstsq(op.matrix, y.T).solution.T


def _all_solvers(op, y):
    """Every generic generator on the same problem, keyed by name, as factories of x0."""
    identity_step = least_squares_step(op, y, rho=1.0, n_iter=5)
    positive = Matrix(op.matrix.abs())
    counts = positive(_least_squares(op, y))  # consistent Poisson-free data for the same x
    return {
        "landweber": lambda x0: landweber(op, y, n_iter=4, x0=x0),
        "fista": lambda x0: fista(op, y, soft_threshold, lam=1e-3, n_iter=4, x0=x0),
        "pnp_fista": lambda x0: pnp_fista(op, y, lambda v, s: v, sigma=0.1, n_iter=4, x0=x0),
        "pnp_admm": lambda x0: pnp_admm(identity_step, lambda v, s: v, x0 if x0 is not None else y[:, :20],
                                        sigma=0.1, n_iter=4),
        "tikhonov": lambda x0: tikhonov(op, y, lam=0.1, n_iter=4, x0=x0),
        "adam_l1": lambda x0: adam_l1(op, y, lam=1e-3, n_iter=4, x0=x0),
        "richardson_lucy": lambda x0: richardson_lucy(positive, counts, n_iter=4, x0=x0),
    }


@pytest.mark.parametrize("name", ["landweber", "fista", "pnp_fista", "pnp_admm", "tikhonov", "adam_l1",
                                  "richardson_lucy"])
def test_every_solver_yields_once_per_iteration_and_honours_x0(problem, name):
    op, y, x_true = problem
    start = x_true + 0.01
    start_copy = start.clone()
    solver = _all_solvers(op, y)[name]
    iterates = list(solver(start))
    assert [it.iteration for it in iterates] == [1, 2, 3, 4]
    assert all(it.elapsed >= 0 for it in iterates)
    assert torch.equal(start, start_copy)  # the warm start is not modified
    # started next to the answer, the first step stays there; started from zeros (or flat), it does not
    warm = torch.linalg.vector_norm(iterates[0].x - x_true)
    cold = torch.linalg.vector_norm(next(iter(solver(None))).x - x_true)
    assert warm < 0.5 * cold


def test_landweber_and_fista_converge_to_least_squares(problem):
    op, y, x_true = problem
    expected = _least_squares(op, y)
    x_lw = last(landweber(op, y, n_iter=400)).x
    x_fista = last(fista(op, y, soft_threshold, lam=0.0, n_iter=150)).x
    assert torch.allclose(x_lw, expected, atol=1e-3)
    assert torch.allclose(x_fista, expected, atol=1e-3)


def test_fista_objective_decreases_to_the_lasso_answer_on_the_identity():
    y = torch.tensor([[-2.0, -0.05, 0.0, 0.3, 1.5]])
    iterates = list(fista(Identity((5,)), y, soft_threshold, lam=0.2, n_iter=30, step=1.0, penalty=l1_norm))
    assert torch.allclose(iterates[-1].x, soft_threshold(y, 0.2))
    values = [it.objective for it in iterates]
    assert values[-1] <= values[0] + 1e-9
    nonneg = last(fista(Identity((5,)), y, soft_threshold, lam=0.2, n_iter=30, step=1.0, nonneg=True)).x
    assert torch.allclose(nonneg, soft_threshold(y, 0.2).clamp(min=0))


def test_step_size_comes_from_the_operator_norm(problem):
    op, _, _ = problem
    assert lipschitz_step(op) == pytest.approx(0.95 / torch.linalg.matrix_norm(op.matrix, 2).item() ** 2,
                                               rel=1e-3)
    with pytest.raises(ValueError, match="step"):
        next(landweber(op, torch.zeros(40), n_iter=2, step=-1.0))
    with pytest.raises(ValueError, match="n_iter"):
        next(landweber(op, torch.zeros(40), n_iter=0))


def test_conjugate_gradient_solves_spd_systems_and_tikhonov(problem):
    op, y, _ = problem
    gen = torch.Generator().manual_seed(1)
    m = torch.randn(20, 20, generator=gen)
    spd = m @ m.T + 20 * torch.eye(20)
    b = torch.randn(20, generator=gen)
    iterates = list(conjugate_gradient(lambda v: spd @ v, b, n_iter=40, tol=1e-6))
    assert torch.allclose(iterates[-1].x, torch.linalg.solve(spd, b), atol=1e-4)
    assert iterates[-1].algorithm_residual < iterates[0].algorithm_residual
    lam = 0.5
    normal = op.matrix.T @ op.matrix + lam * torch.eye(20)
    expected = torch.linalg.solve(normal, (y @ op.matrix).T).T
    assert torch.allclose(last(tikhonov(op, y, lam=lam, n_iter=40)).x, expected, atol=1e-4)


def test_admm_with_identity_transform_is_the_lectures_form(problem):
    op, y, _ = problem
    # min ½‖Ax − y‖² + λ‖x‖₁ by ADMM (z = prox_g, x = soft threshold, s update) matches FISTA's answer
    rho, lam = 1.0, 0.05
    data_step = least_squares_step(op, y, rho=rho, n_iter=30)
    by_admm = last(admm(data_step, lambda w: soft_threshold(w, lam / rho), torch.zeros(2, 20), n_iter=300)).x
    by_fista = last(fista(op, y, soft_threshold, lam=lam, n_iter=500)).x
    assert torch.allclose(by_admm, by_fista, atol=1e-3)


def test_admm_tv_closed_form_matches_the_cg_route_and_keeps_x_nonnegative():
    gen = torch.Generator().manual_seed(2)
    image = torch.rand(1, 24, 20, generator=gen)
    psf = torch.outer(torch.tensor([1.0, 2.0, 1.0]), torch.tensor([1.0, 2.0, 1.0]))
    op = Convolution(psf / psf.sum(), (24, 20), device="cpu")
    y = op(image) + 0.02 * torch.randn(1, 24, 20, generator=gen) - 0.05
    gradient = Gradient((24, 20), boundary="periodic", device="cpu")
    closed_form = fourier_least_squares_step(op, y, rho=0.1, transform=GradientAndIdentity(gradient))
    fft_route = last(admm_tv(op, y, gradient, lam=0.01, rho=0.1, n_iter=60, nonneg=True, data_step=closed_form)).x
    cg_route = last(admm_tv(_NotPeriodic(op), y, gradient, lam=0.01, rho=0.1, n_iter=60, nonneg=True,
                            n_cg=30)).x
    assert torch.allclose(fft_route, cg_route, atol=1e-3)
    assert float(fft_route.min()) >= -1e-3
    assert adjoint_test(GradientAndIdentity(gradient)) < 1e-4


class _NotPeriodic(LinearOperator):
    """Hides a periodic convolution's Fourier access, so solvers take their generic route."""

    def __init__(self, op):
        super().__init__(op.in_shape, op.out_shape, device=op.device)
        self.op = op

    def forward(self, x):
        return self.op.forward(x)

    def adjoint(self, y):
        return self.op.adjoint(y)


def test_fourier_filter_and_step_are_exact_inverses_of_their_systems():
    gen = torch.Generator().manual_seed(3)
    psf = torch.rand(5, 5, generator=gen)
    op = Convolution(psf / psf.sum(), (16, 12), device="cpu")
    y = torch.rand(2, 16, 12, generator=gen)
    lam = 0.3
    x = last(fourier_filter(op, y, symbol=lam)).x
    assert torch.allclose(op.adjoint(op(x)) + lam * x, op.adjoint(y), atol=1e-5)
    gradient = Gradient((16, 12), boundary="periodic", device="cpu")
    v = torch.rand(2, 2, 16, 12, generator=gen)
    z = fourier_least_squares_step(op, y, rho=lam, transform=gradient)(gradient.adjoint(v))  # b = Kᵀv
    lhs = op.adjoint(op(z)) + lam * gradient.adjoint(gradient(z))
    assert torch.allclose(lhs, op.adjoint(y) + lam * gradient.adjoint(v), atol=1e-5)
    with pytest.raises(ValueError, match="periodic"):
        next(fourier_filter(Convolution(psf, (16, 12), boundary="zero", device="cpu"), y, symbol=lam))


def test_richardson_lucy_decreases_the_poisson_misfit_and_stays_nonnegative():
    gen = torch.Generator().manual_seed(4)
    op = Matrix(torch.rand(30, 15, generator=gen))
    y = torch.poisson(op(5 * torch.rand(15, generator=gen)), generator=gen)
    values = [it.objective for it in richardson_lucy(op, y, n_iter=30)]
    assert all(b <= a + 1e-4 for a, b in zip(values, values[1:]))
    gradient = Gradient((8, 8), device="cpu")
    conv = Convolution(torch.ones(3, 3) / 9, (8, 8), device="cpu")
    counts = torch.poisson(conv(10 * torch.rand(8, 8, generator=gen)), generator=gen)
    tv_iterates = list(richardson_lucy_tv(conv, counts, gradient, lam=0.002, n_iter=5))
    assert len(tv_iterates) == 5 and float(tv_iterates[-1].x.min()) >= 0
    with pytest.raises(ValueError, match="negative"):
        next(richardson_lucy(op, y, n_iter=1, x0=-torch.ones(15)))


@pytest.mark.parametrize("background", [0.0, 2.0])
@pytest.mark.parametrize("lam", [0.0, 0.002])
def test_richardson_lucy_without_measuring_the_fit_takes_the_same_steps(lam, background):
    """``measure_fit=False`` skips the objective and residual, nothing else: the same iterates, bit for bit."""
    gen = torch.Generator().manual_seed(7)
    shape = (9, 10, 8)
    psf = torch.rand(3, 5, 3, generator=gen)
    op = Convolution(psf / psf.sum(), shape, device="cpu")
    counts = torch.poisson(op(20 * torch.rand(*shape, generator=gen)) + background, generator=gen)
    gradient = Gradient(shape, device="cpu")

    def run(measure_fit):
        return list(richardson_lucy_tv(op, counts, gradient, lam=lam, n_iter=4, background=background,
                                       measure_fit=measure_fit) if lam else
                    richardson_lucy(op, counts, n_iter=4, background=background, measure_fit=measure_fit))

    measured = [(it.x.clone(), it.objective, it.residual) for it in run(True)]
    unmeasured = [(it.x.clone(), it.objective, it.residual) for it in run(False)]
    for (x, objective, residual), (same_x, nothing, none) in zip(measured, unmeasured, strict=True):
        assert torch.equal(x, same_x)
        assert np.isfinite(objective) and np.isfinite(residual) and nothing is None and none is None
    with pytest.raises(TypeError, match="measure_fit"):
        next(richardson_lucy(op, counts, n_iter=1, measure_fit="no"))


def test_adam_l1_lowers_its_objective(problem):
    op, y, _ = problem
    values = [it.objective for it in adam_l1(op, y, lam=1e-3, n_iter=60, lr=0.05)]
    assert values[-1] < 0.1 * values[0]


def test_solvers_refuse_negative_lam(problem):
    op, y, _ = problem
    with pytest.raises(ValueError, match="lam"):
        next(fista(op, y, soft_threshold, lam=-1.0, n_iter=2))
    with pytest.raises(ValueError, match="lam"):
        next(tikhonov(op, y, lam=-1.0, n_iter=2))
    with pytest.raises(ValueError, match="sigma"):
        next(pnp_fista(op, y, lambda v, s: v, sigma=0.0, n_iter=2))


def test_x0_of_the_wrong_shape_is_refused(problem):
    op, y, _ = problem
    with pytest.raises(ValueError, match="x0"):
        next(landweber(op, y, n_iter=1, x0=torch.zeros(3, 20)))
    assert np.isfinite(last(landweber(op, y, n_iter=1)).objective)


@pytest.mark.parametrize("nonneg", [False, True])
def test_admm_tv_keeping_only_v_is_the_textbook_admm(monkeypatch, nonneg):
    """The lean ADMM-TV (plane blocks, the dual from v, the right-hand side in z's memory, the stack
    transformed plane by plane) against ADMM written out with every variable whole."""
    import napari_invprob.operators.convolution as convolution
    import napari_invprob.solvers.admm_tv as lean
    from napari_invprob.priors.tv import shrink_magnitude

    monkeypatch.setattr(convolution, "WHOLE_TRANSFORM_ELEMENTS", 0)
    monkeypatch.setattr(lean, "BLOCK_ELEMENTS", 300)  # a few planes per block
    gen = torch.Generator().manual_seed(6)
    shape = (10, 12, 9)
    psf = torch.rand(3, 5, 3, generator=gen)
    op = Convolution(psf / psf.sum(), shape, device="cpu")
    y = torch.rand(1, *shape, generator=gen)
    gradient = Gradient(shape, boundary="periodic", device="cpu")
    lam, rho = 0.02, 0.2
    transform = GradientAndIdentity(gradient) if nonneg else gradient
    step = fourier_least_squares_step(op, y, rho=rho, transform=transform)
    ours = [it.x.clone() for it in admm_tv(op, y, gradient, lam=lam, rho=rho, n_iter=8, x0=y, nonneg=nonneg,
                                           data_step=step)]
    w, u = transform.forward(y), torch.zeros(1, *transform.out_shape)
    for k in range(8):
        z = step(transform.adjoint(w - u).contiguous())
        v = transform.forward(z) + u
        w = shrink_magnitude(gradient, v.narrow(1, 0, 3), lam / rho)
        if nonneg:
            w = torch.cat([w, v.narrow(1, 3, 1).clamp(min=0.0)], dim=1)
        u = v - w
        assert torch.allclose(ours[k], z.clamp(min=0.0) if nonneg else z, atol=1e-5)


def test_richardson_lucy_with_an_operator_that_returns_its_input():
    """The identity's forward is its input: the ratio must not overwrite the estimate (it converges to y)."""
    from napari_invprob.operators import Identity

    y = torch.tensor([[1.0, 4.0, 9.0]])
    estimate = last(richardson_lucy(Identity((3,)), y, n_iter=3)).x
    assert torch.allclose(estimate, y)

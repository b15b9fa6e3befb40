"""One front door per problem, one set of rules: every method of deconvolution and tomography refuses
a bad λ, iteration count, warm start or option alike, with the same error (problems/methods.py), and
reports the data residual of its iterates in the user's units."""

import warnings

import numpy as np
import pytest
import torch

from napari_invprob import deconvolution
from napari_invprob.problems.methods import MethodSpec
from napari_invprob.tomography import reconstruct as tomography

ANGLES = np.linspace(-60.0, 60.0, 6)
IMAGE = np.random.default_rng(0).random((16, 16)).astype(np.float32)
SINOGRAM = np.random.default_rng(1).random((6, 16)).astype(np.float32)


def _deconvolve(**kwargs):
    return deconvolution.deconvolve_iter(IMAGE, np.ones((3, 3)), device="cpu", **kwargs)


def _reconstruct(**kwargs):
    return tomography.reconstruct_iter(SINOGRAM, ANGLES, device="cpu", **kwargs)


EVERY_METHOD = [(_deconvolve, name) for name in deconvolution.METHODS] + [
    (_reconstruct, name) for name in tomography.METHODS
]
IDS = [f"{front.__name__[1:]}-{name}" for front, name in EVERY_METHOD]

BAD = [
    ({"n_iter": 0}, ValueError, "n_iter must be a positive integer"),
    ({"n_iter": 5.0}, ValueError, "n_iter must be a positive integer"),
    ({"n_iter": True}, ValueError, "n_iter must be a positive integer"),
    ({"n_iter": "3"}, ValueError, "n_iter must be a positive integer"),
    ({"lam": -0.1}, ValueError, "lam must be a finite number >= 0"),
    ({"lam": float("nan")}, ValueError, "lam must be a finite number >= 0"),
    ({"lam": 1e39}, ValueError, "float32"),
    ({"lam": "best"}, ValueError, "lam must be a number, None or 'auto'"),
    ({"lam": True}, TypeError, "lam must be a number"),
    ({"x0": np.zeros((5, 5))}, ValueError, "x0 has shape"),
    ({"no_such_option": 1}, TypeError, "unknown option"),
    ({"method": "magic"}, ValueError, "method 'magic'; valid methods are"),
]


@pytest.mark.parametrize("front, name", EVERY_METHOD, ids=IDS)
@pytest.mark.parametrize("kwargs, error, match", BAD, ids=[str(k) for k, _, _ in BAD])
def test_every_method_of_both_problems_refuses_bad_values_alike(front, name, kwargs, error, match):
    kwargs = {"method": name, **kwargs}
    with warnings.catch_warnings(), pytest.raises(error, match=match):
        warnings.simplefilter("ignore")  # "n_iter is ignored" by direct methods, before the error
        front(**kwargs)


@pytest.mark.parametrize("front, name", EVERY_METHOD, ids=IDS)
def test_lam_auto_is_taken_exactly_where_the_table_says(front, name):
    spec = {_deconvolve: deconvolution, _reconstruct: tomography}[front].METHODS[name]
    if spec.auto_lam:
        front(method=name, lam="auto", n_iter=1)  # accepted: the search runs lazily, at the first next
    else:
        with pytest.raises(ValueError, match="lam='auto'"):
            front(method=name, lam="auto")


@pytest.mark.parametrize("front, name", EVERY_METHOD, ids=IDS)
def test_shared_options_are_checked_by_one_table(front, name):
    spec: MethodSpec = {_deconvolve: deconvolution, _reconstruct: tomography}[front].METHODS[name]
    bad = {"rho": (0.0, ValueError, "option rho must be positive"),
           "lr": (-1.0, ValueError, "option lr must be positive"),
           "n_inner": (2.5, ValueError, "option n_inner must be a positive integer"),
           "denoiser": ("bm3d", ValueError, "unknown denoiser 'bm3d'; valid denoisers are"),
           "step": ("big", TypeError, "option step must be a number"),
           "nonneg": ("maybe", TypeError, "nonneg must be True or False")}
    checked = [option for option in bad if option in spec.keywords()]
    for option in checked:
        value, error, match = bad[option]
        with pytest.raises(error, match=match):
            front(method=name, **{option: value})
    assert spec.takes_denoiser == ("denoiser" in checked)


def test_aliases_are_their_methods_under_another_name():
    for problem, target in ((deconvolution, "admm-tv"), (tomography, "pdhg-tv")):
        alias, spec = problem.METHODS["tv"], problem.METHODS[target]
        assert alias.name == "tv" and alias.solver is spec.solver
        assert (alias.default_lam, alias.default_n_iter, alias.auto_lam) == (spec.default_lam,
                                                                             spec.default_n_iter, spec.auto_lam)


#: Methods whose solver has no data residual at no extra cost: they report their own measure instead.
NO_FREE_RESIDUAL = {_deconvolve: {"admm-tv", "tv", "pnp-admm", "adam"}, _reconstruct: {"pnp-admm", "adam"}}


@pytest.mark.parametrize("front, name", EVERY_METHOD, ids=IDS)
def test_the_data_residual_is_that_of_the_iterate_in_the_users_units(front, name):
    """``Iterate.residual`` is ``‖Hx − y‖`` of the iterate it comes with, in the units of the data given
    (not the peak-scaled or angle-weighted problem the solver saw); ADMM's primal residual is apart."""
    from napari_invprob import project
    from napari_invprob.operators.convolution import Convolution

    psf = np.outer(np.hanning(5), np.hanning(5))
    psf /= psf.sum()
    if front is _deconvolve:
        data = IMAGE * 200.0  # a peak far from 1: a residual of the scaled problem would be 200x off
        iterates = list(deconvolution.deconvolve_iter(data, psf, method=name, n_iter=3, device="cpu"))
        blur = Convolution(torch.as_tensor(psf, dtype=torch.float32), data.shape, device="cpu")

        def forward(x):
            return blur.forward(x).numpy()
    else:
        data = SINOGRAM * 7.0
        iterates = list(tomography.reconstruct_iter(data, ANGLES, method=name, n_iter=3, device="cpu",
                                                    background="none", contrast="dark-field"))

        def forward(x):
            return project(x.numpy(), ANGLES, device="cpu")

    for it in iterates:
        if name in NO_FREE_RESIDUAL[front]:
            assert it.residual is None and (it.objective is not None or it.algorithm_residual is not None)
        else:
            true = float(np.linalg.norm(forward(it.x) - data))
            assert it.residual == pytest.approx(true, rel=1e-4), it.iteration

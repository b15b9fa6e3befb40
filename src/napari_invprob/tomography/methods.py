"""The tomography methods: :class:`TomographyProblem` (one chunk of slices and its forward model) and
the table :data:`METHODS` from a method's name to the adapter that runs its solver on such a chunk.

The data term of the regularised methods is divided by the number of angles,
``½‖Ax − y‖² / n_angles + λ·R(x)``, so λ does not depend on how many projections were taken; λ is in
the units of the reconstruction (a Shepp-Logan phantom on [0, 1]: λ ≈ 0.05 for TV).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

import numpy as np
import torch

from ..operators.gradient import Gradient
from ..operators.projector import ParallelBeamProjector
from ..priors.denoisers import get_denoiser
from ..priors.tv import TVProx
from ..problems.methods import MethodSpec
from ..solvers.adam import adam_l1
from ..solvers.base import Clock, Iterate, last
from ..solvers.cgls import cgls
from ..solvers.conjugate_gradient import least_squares_step
from ..solvers.fbp import angle_weights, fbp, reconstruction_circle
from ..solvers.fista import fista
from ..solvers.pdhg import pdhg_tv
from ..solvers.pnp import pnp_admm, pnp_fista
from ..solvers.sirt import sirt
from .coarse_to_fine import coarse_to_fine_tv, full_resolution_iterations

#: ``pdhg-tv``/``tv`` on a tilt series without a warm start: resolution levels of the coarse-to-fine
#: solve (:mod:`~napari_invprob.tomography.coarse_to_fine`: 4x- and 2x-binned data first, fewer for small
#: detectors). A sinogram, quick at full resolution, is solved there (``levels=1``).
SERIES_LEVELS = 3


def data_weight(n_angles: int) -> float:
    """``w = 1/√n_angles``: the weight of the data term, so that λ does not depend on the angle count."""
    return 1.0 / float(np.sqrt(n_angles))


@dataclass
class TomographyProblem:
    """One chunk of slices with its forward model, in the solvers' layout.

    Attributes
    ----------
    projector : ParallelBeamProjector
        Projection of one slice ``(rows, n_det)``.
    data : torch.Tensor
        The chunk's sinograms ``(n_slices, n_angles, n_det)``.
    angles : numpy.ndarray
        Angles in degrees.
    series : bool
        The slices come from a tilt series (not one sinogram): ``tv`` then solves coarse to fine.
    """

    projector: ParallelBeamProjector
    data: torch.Tensor
    angles: np.ndarray
    series: bool = False

    @cached_property
    def weight(self) -> float:
        """:func:`data_weight`: the regularised methods fit ``w·A x`` to ``w·y``."""
        return data_weight(len(self.angles))

    @cached_property
    def op(self):
        """The weighted forward model ``w·A``."""
        return self.weight * self.projector

    @cached_property
    def y(self) -> torch.Tensor:
        """The weighted data ``w·y``."""
        return self.weight * self.data

    @cached_property
    def gradient(self) -> Gradient:
        """Forward differences (Neumann) within each slice, for TV."""
        return Gradient(self.projector.in_shape, device=self.projector.device)

    @cached_property
    def step(self) -> float:
        """Gradient step ``0.95/‖w·A‖²`` (the norm cached per geometry)."""
        return 0.95 / (self.weight * projector_norm(self.projector)) ** 2

    def fbp(self, filter_name: str = "ramp") -> torch.Tensor:
        """Filtered back-projection of the chunk (zero outside the detector's circle for square slices)."""
        weights = torch.as_tensor(angle_weights(self.angles), dtype=self.data.dtype, device=self.data.device)
        rows, cols = self.projector.in_shape
        support = None
        if rows == cols == self.projector.n_detector:
            support = torch.as_tensor(reconstruction_circle(rows), device=self.data.device)
        return last(fbp(self.projector, self.data, weights=weights, filter_name=filter_name, support=support)).x

    def start(self, x0: torch.Tensor | None) -> torch.Tensor:
        """The warm start, or the non-negative part of the Hann-filtered back-projection."""
        return x0 if x0 is not None else self.fbp("hann").clamp_min(0.0)


def projector_norm(op: ParallelBeamProjector) -> float:
    """``‖A‖`` of a projector by power iteration, computed once per geometry (the projector's own cache)."""
    return op.norm(n_iter=100, rtol=1e-4)


# -- the methods: each adapts one solver to the problem; keyword-only options are its parameters ----


def _fbp(problem, *, lam, n_iter, x0, filter="ramp"):  # noqa: A002 - the name users know from iradon
    clock = Clock()
    yield Iterate(1, problem.fbp(filter), None, None, clock())


def _sirt(problem, *, lam, n_iter, x0, nonneg=True):
    return sirt(problem.op, problem.y, n_iter=n_iter, x0=x0, nonneg=nonneg)


def _cgls(problem, *, lam, n_iter, x0):
    return cgls(problem.op, problem.y, n_iter=n_iter, x0=x0)


def _pdhg_tv(problem, *, lam, n_iter, x0, nonneg=True, step_ratio=3.0, relaxation=1.8, levels="auto"):
    if levels == "auto":
        levels = SERIES_LEVELS if problem.series else 1
    if x0 is None and levels > 1:  # a warm start is already at full resolution
        return coarse_to_fine_tv(problem, lam=lam, n_iter=n_iter, levels=levels, nonneg=nonneg,
                                 step_ratio=step_ratio, relaxation=relaxation)
    return pdhg_tv(problem.op, problem.y, lam=lam, n_iter=n_iter, x0=problem.start(x0), nonneg=nonneg,
                   gradient=problem.gradient, step_ratio=step_ratio, relaxation=relaxation)


def run_cost(method: str, n_iter: int, *, series: bool, n_detector: int, warm_start: bool) -> float:
    """The work of a reconstruction in iterations at full resolution: ``n_iter``, less for ``tv`` on a
    tilt series solved coarse to fine (options at their defaults), for time forecasts."""
    if METHODS[method].solver is _pdhg_tv and series and not warm_start:
        return full_resolution_iterations(n_iter, SERIES_LEVELS, n_detector)
    return float(n_iter)


def _fista_tv(problem, *, lam, n_iter, x0, nonneg=True, n_inner=10):
    prox = TVProx(problem.gradient, n_iter=n_inner, nonneg=nonneg)
    return fista(problem.op, problem.y, prox, lam=lam, n_iter=n_iter, step=problem.step, x0=problem.start(x0),
                 penalty=prox.penalty)


def _adam(problem, *, lam, n_iter, x0, nonneg=True, lr=0.05):
    return adam_l1(problem.op, problem.y, lam=lam, n_iter=n_iter, lr=lr, x0=x0, nonneg=nonneg)


def _pnp_fista(problem, *, lam, n_iter, x0, nonneg=True, denoiser="tv"):
    return pnp_fista(problem.op, problem.y, get_denoiser(denoiser), sigma=lam, n_iter=n_iter, step=problem.step,
                     x0=problem.start(x0), nonneg=nonneg)


def _pnp_admm(problem, *, lam, n_iter, x0, nonneg=True, denoiser="tv", rho=1.0, n_cg=5):
    data_step = least_squares_step(problem.op, problem.y, rho=rho, n_iter=n_cg)
    return pnp_admm(data_step, get_denoiser(denoiser), problem.start(x0), sigma=lam, n_iter=n_iter, nonneg=nonneg)


_PDHG_TV = MethodSpec(
    "pdhg-tv",
    "Total variation with x ≥ 0 by preconditioned primal-dual (Chambolle-Pock): the best limited-angle method.",
    _pdhg_tv, uses_lam=True, auto_lam=True, iterative=True, default_lam=0.05, default_n_iter=150,
)

#: The reconstruction methods users pick from, by name.
METHODS: dict[str, MethodSpec] = {
    spec.name: spec
    for spec in (
        MethodSpec("fbp", "Filtered back-projection (option filter: ramp, shepp-logan, cosine, hamming, hann), "
                   "as skimage's iradon; instant, streaks with few or limited angles.",
                   _fbp, uses_lam=False, iterative=False),
        MethodSpec("sirt", "SIRT (row/column-normalised Landweber, x ≥ 0); the iteration count regularises.",
                   _sirt, uses_lam=False, iterative=True, default_n_iter=100),
        MethodSpec("cgls", "Conjugate gradients on the least-squares fit; fast, stop early (noise grows).",
                   _cgls, uses_lam=False, iterative=True, default_n_iter=20),
        MethodSpec("fista-tv", "FISTA with total variation (inner TV prox), x ≥ 0.", _fista_tv, uses_lam=True,
                   auto_lam=True, iterative=True, default_lam=0.1, default_n_iter=100),
        _PDHG_TV,
        MethodSpec("adam", "Adam with torch autograd on the data fit + λ‖x‖₁, as in the lecture.", _adam,
                   uses_lam=True, auto_lam=True, iterative=True, default_lam=1.0, default_n_iter=100),
        MethodSpec("pnp-fista", "Plug-and-play FISTA: a denoiser (option denoiser, default 'tv') as prior; "
                   "λ is its strength σ.", _pnp_fista, uses_lam=True, auto_lam=True, iterative=True,
                   default_lam=0.003, default_n_iter=50),
        MethodSpec("pnp-admm", "Plug-and-play ADMM with a CG data step: a denoiser (option denoiser) as prior; "
                   "λ is its strength σ.", _pnp_admm, uses_lam=True, auto_lam=True, iterative=True, default_lam=0.1,
                   default_n_iter=30),
    )
}
METHODS["tv"] = _PDHG_TV.alias("tv", f"Total variation by our best TV solver ({_PDHG_TV.name}).")


__all__ = ["METHODS", "TomographyProblem", "data_weight", "projector_norm"]

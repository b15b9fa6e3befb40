"""Tomography: ``napari_invprob.reconstruct`` and the table of methods behind it.

Every input becomes one layout for the solvers: a batch of sinograms ``(n_slices, n_angles, n_det)``
and a :class:`~napari_invprob.operators.ParallelBeamProjector` for one slice ``(rows, n_det)`` — a 2D
sinogram is a batch of one square slice, a tilt series the batch of slices perpendicular to its tilt
axis (:mod:`~napari_invprob.problems.tilt_geometry`). Slices are independent problems, solved in chunks:

* :func:`reconstruct` solves chunks of at most :data:`SOLVE_CHUNK_ELEMENTS` pixels into a preallocated
  volume, one chunk per CPU thread at a time, so a solver's state (about nine times its unknowns for
  ``pdhg-tv``) is held for those chunks only: the peak beyond the data is the output volume, the
  projector's two sparse matrices (about 34 bytes per pixel of a slice and angle: 0.17 GB for 256x256
  slices and 77 angles, 4.0 GiB for 1024x1024 and 120) and the running chunks' state
  (``benchmarks/tilt_series.py`` measures the multiple of the volume). Small chunks are also faster on
  the CPU: their element-wise work stays in cache.
* :func:`reconstruct_iter` streams the whole volume, one yield per iteration, so its chunks (at most
  :data:`MAX_CHUNK_ELEMENTS` each) advance in lockstep and every chunk's solver state is alive at once:
  about ten times the volume for ``pdhg-tv`` — the price of watching the whole volume converge. For big
  series stream a sub-volume or use :func:`reconstruct`.

The data term of the regularised methods is divided by the number of angles,
``½‖Ax − y‖² / n_angles + λ·R(x)``, so λ does not depend on how many projections were taken; λ is in
the units of the reconstruction (a Shepp-Logan phantom on [0, 1]: λ ≈ 0.05 for TV). No data-dependent
rescaling is made, so every chunk of a volume (here or on a dask worker) solves exactly the problem the
whole volume poses.
"""

from __future__ import annotations

import concurrent.futures
import contextlib
import functools
import inspect
from collections.abc import Iterator
from dataclasses import dataclass, replace
from functools import cached_property

import numpy as np
import torch

from .._device import check_float32, resolve_device, to_tensor
from ..operators.gradient import Gradient
from ..operators.projector import ParallelBeamProjector, validate_angles
from ..phantom import reconstruction_circle
from ..preparation import prepare
from ..priors.denoisers import DENOISERS, get_denoiser
from ..priors.tv import TVProx
from ..solvers.adam import adam_l1
from ..solvers.base import Clock, Iterate, finite_iterates, last
from ..solvers.cgls import cgls
from ..solvers.conjugate_gradient import least_squares_step
from ..solvers.fbp import angle_weights, check_filter, fbp
from ..solvers.fista import fista
from ..solvers.pdhg import pdhg_tv
from ..solvers.pnp import pnp_admm, pnp_fista
from ..solvers.sirt import sirt
from .methods import MethodSpec, check_bool
from .tilt_geometry import check_tilt_axis, from_slices, project, to_slices

#: ``reconstruct_iter``: slices advanced together, at most this many pixels (or sinogram bins) per chunk;
#: small chunks keep the sparse products in cache (a SIRT iteration of 77x256x256 streamed as one
#: 256-slice chunk took 2.1 s, in 8-slice chunks 1.0 s).
MAX_CHUNK_ELEMENTS = 1 << 19
#: ``reconstruct``: slices solved together, at most this many pixels per chunk (8 slices of 256x256:
#: as fast per slice as 16 on one thread, and two such chunks side by side hold no more state) ...
SOLVE_CHUNK_ELEMENTS = 1 << 19
#: ... but never fewer slices than this (when the series has them): the sparse products read the whole
#: system matrix once per chunk, so one 1024x1024 slice at a time took 1.11 s per slice for a forward
#: and adjoint projection at 120 angles, eight at a time 0.54 s.
MIN_CHUNK_SLICES = 8


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
    """

    projector: ParallelBeamProjector
    data: torch.Tensor
    angles: np.ndarray

    @cached_property
    def weight(self) -> float:
        """``1/√n_angles``: the regularised methods fit ``w·A x`` to ``w·y``."""
        return 1.0 / float(np.sqrt(len(self.angles)))

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


@functools.lru_cache(maxsize=8)
def _geometry_norm(shape, angles_key, n_detector, device) -> float:
    op = ParallelBeamProjector(shape, np.asarray(angles_key), n_detector=n_detector, device=device)
    return op.norm(n_iter=100, rtol=1e-4)


def projector_norm(op: ParallelBeamProjector) -> float:
    """``‖A‖`` of a projector by power iteration, computed once per geometry (shape, angles, detector)."""
    return _geometry_norm(op.in_shape, tuple(op.angles_deg.tolist()), op.n_detector, op.device)


# -- the methods: each adapts one solver to the problem; keyword-only options are its parameters ----


def _fbp(problem, *, lam, n_iter, x0, filter="ramp"):  # noqa: A002 - the name users know from iradon
    clock = Clock()
    yield Iterate(1, problem.fbp(filter), None, None, clock())


def _sirt(problem, *, lam, n_iter, x0, nonneg=True):
    return sirt(problem.op, problem.y, n_iter=n_iter, x0=x0, nonneg=nonneg)


def _cgls(problem, *, lam, n_iter, x0):
    return cgls(problem.op, problem.y, n_iter=n_iter, x0=x0)


def _pdhg_tv(problem, *, lam, n_iter, x0, nonneg=True, step_ratio=3.0):
    return pdhg_tv(problem.op, problem.y, lam=lam, n_iter=n_iter, x0=problem.start(x0), nonneg=nonneg,
                   gradient=problem.gradient, step_ratio=step_ratio)


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
    _pdhg_tv, uses_lam=True, iterative=True, default_lam=0.05, default_n_iter=150,
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
                   iterative=True, default_lam=0.1, default_n_iter=100),
        _PDHG_TV,
        MethodSpec("adam", "Adam with torch autograd on the data fit + λ‖x‖₁, as in the lecture.", _adam,
                   uses_lam=True, iterative=True, default_lam=1.0, default_n_iter=100),
        MethodSpec("pnp-fista", "Plug-and-play FISTA: a denoiser (option denoiser, default 'tv') as prior; "
                   "λ is its strength σ.", _pnp_fista, uses_lam=True, iterative=True, default_lam=0.003,
                   default_n_iter=50),
        MethodSpec("pnp-admm", "Plug-and-play ADMM with a CG data step: a denoiser (option denoiser) as prior; "
                   "λ is its strength σ.", _pnp_admm, uses_lam=True, iterative=True, default_lam=0.1,
                   default_n_iter=30),
    )
}
METHODS["tv"] = MethodSpec(
    "tv", f"Total variation by our best TV solver ({_PDHG_TV.name}).", _PDHG_TV.solver,
    uses_lam=True, iterative=True, default_lam=_PDHG_TV.default_lam, default_n_iter=_PDHG_TV.default_n_iter,
)


# -- the calls -----------------------------------------------------------------------------------------


def reconstruct_iter(
    data,
    angles,
    *,
    method: str = "fbp",
    lam: float | None = None,
    n_iter: int | None = None,
    tilt_axis: str = "y",
    thickness: int | None = None,
    x0=None,
    device=None,
    background="auto",
    contrast: str = "auto",
    **options,
) -> Iterator[Iterate]:
    """Reconstruct step by step: a generator of iterates in the output layout.

    Takes the arguments of :func:`reconstruct`. Everything is checked before the generator is returned;
    the work happens as it is consumed, one yield per iteration (``fbp`` yields once), and it may be
    abandoned between any two yields. With ``lam="auto"`` the cross-validation runs lazily, at the
    first ``next`` (so a GUI can run it in its worker thread). The whole volume's solver state is held
    at once (see the module notes on memory); :func:`reconstruct` holds one chunk's.

    Returns
    -------
    iterator of Iterate
        Each ``Iterate.x`` is a new float32 tensor: the image ``(n, n)`` or the volume ``(z, y, x)``.
        ``residual`` is ``‖Ax − y‖`` in the data's units; ``objective`` that of the weighted problem.
    """
    plan = _plan(data, angles, method, lam, n_iter, tilt_axis, thickness, x0, device, background, contrast, options)
    return _stream(plan)


def reconstruct(
    data,
    angles,
    *,
    method: str = "fbp",
    lam: float | None = None,
    n_iter: int | None = None,
    tilt_axis: str = "y",
    thickness: int | None = None,
    x0=None,
    device=None,
    background="auto",
    contrast: str = "auto",
    **options,
) -> np.ndarray:
    """Reconstruct an image from a sinogram, or a volume from a parallel-beam tilt series.

    Parameters
    ----------
    data : array-like
        A sinogram ``(n_angles, n_detector)`` or a tilt series ``(n_angles, rows, cols)``. Never modified.
    angles : array-like
        Projection angles in degrees, one per projection, any order and spacing (at least 2, finite,
        distinct modulo 360°). 0° projects along the rows (2D) or along z (3D), as
        :func:`napari_invprob.project` and ``skimage.transform.radon``.
    method : str
        One of :data:`METHODS`: ``fbp``, ``sirt``, ``cgls``, ``fista-tv``, ``pdhg-tv`` (``tv``), ``adam``,
        ``pnp-fista``, ``pnp-admm``.
    lam : float, optional
        Regularisation weight λ ≥ 0 for ``½‖Ax − y‖²/n_angles + λ·R(x)`` in the units of the
        reconstruction (for ``pnp-*`` the denoiser strength σ); None takes the method's default (tuned
        on the Shepp-Logan phantom on [0, 1]); ignored by methods without λ. ``"auto"`` chooses it from
        the data, before reconstructing, as
        ``napari_invprob.tomo.cross_validate(data, angles, method=method, n_iter=n_iter, ...).best_lam``
        (seven reconstructions from three quarters of the projections: about five times the cost of
        the reconstruction itself; call ``cross_validate`` yourself to see the scores or pick the
        candidates).
    n_iter : int, optional
        Iterations (default: the method's); ignored by ``fbp``.
    tilt_axis : {"y", "x"}
        For a tilt series, the image axis the specimen is tilted about: ``"y"`` (rows; each row of the
        projections is the sinogram of one y-slice of the volume) or ``"x"`` (columns).
    thickness : int, optional
        Size of the reconstructed volume along z (default: the detector width); ignored for a sinogram.
    x0 : array-like, optional
        Warm start in the output layout (``(n, n)`` or ``(z, y, x)``); by default iterative methods start
        from zeros (``sirt``, ``cgls``, ``adam``) or from the non-negative part of the Hann-filtered
        back-projection (the TV and plug-and-play methods).
    device : str or torch.device, optional
        Where to compute; None picks CUDA, then MPS, then the CPU.
    background : "auto", "none", float or array-like
        Each projection's constant background, removed before reconstructing (projections of a compact
        specimen vanish outside it): ``"auto"`` estimates it and removes it when significant (data that
        are line integrals already pass unchanged); ``"none"`` keeps the data as they are; a number, or
        one per projection, is subtracted. See :func:`napari_invprob.preparation.resolve_preparation`,
        which also undoes unsigned counts stored as int16.
    contrast : {"auto", "dark-field", "bright-field"}
        Bright-field projections (transmitted intensities) are made line integrals, ``−log(I / I0)``;
        ``"auto"`` detects them (all positive, a bright empty area).
    **options
        Method options: ``filter`` (fbp), ``nonneg`` (all but fbp and cgls; default True),
        ``step_ratio`` (pdhg-tv: primal/dual step ratio), ``n_inner`` (fista-tv), ``lr`` (adam),
        ``denoiser`` (``pnp-*``: "tv", "gaussian", ...), ``rho`` and ``n_cg`` (pnp-admm).

    Returns
    -------
    numpy.ndarray
        Float32: ``(n, n)`` for a sinogram with ``n`` detector bins; ``(z, y, x)`` for a tilt series,
        ``z = thickness`` and ``(y, x)`` the projections' ``(rows, cols)``.

    Raises
    ------
    ValueError
        Unknown method, filter or tilt axis; data not 2D/3D or with NaN/Inf; an angle count that does
        not match the data, fewer than 2 angles, non-finite or repeated angles; λ < 0, a string other
        than ``"auto"``, or ``"auto"`` for a method without λ; a bad
        ``n_iter``, ``thickness`` or ``x0`` shape.
    TypeError
        Non-numeric or complex data or angles, an option the method does not take.
    """
    plan = _plan(data, angles, method, lam, n_iter, tilt_axis, thickness, x0, device, background, contrast, options)
    return _solve_in_chunks(_with_lam(plan))


@dataclass(frozen=True)
class _Plan:
    """A checked call: the solvers' layout of the data and everything the chunks need."""

    data: np.ndarray  # the prepared projections, kept for lam="auto"
    projector: ParallelBeamProjector
    sinograms: torch.Tensor  # (n_slices, n_angles, n_det)
    angles: np.ndarray
    spec: MethodSpec
    lam: float | str
    n_iter: int
    tilt_axis: str
    thickness: int | None
    start: torch.Tensor | None  # x0 as slices
    options: dict
    ndim: int
    output_shape: tuple

    def chunk_slices(self, max_elements: int) -> int:
        """Slices per chunk: as many as fit in ``max_elements`` pixels or bins, at least
        :data:`MIN_CHUNK_SLICES`."""
        per_slice = max(int(np.prod(self.projector.in_shape)), int(np.prod(self.projector.out_shape)))
        return max(MIN_CHUNK_SLICES, max_elements // per_slice)

    def chunks(self, max_elements: int) -> Iterator[tuple[slice, Iterator[Iterate]]]:
        """Slice ranges of at most ``max_elements`` pixels or bins (but at least :data:`MIN_CHUNK_SLICES`
        slices), each with its solver (not yet started)."""
        size = self.chunk_slices(max_elements)
        for i in range(0, self.sinograms.shape[0], size):
            rows = slice(i, i + size)
            problem = TomographyProblem(self.projector, self.sinograms[rows].contiguous(), self.angles)
            x0 = None if self.start is None else self.start[rows]
            solver = self.spec.solver(problem, lam=self.lam, n_iter=self.n_iter, x0=x0, **self.options)
            yield rows, finite_iterates(solver, what=f"reconstruction with method {self.spec.name!r} (λ = {self.lam})")

    def as_output(self, slices: torch.Tensor) -> torch.Tensor:
        """Slices ``(n_slices, rows, n_det)`` in the output layout (a view)."""
        return slices[0] if self.ndim == 2 else from_slices(slices, self.tilt_axis)


def _plan(data, angles, method, lam, n_iter, tilt_axis, thickness, x0, device, background, contrast,
          options) -> _Plan:
    """Check every argument (before any work), prepare the projections (:mod:`~napari_invprob.preparation`)
    and lay them out for the solvers."""
    spec = _method_spec(method)
    _check_options(spec, options)
    ndim = np.ndim(data)
    if ndim not in (2, 3):
        raise ValueError(
            f"data must be a sinogram (n_angles, n_detector) or a tilt series (n_angles, rows, cols), got "
            f"{ndim} dimensions (shape {np.shape(data)})"
        )
    angles = _check_angles(angles, np.shape(data)[0])
    tilt_axis = check_tilt_axis(tilt_axis)
    spec.warn_unused(lam, n_iter)
    lam = _check_lam(lam, spec)
    n_iter = _check_n_iter(n_iter, spec)
    thickness = _check_thickness(thickness)
    device = resolve_device(device)
    prepared, _ = prepare(data, contrast=contrast, background=background)
    sinograms = torch.from_numpy(prepared).to(device)
    sinograms = sinograms.unsqueeze(0) if ndim == 2 else to_slices(sinograms, tilt_axis)
    n_det = sinograms.shape[-1]
    rows = n_det if ndim == 2 or thickness is None else thickness
    projector = ParallelBeamProjector((rows, n_det), angles, device=device)
    n_slices = sinograms.shape[0]
    if ndim == 2:
        output_shape = (n_det, n_det)
    else:
        output_shape = (rows, n_slices, n_det) if tilt_axis == "y" else (rows, n_det, n_slices)
    start = None if x0 is None else _slices_of_x0(x0, output_shape, ndim, tilt_axis, device)
    return _Plan(prepared, projector, sinograms, angles, spec, lam, n_iter, tilt_axis, thickness, start,
                 dict(options), ndim, output_shape)


def _with_lam(plan: _Plan) -> _Plan:
    """The plan with ``lam="auto"`` replaced by the cross-validated λ (the work of several reconstructions)."""
    if plan.lam != "auto":
        return plan
    from ..tomo import cross_validate

    extra = {} if plan.thickness is None else {"thickness": plan.thickness}
    best = cross_validate(
        plan.data, plan.angles, method=plan.spec.name, n_iter=plan.n_iter, tilt_axis=plan.tilt_axis,
        device=plan.projector.device, background="none", contrast="dark-field", **extra, **plan.options,
    ).best_lam
    return replace(plan, lam=best)


def _solve_in_chunks(plan: _Plan) -> np.ndarray:
    """Solve the chunks into a preallocated float32 output.

    On a CPU with several torch threads, as many chunks as threads are solved at once, each on one
    thread: the sparse products scale better that way than with all threads on one chunk (a forward
    and adjoint projection of 8-slice chunks, 77 angles of 256, two threads: 2.9 ms per slice side by
    side, 3.6 ms one chunk at a time). torch's thread count is restored afterwards.
    """
    output = np.empty(plan.output_shape, dtype=np.float32)
    slices = torch.from_numpy(output).unsqueeze(0) if plan.ndim == 2 else to_slices(torch.from_numpy(output),
                                                                                   plan.tilt_axis)

    def solve(rows: slice, solver: Iterator[Iterate]) -> None:
        slices[rows] = last(solver).x.cpu()  # chunks write disjoint rows

    chunks = plan.chunks(SOLVE_CHUNK_ELEMENTS)
    workers = torch.get_num_threads() if plan.projector.device.type == "cpu" else 1
    if workers == 1 or plan.sinograms.shape[0] <= plan.chunk_slices(SOLVE_CHUNK_ELEMENTS):
        for rows, solver in chunks:
            solve(rows, solver)
        return output
    with _torch_threads(1), concurrent.futures.ThreadPoolExecutor(workers) as pool:
        running: set[concurrent.futures.Future] = set()
        for rows, solver in chunks:  # at most `workers` chunks (and their solver state) alive at once
            if len(running) == workers:
                done, running = concurrent.futures.wait(running, return_when=concurrent.futures.FIRST_COMPLETED)
                for future in done:
                    future.result()  # a solver's error stops the work here
            running.add(pool.submit(solve, rows, solver))
        for future in running:
            future.result()
    return output


@contextlib.contextmanager
def _torch_threads(n: int):
    """Run the block with ``n`` torch intra-op threads, then restore the previous count."""
    before = torch.get_num_threads()
    torch.set_num_threads(n)
    try:
        yield
    finally:
        torch.set_num_threads(before)


def _stream(plan: _Plan) -> Iterator[Iterate]:
    """All chunks in lockstep, one yield per iteration for the whole output."""
    plan = _with_lam(plan)
    clock = Clock()
    streams = [solver for _, solver in plan.chunks(MAX_CHUNK_ELEMENTS)]
    weight = 1.0 / float(np.sqrt(len(plan.angles)))  # TomographyProblem.weight
    for iterates in zip(*streams):
        x = torch.cat([it.x for it in iterates]) if len(iterates) > 1 else iterates[0].x
        objectives = [it.objective for it in iterates]
        residuals = [it.residual for it in iterates]
        objective = None if None in objectives else float(sum(objectives))
        residual = None if None in residuals else float(np.sqrt(sum(r * r for r in residuals))) / weight
        yield Iterate(iterates[0].iteration, plan.as_output(x).contiguous(), objective, residual, clock())


# -- checks, all before any work ------------------------------------------------------------------------


def _method_spec(method) -> MethodSpec:
    spec = METHODS.get(method) if isinstance(method, str) else None
    if spec is None:
        raise ValueError(f"unknown reconstruction method {method!r}; valid methods are {', '.join(METHODS)}")
    return spec


def _check_options(spec: MethodSpec, options: dict) -> None:
    allowed = [
        name for name, p in inspect.signature(spec.solver).parameters.items()
        if p.kind is p.KEYWORD_ONLY and name not in ("lam", "n_iter", "x0")
    ]
    unknown = sorted(set(options) - set(allowed))
    if unknown:
        takes = f"takes {', '.join(allowed)}" if allowed else "takes no options"
        raise TypeError(f"method {spec.name!r} got unknown option(s) {', '.join(unknown)}; it {takes}")
    for name, value in options.items():
        check = _OPTION_CHECKS.get(name)
        if check is not None:
            check(name, value)


def _positive(name, value):
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)) or not value > 0:
        raise ValueError(f"{name} must be a positive number, got {value!r}")


def _positive_int(name, value):
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
        raise ValueError(f"{name} must be a positive integer, got {value!r}")


def _known_denoiser(name, value):
    if value not in DENOISERS:
        raise ValueError(f"unknown denoiser {value!r}; valid denoisers are {', '.join(sorted(DENOISERS))}")


#: Checks of the methods' options, run when the call is made (before any work).
_OPTION_CHECKS = {
    "filter": lambda name, value: check_filter(value),
    "denoiser": _known_denoiser,
    "step_ratio": _positive,
    "rho": _positive,
    "lr": _positive,
    "n_inner": _positive_int,
    "n_cg": _positive_int,
    "nonneg": lambda name, value: check_bool(value, name),
}


def _check_angles(angles, n_projections: int) -> np.ndarray:
    angles = validate_angles(angles)
    if angles.size < 2:
        raise ValueError(f"got {angles.size} angle; a reconstruction needs at least 2 projection angles")
    if angles.size != n_projections:
        raise ValueError(
            f"{angles.size} angles for {n_projections} projections (the first axis of the data): give one "
            "angle per projection"
        )
    wrapped = np.round(np.mod(angles, 360.0), 9) % 360.0
    values, counts = np.unique(wrapped, return_counts=True)
    if np.any(counts > 1):
        raise ValueError(f"repeated projection angles (modulo 360°): {values[counts > 1].tolist()}")
    return angles


def _check_lam(lam, spec: MethodSpec) -> float | str:
    if lam is None:
        return spec.default_lam if spec.default_lam is not None else 0.0
    if isinstance(lam, str):
        if lam != "auto":
            raise ValueError(f"lam must be a number, None or 'auto', got {lam!r}")
        if not spec.uses_lam:
            raise ValueError(f"lam='auto' chooses λ, but method {spec.name!r} has no λ")
        return lam
    if isinstance(lam, bool) or not isinstance(lam, (int, float, np.integer, np.floating)):
        raise TypeError(f"lam must be a number or None, got {lam!r}")
    if not np.isfinite(lam) or lam < 0:
        raise ValueError(f"lam must be a finite non-negative number, got {lam}")
    return check_float32(lam, "lam")


def _check_n_iter(n_iter, spec: MethodSpec) -> int:
    if n_iter is None:
        return spec.default_n_iter
    if isinstance(n_iter, bool) or int(n_iter) != n_iter or n_iter < 1:
        raise ValueError(f"n_iter must be a positive integer, got {n_iter!r}")
    return int(n_iter)


def _check_thickness(thickness) -> int | None:
    if thickness is None:
        return None
    if isinstance(thickness, bool) or int(thickness) != thickness or thickness < 1:
        raise ValueError(f"thickness must be a positive integer (slices along z), got {thickness!r}")
    return int(thickness)


def _slices_of_x0(x0, output_shape, ndim, tilt_axis, device) -> torch.Tensor:
    start = to_tensor(x0, device, name="x0")
    if tuple(start.shape) != tuple(output_shape):
        raise ValueError(f"x0 has shape {tuple(start.shape)}, the reconstruction has shape {tuple(output_shape)}")
    return start.unsqueeze(0) if ndim == 2 else to_slices(start, tilt_axis).contiguous()


__all__ = [
    "MAX_CHUNK_ELEMENTS",
    "METHODS",
    "TomographyProblem",
    "project",
    "projector_norm",
    "reconstruct",
    "reconstruct_iter",
]

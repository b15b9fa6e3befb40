"""The chunk engine of tomography: a checked call laid out for the solvers (:class:`Plan`), solved in
chunks of slices on a thread pool (:func:`solve_in_chunks`, or watched and stoppable as
:func:`solve_in_chunks_iter`) or streamed in lockstep (:func:`stream`).

Every input becomes one layout: a batch of sinograms ``(n_slices, n_angles, n_det)`` and a
:class:`~napari_invprob.operators.ParallelBeamProjector` for one slice ``(rows, n_det)`` — a 2D
sinogram is a batch of one square slice, a tilt series the batch of slices perpendicular to its tilt
axis (:mod:`~napari_invprob.tomography.geometry`). Slices are independent problems; each chunk is
solved by the method of :data:`~napari_invprob.tomography.methods.METHODS` exactly as the
whole volume poses it, so chunks here and on a dask worker agree.
"""

from __future__ import annotations

import concurrent.futures
import itertools
import queue
import threading
from collections.abc import Callable, Iterator
from contextlib import closing
from dataclasses import dataclass, replace

import numpy as np
import torch

from .._shared.budget import check_fits
from .._shared.device import resolve_device, torch_threads
from .._shared.memory import large_blocks_mapped
from ..operators.projector import ParallelBeamProjector, validate_angles
from ..problems.methods import MethodSpec, check_lam, check_n_iter, check_options, check_x0, method_spec
from ..solvers.base import Clock, Iterate, finite_iterates
from .geometry import check_tilt_axis, from_slices, to_slices
from .methods import METHODS, TomographyProblem, data_weight
from .preparation import prepare

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


def chunk_slices(slice_pixels: int, sinogram_bins: int, max_elements: int | None = None) -> int:
    """Slices per chunk: as many as fit in ``max_elements`` pixels or bins (default
    :data:`SOLVE_CHUNK_ELEMENTS`), at least :data:`MIN_CHUNK_SLICES`."""
    max_elements = SOLVE_CHUNK_ELEMENTS if max_elements is None else max_elements
    return max(MIN_CHUNK_SLICES, max_elements // max(slice_pixels, sinogram_bins))


@dataclass(frozen=True)
class Plan:
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
        """Slices per chunk (:func:`chunk_slices` of this geometry)."""
        return chunk_slices(int(np.prod(self.projector.in_shape)), int(np.prod(self.projector.out_shape)),
                            max_elements)

    def chunks(self, max_elements: int, first: int = 0) -> Iterator[tuple[slice, Iterator[Iterate]]]:
        """Slice ranges of at most ``max_elements`` pixels or bins (but at least :data:`MIN_CHUNK_SLICES`
        slices), each with its solver (not yet started): the one holding slice ``first``, then the others
        nearest first (in order for ``first=0``)."""
        size = self.chunk_slices(max_elements)
        starts = range(0, self.sinograms.shape[0], size)
        for i in sorted(starts, key=lambda start: (abs(start // size - first // size), start)):
            rows = slice(i, i + size)
            problem = TomographyProblem(self.projector, self.sinograms[rows].contiguous(), self.angles,
                                        series=self.ndim == 3)
            x0 = None if self.start is None else self.start[rows]
            solver = self.spec.solver(problem, lam=self.lam, n_iter=self.n_iter, x0=x0, **self.options)
            yield rows, finite_iterates(solver, what=f"reconstruction with method {self.spec.name!r} (λ = {self.lam})")

    def as_output(self, slices: torch.Tensor) -> torch.Tensor:
        """Slices ``(n_slices, rows, n_det)`` in the output layout (a view)."""
        return slices[0] if self.ndim == 2 else from_slices(slices, self.tilt_axis)


#: Bytes of the projector's sparse matrix per slice pixel and angle (2.15 non-zeros of 8 bytes, measured
#: in ``napari.widgets._estimate``).
PROJECTOR_BYTES_PER_PIXEL_ANGLE = 2.15 * 8


def make_plan(data, angles, *, method="fbp", lam=None, n_iter=None, tilt_axis="y", thickness=None, x0=None,
              device=None, background="auto", contrast="auto", **options) -> Plan:
    """Check every argument of :func:`~napari_invprob.reconstruct` (before any work), prepare the
    projections (:mod:`~napari_invprob.preparation`) and lay them out for the solvers.

    Takes the arguments of :func:`~napari_invprob.reconstruct`; ``lam`` stays ``"auto"`` if given so.

    Returns
    -------
    Plan
    """
    spec = method_spec(METHODS, method, "reconstruction")
    check_options(spec, options)
    ndim = np.ndim(data)
    if ndim not in (2, 3):
        raise ValueError(
            f"data must be a sinogram (n_angles, n_detector) or a tilt series (n_angles, rows, cols), got "
            f"{ndim} dimensions (shape {np.shape(data)})"
        )
    angles = _check_angles(angles, np.shape(data)[0])
    tilt_axis = check_tilt_axis(tilt_axis)
    spec.warn_unused(lam, n_iter)
    lam = check_lam(lam, spec)
    n_iter = check_n_iter(n_iter, spec.default_n_iter)
    thickness = _check_thickness(thickness)
    _check_volume_fits(np.shape(data), thickness, tilt_axis)
    device = resolve_device(device)
    prepared, _ = prepare(data, contrast=contrast, background=background, copy=False)  # only read from here on
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
    start = None
    if x0 is not None:
        start = check_x0(x0, output_shape, device, "the reconstruction")
        start = start.unsqueeze(0) if ndim == 2 else to_slices(start, tilt_axis).contiguous()
    return Plan(prepared, projector, sinograms, angles, spec, lam, n_iter, tilt_axis, thickness, start,
                dict(options), ndim, output_shape)


@dataclass(frozen=True)
class ChunkProgress:
    """Where :func:`solve_in_chunks_iter` stands.

    Attributes
    ----------
    output : numpy.ndarray
        The float32 output in the output layout, filled in place: a finished chunk's slices hold its
        result, the others zeros.
    chunks_done, n_chunks : int
        Chunks finished, and in all.
    slices_done, n_slices : int
        Slices (perpendicular to the tilt axis) of the finished chunks, and in all.
    iterations : int
        Iterations completed by all chunks together.
    elapsed : float
        Seconds since the start.
    """

    output: np.ndarray
    chunks_done: int
    n_chunks: int
    slices_done: int
    n_slices: int
    iterations: int
    elapsed: float


class _Tally:
    """The counts behind :class:`ChunkProgress`, kept by the generator's thread only."""

    def __init__(self, output: np.ndarray, n_chunks: int, n_slices: int):
        self.output, self.n_chunks, self.n_slices = output, n_chunks, n_slices
        self.chunks_done = self.slices_done = self.iterations = 0
        self.clock = Clock()

    def iteration(self) -> ChunkProgress:
        """Count one iteration of a running chunk."""
        self.iterations += 1
        return self.progress()

    def chunk_done(self, rows: slice) -> ChunkProgress:
        """Count a finished chunk of ``rows``."""
        self.chunks_done += 1
        self.slices_done += len(range(*rows.indices(self.n_slices)))
        return self.progress()

    def progress(self) -> ChunkProgress:
        return ChunkProgress(self.output, self.chunks_done, self.n_chunks, self.slices_done, self.n_slices,
                             self.iterations, self.clock())


def solve_in_chunks_iter(plan: Plan, *, workers: int | None = None, stop: threading.Event | None = None,
                         first: int = 0) -> Iterator[ChunkProgress]:
    """Solve the chunks into a preallocated float32 output, yielding progress as they go.

    On a CPU with several workers, as many chunks as workers are solved at once, each on one torch
    thread: the sparse products scale better that way than with all threads on one chunk (a forward
    and adjoint projection of 8-slice chunks, 77 angles of 256, two threads: 2.9 ms per slice side by
    side, 3.6 ms one chunk at a time); :func:`~napari_invprob._shared.device.torch_threads` restores the
    count. A chunk's result is the same to the last bit whichever way it is solved. Only the running
    chunks' solver state is alive at once.

    Parameters
    ----------
    plan : Plan
        The checked call (:func:`make_plan`; ``lam`` a number).
    workers : int, optional
        Chunks solved at once; by default the torch thread count on a CPU, 1 on a GPU.
    stop : threading.Event, optional
        When set, the running chunks end after their current iteration, unfinished, and the
        generator returns. Closing the generator does the same.
    first : int
        The slice (perpendicular to the tilt axis) whose chunk is solved first, e.g. the one in view;
        the other chunks follow nearest first.

    Yields
    ------
    ChunkProgress
        After every iteration of a running chunk, and when a chunk has finished (its slices are then
        in ``output``). The last one's ``output`` is the answer when ``chunks_done == n_chunks``.
    """
    with large_blocks_mapped():  # the chunks' arrays go back to the system when freed, not to per-thread heaps
        output = np.zeros(plan.output_shape, dtype=np.float32)
        slices = torch.from_numpy(output).unsqueeze(0) if plan.ndim == 2 else to_slices(torch.from_numpy(output),
                                                                                       plan.tilt_axis)
        n_slices = plan.sinograms.shape[0]
        size = plan.chunk_slices(SOLVE_CHUNK_ELEMENTS)
        tally = _Tally(output, -(-n_slices // size), n_slices)
        if workers is None:
            workers = torch.get_num_threads() if plan.projector.device.type == "cpu" else 1
        halt = threading.Event()  # set when the generator is closed or fails

        def should_stop() -> bool:
            return halt.is_set() or (stop is not None and stop.is_set())

        chunks = plan.chunks(SOLVE_CHUNK_ELEMENTS, first)
        try:
            if workers == 1 or tally.n_chunks == 1:
                for rows, solver in chunks:
                    for finished in _solve_chunk(rows, solver, slices, should_stop):
                        if finished is None:
                            yield tally.iteration()
                        elif finished:
                            yield tally.chunk_done(rows)
                    if should_stop():
                        return
            else:
                yield from _side_by_side(chunks, slices, tally, workers, should_stop, halt)
        finally:
            halt.set()


def _solve_chunk(rows: slice, solver: Iterator[Iterate], slices: torch.Tensor,
                 should_stop: Callable[[], bool]) -> Iterator[bool | None]:
    """Run one chunk's solver: None after every iteration, then whether it finished (its result is
    then written into its ``rows`` of ``slices``) or was stopped (after an iteration, unfinished)."""
    with closing(solver):
        final = None
        for final in solver:
            yield None
            if should_stop():
                yield False
                return
        if final is None:
            raise ValueError("the solver yielded no iterate")
        slices[rows] = final.x.cpu()  # chunks write disjoint rows
        yield True


def _side_by_side(chunks: Iterator[tuple[slice, Iterator[Iterate]]], slices: torch.Tensor, tally: _Tally,
                  workers: int, should_stop: Callable[[], bool], halt: threading.Event) -> Iterator[ChunkProgress]:
    """At most ``workers`` chunks at once (and their solver state), each on a pool thread with one torch
    thread; their iterations and ends reach this generator through a queue. A solver's error is raised
    here, and ``halt`` is set when it ends in any way, so that the running chunks stop after their
    current iteration before the pool is shut down."""
    events: queue.SimpleQueue = queue.SimpleQueue()

    def work(key: int, rows: slice, solver: Iterator[Iterate]) -> bool:
        finished = False
        try:
            for finished in _solve_chunk(rows, solver, slices, should_stop):
                if finished is None:
                    events.put(None)
        finally:
            events.put(key)  # ended: finished, stopped or failed
        return bool(finished)

    # each worker sets the block's count itself before its first operation: a new thread's first ones
    # ran on more threads, and a chunk's result differed in the last bit from one solved on one thread
    with torch_threads(1), concurrent.futures.ThreadPoolExecutor(workers, initializer=torch.set_num_threads,
                                                                 initargs=(1,)) as pool:
        running: dict[int, tuple[concurrent.futures.Future, slice]] = {}

        def submit_next() -> None:
            if not should_stop():
                for rows, solver in itertools.islice(chunks, 1):
                    running[rows.start] = (pool.submit(work, rows.start, rows, solver), rows)

        try:
            for _ in range(workers):
                submit_next()
            while running:
                event = events.get()
                if event is None:
                    yield tally.iteration()
                    continue
                future, rows = running.pop(event)
                if future.result():  # a solver's error is raised here
                    yield tally.chunk_done(rows)
                submit_next()
        finally:
            halt.set()


def solve_in_chunks(plan: Plan) -> np.ndarray:
    """Solve the chunks into a preallocated float32 output (:func:`solve_in_chunks_iter`, drained)."""
    progress = None
    for progress in solve_in_chunks_iter(plan):
        pass
    return progress.output


def stream(plan: Plan, *, workers: int | None = None, first: int | None = None) -> Iterator[Iterate]:
    """All chunks in lockstep, one yield per iteration for the whole output.

    With several ``workers`` (by default the torch thread count on a CPU, 1 on a GPU) the chunks
    advance side by side on a pool, one torch thread each, as :func:`solve_in_chunks_iter` solves them:
    every chunk's result is then the same to the last bit as there, and a program that keeps a core
    for itself (a GUI) can ask for all of them without torch's threads spinning against it.

    With ``first`` (a slice perpendicular to the tilt axis, e.g. the one in view) an iterative method
    solves that slice's chunk ahead of the others, on a thread of its own, while they advance in
    lockstep on the rest of the pool (:func:`_lead_ahead`): the slice in view reaches its last iterate
    while the others are a few iterations in. Iterate ``k`` then holds that chunk's newest iterate and
    the others' ``k``-th; its objective and residuals are of the volume it holds, and the last one is
    the same volume as without ``first``.

    ``residual`` is ``‖Ax − y‖`` in the data's units: the chunks' residuals of the weighted problem
    combined and unweighted, or computed for a direct method's answer (which comes without one);
    ``algorithm_residual`` combines the chunks' own (e.g. pnp-admm's primal residual).
    """
    clock = Clock()
    parts = list(plan.chunks(MAX_CHUNK_ELEMENTS, 0 if first is None else first))
    weight = data_weight(len(plan.angles))
    if workers is None:
        workers = torch.get_num_threads() if plan.projector.device.type == "cpu" else 1
    if first is not None and plan.spec.iterative and len(parts) > 1:
        rounds = _lead_ahead(parts[0], parts[1:], workers)
    else:
        rounds = _in_lockstep([solver for _, solver in sorted(parts, key=_first_row)], workers)
    for iterates in rounds:
        x = torch.cat([it.x for it in iterates]) if len(iterates) > 1 else iterates[0].x
        objectives = [it.objective for it in iterates]
        objective = None if None in objectives else float(sum(objectives))
        if plan.spec.iterative:
            residual = _norm_of_parts([it.residual for it in iterates])
            residual = None if residual is None else residual / weight
        else:
            residual = float(torch.linalg.vector_norm(plan.projector.forward(x) - plan.sinograms))
        yield Iterate(min(it.iteration for it in iterates), plan.as_output(x).contiguous(), objective, residual,
                      clock(), algorithm_residual=_norm_of_parts([it.algorithm_residual for it in iterates]))


def _first_row(part: tuple[slice, Iterator[Iterate]]) -> int:
    return part[0].start


def _in_lockstep(streams: list[Iterator[Iterate]], workers: int) -> Iterator[tuple[Iterate, ...]]:
    """The next iterate of every stream, until one ends: advanced in turn on this thread, or with several
    ``workers`` on a pool of threads computing with one torch thread each (a stream is advanced by one
    thread at a time)."""
    if workers <= 1 or len(streams) == 1:
        yield from zip(*streams)
        return
    # as in _side_by_side: each worker sets its thread count before its first operation
    with torch_threads(1), concurrent.futures.ThreadPoolExecutor(workers, initializer=torch.set_num_threads,
                                                                 initargs=(1,)) as pool:
        while True:
            iterates = tuple(pool.map(_next_or_none, streams))
            if any(it is None for it in iterates):
                return
            yield iterates


class _Lead:
    """A chunk solved to its end on a thread of its own, its newest iterate kept (a copy) for others to read."""

    def __init__(self, solver: Iterator[Iterate]):
        self.solver = solver
        self.newest: Iterate | None = None
        self.started = threading.Event()  # set at its first iterate, or when it ends without one
        self.halt = threading.Event()  # set to stop it after its current iteration

    def run(self) -> None:
        try:
            with closing(self.solver):
                for iterate in self.solver:
                    self.newest = replace(iterate, x=iterate.x.clone())
                    self.started.set()
                    if self.halt.is_set():
                        return
        finally:
            self.started.set()


def _lead_ahead(lead: tuple[slice, Iterator[Iterate]], others: list[tuple[slice, Iterator[Iterate]]],
                workers: int) -> Iterator[tuple[Iterate, ...]]:
    """The ``lead`` chunk solved to its end on a pool thread of its own while the ``others`` advance in
    lockstep on the pool's other threads (and on its thread once it is done): each round, every chunk's
    iterate in row order, the lead's newest and the others' next, until one of the others ends; then once
    more if the lead's last iterate came later. Each pool thread computes with one torch thread."""
    others = sorted(others, key=_first_row)
    at = sum(rows.start < lead[0].start for rows, _ in others)  # the lead's place in row order
    streams = [solver for _, solver in others]
    ahead = _Lead(lead[1])
    with torch_threads(1), concurrent.futures.ThreadPoolExecutor(max(workers, 2), initializer=torch.set_num_threads,
                                                                 initargs=(1,)) as pool:
        running = pool.submit(ahead.run)
        try:
            ahead.started.wait()
            if ahead.newest is None:
                running.result()  # its error, if it failed
                raise ValueError("the solver yielded no iterate")
            shown, last = None, None
            while True:
                iterates = tuple(pool.map(_next_or_none, streams))
                if any(it is None for it in iterates):
                    break
                if running.done():
                    running.result()  # a solver's error is raised here
                last, shown = iterates, ahead.newest
                yield (*last[:at], shown, *last[at:])
            running.result()  # the lead's end (and its error, if it failed)
            if last is not None and ahead.newest is not shown:
                yield (*last[:at], ahead.newest, *last[at:])
        finally:
            ahead.halt.set()


def _next_or_none(iterates: Iterator[Iterate]) -> Iterate | None:
    return next(iterates, None)


def _norm_of_parts(norms: list[float | None]) -> float | None:
    """The norm of a vector from the norms of its parts (None if one is missing)."""
    return None if None in norms else float(np.sqrt(sum(n * n for n in norms)))


# -- checks, all before any work ------------------------------------------------------------------------


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


def _check_volume_fits(shape: tuple[int, ...], thickness: int | None, tilt_axis: str) -> None:
    """Refuse a reconstruction whose float32 volume and projector alone would not fit in memory (a
    thickness of 10⁶ slices), before any work."""
    n_angles, n_det = shape[0], shape[-1] if len(shape) == 2 or tilt_axis == "y" else shape[1]
    rows = n_det if len(shape) == 2 or thickness is None else thickness
    output = (rows, n_det) if len(shape) == 2 else (rows, *shape[1:])
    volume = 4.0 * float(np.prod(output, dtype=np.float64))
    projector = PROJECTOR_BYTES_PER_PIXEL_ANGLE * float(rows) * n_det * n_angles
    check_fits(volume + projector, f"the reconstruction ({' x '.join(map(str, output))} voxels and its projector)",
               "give a thickness near the specimen's, in slices (thickness=, --thickness), or bin the projections")


def _check_thickness(thickness) -> int | None:
    if thickness is None:
        return None
    if isinstance(thickness, bool) or int(thickness) != thickness or thickness < 1:
        raise ValueError(f"thickness must be a positive integer (slices along z), got {thickness!r}")
    return int(thickness)


__all__ = [
    "MAX_CHUNK_ELEMENTS",
    "MIN_CHUNK_SLICES",
    "SOLVE_CHUNK_ELEMENTS",
    "ChunkProgress",
    "Plan",
    "chunk_slices",
    "make_plan",
    "solve_in_chunks",
    "solve_in_chunks_iter",
    "stream",
]

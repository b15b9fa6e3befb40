"""A rough forecast of a run's memory and time, to warn before a run that cannot fit or takes minutes.

The model is deliberately simple: memory is the arrays the solver keeps (a factor times the image or
volume, plus the projector's sparse matrix for tomography); time is iterations times a cost per
iteration, taken from the last run of the same method on the same shape when there was one
(measured), else from per-element and per-non-zero costs measured on a 2-core machine.

A tomography run of a tilt series is streamed in lockstep (every iterate shows the whole volume, and
every chunk's solver state is alive at once) or, when that would not fit or would iterate too slowly
to watch, solved slab by slab (:func:`tomography_forecast` chooses, as the widget does).
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import psutil

from ...tomography.chunks import chunk_slices
from ...tomography.methods import METHODS, run_cost
from ._frames import OVERHEAD_SHARE

#: float32 arrays of the image's size a deconvolution solver keeps (x, splitting variables and
#: their duals for each gradient axis, complex spectra).
DECONVOLUTION_ARRAYS = 16
#: Seconds per image element per iteration of an iterative deconvolution (ADMM-TV on 2 CPU cores).
DECONVOLUTION_SECONDS = 40e-9
#: Non-zeros per pixel and angle of the projector's sparse matrix (measured, ±60°: 2.138 at 77 angles
#: of 128x128 and 256x256 slices, 2.151 at 120 angles of 256x256 and 512x512, 2.15 at 1024x1024), and
#: bytes per non-zero (a float32 value and an int32 column index; one matrix serves both directions on
#: the CPU).
PROJECTOR_NNZ_PER_PIXEL_ANGLE = 2.15
PROJECTOR_BYTES_PER_NNZ = 8
#: Seconds per non-zero to build the projector (0.59 s for 10.8 M non-zeros at 77x256x256, 3.45 s for
#: 67.7 M at 120x512x512, 11.8 s for 271 M at 120x1024x1024).
PROJECTOR_BUILD_SECONDS_PER_NNZ = 50e-9
#: The coarse-to-fine levels' projectors (2x and 4x binned: a quarter and a sixteenth of the pixels), as a
#: share of the full-resolution one's non-zeros; built and kept by ``tv`` on a tilt series.
COARSE_PROJECTORS = 0.25 + 0.0625
#: Seconds per sparse-matrix non-zero per slice for one full-resolution iteration (a forward and an adjoint
#: projection and the solver's element-wise work), on one torch thread, 8-slice chunks: SIRT took
#: 0.31 ns at 77x256 and 120x256, 0.28 ns at 120x512 (one chunk, thread CPU time, this machine niced under
#: load), 0.28-0.295 ns at 120x1024 (the whole series, 2 threads, quiet: 1540-1615 CPU s for 20 iterations).
TOMOGRAPHY_SECONDS_PER_NNZ = 0.30e-9
#: Element-wise seconds per pixel per full-resolution-equivalent iteration beyond that, by method
#: (``MethodSpec.name``): TV's primal-dual steps and level changes, coarse to fine, 150 iterations (66.3
#: equivalent), with its state in buffers made once: 24 ns at 77x256x256 (83.2 CPU s), 19 ns at
#: 120x1024x1024 (6901 CPU s), whole series on 2 threads, quiet. Methods not listed (not calibrated) are
#: taken to cost as much as TV.
ELEMENTWISE_SECONDS_PER_PIXEL = {"sirt": 0.0, "cgls": 0.0, "fbp": 0.0, "pdhg-tv": 22e-9}
#: How fully ``workers`` chunk workers overlap, by method: SIRT's two workers ran 1.95-1.98x one (85.3
#: CPU s in 43.7 s at 77x256x256, 1540 in 779 s at 120x1024x1024); TV's 1.95x and 1.96x (83.2 in 42.6 s,
#: 6901 in 3513 s). Methods not listed: as TV.
WORKER_EFFICIENCY = {"sirt": 1.0, "cgls": 1.0, "fbp": 1.0, "pdhg-tv": 0.97}
#: Volume-sized float32 arrays a solver holds per unit of the volume it solves, by method (allocator
#: retention included), with projectors, output and copies counted apart: between iterations, as the
#: lockstep stream holds them for every chunk at once (peak memory growth streamed over 77x256x256: SIRT
#: 8.7x the volume, TV 15.6x), and at a chunk's peak within an iteration, as slabs solved side by side may
#: reach together (growth with chunks: 77x256x256 SIRT 3.1x, TV 3.7x; 120x1024x1024 TV 8.11 GiB; the
#: first 8-slice TV chunk of a worker grows its heap to 18 units). Methods not listed: as TV.
SOLVER_STATE_ARRAYS = {"sirt": 6.0, "cgls": 6.0, "fbp": 2.0, "pdhg-tv": 12.0}
SOLVER_PEAK_ARRAYS = {"sirt": 6.0, "cgls": 6.0, "fbp": 2.0, "pdhg-tv": 18.0}
#: Volumes the lockstep stream holds beyond its chunks' state: the joined iterate and its copy in the
#: output layout, the frame's copy and the result layer's.
LOCKSTEP_COPIES = 4
#: The lockstep stream's frames (a copy of the volume, its display range) are made on the solver's thread
#: and spaced to take at most ``OVERHEAD_SHARE`` of the run: 77x256x256 SIRT-10 streamed through the widget
#: took 11.9 CPU s against 8.9 s forecast without them.
LOCKSTEP_FRAME_OVERHEAD = 1.0 / (1.0 - OVERHEAD_SHARE)
#: A full run of a tilt series whose lockstep iteration of the whole volume is forecast to take longer
#: than this (seconds) goes slab by slab: its iterates would come too seldom to watch the volume converge,
#: while slabs finish as soon (both compute on :func:`chunk_workers`) and hold a fraction of the memory. 77x256x256 (1.2 s per TV iteration) streams; 120x512x512 (10 s) goes
#: by slabs.
SLAB_ITERATION_SECONDS = 5.0

#: Warn when a run is forecast to take longer than this (seconds).
SLOW_RUN_SECONDS = 60.0
#: Refuse a run whose forecast memory exceeds this share of the memory available now.
MEMORY_SHARE = 0.8


@dataclass(frozen=True)
class Estimate:
    """Forecast of one run: peak memory in bytes and duration in seconds."""

    memory: float
    seconds: float

    def describe(self) -> str:
        """``"about 1.2 GiB and 3 min"``."""
        minutes = self.seconds / 60.0
        duration = f"{minutes:.0f} min" if minutes >= 1.5 else f"{self.seconds:.0f} s"
        return f"about {self.memory / 2**30:.2f} GiB and {duration}"


def deconvolution(n_elements: int, n_iter: int, seconds_per_iteration: float | None = None) -> Estimate:
    """Forecast a deconvolution of an image with ``n_elements`` values (channels included)."""
    per_iteration = seconds_per_iteration or DECONVOLUTION_SECONDS * n_elements
    return Estimate(4.0 * DECONVOLUTION_ARRAYS * n_elements, n_iter * per_iteration)


def tomography(
    n_angles: int, slice_pixels: int, n_slices: int, n_iter: float, seconds_per_iteration: float | None = None,
    *, method: str = "fbp", coarse: bool = False, workers: int | None = None, data_elements: int = 0,
) -> Estimate:
    """Forecast a reconstruction streamed in lockstep (``reconstruct_iter``) of ``n_slices`` slices of
    ``slice_pixels`` pixels from ``n_angles`` angles.

    Parameters
    ----------
    n_angles, slice_pixels, n_slices : int
        The geometry.
    n_iter : float
        Iterations at full resolution (``problems.tomography_methods.run_cost``).
    seconds_per_iteration : float, optional
        A measured cost of one iteration, replacing the modelled one.
    method : str
        The method's table name (``MethodSpec.name``: ``"pdhg-tv"`` for ``"tv"``); ``"fbp"`` (the
        default) for a projection or a direct method.
    coarse : bool
        Whether the coarse-to-fine levels' projectors are built too.
    workers : int, optional
        Chunks advanced at once, one torch thread each (default: :func:`chunk_workers`).
    data_elements : int
        Values of the data the run holds a float32 copy of (the widget's prepared series).
    """
    volume = 4.0 * slice_pixels * n_slices
    state = SOLVER_STATE_ARRAYS.get(method, SOLVER_STATE_ARRAYS["pdhg-tv"])
    memory = (state + LOCKSTEP_COPIES) * volume + _projector_bytes(n_angles, slice_pixels, coarse) + 4.0 * data_elements
    per_iteration = seconds_per_iteration or _lockstep_iteration_seconds(method, n_angles, slice_pixels, n_slices,
                                                                         workers)
    return Estimate(memory, _build_seconds(n_angles, slice_pixels, coarse) + n_iter * per_iteration)


def _lockstep_iteration_seconds(method: str, n_angles: int, slice_pixels: int, n_slices: int,
                                workers: int | None) -> float:
    """Seconds of a full-resolution lockstep iteration of every slice, the chunks advanced by ``workers``
    (default: :func:`chunk_workers`) side by side, frames included."""
    workers = chunk_workers() if workers is None else workers
    return LOCKSTEP_FRAME_OVERHEAD * _iteration_seconds(method, n_angles, slice_pixels, n_slices) / _speed(method,
                                                                                                         workers)


def _speed(method: str, workers: int) -> float:
    """How many chunks' worth of work ``workers`` side by side do at once (:data:`WORKER_EFFICIENCY`)."""
    return workers * (1.0 if workers == 1 else WORKER_EFFICIENCY.get(method, WORKER_EFFICIENCY["pdhg-tv"]))


def tomography_slabs(
    n_angles: int, slice_pixels: int, n_slices: int, n_iter: float, *, method: str, chunk_slices: int,
    workers: int, coarse: bool = False, data_elements: int = 0,
) -> Estimate:
    """Forecast a reconstruction slab by slab (``problems.chunks.solve_in_chunks_iter``, as
    ``reconstruct`` does): the output volume, the projector and ``workers`` chunks' solver state in
    memory; the projector's build and the iterations shared by the workers in time.

    Parameters
    ----------
    n_angles, slice_pixels, n_slices, n_iter, method, coarse, data_elements
        As for :func:`tomography`.
    chunk_slices : int
        Slices per chunk (``problems.chunks.Plan.chunk_slices``).
    workers : int
        Chunks solved at once, one torch thread each.
    """
    running = min(workers, -(-n_slices // chunk_slices))
    chunk = 4.0 * slice_pixels * min(chunk_slices, n_slices)
    memory = 4.0 * (slice_pixels * n_slices + data_elements) + _projector_bytes(n_angles, slice_pixels, coarse) \
        + running * SOLVER_PEAK_ARRAYS.get(method, SOLVER_PEAK_ARRAYS["pdhg-tv"]) * chunk
    seconds = n_iter * _iteration_seconds(method, n_angles, slice_pixels, n_slices) / _speed(method, running)
    return Estimate(memory, _build_seconds(n_angles, slice_pixels, coarse) + seconds)


def projector_nonzeros(n_angles: int, slice_pixels: int) -> float:
    """Non-zeros of the projector of one slice of ``slice_pixels`` pixels at ``n_angles`` angles."""
    return PROJECTOR_NNZ_PER_PIXEL_ANGLE * n_angles * slice_pixels


def _projector_bytes(n_angles: int, slice_pixels: int, coarse: bool) -> float:
    return PROJECTOR_BYTES_PER_NNZ * projector_nonzeros(n_angles, slice_pixels) * (1.0 + COARSE_PROJECTORS * coarse)


def _build_seconds(n_angles: int, slice_pixels: int, coarse: bool) -> float:
    nonzeros = projector_nonzeros(n_angles, slice_pixels) * (1.0 + COARSE_PROJECTORS * coarse)
    return PROJECTOR_BUILD_SECONDS_PER_NNZ * nonzeros


def _iteration_seconds(method: str, n_angles: int, slice_pixels: int, n_slices: int) -> float:
    """One thread's seconds for a full-resolution iteration of every slice."""
    elementwise = ELEMENTWISE_SECONDS_PER_PIXEL.get(method, ELEMENTWISE_SECONDS_PER_PIXEL["pdhg-tv"])
    per_slice = TOMOGRAPHY_SECONDS_PER_NNZ * projector_nonzeros(n_angles, slice_pixels) + elementwise * slice_pixels
    return n_slices * per_slice


@dataclass(frozen=True)
class TomographyForecast:
    """The forecast of a full reconstruction of a tilt series, and the way the widget runs it.

    Attributes
    ----------
    by_slabs : bool
        Whether *Run* goes slab by slab (:func:`tomography_slabs`) rather than in lockstep.
    estimate : Estimate
        The forecast of the way chosen.
    lockstep, slabs : Estimate
        The forecasts of both ways.
    n_slabs, slab_slices, workers : int
        Slabs (chunks of slices perpendicular to the tilt axis), slices in each, and slabs solved at once.
    """

    by_slabs: bool
    estimate: Estimate
    lockstep: Estimate
    slabs: Estimate
    n_slabs: int
    slab_slices: int
    workers: int


def tomography_forecast(
    n_angles: int, rows: int, cols: int, method: str, n_iter: int, *, tilt_axis: str = "y",
    thickness: int | None = None, warm_start: bool = False, available: float | None = None,
    workers: int | None = None,
) -> TomographyForecast:
    """The *Tomography* widget's forecast of *Run* on a tilt series ``(n_angles, rows, cols)``, and its
    choice between streaming it in lockstep and solving it slab by slab; needs no viewer.

    Slab by slab when the lockstep stream would need more than :data:`MEMORY_SHARE` of the available
    memory, or when one of its iterations of the whole volume would take longer than
    :data:`SLAB_ITERATION_SECONDS`.

    Parameters
    ----------
    n_angles, rows, cols : int
        The tilt series' shape.
    method : str
        A reconstruction method (``problems.tomography.METHODS``).
    n_iter : int
        Its iterations (``tv`` on a tilt series counts as fewer, solved coarse to fine: ``run_cost``).
    tilt_axis : {"y", "x"}
        The image axis the specimen is tilted about.
    thickness : int, optional
        Slices of the volume along z (default: the detector width).
    warm_start : bool
        Whether the run starts from a previous result (then at full resolution only).
    available : float, optional
        Bytes of memory available (default: :func:`available_memory`, now).
    workers : int, optional
        Chunks (slabs) computed at once, in lockstep or slab by slab (default: :func:`chunk_workers`).

    Returns
    -------
    TomographyForecast
    """
    n_slices, n_detector = (rows, cols) if tilt_axis == "y" else (cols, rows)
    slice_pixels = (thickness or n_detector) * n_detector
    name = METHODS[method].name
    work = run_cost(method, n_iter, series=True, n_detector=n_detector, warm_start=warm_start)
    coarse = work != n_iter  # solved coarse to fine: the binned levels' projectors are built too
    workers = chunk_workers() if workers is None else workers
    size = chunk_slices(slice_pixels, n_angles * n_detector)
    data = n_angles * rows * cols  # the widget's prepared copy of the series
    lockstep = tomography(n_angles, slice_pixels, n_slices, work, method=name, coarse=coarse, workers=workers,
                          data_elements=data)
    slabs = tomography_slabs(n_angles, slice_pixels, n_slices, work, method=name, chunk_slices=size,
                             workers=workers, coarse=coarse, data_elements=data)
    available = available_memory() if available is None else available
    iteration = _lockstep_iteration_seconds(name, n_angles, slice_pixels, n_slices, workers)
    by_slabs = lockstep.memory > MEMORY_SHARE * available or iteration > SLAB_ITERATION_SECONDS
    return TomographyForecast(by_slabs, slabs if by_slabs else lockstep, lockstep, slabs, -(-n_slices // size),
                              size, workers)


def chunk_workers() -> int:
    """Chunks of slices computed at once by a tomography run, in lockstep or slab by slab: one per core.
    Each computes on one torch thread, so the GUI thread gets its turn without the spinning of a
    multi-threaded torch operation (which is why other solves leave a core free: ``solver_threads``)."""
    return os.cpu_count() or 1


def available_memory() -> int:
    """Bytes of memory available to a new run now."""
    return int(psutil.virtual_memory().available)


def verdict(estimate: Estimate) -> tuple[str, str] | None:
    """``("error", message)`` when the run cannot fit in memory, ``("warning", message)`` when it
    will take minutes, None when it is fine."""
    available = available_memory()
    if estimate.memory > MEMORY_SHARE * available:
        return (
            "error",
            f"this run needs {estimate.describe()}, but only {available / 2**30:.1f} GiB of memory is "
            "free: crop or bin the data, or use fewer slices",
        )
    if estimate.seconds > SLOW_RUN_SECONDS:
        return (
            "warning",
            f"this run will take {estimate.describe()}; it shows every iterate as it goes and Stop "
            "ends it at any time (fewer iterations or binned data make it faster)",
        )
    return None

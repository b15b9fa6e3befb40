"""One solve at a time in a worker thread: start, supersede, stop, and route frames to the GUI.

The worker is superqt's :class:`~superqt.utils.GeneratorWorker` (what ``napari.qt.threading``
wraps; napari's subclass only adds relaying errors as traceback notifications, and the widgets show
their own message instead). It drains :func:`~napari_invprob.napari.widgets._frames.frames` in a pool
thread and emits each frame through a queued Qt signal, so the slots below run on the GUI thread
and only assign. Stop is checked after every iterate.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from qtpy.QtCore import QTimer
from superqt.utils import GeneratorWorker

from ..._shared.device import torch_threads
from ...solvers.base import Iterate
from ._frames import FRAME_INTERVAL, Frame, Reference, frames


@dataclass
class Job:
    """A solve the runner can start.

    Attributes
    ----------
    iterates : callable
        Called in the worker thread; returns the solver's generator of iterates (so set-up work,
        e.g. building a projector, happens off the GUI thread too).
    reference : Reference, optional
        Ground truth for PSNR/SSIM.
    context : object
        Whatever the widget needs to route the frames (for the solver widgets a
        :class:`~napari_invprob.napari.widgets._base.Run`); opaque here.
    in_place : bool
        The iterates fill one array in place (see :func:`~napari_invprob.napari.widgets._frames.frames`).
    """

    iterates: Callable[[], Iterator[Iterate]]
    reference: Reference | None = None
    context: Any = None
    in_place: bool = False


def _ignore(*args) -> None:
    """A callback that does nothing."""


@dataclass
class Task:
    """A side computation the runner can start in place of a solve (an alignment, a choice of λ, a
    Fourier view), under the same one-at-a-time rule.

    Attributes
    ----------
    steps : callable
        A generator function, called in the worker thread with ``args``: its yields are progress
        messages, its return value is the result.
    args : tuple
        Its arguments.
    on_message, on_result, on_error : callable
        Called on the GUI thread with each message, the result (not when stopped) and an exception.
    on_done : callable
        Called on the GUI thread, without arguments, when the task has ended in any way.
    """

    steps: Callable[..., Iterator[Any]]
    args: tuple = ()
    on_message: Callable[[Any], None] = _ignore
    on_result: Callable[[Any], None] = _ignore
    on_error: Callable[[Exception], None] = _ignore
    on_done: Callable[[], None] = _ignore


class WorkError(Exception):
    """A ``RuntimeError`` raised by a solve or task (torch's errors, out of memory among them), passed on
    as this: superqt's worker takes a ``RuntimeError`` for a sign that the worker was deleted, and ends
    without ``errored`` or ``finished``, so the run would never end for the widget."""


def _runtime_errors_passed_on(steps: Callable[..., Iterator[Any]], *args) -> Iterator[Any]:
    """``steps(*args)``'s yields and return value, a ``RuntimeError`` raised as :class:`WorkError`."""
    try:
        return (yield from steps(*args))
    except RuntimeError as error:
        raise WorkError(str(error)) from error


def _solve(job: Job, min_interval: float, display_ready: threading.Event, stop: threading.Event) -> Iterator[Frame]:
    """The worker's generator: the job's iterates thinned to frames, one at a time to the GUI,
    ending after the iterate in progress once ``stop`` is set; the iterates' generator is closed at the
    end in any case, so its clean-up (e.g. the chunk engine's workers) runs here, at once."""
    iterates = job.iterates()
    try:
        for frame in frames(iterates, reference=job.reference, min_interval=min_interval,
                            ready=display_ready.is_set, should_stop=stop.is_set, in_place=job.in_place):
            display_ready.clear()
            yield frame
    finally:
        close = getattr(iterates, "close", None)
        if close is not None:
            close()


def solver_threads(available: int | None = None) -> int:
    """PyTorch threads for a worker: all cores but one, which stays free for the GUI thread.

    On a small machine this matters twice: the GUI keeps a core to paint on, and PyTorch's OpenMP
    threads do not fight the GUI thread for cores (oversubscribed, ADMM-TV on the lecture image ran
    up to 15x slower on 2 cores).
    """
    cores = available if available is not None else (os.cpu_count() or 1)
    return max(1, cores - 1)


class ClosingWorker(GeneratorWorker):
    """A generator worker that computes with :func:`solver_threads` PyTorch threads and closes its
    generator when it ends, also when stopped, so a stopped solver's ``finally`` clauses run and its
    arrays are freed in the worker thread, before the next run starts."""

    def work(self):
        # Process-wide in PyTorch (the GUI thread runs no PyTorch); torch_threads restores it, also when
        # runs of two widgets overlap.
        with torch_threads(solver_threads()):
            try:
                return super().work()
            finally:
                self._gen.close()


class _SolveWorker(ClosingWorker):
    """The worker of one job, with the two flags it shares with the GUI thread: ``display_ready``
    (the GUI can take the next frame) and ``stop_event`` (end after the iterate in progress)."""

    def __init__(self, job: Job, min_interval: float):
        display_ready, stop_event = threading.Event(), threading.Event()
        display_ready.set()
        super().__init__(_runtime_errors_passed_on, _solve, job, min_interval, display_ready, stop_event)
        self.display_ready, self.stop_event = display_ready, stop_event

    def quit(self) -> None:
        """Ask the worker to end: its solver stops after the iterate in progress (checked every
        iterate, not only between frames), also when napari quits all workers on exit."""
        self.stop_event.set()
        super().quit()


def _rest_then(event: threading.Event, busy: float) -> None:
    """Set ``event`` after ``busy`` seconds (at once when ``busy`` is below a millisecond)."""
    delay_ms = int(1000 * busy)
    if delay_ms < 1:
        event.set()
    else:
        QTimer.singleShot(delay_ms, event.set)


class SolveRunner:
    """Runs at most one :class:`Job` (a solve) or :class:`Task` at a time; a newer one supersedes
    (cancels) an older one. The callbacks below are the solves'; a task carries its own.

    Parameters
    ----------
    on_frame : callable(job, frame)
        Called on the GUI thread with every frame of the current job.
    on_done : callable(job, stopped)
        Called on the GUI thread when the current job ends; ``stopped`` is True when it was stopped
        or superseded before its last iteration.
    on_error : callable(job, exception)
        Called on the GUI thread when the job's solver raised.
    on_warning : callable(job, message), optional
        Called on the GUI thread with each warning the solver issued.
    min_interval : float
        Shortest time between two frames (see :func:`~napari_invprob.napari.widgets._frames.frames`).
    """

    def __init__(self, on_frame, on_done, on_error, on_warning=None, *, min_interval: float = FRAME_INTERVAL):
        self._on_frame = on_frame
        self._on_warning = on_warning
        self._on_done = on_done
        self._on_error = on_error
        self._min_interval = min_interval
        self._worker: GeneratorWorker | None = None
        self._job: Job | Task | None = None
        self._pending: tuple[GeneratorWorker, Job | Task] | None = None
        self._stop_requested_at: float | None = None
        #: Seconds from the last ``stop()`` to the end of the worker it stopped.
        self.last_stop_latency: float | None = None

    @property
    def running(self) -> bool:
        """Whether a job is running or waiting to start."""
        return self._worker is not None or self._pending is not None

    @property
    def worker(self) -> GeneratorWorker | None:
        """The worker of the newest job (running, or waiting for the previous one to end)."""
        if self._pending is not None:
            return self._pending[0]
        return self._worker

    def start(self, job: Job | Task) -> GeneratorWorker:
        """Start ``job``; a running job or task is stopped first and the new one starts when it has ended.

        Returns
        -------
        GeneratorWorker
            The new job's worker (not yet started while the previous one winds down).
        """
        if isinstance(job, Task):
            worker = ClosingWorker(_runtime_errors_passed_on, job.steps, *job.args)
            worker.yielded.connect(job.on_message)
            worker.returned.connect(job.on_result)
        else:
            worker = _SolveWorker(job, self._min_interval)
            worker.yielded.connect(lambda frame: self._frame(worker, frame))
        worker.errored.connect(lambda exc: self._error(worker, exc))
        worker.finished.connect(lambda: self._finished(worker))
        worker.warned.connect(lambda args: self._warned(worker, args))
        if self._worker is None:
            self._launch(worker, job)
        else:
            self._pending = (worker, job)
            self._worker.quit()
        return worker

    def stop(self) -> None:
        """Ask the running job to end after its current frame; a waiting job is dropped."""
        self._pending = None
        if self._worker is not None:
            self._stop_requested_at = time.perf_counter()
            self._worker.quit()

    def detach(self) -> None:
        """Stop and call back no more (the widget is gone)."""
        self._on_frame = self._on_done = self._on_error = lambda *args: None
        self._on_warning = None
        self.stop()

    def _launch(self, worker: GeneratorWorker, job: Job | Task) -> None:
        self._worker, self._job = worker, job
        self._stop_requested_at = None
        worker.start()

    def _frame(self, worker: _SolveWorker, frame: Frame) -> None:
        # A stopped worker's last frame still arrives after quit(): it is the newest estimate, keep it.
        started = time.perf_counter()
        if worker is self._worker:
            self._on_frame(self._job, frame)
        # Ready for the next frame once this one is painted (the zero timer fires after the paint
        # events it caused) and half as long again has passed: frames take at most 2/3 of the GUI's time.
        QTimer.singleShot(0, lambda: _rest_then(worker.display_ready, 0.5 * (time.perf_counter() - started)))

    def _error(self, worker: GeneratorWorker, exc: Exception) -> None:
        if worker is self._worker:
            if isinstance(self._job, Task):
                self._job.on_error(exc)
            else:
                self._on_error(self._job, exc)

    def _warned(self, worker: GeneratorWorker, showwarning_args: tuple) -> None:
        if worker is self._worker and self._on_warning is not None:
            self._on_warning(self._job, str(showwarning_args[0]))

    def _finished(self, worker: GeneratorWorker) -> None:
        if worker is not self._worker:
            return
        job, stopped = self._job, worker.abort_requested
        if self._stop_requested_at is not None:
            self.last_stop_latency = time.perf_counter() - self._stop_requested_at
        self._worker = self._job = None
        if isinstance(job, Task):
            job.on_done()
        else:
            self._on_done(job, stopped)
        if self._pending is not None:
            pending, self._pending = self._pending, None
            self._launch(*pending)

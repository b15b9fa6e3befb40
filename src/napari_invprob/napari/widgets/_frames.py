"""Turn a solver's stream of iterates into display frames (runs in the worker thread, no Qt).

A solver may yield hundreds of iterates a second; the canvas needs at most ~20. :func:`frames`
drains the solver and hands over a :class:`Frame` only when the previous one is at least
``min_interval`` seconds old, and always the last iterate. Each frame carries a detached CPU copy of
the estimate, the objective and residual of every iteration since the previous frame (so the
convergence plot misses none), quality scores against an optional reference, and a robust display range, all
computed here so that the GUI thread only assigns.

Stop is checked after every iterate: the newest iterate then becomes the last frame, which is what
*Stop* keeps.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, replace

import numpy as np

from ... import metrics
from ..._shared.device import to_numpy
from ...solvers.base import Iterate

#: At most one frame per this many seconds (20 canvas refreshes a second).
FRAME_INTERVAL = 0.05

#: Largest share of a run spent making frames, and again scoring SSIM (the solver waits meanwhile).
OVERHEAD_SHARE = 0.25
#: Seconds into a run before the first SSIM (a fast run is scored at its end only).
SSIM_DELAY = 0.5

#: Pixels sampled for the display range of big arrays (percentiles of a strided subsample).
_RANGE_SAMPLES = 1 << 18


@dataclass(frozen=True)
class Reference:
    """A ground truth to score iterates against (PSNR/SSIM).

    ``data_range`` None means the reference's own peak-to-peak range, computed in the worker.
    """

    image: np.ndarray
    data_range: float | None = None
    channel_axis: int | None = None


@dataclass(frozen=True)
class Frame:
    """What the GUI thread receives from the worker.

    Attributes
    ----------
    iteration : int
        Iterations completed when ``image`` was taken.
    image : numpy.ndarray
        Float32 copy of the estimate, owned by the frame.
    objectives, residuals, algorithm_residuals : tuple of (int, float)
        ``(iteration, value)`` of the objective, the data residual ``‖Hx − y‖`` and the method's own
        residual (:class:`~napari_invprob.solvers.base.Iterate`) for every iteration since the previous
        frame that reported one.
    psnr, ssim : float or None
        Scores of ``image`` against the reference, when one was given (SSIM only on some frames).
    display_range : (float, float)
        0.5 and 99.5 percentiles of ``image`` (contrast limits that ignore a few outliers).
    value_range : (float, float)
        Minimum and maximum of ``image``.
    elapsed : float
        Solver seconds when ``image`` was taken.
    """

    iteration: int
    image: np.ndarray
    objectives: tuple[tuple[int, float], ...]
    residuals: tuple[tuple[int, float], ...]
    psnr: float | None
    ssim: float | None
    display_range: tuple[float, float]
    value_range: tuple[float, float]
    elapsed: float
    algorithm_residuals: tuple[tuple[int, float], ...] = ()


def display_range(image: np.ndarray) -> tuple[float, float]:
    """Robust contrast limits of ``image``: its 0.5 and 99.5 percentiles on a strided subsample.

    Returns a range of non-zero width (``(v, v + 1)`` for a constant image).
    """
    low, high = (float(v) for v in np.percentile(_subsample(image), [0.5, 99.5]))
    if not high > low:
        high = low + 1.0
    return low, high


def _subsample(image: np.ndarray) -> np.ndarray:
    """At most about :data:`_RANGE_SAMPLES` values of ``image``, evenly strided."""
    flat = image.reshape(-1)
    return flat[::max(1, flat.size // _RANGE_SAMPLES)]


def _image(iterate: Iterate, *, in_place: bool) -> tuple[np.ndarray, tuple[float, float]]:
    """The estimate as a float32 array and its minimum and maximum, which are finite unless the method
    diverged (NaN and Inf reach them): a copy, or with ``in_place`` the iterate's own CPU array and the
    range of the subsample :func:`display_range` takes (a big volume is not scanned at every frame;
    the stream checks its parts itself)."""
    if in_place:
        image = iterate.x.numpy()
        sample = _subsample(image)
        value_range = (float(sample.min()), float(sample.max()))
    else:
        image = to_numpy(iterate.x)
        value_range = (float(image.min()), float(image.max()))
    if not np.all(np.isfinite(value_range)):
        raise ValueError(
            f"the estimate became NaN or Inf at iteration {iterate.iteration}: the method diverged; "
            "try a larger λ, fewer iterations or another method"
        )
    return image, value_range


def _wait_after(cost: float, min_interval: float) -> float:
    """Pause before the next frame so that making frames takes at most ``OVERHEAD_SHARE`` of the time."""
    return max(min_interval, cost * (1.0 - OVERHEAD_SHARE) / OVERHEAD_SHARE)


def frames(
    iterates: Iterable[Iterate],
    *,
    reference: Reference | None = None,
    min_interval: float = FRAME_INTERVAL,
    ready: Callable[[], bool] = lambda: True,
    should_stop: Callable[[], bool] = lambda: False,
    in_place: bool = False,
) -> Iterator[Frame]:
    """Thin a stream of iterates to at most one frame per ``min_interval`` seconds, plus the last.

    Making a frame (copy, display range, PSNR) and scoring SSIM cost time the solver waits for, so
    each is also spaced out to take at most ``OVERHEAD_SHARE`` of the run: SSIM of a big image comes
    less often than its frames (first after ``SSIM_DELAY``), and every frame and score is of the
    newest iterate.

    Parameters
    ----------
    iterates : iterable of Iterate
        A solver's generator.
    reference : Reference, optional
        Ground truth; frames then carry PSNR, some SSIM too (the last frame always both).
    min_interval : float
        Shortest time between two frames, in seconds (the time spent making a frame not counted).
    ready : callable
        Whether the consumer can take a frame now (back-pressure from the GUI: no frame is made
        while it is still busy with the previous one). The last frame is made regardless.
    should_stop : callable
        Checked after every iterate: when true, the newest iterate becomes the last frame (unscored,
        to end at once) and the stream ends, whether or not the consumer is ready.
    in_place : bool
        The iterates' estimate is one CPU float32 array filled in place (a volume solved slab by
        slab): frames carry that array itself, not a copy (a layer showing it shows it as it fills),
        with the value range of a subsample (the stream checks that its parts are finite), and an
        iterate with the iteration number of the newest frame makes no frame (nothing new to show;
        such iterates only let ``should_stop`` be checked).

    Yields
    ------
    Frame
        The first iterate, then the latest iterate whenever the interval has passed, and always
        the final iterate.

    Raises
    ------
    ValueError
        If an iterate contains NaN or Inf (the solver diverged); the frames before it were sound.
    """
    if reference is not None:  # converted once here, not at every score
        image = np.asarray(reference.image, dtype=np.float64)
        data_range = reference.data_range if reference.data_range is not None else float(np.ptp(image)) or 1.0
        reference = replace(reference, image=image, data_range=data_range)
    objectives: list[tuple[int, float]] = []
    residuals: list[tuple[int, float]] = []
    algorithm_residuals: list[tuple[int, float]] = []
    pending: Iterate | None = None
    next_frame = 0.0
    next_ssim = time.perf_counter() + SSIM_DELAY

    def frame(iterate: Iterate, *, ssim_due: bool) -> Frame:
        nonlocal next_frame, next_ssim
        started = time.perf_counter()
        image, value_range = _image(iterate, in_place=in_place)
        low_high = display_range(image)
        psnr = ssim = None
        if reference is not None:
            psnr = metrics.psnr(reference.image, image, data_range=reference.data_range)
        framed = time.perf_counter()
        if reference is not None and ssim_due:
            ssim = metrics.ssim(
                reference.image, image, data_range=reference.data_range, channel_axis=reference.channel_axis
            )
            next_ssim = time.perf_counter() + _wait_after(time.perf_counter() - framed, min_interval)
        next_frame = time.perf_counter() + _wait_after(framed - started, min_interval)
        return Frame(iterate.iteration, image, tuple(objectives), tuple(residuals), psnr, ssim, low_high, value_range,
                     iterate.elapsed, tuple(algorithm_residuals))

    made = None
    for iterate in iterates:
        if iterate.objective is not None:
            objectives.append((iterate.iteration, float(iterate.objective)))
        if iterate.residual is not None:
            residuals.append((iterate.iteration, float(iterate.residual)))
        if iterate.algorithm_residual is not None:
            algorithm_residuals.append((iterate.iteration, float(iterate.algorithm_residual)))
        new = not (in_place and made is not None and iterate.iteration == made.iteration)
        if new:
            pending = iterate
        if should_stop():
            yield frame(iterate, ssim_due=False)
            return
        now = time.perf_counter()
        if new and now >= next_frame and ready():
            made = frame(iterate, ssim_due=now >= next_ssim)
            objectives, residuals, algorithm_residuals, pending = [], [], [], None
            yield made
    if pending is not None or (made is not None and reference is not None and made.ssim is None):
        yield frame(pending or iterate, ssim_due=True)

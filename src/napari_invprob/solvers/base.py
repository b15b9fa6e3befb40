"""What every solver yields, and how to consume a stream of iterates.

A solver is a generator: it yields an :class:`Iterate` after every step (direct methods yield once)
and may be abandoned between any two yields. Draining it gives the answer; the GUI, the command
line's progress bar and the tests all consume the same stream.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

import torch


@dataclass(frozen=True)
class Iterate:
    """One step of a solver.

    Attributes
    ----------
    iteration : int
        Number of completed iterations (1 after the first step; direct methods yield 1).
    x : torch.Tensor
        The current estimate. Consumers that keep it beyond the next step must copy it (``x.clone()``).
    objective : float or None
        Value of the objective the method minimises, when it is cheap to evaluate.
    residual : float or None
        The data residual ``‖Hx − y‖₂`` of this ``x``, for the ``H`` and ``y`` the solver was given,
        when the method has it at no extra cost; None otherwise. The problems' front doors
        (``deconvolve_iter``, ``reconstruct_iter``) always fill it in, in the user's units.
    elapsed : float
        Seconds since the solver started.
    algorithm_residual : float or None
        The method's own measure of convergence when it has one that is not the data residual: ADMM's
        primal residual ``‖Kz − x‖``, the residual of the linear system conjugate gradients solve.
    """

    iteration: int
    x: torch.Tensor
    objective: float | None
    residual: float | None
    elapsed: float
    algorithm_residual: float | None = None


class Clock:
    """Seconds since construction, for the ``elapsed`` field of iterates."""

    def __init__(self):
        self._start = time.perf_counter()

    def __call__(self) -> float:
        return time.perf_counter() - self._start


def last(iterates: Iterable[Iterate]) -> Iterate:
    """Drain a stream of iterates and return the final one.

    Raises
    ------
    ValueError
        If the stream yields nothing.
    """
    final = None
    for final in iterates:
        pass
    if final is None:
        raise ValueError("the solver yielded no iterate")
    return final


def finite_iterates(iterates: Iterable[Iterate], *, what: str) -> Iterator[Iterate]:
    """Pass a stream of iterates through, stopping it with an error at the first non-finite estimate.

    A solver pushed out of float32's range (a huge λ or step, data near 3.4e38) or out of its stable
    range turns the estimate into NaN or Inf; this reports it where it happens instead of returning it.

    Parameters
    ----------
    iterates : iterable of Iterate
        The stream to watch.
    what : str
        The run, as the message should name it (e.g. ``"deconvolution with method 'rl-tv' (λ = 10)"``).

    Yields
    ------
    Iterate
        The iterates of ``iterates``, unchanged.

    Raises
    ------
    ValueError
        At the first iterate whose estimate contains NaN or Inf, or when torch refuses a number that
        overflows float32 (``RuntimeError: value cannot be converted ... without overflow``).
    """
    advice = ("the numbers left float32's range (a λ, step or option far too large, or data values near "
              "3.4e38) or the method diverged; use a smaller λ or step, or rescale the data")
    stream = iter(iterates)
    while True:
        try:
            it = next(stream)
        except StopIteration:
            return
        except RuntimeError as error:
            if "overflow" not in str(error):
                raise
            raise ValueError(f"{what} failed: {advice}") from error
        # a finite sum proves every value finite (one cheap pass); an overflowing sum is checked in full
        if not (bool(torch.isfinite(it.x.sum())) or bool(torch.isfinite(it.x).all())):
            raise ValueError(f"{what} produced NaN or Inf at iteration {it.iteration}: {advice}")
        yield it


def iterate_count(iterates: Iterator[Iterate]) -> int:
    """Drain a stream and return how many iterates it yielded (for tests and benchmarks)."""
    return sum(1 for _ in iterates)


__all__ = ["Clock", "Iterate", "finite_iterates", "iterate_count", "last"]

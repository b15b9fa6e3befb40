"""The progress bar on stderr: it consumes the same stream of iterates as the GUI, or counts chunks."""

from __future__ import annotations

import sys
from collections.abc import Iterable

from ..solvers.base import Iterate
from .errors import raise_if_interrupted


def progress_bar(*, total: int, unit: str, desc: str, quiet: bool):
    """A tqdm bar on stderr (nothing at all with ``quiet``); every ``update`` first raises
    :class:`~napari_invprob.cli.errors.Interrupted` if SIGINT or SIGTERM arrived (see
    :func:`~napari_invprob.cli.errors.raise_if_interrupted`)."""
    from tqdm import tqdm

    class Bar(tqdm):
        def update(self, n=1):
            raise_if_interrupted()
            return super().update(n)

    return Bar(total=total, unit=unit, desc=desc, file=sys.stderr, disable=quiet, leave=False,
               dynamic_ncols=True)


def follow(iterates: Iterable[Iterate], *, total: int, desc: str, quiet: bool) -> Iterate:
    """Drain a solver's iterates, advancing a bar of ``total`` iterations; return the last iterate.

    Raises
    ------
    ValueError
        If the solver yields nothing.
    """
    final = None
    with progress_bar(total=total, unit="it", desc=desc, quiet=quiet) as bar:
        for final in iterates:
            bar.update(max(0, final.iteration - bar.n))
    if final is None:
        raise ValueError("the solver yielded no iterate")
    return final


class ChunkProgress:
    """``progress(done, total)`` callback for the distributed calls, drawn as a bar of chunks."""

    def __init__(self, *, desc: str, quiet: bool):
        self._desc = desc
        self._quiet = quiet
        self._bar = None

    def __call__(self, done: int, total: int) -> None:
        if self._bar is None:
            self._bar = progress_bar(total=total, unit="chunk", desc=self._desc, quiet=self._quiet)
        self._bar.update(max(0, done - self._bar.n))

    def close(self) -> None:
        if self._bar is not None:
            self._bar.close()

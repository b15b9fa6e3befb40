"""The command line's own errors: bad arguments or input (exit status 2), and interruption (130)."""

from __future__ import annotations


class CliError(Exception):
    """A problem with the user's arguments or files; ``main`` prints its message and exits with 2.

    ``prog`` names the (sub)command the message belongs to, when it is known where the error arises.
    """

    def __init__(self, message: str, *, prog: str | None = None):
        super().__init__(message)
        self.prog = prog


class Interrupted(BaseException):
    """SIGINT or SIGTERM, turned into an exception so that temporary files are removed on the way out."""


USAGE_ERROR = 2
INTERRUPTED = 130

_received: list[str] = []


def note_signal(name: str) -> None:
    """Remember that the signal ``name`` arrived (see :func:`raise_if_interrupted`)."""
    _received.append(name)


def forget_signals() -> None:
    """Start a run with no signal remembered."""
    _received.clear()


def raise_if_interrupted() -> None:
    """Raise :class:`Interrupted` if a signal arrived during this run.

    The signal handler raises at once, but Python swallows an exception raised while it runs a
    finaliser (``__del__``, a weakref callback, the garbage collector: "Exception ignored in ..."), so
    a signal arriving then was lost and the solve went on. The progress bar calls this after every
    step, so such a signal still ends the run at the next one.
    """
    if _received:
        raise Interrupted(_received[0])

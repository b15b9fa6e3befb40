"""``napari-invprob``: the backend from the shell, on one machine or a dask cluster.

::

    napari-invprob deconvolve blurred.tif --psf-sigma 2 --psf-size 15 --out restored.tif
    napari-invprob reconstruct series.mrc --method sirt --n-iter 20 --out vol.mrc
    napari-invprob reconstruct series.mrc --method sirt --scheduler local:2 --out vol.mrc
    napari-invprob align raw.st --out aligned.mrc
    napari-invprob simulate project volume.mrc --angle-range -70 70 --n-angles 50 --out series.mrc
    napari-invprob denoise noisy.tif --out denoised.tif
    napari-invprob deskew raw.tif --angle 30 --step 0.4 --pixel-size 0.104 --out deskewed.tif
    napari-invprob demo --out-dir demo

Exit status: 0 on success; 2 for bad arguments or input (one line on stderr naming the problem, the
traceback only with ``--debug``); 130 when interrupted (Ctrl-C or SIGTERM); 1 for an unexpected error.
No output is ever half-written: results go to a temporary file renamed into place on success, an
existing output is kept unless ``--overwrite`` is given, and an input is never an output.
"""

from __future__ import annotations

import contextlib
import errno
import os
import signal
import sys
import warnings

from .errors import INTERRUPTED, USAGE_ERROR, CliError, Interrupted, forget_signals, note_signal

#: Exceptions that mean "the user's arguments or files are wrong" (exit status 2).
USER_ERRORS = (CliError, ValueError, TypeError, FileNotFoundError, FileExistsError, IsADirectoryError,
               NotADirectoryError, PermissionError, ConnectionError)
#: Other ``OSError`` numbers that are about the user's files, not a bug (exit status 2): a name too long,
#: a read-only file system, a full disk, a symlink loop.
USER_ERRNOS = (errno.ENAMETOOLONG, errno.EROFS, errno.ENOSPC, errno.EDQUOT, errno.ELOOP, errno.EACCES)


def _terminate(signum, frame):
    name = signal.Signals(signum).name
    note_signal(name)
    raise Interrupted(name)


@contextlib.contextmanager
def _one_line_warnings(prog: str):
    """Show warnings (e.g. a permissively read MRC header) as one line each on stderr."""

    def show(message, category, filename, lineno, file=None, line=None):
        print(f"{prog}: warning: {message}", file=sys.stderr)

    with warnings.catch_warnings():
        warnings.showwarning = show
        yield


def _debug_requested(argv) -> bool:
    return "--debug" in argv


def main(argv=None) -> int:
    """Run the ``napari-invprob`` command line; return the exit status.

    Parameters
    ----------
    argv : list of str or None
        Arguments without the program name; None reads ``sys.argv[1:]``.
    """
    argv = list(sys.argv[1:] if argv is None else argv)
    prog = "napari-invprob"
    debug = _debug_requested(argv)
    if not debug:
        # dask reads its configuration from the environment, here and in the worker processes it spawns
        os.environ.setdefault("DASK_LOGGING__DISTRIBUTED", "error")
    forget_signals()
    previous = ({sig: signal.signal(sig, _terminate) for sig in (signal.SIGINT, signal.SIGTERM)}
                if _in_main_thread() else {})
    try:
        with _one_line_warnings(prog):
            from ._commands import COMMANDS
            from ._inputs import check_input_paths
            from ._parser import build_parser

            args = build_parser().parse_args(argv)
            prog = f"napari-invprob {args.command}"
            _check_device(args)
            check_input_paths(args)
            summary = COMMANDS[args.command](args)
    except USER_ERRORS as error:
        if debug:
            raise
        print(f"{getattr(error, 'prog', None) or prog}: error: {_one_line(error)}", file=sys.stderr)
        return USAGE_ERROR
    except OSError as error:
        if debug:
            raise
        if error.errno not in USER_ERRNOS:
            print(f"{prog}: internal error: {type(error).__name__}: {_one_line(error)} (rerun with --debug for "
                  "the traceback)", file=sys.stderr)
            return 1
        print(f"{prog}: error: {_one_line(error)}", file=sys.stderr)
        return USAGE_ERROR
    except (KeyboardInterrupt, Interrupted):
        if debug:
            raise
        print(f"{prog}: interrupted; no output was written or replaced", file=sys.stderr)
        return INTERRUPTED
    except Exception as error:  # an unexpected failure: one line, the traceback on request
        if debug:
            raise
        print(f"{prog}: internal error: {type(error).__name__}: {_one_line(error)} (rerun with --debug for "
              "the traceback)", file=sys.stderr)
        return 1
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    if args.json:
        from ._output import json_text

        print(json_text(summary))
    elif not args.quiet and args.command != "demo":
        print(f"wrote {summary['output']} ({'x'.join(map(str, summary['shape']))}) in {summary['elapsed_s']:.2f} s"
              + (f", PSNR {summary['psnr_db']:.2f} dB" if "psnr_db" in summary else ""))
    return 0


def _one_line(error: BaseException) -> str:
    text = str(error) or type(error).__name__
    if isinstance(error, KeyError):  # KeyError quotes its message
        text = text.strip("'\"")
    return " ".join(text.split())


def _check_device(args) -> None:
    """Refuse a ``--device`` this machine does not have before any work (not with ``--scheduler``:
    the workers may have devices this machine lacks)."""
    device = getattr(args, "device", None)
    if device is not None and getattr(args, "scheduler", None) is None:
        from .._shared.device import resolve_device

        resolve_device(device)


def _in_main_thread() -> bool:
    import threading

    return threading.current_thread() is threading.main_thread()


__all__ = ["main"]

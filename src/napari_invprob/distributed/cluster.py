"""The cluster: which one ``scheduler`` names, checked before any work, a client for a ``with`` block, and
the pieces of a job mapped onto it as dask tasks."""

from __future__ import annotations

import concurrent.futures
import contextlib
import math
import os
import re
from collections.abc import Callable, Iterable, Iterator

import numpy as np

Progress = Callable[[int, int], None]

_LOCAL = re.compile(r"local:(\d+)")
_ADDRESS = re.compile(r"(tcp|tls|ucx|inproc|ws|wss)://\S+")
# host and optional port of a tcp/tls/ws/wss address (an IPv6 host in brackets)
_HOST_PORT = re.compile(r"(?P<host>\[[^\]]*\]|[^:\[\]]+)(?::(?P<port>.*))?")
#: Most local worker processes per core that ``local:N`` accepts (but always up to
#: :data:`MAX_WORKERS_ANYWHERE`): more only compete for the cores, and each holds its own copy of the
#: projector; for more, start a cluster and pass its address.
MAX_WORKERS_PER_CORE = 4
MAX_WORKERS_ANYWHERE = 16
#: Seconds a scheduler address gets to accept a connection and answer dask's handshake.
CONNECT_TIMEOUT_S = 5.0
#: The port of an address that names none (dask's).
DEFAULT_SCHEDULER_PORT = 8786
# Unset dask's MALLOC_TRIM_THRESHOLD_ for local workers (see open_client).
_WORKER_ENVIRONMENT = {"distributed.nanny.pre-spawn-environ.MALLOC_TRIM_THRESHOLD_": None}



def check_scheduler(scheduler) -> None:
    """Raise a specific ``ValueError``/``TypeError`` unless ``scheduler`` names a usable cluster.

    Parameters
    ----------
    scheduler : str or distributed.Client
        ``"local:N"`` (N worker processes, at least 1, at most :data:`MAX_WORKERS_PER_CORE` per core
        or :data:`MAX_WORKERS_ANYWHERE`, whichever is more), a scheduler address (``tcp://host:port`` with a port from 1 to 65535, also
        ``tls://``, ``ucx://``, ``inproc://``, ``ws://``, ``wss://``), or a ``distributed.Client``.
    """
    if isinstance(scheduler, str):
        local = _LOCAL.fullmatch(scheduler)
        if local:
            workers = int(local.group(1))
            most = max(MAX_WORKERS_ANYWHERE, MAX_WORKERS_PER_CORE * _cores())
            if workers < 1:
                raise ValueError(f"scheduler {scheduler!r} asks for no workers; use local:N with N >= 1")
            if workers > most:
                raise ValueError(
                    f"scheduler {scheduler!r} asks for {workers} worker processes on a machine with {_cores()} "
                    f"cores; use at most local:{most}, or start a cluster (dask scheduler, dask worker) and "
                    "pass its address"
                )
            return
        if _ADDRESS.fullmatch(scheduler):
            _check_port(scheduler)
            return
        raise ValueError(
            f"scheduler {scheduler!r} is neither local:N (N worker processes) nor an address such as "
            "tcp://host:8786"
        )
    from distributed import Client

    if not isinstance(scheduler, Client):
        raise TypeError(
            f"scheduler must be 'local:N', a scheduler address or a distributed.Client, "
            f"got {type(scheduler).__name__}"
        )


@contextlib.contextmanager
def open_client(scheduler) -> Iterator:
    """Connect to the cluster ``scheduler`` names, for the duration of a ``with`` block.

    ``"local:N"`` starts a :class:`distributed.LocalCluster` with N worker processes of one thread each
    (no dashboard) and shuts it down on exit; an address connects a client and closes it on exit (an
    address where nothing listens, or whose server does not complete dask's handshake within
    :data:`CONNECT_TIMEOUT_S` seconds, raises ``ConnectionError``); a client passed in is yielded
    unchanged and left open.

    The local workers are started without dask's default ``MALLOC_TRIM_THRESHOLD_=65536``: with it,
    glibc hands every freed image-sized buffer back to the operating system at once, and our solvers,
    which allocate and free such tensors every iteration, ran 4x slower in a worker than in the main
    process (ADMM-TV on a 694x694 tile: 2.7 s against 0.63 s). For a cluster of your own, set
    ``distributed.nanny.pre-spawn-environ.MALLOC_TRIM_THRESHOLD_: null`` in its dask configuration.
    """
    check_scheduler(scheduler)
    import dask
    from distributed import Client, LocalCluster

    if isinstance(scheduler, Client):
        yield scheduler
        return
    local = _LOCAL.fullmatch(scheduler)
    if local:
        with dask.config.set(_WORKER_ENVIRONMENT), LocalCluster(
            n_workers=int(local.group(1)),
            threads_per_worker=1,
            processes=True,
            dashboard_address=None,
        ) as cluster, Client(cluster) as client:
            yield client
    else:
        _check_reachable(scheduler)
        try:
            client = Client(scheduler, timeout=CONNECT_TIMEOUT_S)
        except OSError as error:
            raise ConnectionError(f"cannot reach the dask scheduler at {scheduler}: {error}") from error
        with client:
            yield client


def _cores() -> int:
    """The cores this process may run on."""
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


def _check_port(address: str) -> None:
    """Refuse a ``tcp``/``tls``/``ws``/``wss`` address whose port is not a number from 1 to 65535."""
    scheme, _, location = address.partition("://")
    parts = _HOST_PORT.fullmatch(location)
    if scheme not in ("tcp", "tls", "ws", "wss") or parts is None or parts.group("port") is None:
        return
    port = parts.group("port")
    if not (port.isdigit() and 1 <= int(port) <= 65535):
        raise ValueError(f"scheduler {address!r} has port {port!r}; a port is a number from 1 to 65535")


def _check_reachable(address: str) -> None:
    """Connect to ``address`` and complete dask's handshake within :data:`CONNECT_TIMEOUT_S`.

    distributed waits for the handshake without a time limit (a server that accepts the connection
    but never answers, such as a web server, hangs the client) and reads whatever a non-dask server
    sends as a message length (a banner asks for exabytes); both become a ``ConnectionError`` here.
    The check runs in its own thread and event loop, so it works inside a running loop (Jupyter).
    """
    import asyncio
    import socket

    from distributed.comm import connect

    scheme, _, location = address.partition("://")
    parts = _HOST_PORT.fullmatch(location)
    if scheme in ("tcp", "tls", "ws", "wss") and parts is not None:
        # a plain connection first: a refused port or an unknown host is known at once (dask retries
        # until its timeout)
        host, port = parts.group("host").strip("[]"), int(parts.group("port") or DEFAULT_SCHEDULER_PORT)
        try:
            socket.create_connection((host, port), timeout=CONNECT_TIMEOUT_S).close()
        except ConnectionRefusedError:
            raise ConnectionError(f"cannot reach the dask scheduler at {address}: connection refused (nothing "
                                  f"listens on port {port} of {host}; is the scheduler running?)") from None
        except socket.gaierror:
            raise ConnectionError(f"cannot reach the dask scheduler at {address}: unknown host {host!r}") from None
        except OSError as error:
            raise ConnectionError(f"cannot reach the dask scheduler at {address}: {_short(error)}") from None

    async def handshake():
        comm = await asyncio.wait_for(connect(address, timeout=CONNECT_TIMEOUT_S), CONNECT_TIMEOUT_S)
        await comm.close()

    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        future = pool.submit(asyncio.run, handshake())
        try:
            future.result()
        except (asyncio.TimeoutError, concurrent.futures.TimeoutError):
            raise ConnectionError(
                f"cannot reach the dask scheduler at {address}: no dask handshake within {CONNECT_TIMEOUT_S:g} s "
                "(is it a dask scheduler, and is the port right?)"
            ) from None
        except OSError as error:
            raise ConnectionError(f"cannot reach the dask scheduler at {address}: {_short(error)}") from None
        except Exception:  # noqa: BLE001 - whatever the server sent, it is not a dask scheduler
            raise ConnectionError(
                f"cannot reach the dask scheduler at {address}: the server there answered, but not as a dask "
                "scheduler (is the port right?)"
            ) from None


def _short(error: BaseException) -> str:
    text = " ".join(str(error).split()) or type(error).__name__
    return text if len(text) <= 160 else text[:157] + "..."


def _worker_count(client) -> int:
    return max(1, len(client.scheduler_info().get("workers", {})))


def map_pieces(client, func: Callable, pieces: Iterable[tuple], *, total: int, retries: int = 2,
               progress: Progress | None = None) -> Iterator[tuple[int, object]]:
    """Run ``func(*piece)`` as one dask task per piece; yield ``(index, result)`` as tasks finish.

    Pieces are drawn from ``pieces`` only as tasks are submitted, and at most two tasks per worker are
    submitted ahead, so only that many pieces exist at a time beyond the caller's data. A failing task is retried ``retries`` times before its exception is raised here;
    when the consumer stops early or a task fails for good, the remaining tasks are cancelled.

    Parameters
    ----------
    client : distributed.Client
    func : callable
        A module-level function (workers import it by name).
    pieces : iterable of tuple
        Positional arguments of each task (a generator, so pieces are made when needed).
    total : int
        Number of pieces.
    retries : int
        How many times dask re-runs a failed task.
    progress : callable or None
        Called as ``progress(done, total)`` before the first task and after each finished one.
    """
    from distributed import as_completed

    window = 2 * _worker_count(client)
    numbered = enumerate(pieces)
    index_of = {}
    running = as_completed()

    def submit_next():
        item = next(numbered, None)
        if item is not None:
            future = client.submit(func, *item[1], retries=retries, pure=False)
            index_of[future.key] = item[0], future
            running.add(future)

    done = 0
    if progress is not None:
        progress(0, total)
    try:
        for _ in range(window):
            submit_next()
        for future in running:
            result = future.result()
            index = index_of.pop(future.key)[0]
            done += 1
            if progress is not None:
                progress(done, total)
            submit_next()
            yield index, result
    finally:
        if index_of:
            client.cancel([future for _, future in index_of.values()])


def _check_retries(retries) -> None:
    if isinstance(retries, bool) or not isinstance(retries, int) or retries < 0:
        raise ValueError(f"retries must be a non-negative integer, got {retries!r}")


def aligned_chunks(n: int, size: int, *, join_short: bool = True) -> list[slice]:
    """Split ``range(n)`` at the multiples of ``size`` (so every piece is whole chunks of ``size``); with
    ``join_short`` a last piece shorter than ``size / 2`` joins the one before it (no tiny piece)."""
    if n < 1 or size < 1:
        raise ValueError(f"cannot split {n} pixels into pieces of {size}")
    starts = list(range(0, n, size))
    if join_short and len(starts) > 1 and n - starts[-1] < size / 2:
        starts.pop()
    return [slice(a, b) for a, b in zip(starts, starts[1:] + [n])]


def slice_chunks(n: int, chunk: int) -> list[slice]:
    """Split ``range(n)`` into consecutive slices of at most ``chunk`` items, sizes as equal as possible."""
    if n < 1 or chunk < 1:
        raise ValueError(f"cannot split {n} slices into chunks of {chunk}")
    count = math.ceil(n / chunk)
    bounds = np.linspace(0, n, count + 1).round().astype(int)
    return [slice(int(a), int(b)) for a, b in zip(bounds[:-1], bounds[1:])]

"""Scale-out on dask.distributed: a tilt series in chunks of slices, a big deconvolution in tiles.

Two calls mirror the single-process ones and take the same arguments, plus ``scheduler=``:

- :func:`reconstruct_distributed` splits a parallel-beam tilt series into chunks of slices along the
  tilt axis. Slices are independent problems, so every chunk is one task running
  :func:`napari_invprob.reconstruct` on its slices, and the stitched volume equals the single-process
  result to float32 precision.
- :func:`deconvolve_distributed` splits a large 2D/3D (or multi-channel) image into tiles, each extended
  by an overlap (a halo) derived from the PSF size and the iteration count. Every tile is one task running
  :func:`napari_invprob.deconvolve`; only the tile's core is kept, so each output pixel comes from exactly
  one tile and the mosaic has no seams. The halo absorbs the tile's own boundary effects; the result is
  within a small tolerance of the single-process one (see :func:`default_overlap`).

``scheduler`` is one of

- ``"local:N"``: a :class:`distributed.LocalCluster` of N worker processes with one thread each, started
  for the call and closed after it;
- a scheduler address such as ``"tcp://10.0.0.5:8786"``: a running cluster (``dask scheduler`` on a head
  node, dask-jobqueue, dask-kubernetes, ...);
- a :class:`distributed.Client`, used as it is and left open.

Every task receives only its own piece of data, so the memory a worker needs is bounded by the chunk (or
tile) size, not by the data set: about ``(n_angles + thickness) × chunk_slices × width`` floats plus the
solver's few working copies of the chunk. The client keeps at most two pieces per worker in flight. A
task that fails, or whose worker dies, is run again by dask up to ``retries`` times (a dead worker's task is
rescheduled by the scheduler as well); the input data travel inside the task, so a retry never depends on a
lost worker.
"""

from __future__ import annotations

import concurrent.futures
import contextlib
import math
import os
import re
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass

import numpy as np

from .preparation import prepare

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

DEFAULT_CHUNK_BYTES = 64 * 2**20
# Unset dask's MALLOC_TRIM_THRESHOLD_ for local workers (see open_client).
_WORKER_ENVIRONMENT = {"distributed.nanny.pre-spawn-environ.MALLOC_TRIM_THRESHOLD_": None}
DEFAULT_TILE_2D = 512
DEFAULT_TILE_3D = 128


# --------------------------------------------------------------------------------------------- cluster


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


# ------------------------------------------------------------------------------------------ tomography


def _check_retries(retries) -> None:
    if isinstance(retries, bool) or not isinstance(retries, int) or retries < 0:
        raise ValueError(f"retries must be a non-negative integer, got {retries!r}")


def slice_chunks(n: int, chunk: int) -> list[slice]:
    """Split ``range(n)`` into consecutive slices of at most ``chunk`` items, sizes as equal as possible."""
    if n < 1 or chunk < 1:
        raise ValueError(f"cannot split {n} slices into chunks of {chunk}")
    count = math.ceil(n / chunk)
    bounds = np.linspace(0, n, count + 1).round().astype(int)
    return [slice(int(a), int(b)) for a, b in zip(bounds[:-1], bounds[1:])]


def default_chunk_slices(shape: tuple[int, ...], n_workers: int, *,
                         max_bytes: int = DEFAULT_CHUNK_BYTES) -> int:
    """Slices per chunk for a tilt series of ``shape`` ``(n_angles, n_slices, width)``.

    At least four chunks per worker (so a slow or restarted worker does not hold up the others), and no
    chunk larger than ``max_bytes`` of float32 input.
    """
    n_angles, n_slices, width = shape
    by_memory = max(1, max_bytes // (4 * n_angles * width))
    by_balance = max(1, math.ceil(n_slices / (4 * n_workers)))
    return int(min(by_memory, by_balance))


def _reconstruct_chunk(chunk: np.ndarray, angles: np.ndarray, tilt_axis: str, x0: np.ndarray | None,
                       options: dict) -> np.ndarray:
    """One task: reconstruct a chunk of slices with the single-process call."""
    from .problems.tomography import reconstruct

    volume = reconstruct(chunk, angles, tilt_axis=tilt_axis, x0=x0, **options)
    return np.asarray(volume, dtype=np.float32)


def reconstruct_distributed(data, angles, *, scheduler, chunk_slices: int | None = None,
                            retries: int = 2, progress: Progress | None = None, tilt_axis: str = "y",
                            x0=None, **options) -> np.ndarray:
    """Reconstruct a tilt series on a dask cluster, one task per chunk of slices.

    Parameters
    ----------
    data : array-like
        Tilt series ``(n_angles, rows, cols)`` (a 2D sinogram ``(n_angles, n_detector)`` is one task).
    angles : array-like
        Tilt angles in degrees, one per projection.
    scheduler : str or distributed.Client
        ``"local:N"``, a scheduler address or a client (see the module docstring).
    chunk_slices : int or None
        Slices (along the tilt axis) per task; None: :func:`default_chunk_slices`. Each worker builds the
        projector of the geometry once and keeps it in the projector's cache; a projector larger than
        that cache (very wide series) is rebuilt by every task, so give such series one chunk per
        worker.
    retries : int
        How many times dask re-runs a failed chunk.
    progress : callable or None
        ``progress(done, total)`` after each finished chunk.
    tilt_axis : {"y", "x"}
        As in :func:`napari_invprob.reconstruct`: slices are the rows (``"y"``) or columns (``"x"``) of
        each projection.
    x0 : array-like or None
        Warm start in the output layout ``(z, y, x)``; it is chunked like the data.
    **options
        ``method``, ``lam``, ``n_iter``, ``thickness``, ``device`` and the method's options, passed to
        :func:`napari_invprob.reconstruct` unchanged. ``lam="auto"`` is refused: it would choose a
        different λ in every chunk (choose λ on the whole series first). ``background`` and
        ``contrast`` are resolved on the whole series here, before it is chunked
        (:func:`napari_invprob.preparation.prepare`).

    Returns
    -------
    numpy.ndarray
        The float32 volume ``(z, y, x)`` (or ``(n, n)`` image), equal to ``reconstruct(data, angles, ...)``
        to float32 precision.

    Raises
    ------
    ValueError
        If the data are not 2D/3D, the number of angles differs from the number of projections,
        ``tilt_axis`` is unknown, ``chunk_slices``/``retries`` are invalid, ``lam="auto"`` is given, or
        ``scheduler`` names no cluster; and anything :func:`napari_invprob.reconstruct` refuses (checked
        on a two-pixel stand-in before any cluster starts or task is sent).
    """
    from .problems.tilt_geometry import check_tilt_axis

    check_scheduler(scheduler)
    _check_retries(retries)
    data = np.asarray(data)
    angles = np.asarray(angles, dtype=np.float64).ravel()
    if data.ndim not in (2, 3):
        raise ValueError(f"data must be a sinogram (2D) or a tilt series (3D), got shape {data.shape}")
    if angles.size != data.shape[0]:
        raise ValueError(f"{angles.size} angles for {data.shape[0]} projections")
    check_tilt_axis(tilt_axis)
    if isinstance(options.get("lam"), str):
        raise ValueError(
            "lam='auto' chooses λ per chunk in a distributed run; choose λ on the whole series first "
            "(napari_invprob.tomo.cross_validate) and pass the number"
        )
    if chunk_slices is not None and (isinstance(chunk_slices, bool) or not isinstance(chunk_slices, int)
                                     or chunk_slices < 1):
        raise ValueError(f"chunk_slices must be a positive integer, got {chunk_slices!r}")
    # prepared once for the whole series: a chunk alone would estimate its own background
    data, _ = prepare(data, contrast=options.pop("contrast", "auto"), background=options.pop("background", "auto"))
    options = {**options, "background": "none", "contrast": "dark-field"}
    # everything else reconstruct refuses (method, options, λ, n_iter, thickness, angles; a warning for
    # radians) is refused by its front door on a two-pixel stand-in, before any cluster starts
    from .problems.tomography import reconstruct_iter

    reconstruct_iter(np.zeros((data.shape[0], 1, 2), np.float32), angles, **dict(options, device="cpu"))

    if data.ndim == 2:
        pieces = [(np.asarray(data, np.float32), angles, tilt_axis, x0, options)]
        with open_client(scheduler) as client:
            return dict(map_pieces(client, _reconstruct_chunk, pieces, total=1, retries=retries,
                                   progress=progress))[0]

    axis = 1 if tilt_axis == "y" else 2  # the slices' axis, in the tilt series and in the volume alike
    start = None if x0 is None else np.asarray(x0, dtype=np.float32)

    def along(s: slice) -> tuple[slice, ...]:
        return (slice(None),) * axis + (s,)

    def take(array, s: slice) -> np.ndarray:
        return np.ascontiguousarray(array[along(s)], dtype=np.float32)

    with open_client(scheduler) as client:
        size = chunk_slices or default_chunk_slices(
            (data.shape[0], data.shape[axis], data.shape[3 - axis]), _worker_count(client)
        )
        chunks = slice_chunks(data.shape[axis], size)
        pieces = (
            (take(data, s), angles, tilt_axis, None if start is None else take(start, s), options)
            for s in chunks
        )
        volume = None
        parts = map_pieces(client, _reconstruct_chunk, pieces, total=len(chunks), retries=retries, progress=progress)
        for i, part in parts:
            if volume is None:
                shape = list(part.shape)
                shape[axis] = data.shape[axis]
                volume = np.empty(shape, np.float32)
            volume[along(chunks[i])] = part
    return volume


# --------------------------------------------------------------------------------------- deconvolution


@dataclass(frozen=True)
class Tile:
    """One tile of an image: where its extended (haloed) input comes from and where its core goes.

    Attributes
    ----------
    source : tuple of numpy.ndarray
        One index array per axis selecting the extended tile from the image (``np.ix_`` style); along a
        periodic axis the halo wraps around the image.
    core : tuple of slice
        The tile's core in the image (the tiles' cores partition the image).
    core_in_tile : tuple of slice
        The same core inside the extended tile.
    """

    source: tuple[np.ndarray, ...]
    core: tuple[slice, ...]
    core_in_tile: tuple[slice, ...]


def tile_grid(shape: Sequence[int], tile_shape: Sequence[int], overlap: Sequence[int], *,
              periodic: bool) -> list[Tile]:
    """Cover an image of ``shape`` with tiles of at most ``tile_shape`` core, each with a halo.

    Along an axis that one tile covers, there is no halo (the tile is the whole axis, so the tile's
    problem is the image's problem there). Elsewhere each core is extended by ``overlap`` on both sides:
    wrapping around the image when ``periodic``, else clipped at the image's edges (where the tile's
    boundary is the image's boundary).

    Parameters
    ----------
    shape, tile_shape, overlap : sequence of int
        Image shape, largest core per axis (>= 1) and halo per axis (>= 0); a tile shape of the full
        axis length, or larger, leaves the axis whole.
    periodic : bool
        Whether the image wraps around (periodic boundary).

    Returns
    -------
    list of Tile
    """
    per_axis = []
    for n, size, halo in zip(shape, tile_shape, overlap):
        cores = slice_chunks(n, min(size, n))
        entries = []
        for core in cores:
            if len(cores) == 1:
                lo = hi = 0
            elif periodic:
                lo = hi = halo
            else:
                lo, hi = min(halo, core.start), min(halo, n - core.stop)
            source = np.arange(core.start - lo, core.stop + hi)
            entries.append((source % n, core, slice(lo, lo + core.stop - core.start)))
        per_axis.append(entries)
    tiles = []
    for combination in np.ndindex(*(len(entries) for entries in per_axis)):
        chosen = [per_axis[axis][i] for axis, i in enumerate(combination)]
        tiles.append(Tile(*(tuple(c[k] for c in chosen) for k in range(3))))
    return tiles


def default_overlap(psf_shape: Sequence[int], n_iter: int, *, iterative: bool = True) -> int:
    """Halo width (pixels, every spatial axis) for tiled deconvolution.

    An iterative method spreads information by up to one PSF radius ``r`` per application of ``H`` or
    ``Hᵀ``, but the influence of a tile's artificial boundary decays long before the worst-case reach
    ``2 r n_iter``: we use ``r (4 + 2 sqrt(n_iter))``. A direct method (``fourier``, ``tikhonov``,
    ``wiener``) applies an inverse filter whose reach grows as λ shrinks; we use ``24 r``, right for the
    default λ.

    Measured on a 256x256 crop of the lecture's case (7x7 PSF, r = 3, 64x64 tiles), largest difference
    from the one-process result relative to its range, with these defaults: admm-tv (20 iterations,
    halo 39) 3e-4, fista-tv (30, halo 45) 1e-4, landweber and richardson-lucy (30, halo 45) < 1e-5,
    tikhonov (default λ, halo 72) 9e-5, fourier (default λ) 3e-4. Smaller λ for a direct method needs a
    larger ``overlap`` (fourier with λ = 1e-3: 2e-2 at 72); ``wiener`` estimates its noise-to-signal
    ratio per tile unless ``nsr`` is given.
    """
    radius = max(1, max(int(s) // 2 for s in psf_shape))
    if not iterative:
        return 24 * radius
    return int(math.ceil(radius * (4 + 2 * math.sqrt(max(1, n_iter)))))


def _deconvolve_tile(tile: np.ndarray, psf: np.ndarray, x0: np.ndarray | None, options: dict) -> np.ndarray:
    """One task: deconvolve an extended tile with the single-process call."""
    from .problems.deconvolution import deconvolve

    return np.asarray(deconvolve(tile, psf, x0=x0, **options), dtype=np.float32)


def _poisson_start(image: np.ndarray, channel_axis: int | None, background, peak: float) -> np.ndarray:
    """Richardson-Lucy's default start on the whole image: each channel flat at its mean less its
    background (at least the solver's floor), in the image's units."""
    from .solvers.richardson_lucy import EPS

    spatial = tuple(axis for axis in range(image.ndim) if axis != channel_axis)
    means = image.mean(axis=spatial, keepdims=True, dtype=np.float64)
    levels = np.asarray(background, dtype=np.float64)
    levels = levels.reshape(means.shape) if levels.size == means.size else levels
    return np.broadcast_to(np.maximum(means - levels, EPS * peak), image.shape).astype(np.float32)


def deconvolve_distributed(image, psf, *, scheduler, tile_shape=None, overlap: int | None = None,
                           retries: int = 2, progress: Progress | None = None, channel_axis: int | None = None,
                           boundary: str = "periodic", x0=None, **options) -> np.ndarray:
    """Deconvolve a large 2D/3D image on a dask cluster, in overlapping tiles.

    Each tile is deconvolved by :func:`napari_invprob.deconvolve` with the caller's boundary, on the tile
    extended by ``overlap`` pixels per side (wrapped around for ``boundary="periodic"``, clipped at the
    image's edges for ``"zero"``); its core is written into the result, so the tiles' cores partition the
    image and there are no seams to blend.

    Parameters
    ----------
    image : array-like
        2D or 3D image, optionally with a channel axis.
    psf : array-like
        Centred PSF with one axis per spatial axis of the image.
    scheduler : str or distributed.Client
        ``"local:N"``, a scheduler address or a client (see the module docstring).
    tile_shape : int or sequence of int or None
        Largest core of a tile per spatial axis; None: 512 (2D) or 128 (3D) pixels. An axis no longer than
        its tile size is not split.
    overlap : int or None
        Halo in pixels on each side; None: :func:`default_overlap` from the PSF size and the iteration
        count (the method's default when ``n_iter`` is not given).
    retries : int
        How many times dask re-runs a failed tile.
    progress : callable or None
        ``progress(done, total)`` after each finished tile.
    channel_axis, boundary, x0, **options
        As in :func:`napari_invprob.deconvolve` (``method``, ``lam``, ``n_iter``, ``nonneg``, ``device``,
        the method's options). ``x0`` is tiled like the image. ``lam="auto"`` is refused: it would choose
        a different λ in every tile (choose it on the whole image first). ``background="auto"`` is
        estimated once on the whole image, so every tile models the same offset.

    Returns
    -------
    numpy.ndarray
        Float32, the shape of ``image``; within a small tolerance of ``deconvolve(image, psf, ...)``:
        with the default overlap the largest difference stays below 1e-3 of the data range for the
        iterative methods and the direct ones at their default λ (see :func:`default_overlap`).

    Raises
    ------
    ValueError
        If the image is not 2D/3D (plus a channel axis) finite numbers, the PSF's number of axes does
        not match, a tile is smaller than the PSF, ``overlap``/``retries`` are negative, ``lam="auto"``
        is given or ``scheduler`` names no cluster; and anything :func:`napari_invprob.deconvolve`
        refuses (checked on the first tile before any cluster starts or task is sent).
    TypeError
        As :func:`napari_invprob.deconvolve`: an option the method does not take, or of the wrong type.
    ConnectionError
        If a scheduler address cannot be reached or is no dask scheduler (within a few seconds).
    """
    from ._device import check_values
    from .problems.background import estimate_background
    from .problems.deconvolution import METHODS, POISSON_METHODS, deconvolve_iter
    from .problems.methods import check_n_iter, method_spec

    check_scheduler(scheduler)
    _check_retries(retries)
    image = check_values(image, name="image")
    psf = check_values(psf, name="psf").astype(np.float32)
    ndim = image.ndim
    if channel_axis is not None:
        if not -ndim <= channel_axis < ndim:
            raise ValueError(f"channel_axis {channel_axis} is out of range for an image of shape {image.shape}")
        channel_axis %= ndim
    spatial = [axis for axis in range(ndim) if axis != channel_axis]
    if len(spatial) not in (2, 3):
        raise ValueError(f"image must have 2 or 3 spatial axes, got shape {image.shape} (channel_axis={channel_axis})")
    if psf.ndim != len(spatial):
        raise ValueError(f"psf has {psf.ndim} axes but the image has {len(spatial)} spatial axes")
    if isinstance(options.get("lam"), str):
        raise ValueError(
            "lam='auto' chooses λ per tile in a distributed run; choose λ on the whole image first and pass "
            "the number"
        )
    method = options.get("method", "admm-tv")
    spec = method_spec(METHODS, method, "deconvolution")
    if tile_shape is None:
        tile_shape = DEFAULT_TILE_2D if len(spatial) == 2 else DEFAULT_TILE_3D
    tile_shape = (tile_shape,) * len(spatial) if np.ndim(tile_shape) == 0 else tuple(tile_shape)
    if len(tile_shape) != len(spatial) or any(int(t) != t or t < 1 for t in tile_shape):
        raise ValueError(f"tile_shape must be one positive integer per spatial axis, got {tile_shape}")
    spatial_shape = [image.shape[axis] for axis in spatial]
    for size, n, p in zip(tile_shape, spatial_shape, psf.shape):
        if min(size, n) < p:
            raise ValueError(f"tile size {size} is smaller than the PSF ({psf.shape}); use larger tiles")
    if overlap is None:
        n_iter = check_n_iter(options.get("n_iter"), spec.default_n_iter)
        overlap = default_overlap(psf.shape, n_iter, iterative=spec.iterative)
    if isinstance(overlap, bool) or not isinstance(overlap, int) or overlap < 0:
        raise ValueError(f"overlap must be a non-negative integer, got {overlap!r}")

    full = [image.shape[axis] for axis in range(ndim)]
    tiles_spatial = tile_grid(spatial_shape, tile_shape, [overlap] * len(spatial), periodic=boundary == "periodic")

    def expand(entries, whole):
        # Put the channel axis (whole) back between the spatial entries.
        out = list(entries)
        if channel_axis is not None:
            out.insert(channel_axis, whole)
        return tuple(out)

    tiles = [
        Tile(expand(t.source, np.arange(full[channel_axis]) if channel_axis is not None else None),
             expand(t.core, slice(None)), expand(t.core_in_tile, slice(None)))
        for t in tiles_spatial
    ]
    start = None if x0 is None else np.asarray(x0, dtype=np.float32)
    if isinstance(options.get("background"), str) and options["background"] == "auto":
        options["background"] = estimate_background(image, channel_axis=channel_axis)
    # every tile is scaled by the whole image's peak, so λ means the same in every tile
    peak = float(np.abs(image).max()) or 1.0
    if start is None and method in POISSON_METHODS and options.get("background") is not None:
        # Richardson-Lucy with a background depends on its flat start: the whole image's, not each tile's
        start = _poisson_start(image, channel_axis, options["background"], peak)
    tile_options = dict(options, channel_axis=channel_axis, boundary=boundary, data_peak=peak)
    pieces = (
        (
            image[np.ix_(*tile.source)].astype(np.float32),
            psf,
            None if start is None else start[np.ix_(*tile.source)],
            tile_options,
        )
        for tile in tiles
    )
    # everything else deconvolve refuses (method options, λ, n_iter, nonneg, the PSF, ...) is refused here,
    # on the first tile and this machine's CPU, before any cluster starts or task is sent
    first = tiles[0].source
    deconvolve_iter(image[np.ix_(*first)].astype(np.float32), psf,
                    x0=None if start is None else start[np.ix_(*first)], **dict(tile_options, device="cpu"))
    result = np.empty(image.shape, np.float32)
    with open_client(scheduler) as client:
        for i, part in map_pieces(client, _deconvolve_tile, pieces, total=len(tiles), retries=retries,
                                  progress=progress):
            result[tiles[i].core] = part[tiles[i].core_in_tile]
    return result

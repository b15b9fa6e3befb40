"""A tilt series reconstructed on a dask cluster, one task per chunk of slices."""

from __future__ import annotations

import math
import warnings

import numpy as np

from .._shared.provenance import provenance
from ..tomography.preparation import Preparation, PreparationWarning, resolve_preparation
from .cluster import (
    Progress,
    _check_retries,
    _worker_count,
    aligned_chunks,
    check_scheduler,
    map_pieces,
    open_client,
)
from .storage import (
    Output,
    finish_output,
    identity,
    is_lazy,
    jsonable,
    materialize,
    open_input,
    open_output,
    run_task,
    stored_chunk,
    take,
    tile_work,
    without_device,
)

#: Bytes of a tilt series' chunk (projections of its slices) that one task gets by default.
DEFAULT_CHUNK_BYTES = 64 * 2**20


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


def _reconstruct_chunk(chunk, angles: np.ndarray, tilt_axis: str, x0, options: dict,
                       preparation: Preparation | None, out: Output | None,
                       region: tuple[slice, ...]) -> tuple[np.ndarray | None, float]:
    """One task: prepare a chunk of slices (read here when lazy) and reconstruct it with the
    single-process call; the volume's chunk is written to ``out`` when given, else returned."""
    from ..tomography.reconstruct import reconstruct

    def solve():
        projections = materialize(chunk)
        if preparation is not None:
            projections = preparation.apply(projections)
        return reconstruct(projections, angles, tilt_axis=tilt_axis, x0=materialize(x0), **options)

    return run_task(solve, out, region, ...)


def volume_shape(shape, tilt_axis: str, thickness: int | None) -> tuple[int, ...]:
    """The shape of the reconstruction of a tilt series ``(n_angles, rows, cols)``: ``(z, rows, cols)``
    with ``z`` the thickness (default the detector width), or ``(n, n)`` for a sinogram."""
    if len(shape) == 2:
        return (shape[1], shape[1])
    width = shape[2] if tilt_axis == "y" else shape[1]
    return (int(thickness) if thickness else width, shape[1], shape[2])


def reconstruct_distributed(data, angles, *, scheduler, chunk_slices: int | None = None,
                            retries: int = 2, progress: Progress | None = None, tilt_axis: str = "y",
                            x0=None, out=None, overwrite: bool = False, preparation: Preparation | None = None,
                            **options):
    """Reconstruct a tilt series on a dask cluster, one task per chunk of slices.

    **Bigger than memory.** ``data`` may be a dask array or the path of an OME-Zarr store: every task
    reads its chunk of slices straight from the projections (slices along the tilt axis are
    independent problems), so the client never holds the series. With ``out`` (a ``.zarr`` path)
    every task writes its chunk of the volume there as it finishes (chunked by ``chunk_slices`` along
    the slices), and the client never holds the volume either. Run again with the same arguments, an
    interrupted run keeps the chunks it wrote and skips their slices. A series stored in chunks of a
    few slices (all projections, e.g. ``(n_angles, 16, cols)``) is read once; one stored a projection
    per chunk is read whole by every task (right, but slower).

    Parameters
    ----------
    data : array-like, dask.array.Array, str or path-like
        Tilt series ``(n_angles, rows, cols)`` (a 2D sinogram ``(n_angles, n_detector)`` is one task); a
        path opens an OME-Zarr store's level 0 (its in-plane pixel size goes to ``out``).
    angles : array-like
        Tilt angles in degrees, one per projection.
    scheduler : str or distributed.Client
        ``"local:N"``, a scheduler address or a client (see the module docstring).
    chunk_slices : int or None
        Slices (along the tilt axis) per task; None: :func:`default_chunk_slices` (or, resuming, the
        chunks of ``out``). Each worker builds the projector of the geometry once and keeps it in the
        projector's cache; a projector larger than that cache (very wide series) is rebuilt by every
        task, so give such series one chunk per worker.
    retries : int
        How many times dask re-runs a failed chunk.
    progress : callable or None
        ``progress(done, total)`` after each finished chunk (chunks kept from an interrupted run count
        as done from the start).
    tilt_axis : {"y", "x"}
        As in :func:`napari_invprob.reconstruct`: slices are the rows (``"y"``) or columns (``"x"``) of
        each projection.
    x0 : array-like, dask.array.Array, str, path-like or None
        Warm start in the output layout ``(z, y, x)``; it is chunked like the data.
    out : str, path-like or None
        An OME-Zarr store to write the volume into, chunk by chunk (or to resume).
    overwrite : bool
        Replace an existing ``out`` that holds another run.
    preparation : Preparation or None
        The preparation already resolved on the whole series
        (:func:`napari_invprob.preparation.resolve_preparation`), applied by every task to its chunk;
        then ``background`` and ``contrast`` must not be given.
    **options
        ``method``, ``lam``, ``n_iter``, ``thickness``, ``device`` and the method's options, passed to
        :func:`napari_invprob.reconstruct` unchanged. ``lam="auto"`` is refused: it would choose a
        different λ in every chunk (choose λ on the whole series first). ``background`` and
        ``contrast`` are resolved on the whole series here (streamed for a lazy series), before it is
        chunked (:func:`napari_invprob.preparation.resolve_preparation`), and applied by every task to
        its chunk.

    Returns
    -------
    numpy.ndarray or dask.array.Array
        The float32 volume ``(z, y, x)`` (or ``(n, n)`` image), equal to ``reconstruct(data, angles, ...)``
        to float32 precision; with ``out``, the store's level 0, lazily.

    Raises
    ------
    ValueError
        If the data are not 2D/3D, the number of angles differs from the number of projections,
        ``tilt_axis`` is unknown, ``chunk_slices``/``retries`` are invalid, ``lam="auto"`` is given, or
        ``scheduler`` names no cluster; and anything :func:`napari_invprob.reconstruct` refuses (checked
        on a two-pixel stand-in before any cluster starts or task is sent).
    FileExistsError
        If ``out`` exists and holds another run (without ``overwrite``), or is the input.
    """
    from ..tomography.geometry import check_tilt_axis

    check_scheduler(scheduler)
    _check_retries(retries)
    source = data
    data, stored = open_input(data, name="data")
    if not is_lazy(data):
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
            "(napari_invprob.tomography.cross_validation.cross_validate) and pass the number"
        )
    if chunk_slices is not None and (isinstance(chunk_slices, bool) or not isinstance(chunk_slices, int)
                                     or chunk_slices < 1):
        raise ValueError(f"chunk_slices must be a positive integer, got {chunk_slices!r}")
    if preparation is not None and ({"contrast", "background"} & set(options)):
        raise ValueError("give either a resolved preparation or contrast/background, not both")
    contrast, background = options.pop("contrast", "auto"), options.pop("background", "auto")
    options = {**options, "background": "none", "contrast": "dark-field"}
    # everything else reconstruct refuses (method, options, λ, n_iter, thickness, angles; a warning for
    # radians) is refused by its front door on a two-pixel stand-in, before any cluster starts; what the
    # preparation would say of the stand-in's zeros is not said (it said "large negative values (0 against
    # a signal of 0)" at every run)
    from ..tomography.reconstruct import reconstruct_iter

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", PreparationWarning)
        reconstruct_iter(np.zeros((data.shape[0], 1, 2), np.float32), angles, **dict(options, device="cpu"))
    start, _ = open_input(x0, name="x0") if x0 is not None else (None, None)
    shape = volume_shape(data.shape, tilt_axis, options.get("thickness"))
    axis = 1 if tilt_axis == "y" else 2  # the slices' axis, in the tilt series and in the volume alike

    def along(s: slice, ndim: int = 3) -> tuple[slice, ...]:
        return (slice(None),) * axis + (s,) + (slice(None),) * (ndim - axis - 1)

    # resolved once for the whole series (a lazy one in passes over its chunks, on the cluster): a chunk
    # alone would estimate its own background
    if preparation is None and not is_lazy(data):
        preparation = resolve_preparation(data, contrast=contrast, background=background)
    with open_client(scheduler) as client:
        if preparation is None:
            preparation = resolve_preparation(data, contrast=contrast, background=background)
        if data.ndim == 2:
            chunks, whole = [slice(None)], (slice(None), slice(None))
        else:
            size = chunk_slices or stored_chunk(out, axis) or default_chunk_slices(
                (data.shape[0], data.shape[axis], data.shape[3 - axis]), _worker_count(client))
            chunks = aligned_chunks(data.shape[axis], size, join_short=False)
        target = None
        if out is not None:
            out_chunks = shape if data.ndim == 2 else tuple(
                size if a == axis else min(n, 64 if a == 0 else 256) for a, n in enumerate(shape))
            pixel = None if stored is None else stored.voxel_size[-1]
            run = jsonable(dict(problem="tomography", data=identity(source), x0=identity(x0), angles=angles,
                                tilt_axis=tilt_axis, options=without_device(options),
                                preparation=preparation.record()))
            target = open_output(out, shape, axes="ZYX"[-len(shape):], chunks=out_chunks, run=run,
                                 overwrite=overwrite, voxel_size=None if pixel is None else (pixel,) * len(shape),
                                 unit=None if pixel is None else stored.unit, source=source)
        regions = [whole] if data.ndim == 2 else [along(s) for s in chunks]
        todo = [i for i, r in enumerate(regions) if target is None or not target.finished(r, shape)]
        kept = len(regions) - len(todo)
        pieces = (
            (take(data, regions[i] if data.ndim == 3 else whole), angles, tilt_axis,
             None if start is None else take(start, regions[i]), options, preparation, target, regions[i])
            for i in todo
        )
        volume = np.empty(shape, np.float32) if target is None else None
        seconds = []
        for i, (part, elapsed) in map_pieces(
                client, _reconstruct_chunk, pieces, total=len(todo), retries=retries,
                progress=None if progress is None else lambda done, total: progress(kept + done, kept + total)):
            seconds.append(elapsed)
            if volume is not None:
                volume[regions[todo[i]]] = part
    work = tile_work(seconds, len(regions), kept)
    if target is None:
        return volume
    return finish_output(target, provenance("tomography", method=options.get("method", "fbp"),
                                            parameters=jsonable(options), source=identity(source),
                                            preparation=preparation.record(), **work))

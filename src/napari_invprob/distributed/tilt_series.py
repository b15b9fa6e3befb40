"""A tilt series reconstructed on a dask cluster, one task per chunk of slices."""

from __future__ import annotations

import math

import numpy as np

from ..tomography.preparation import prepare
from .cluster import (
    Progress,
    _check_retries,
    _worker_count,
    check_scheduler,
    map_pieces,
    open_client,
    slice_chunks,
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


def _reconstruct_chunk(chunk: np.ndarray, angles: np.ndarray, tilt_axis: str, x0: np.ndarray | None,
                       options: dict) -> np.ndarray:
    """One task: reconstruct a chunk of slices with the single-process call."""
    from ..tomography.reconstruct import reconstruct

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
    from ..tomography.geometry import check_tilt_axis

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
            "(napari_invprob.tomography.cross_validation.cross_validate) and pass the number"
        )
    if chunk_slices is not None and (isinstance(chunk_slices, bool) or not isinstance(chunk_slices, int)
                                     or chunk_slices < 1):
        raise ValueError(f"chunk_slices must be a positive integer, got {chunk_slices!r}")
    # prepared once for the whole series: a chunk alone would estimate its own background
    data, _ = prepare(data, contrast=options.pop("contrast", "auto"), background=options.pop("background", "auto"))
    options = {**options, "background": "none", "contrast": "dark-field"}
    # everything else reconstruct refuses (method, options, λ, n_iter, thickness, angles; a warning for
    # radians) is refused by its front door on a two-pixel stand-in, before any cluster starts
    from ..tomography.reconstruct import reconstruct_iter

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



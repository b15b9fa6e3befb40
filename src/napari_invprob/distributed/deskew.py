"""A long light-sheet stack deskewed on a dask cluster, in chunks of planes."""

from __future__ import annotations

import numpy as np

from .._shared.device import check_values
from ..deconvolution.deskew import check_parameters, deskewed_shape, plane_offsets, shift_planes, skew_background
from .cluster import Progress, _check_retries, check_scheduler, map_pieces, open_client, slice_chunks

#: Bytes of output per task by default (as a tilt series' chunks).
CHUNK_BYTES = 64 * 2**20


def _deskew_piece(planes: np.ndarray, offsets: np.ndarray, width: int, fill: float) -> np.ndarray:
    """One task: shift a chunk of planes by their own offsets (the single-process step)."""
    return shift_planes(planes, offsets, width, fill=fill)


def deskew_distributed(stack, *, angle: float, step: float, pixel_size: float, fill="auto", direction: int = 1,
                       scheduler, chunk_planes: int | None = None, retries: int = 2,
                       progress: Progress | None = None, out=None) -> np.ndarray:
    """Deskew a long stage-scanned stack on a dask cluster, in chunks of planes.

    Every plane of a stage scan is shifted on its own (:func:`napari_invprob.deskew`), so the chunks
    need no overlap: each task shifts its planes by their offsets in the whole stack, and the result
    equals ``deskew(stack, ...)`` bit for bit. ``fill="auto"`` is estimated once, on the whole stack,
    before the tasks are sent. Pieces are read from ``stack`` only when their task is submitted, and
    written into ``out`` as they come back, so a stack in a memory map, a zarr or a dask array is never
    read whole.

    Parameters
    ----------
    stack : array-like
        ``(planes, rows, columns)``: a NumPy array, or an array sliced lazily (``numpy.memmap``, zarr,
        dask). Never modified.
    angle, step, pixel_size, fill, direction
        As in :func:`napari_invprob.deskew`.
    scheduler : str or distributed.Client
        ``"local:N"``, a scheduler address or a client (see :mod:`napari_invprob.distributed`).
    chunk_planes : int or None
        Planes per task; None: as many as make about 64 MiB of output.
    retries : int
        How many times dask re-runs a failed task.
    progress : callable or None
        ``progress(done, total)`` after each finished chunk.
    out : array-like or None
        Where to write the result (shape :func:`napari_invprob.deconvolution.deskewed_shape`, e.g. a
        zarr array or a ``numpy.memmap``); None: a new float32 array.

    Returns
    -------
    numpy.ndarray or the array ``out``
        Float32, voxel size :func:`napari_invprob.deconvolution.deskewed_voxel_size`.

    Raises
    ------
    ValueError, TypeError
        As :func:`napari_invprob.deskew` (a NumPy stack's values are checked before any task; a lazy
        stack's in each task), and for a ``chunk_planes`` below 1, an ``out`` of the wrong shape, a
        negative ``retries`` or a ``scheduler`` that names no cluster.
    ConnectionError
        If a scheduler address cannot be reached.
    """
    check_scheduler(scheduler)
    _check_retries(retries)
    angle, step, pixel_size, direction, fill = check_parameters(angle=angle, step=step, pixel_size=pixel_size,
                                                                direction=direction, fill=fill)
    if len(np.shape(stack)) != 3:
        raise ValueError(f"a light-sheet stack has 3 axes (planes, rows, columns), got shape {np.shape(stack)}")
    if isinstance(stack, np.ndarray):
        check_values(stack, name="stack")
    elif 0 in stack.shape:
        raise ValueError(f"stack is empty (shape {tuple(stack.shape)})")
    shape = deskewed_shape(stack.shape, angle=angle, step=step, pixel_size=pixel_size)
    if out is None:
        out = np.empty(shape, dtype=np.float32)
    elif tuple(out.shape) != shape:
        raise ValueError(f"out has shape {tuple(out.shape)}; the deskewed stack has shape {shape}")
    if chunk_planes is None:
        chunk_planes = max(1, CHUNK_BYTES // (4 * shape[1] * shape[2]))
    if isinstance(chunk_planes, bool) or not isinstance(chunk_planes, int) or chunk_planes < 1:
        raise ValueError(f"chunk_planes must be a positive integer, got {chunk_planes!r}")
    if fill == "auto":
        fill = skew_background(stack)  # the planes a single run reads: the same level
    offsets = plane_offsets(shape[0], angle=angle, step=step, pixel_size=pixel_size, direction=direction)
    chunks = slice_chunks(shape[0], chunk_planes)
    pieces = ((check_values(stack[chunk], name=f"planes {chunk.start}-{chunk.stop - 1} of the stack"),
               offsets[chunk], shape[2], fill) for chunk in chunks)
    with open_client(scheduler) as client:
        for i, part in map_pieces(client, _deskew_piece, pieces, total=len(chunks), retries=retries,
                                  progress=progress):
            out[chunks[i]] = part
    return out

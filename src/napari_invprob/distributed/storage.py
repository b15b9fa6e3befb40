"""Where a distributed run's data come from and go to: an array in memory, a dask array or a zarr store.

A run's input is read piece by piece: an array in memory is cut on the client and the piece travels
with its task; a dask array (a zarr store is opened as one) travels as the small graph that reads the
piece, computed on the worker, so the client never holds the input. With an output store, every task
writes its own piece there (zarr renames each chunk into place, so a chunk is whole or absent) and
returns only its timing, so the client never holds the result either; a run started again on the same
store skips the pieces whose chunks are all there (:func:`open_output`).
"""

from __future__ import annotations

import hashlib
import itertools
import logging
import os
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..files.zarr import ZarrImage, chunks_of, create_zarr, finish_zarr, jsonable, read_zarr, written_chunks
from .cluster import aligned_chunks, map_pieces

logger = logging.getLogger(__name__)


def is_lazy(data) -> bool:
    """Whether ``data`` is a dask array (read piece by piece, never whole)."""
    try:
        import dask.array as da
    except ImportError:  # without dask nothing is lazy
        return False
    return isinstance(data, da.Array)


def open_input(data, *, name: str) -> tuple[object, ZarrImage | None]:
    """``data`` as the run reads it: a path becomes its zarr store's level 0 (lazy), a dask array stays
    lazy, anything else is left to the caller's checks.

    Returns
    -------
    data : numpy-like or dask.array.Array
    image : ZarrImage or None
        The store's axes and voxel sizes when ``data`` was a path.
    """
    if isinstance(data, (str, os.PathLike)):
        image = read_zarr(data)
        return image.data, image
    if is_lazy(data) and data.dtype.kind not in "biuf":
        raise TypeError(f"{name} must hold real numbers, got dtype {data.dtype}")
    return data, None


def take(data, indices) -> object:
    """The piece of ``data`` at ``indices`` (one index array or slice per axis, ``np.ix_`` style).

    In memory: a float32 array. Lazy: the dask graph that reads only that piece (computed by
    :func:`materialize` where the task runs).
    """
    if not is_lazy(data):
        index = np.ix_(*indices) if all(isinstance(i, np.ndarray) for i in indices) else tuple(indices)
        return np.asarray(data[index], dtype=np.float32)
    import dask

    piece = data
    for axis, index in enumerate(indices):
        piece = piece[(slice(None),) * axis + (index,)]
    (piece,) = dask.optimize(piece)
    return piece


def materialize(piece) -> np.ndarray | None:
    """A piece as a float32 array: a lazy piece is read here (on the worker), synchronously."""
    if piece is None:
        return None
    if isinstance(piece, Flat):
        return piece.array()
    if is_lazy(piece):
        piece = piece.compute(scheduler="sync")
    return np.asarray(piece, dtype=np.float32)


@dataclass(frozen=True)
class Flat:
    """A constant-per-channel start, sent as its few values and made full size on the worker.

    Attributes
    ----------
    levels : numpy.ndarray
        Broadcastable to ``shape`` (a 1-long axis for every spatial axis).
    shape : tuple of int
    """

    levels: np.ndarray
    shape: tuple[int, ...]

    def array(self) -> np.ndarray:
        return np.broadcast_to(self.levels, self.shape).astype(np.float32)


@dataclass(frozen=True)
class Output:
    """A zarr store's level 0 that tasks write their pieces into.

    Attributes
    ----------
    path : str
        The store.
    done : frozenset of tuple
        Chunks already written when the run started (kept, their pieces skipped).
    """

    path: str
    done: frozenset

    def finished(self, region: tuple[slice, ...], shape) -> bool:
        """Whether every chunk of ``region`` was written before this run."""
        import zarr

        array = zarr.open_array(f"{self.path}/0", mode="r")
        return all(c in self.done for c in chunks_of(array, _bounded(region, shape)))

    def write(self, region: tuple[slice, ...], values: np.ndarray) -> None:
        """Write ``values`` at ``region`` (whole chunks, or the chunks at the image's edge)."""
        import zarr

        zarr.open_array(f"{self.path}/0", mode="r+")[region] = values


def _bounded(region, shape) -> tuple[slice, ...]:
    return tuple(slice(s.start or 0, n if s.stop is None else s.stop) for s, n in zip(region, shape))


def open_output(path, shape, *, axes: str, chunks, voxel_size, unit: str, run: dict, overwrite: bool,
                source) -> Output:
    """Create the output store, or reopen the one an interrupted run of the same ``run`` left."""
    level0 = create_zarr(path, shape, axes=axes, chunks=chunks, voxel_size=voxel_size, unit=unit, run=run,
                         overwrite=overwrite, source=source)
    return Output(str(Path(path)), frozenset(written_chunks(level0)))


def run_task(compute, out: Output | None, region, keep) -> tuple[np.ndarray | None, float]:
    """Run ``compute()`` and keep ``result[keep]``: written to ``out`` at ``region`` (returning None) or
    returned; with the seconds it took."""
    start = time.perf_counter()
    part = np.asarray(compute()[keep], dtype=np.float32)
    if out is None:
        return part, time.perf_counter() - start
    out.write(region, part)
    return None, time.perf_counter() - start


def identity(data) -> str:
    """What names ``data`` in a run's record: a path, a dask graph's name, or a digest of the values."""
    if isinstance(data, (str, os.PathLike)):
        return str(Path(data).resolve())
    if data is None:
        return "none"
    if is_lazy(data):
        return data.name
    array = np.ascontiguousarray(data)
    return f"sha1:{hashlib.sha1(array.view(np.uint8)).hexdigest()}:{array.dtype}:{array.shape}"


def without_device(options: dict) -> dict:
    """A run's options as its record compares them: where it computes (``device``) is no part of what."""
    return {key: value for key, value in options.items() if key != "device"}


def tile_work(seconds: list[float], total: int, kept: int) -> dict:
    """What a run did: its pieces, those kept from an interrupted run, and the seconds per piece."""
    work = {"pieces": total, "pieces_kept": kept}
    if seconds:
        work.update(seconds_per_piece=round(float(np.mean(seconds)), 4),
                    seconds_per_piece_max=round(float(np.max(seconds)), 4))
    logger.info("%d pieces (%d kept from an earlier run), %s s each", total, kept, work.get("seconds_per_piece"))
    return work


def finish_output(target: Output, record: dict):
    """Complete the output store (pyramid, provenance) and return its level 0, lazily."""
    finish_zarr(target.path, provenance=jsonable(record))
    return read_zarr(target.path).data


def streamed_background(image, channel_axis: int | None, client):
    """``estimate_background(image, channel_axis=...)`` of a lazy image, to the same value, streamed.

    The box sums are made in blocks of box positions on the cluster, each block reading the image's
    chunks it covers plus a box's width (its sums are exactly the whole image's there,
    :func:`~napari_invprob.deconvolution.background.box_sums`); each block returns only its smallest
    sums, as many as the background's rank, so the client keeps that many per channel.
    """
    import dask.array as da
    import torch

    from ..deconvolution.background import BOX_STEP, SMOOTHING, background_rank, box_level

    moved = image[None] if channel_axis is None else da.moveaxis(image, channel_axis, 0)
    spatial_shape = moved.shape[1:]
    step = BOX_STEP if len(spatial_shape) == 3 else 1
    rank = background_rank(spatial_shape)
    per_axis = []
    for n, chunk in zip(spatial_shape, moved.chunksize[1:]):
        width = min(SMOOTHING, n)
        positions = len(range(0, n - width + 1, step))
        per_axis.append([slice(b.start * step, (b.stop - 1) * step + width)
                         for b in aligned_chunks(positions, max(1, chunk // step), join_short=False)])
    blocks = list(itertools.product(*per_axis))
    pieces = ((take(moved, (slice(None), *block)), rank) for block in blocks)
    smallest = None
    for _, values in map_pieces(client, _smallest_box_sums, pieces, total=len(blocks)):
        values = torch.from_numpy(values)
        smallest = values if smallest is None else torch.cat([smallest, values], dim=1)
        smallest = smallest.topk(min(rank, smallest.shape[1]), dim=1, largest=False).values
    levels = [float(v) for v in box_level(smallest.max(dim=1).values, spatial_shape)]
    return levels if channel_axis is not None else levels[0]


def _smallest_box_sums(block, rank: int) -> np.ndarray:
    """One task: a block's box sums, per channel its ``rank`` smallest."""
    import torch

    from ..deconvolution.background import box_sums

    sums = box_sums(torch.from_numpy(materialize(block))).flatten(start_dim=1)
    return sums.topk(min(rank, sums.shape[1]), dim=1, largest=False).values.numpy()


def stored_chunk(path, axis: int) -> int | None:
    """The chunk length along ``axis`` of the run stored at ``path`` (to resume it with the same chunks),
    or None when there is none."""
    if path is None or not Path(path).exists():
        return None
    try:
        image = read_zarr(path)
    except (OSError, ValueError):
        return None
    return int(image.data.chunksize[axis]) if image.attributes.get("run") and image.data.ndim > axis else None

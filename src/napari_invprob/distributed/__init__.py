"""Scale-out on dask.distributed: a tilt series in chunks of slices, a big deconvolution in tiles, a long
light-sheet stack in chunks of planes.

Three calls mirror the single-process ones and take the same arguments, plus ``scheduler=``:

- :func:`reconstruct_distributed` splits a parallel-beam tilt series into chunks of slices along the
  tilt axis. Slices are independent problems, so every chunk is one task running
  :func:`napari_invprob.reconstruct` on its slices, and the stitched volume equals the single-process
  result to float32 precision.
- :func:`deconvolve_distributed` splits a large 2D/3D (or multi-channel) image into tiles, each extended
  by an overlap (a halo) derived from the PSF size and the iteration count. Every tile is one task running
  :func:`napari_invprob.deconvolve`; only the tile's core is kept, so each output pixel comes from exactly
  one tile and the mosaic has no seams. The halo absorbs the tile's own boundary effects; the result is
  within a small tolerance of the single-process one (see :func:`default_overlap`).
- :func:`deskew_distributed` splits a stage-scanned light-sheet stack into chunks of planes. Every plane
  is shifted on its own, so the chunks need no halo, and the result equals
  :func:`napari_invprob.deskew` bit for bit; a lazy stack (zarr, dask, memory map) is read chunk by
  chunk and the result may be written into an array of the caller's.

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

Bigger than memory: the calls (and :func:`denoise_distributed`, tiles like the deconvolution) also take a
dask array or the path of an OME-Zarr store, whose tasks read their own piece on the worker, and write
into an OME-Zarr store with ``out=``, each task its own chunks, so the client holds neither the data nor
the result; called again with the same arguments, an interrupted run keeps the chunks it wrote
(:mod:`~napari_invprob.distributed.storage`).
"""

from .cluster import MAX_WORKERS_ANYWHERE, MAX_WORKERS_PER_CORE, check_scheduler, map_pieces, open_client, slice_chunks
from .denoising import denoise_distributed
from .deskew import deskew_distributed
from .tiles import Tile, deconvolve_distributed, default_overlap, tile_grid
from .tilt_series import DEFAULT_CHUNK_BYTES, default_chunk_slices, reconstruct_distributed

__all__ = [
    "DEFAULT_CHUNK_BYTES",
    "MAX_WORKERS_ANYWHERE",
    "MAX_WORKERS_PER_CORE",
    "Tile",
    "check_scheduler",
    "deconvolve_distributed",
    "denoise_distributed",
    "deskew_distributed",
    "default_chunk_slices",
    "default_overlap",
    "map_pieces",
    "open_client",
    "reconstruct_distributed",
    "slice_chunks",
    "tile_grid",
]

"""A big deconvolution on a dask cluster, in overlapping tiles."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from .._shared.provenance import provenance
from .cluster import Progress, _check_retries, aligned_chunks, check_scheduler, map_pieces, open_client
from .storage import (
    Flat,
    Output,
    finish_output,
    identity,
    is_lazy,
    jsonable,
    materialize,
    open_input,
    open_output,
    run_task,
    streamed_background,
    take,
    tile_work,
    without_device,
)

#: Default tile size (pixels of its core per spatial axis) in 2D and in 3D.
DEFAULT_TILE_2D = 512
DEFAULT_TILE_3D = 128


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
    """Cover an image of ``shape`` with tiles of ``tile_shape`` core, each with a halo.

    Cores start at multiples of the tile size (so they are whole chunks of a zarr output chunked by
    the tile size); a last core shorter than half a tile joins the one before it. Along an axis that one tile covers, there is no halo (the tile is the whole axis, so the tile's
    problem is the image's problem there). Elsewhere each core is extended by ``overlap`` on both sides:
    wrapping around the image when ``periodic``, else clipped at the image's edges (where the tile's
    boundary is the image's boundary).

    Parameters
    ----------
    shape, tile_shape, overlap : sequence of int
        Image shape, core per axis (>= 1) and halo per axis (>= 0); a tile shape of the full axis
        length, or larger, leaves the axis whole.
    periodic : bool
        Whether the image wraps around (periodic boundary).

    Returns
    -------
    list of Tile
    """
    per_axis = []
    for n, size, halo in zip(shape, tile_shape, overlap):
        cores = aligned_chunks(n, min(size, n))
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


def channel_tiles(tiles: list[Tile], full: Sequence[int], channel_axis: int | None) -> list[Tile]:
    """Tiles of the spatial axes with the channel axis (whole) put back between their entries."""
    def expand(entries, whole):
        out = list(entries)
        if channel_axis is not None:
            out.insert(channel_axis, whole)
        return tuple(out)

    channels = np.arange(full[channel_axis]) if channel_axis is not None else None
    return [Tile(expand(t.source, channels), expand(t.core, slice(None)), expand(t.core_in_tile, slice(None)))
            for t in tiles]


def tile_output(out, full: Sequence[int], tile_shape: Sequence[int], channel_axis: int | None, stored, run: dict, *,
                overwrite: bool, source) -> Output | None:
    """The OME-Zarr store a tiled run writes into, chunked by the tiles' cores (channels whole), with the
    input's axes and voxel sizes when it was a store; None without ``out``."""
    if out is None:
        return None
    ndim = len(full)
    spatial = [a for a in range(ndim) if a != channel_axis]
    chunks = [min(tile_shape[spatial.index(a)], n) if a in spatial else n for a, n in enumerate(full)]
    axes = stored.axes if stored is not None else "".join(
        "C" if a == channel_axis else "ZYX"[-len(spatial):][spatial.index(a)] for a in range(ndim))
    return open_output(out, full, axes=axes, chunks=chunks, run=jsonable(run), overwrite=overwrite,
                       voxel_size=None if stored is None else stored.voxel_size,
                       unit=None if stored is None else stored.unit, source=source)


def run_tiles(client, task, tiles: list[Tile], arguments, target: Output | None, full: Sequence[int], *,
              retries: int, progress: Progress | None) -> tuple[np.ndarray | None, dict]:
    """Run ``task(*arguments(tile), target, core, core_in_tile)`` for every tile not kept in ``target``;
    the result in memory (without ``target``) and what the run did (:func:`~.storage.tile_work`)."""
    todo = [t for t in tiles if target is None or not target.finished(t.core, full)]
    kept = len(tiles) - len(todo)
    result = np.empty(full, np.float32) if target is None else None
    seconds = []
    pieces = ((*arguments(t), target, t.core, t.core_in_tile) for t in todo)
    for i, (part, elapsed) in map_pieces(
            client, task, pieces, total=len(todo), retries=retries,
            progress=None if progress is None else lambda done, total: progress(kept + done, kept + total)):
        seconds.append(elapsed)
        if result is not None:
            result[todo[i].core] = part
    return result, tile_work(seconds, len(tiles), kept)


def _deconvolve_tile(tile, psf: np.ndarray, x0, options: dict, out: Output | None, core: tuple[slice, ...],
                     core_in_tile: tuple[slice, ...]) -> tuple[np.ndarray | None, float]:
    """One task: deconvolve an extended tile with the single-process call; keep its core (written to
    ``out`` when given, else returned), with the seconds it took."""
    from ..deconvolution.deconvolve import deconvolve

    return run_task(lambda: deconvolve(materialize(tile), psf, x0=materialize(x0), **options), out, core,
                    core_in_tile)


def _poisson_levels(means: np.ndarray, background, peak: float) -> np.ndarray:
    """Richardson-Lucy's default start on the whole image: each channel flat at its mean less its
    background (at least the solver's floor), in the image's units; ``means`` keep the image's axes."""
    from ..solvers.richardson_lucy import EPS

    levels = np.asarray(background, dtype=np.float64)
    levels = levels.reshape(means.shape) if levels.size == means.size else levels
    return np.maximum(means - levels, EPS * peak).astype(np.float32)


def _statistics(image, channel_axis: int | None, spatial: list[int], background, client) -> tuple:
    """The whole image's peak, channel means and (for ``background="auto"``) background, checking its
    values: at once for an image in memory, in one streamed pass on the cluster for a lazy one."""
    from ..deconvolution.background import estimate_background

    auto = isinstance(background, str) and background == "auto"
    if not is_lazy(image):
        if auto:
            background = estimate_background(image, channel_axis=channel_axis)
        return float(np.abs(image).max()) or 1.0, image.mean(axis=tuple(spatial), keepdims=True,
                                                             dtype=np.float64), background
    import dask.array as da

    finite, peak, means = client.compute([da.isfinite(image).all(), abs(image).max(),
                                          image.mean(axis=tuple(spatial), keepdims=True, dtype=np.float64)], sync=True)
    if not bool(finite) or float(peak) > np.finfo(np.float32).max:
        raise ValueError("image contains NaN or Inf values (or values beyond float32's range); remove or replace "
                         "them first")
    if auto:
        background = streamed_background(image, channel_axis, client)
    return float(peak) or 1.0, np.asarray(means), background


def open_tiled_image(image, channel_axis: int | None) -> tuple:
    """``(image, stored, channel_axis, spatial)`` of a tiled run's input: the array (a path opens an
    OME-Zarr store lazily; values in memory are checked now, a lazy image's on the cluster), the store it
    came from (or None), the channel axis made non-negative and the 2 or 3 spatial axes."""
    from .._shared.device import check_values

    image, stored = open_input(image, name="image")
    if not is_lazy(image):
        image = check_values(image, name="image")
    ndim = image.ndim
    if channel_axis is not None:
        if not -ndim <= channel_axis < ndim:
            raise ValueError(f"channel_axis {channel_axis} is out of range for an image of shape {image.shape}")
        channel_axis %= ndim
    spatial = [axis for axis in range(ndim) if axis != channel_axis]
    if len(spatial) not in (2, 3):
        raise ValueError(f"image must have 2 or 3 spatial axes, got shape {image.shape} (channel_axis={channel_axis})")
    return image, stored, channel_axis, spatial


def checked_tile_shape(tile_shape, n_spatial: int) -> tuple:
    """One core size per spatial axis: ``tile_shape`` repeated, or :data:`DEFAULT_TILE_2D` /
    :data:`DEFAULT_TILE_3D` for None; anything but positive integers is refused."""
    if tile_shape is None:
        tile_shape = DEFAULT_TILE_2D if n_spatial == 2 else DEFAULT_TILE_3D
    tile_shape = (tile_shape,) * n_spatial if np.ndim(tile_shape) == 0 else tuple(tile_shape)
    if len(tile_shape) != n_spatial or any(int(t) != t or t < 1 for t in tile_shape):
        raise ValueError(f"tile_shape must be one positive integer per spatial axis, got {tile_shape}")
    return tile_shape


def deconvolve_distributed(image, psf, *, scheduler, tile_shape=None, overlap: int | None = None,
                           retries: int = 2, progress: Progress | None = None, channel_axis: int | None = None,
                           boundary: str = "periodic", x0=None, out=None, overwrite: bool = False, **options):
    """Deconvolve a large 2D/3D image on a dask cluster, in overlapping tiles.

    Each tile is deconvolved by :func:`napari_invprob.deconvolve` with the caller's boundary, on the tile
    extended by ``overlap`` pixels per side (wrapped around for ``boundary="periodic"``, clipped at the
    image's edges for ``"zero"``); its core is written into the result, so the tiles' cores partition the
    image and there are no seams to blend.

    **Bigger than memory.** ``image`` may be a dask array or the path of an OME-Zarr store: every task
    then reads its own tile, halo included, from the neighbouring chunks, and the client never holds
    the image. With ``out`` (a ``.zarr`` path) every task writes its tile's core there as it finishes
    (the chunks of ``out`` are the tiles' cores), and the client never holds the result either: a
    worker needs about the extended tile times the solver's working copies. Run again with the same
    arguments, a run that was interrupted keeps the chunks it wrote and skips their tiles.

    Parameters
    ----------
    image : array-like, dask.array.Array, str or path-like
        2D or 3D image, optionally with a channel axis; a path opens an OME-Zarr store's level 0 (its
        axes and voxel sizes go to ``out``).
    psf : array-like
        PSF with one axis per spatial axis of the image; prepared once, before the tiles, as
        :func:`napari_invprob.deconvolve` prepares it (the options ``psf_background``, ``voxel_size`` and
        ``psf_voxel_size`` are its).
    scheduler : str or distributed.Client
        ``"local:N"``, a scheduler address or a client (see the module docstring).
    tile_shape : int or sequence of int or None
        Core of a tile per spatial axis; None: 512 (2D) or 128 (3D) pixels. An axis no longer than its
        tile size is not split; cores start at multiples of it (see :func:`tile_grid`).
    overlap : int or None
        Halo in pixels on each side; None: :func:`default_overlap` from the PSF size and the iteration
        count (the method's default when ``n_iter`` is not given).
    retries : int
        How many times dask re-runs a failed tile.
    progress : callable or None
        ``progress(done, total)`` after each finished tile (tiles kept from an interrupted run count as
        done from the start).
    channel_axis, boundary, x0, **options
        As in :func:`napari_invprob.deconvolve` (``method``, ``lam``, ``n_iter``, ``nonneg``, ``device``,
        the method's options). ``x0`` (in memory, dask or a path) is tiled like the image. ``lam="auto"``
        is refused: it would choose a different λ in every tile (choose it on the whole image first).
        ``background="auto"`` is estimated once on the whole image (streamed for a lazy image, to the
        same value), so every tile models the same offset.
    out : str, path-like or None
        An OME-Zarr store to write the result into, tile by tile (or to resume).
    overwrite : bool
        Replace an existing ``out`` that holds another run.

    Returns
    -------
    numpy.ndarray or dask.array.Array
        Float32, the shape of ``image``; without ``out`` an array, with it the store's level 0, lazily.
        Within a small tolerance of ``deconvolve(image, psf, ...)``: with the default overlap the largest
        difference stays below 1e-3 of the data range for the iterative methods and the direct ones at
        their default λ (see :func:`default_overlap`). The same tiles give the same result to float32
        rounding from memory or from zarr, to memory or to zarr.

    Raises
    ------
    ValueError
        If the image is not 2D/3D (plus a channel axis) finite numbers, the PSF's number of axes does
        not match, a tile is smaller than the PSF, ``overlap``/``retries`` are negative, ``lam="auto"``
        is given or ``scheduler`` names no cluster; and anything :func:`napari_invprob.deconvolve`
        refuses (checked on the first tile before any cluster starts or task is sent). A lazy image's
        values are checked in the first pass over it, on the cluster.
    TypeError
        As :func:`napari_invprob.deconvolve`: an option the method does not take, or of the wrong type.
    FileExistsError
        If ``out`` exists and holds another run (without ``overwrite``), or is the input.
    ConnectionError
        If a scheduler address cannot be reached or is no dask scheduler (within a few seconds).
    """
    from .._shared.device import check_values
    from ..deconvolution.deconvolve import deconvolve_iter, prepared_psf
    from ..deconvolution.methods import METHODS, POISSON_METHODS
    from ..problems.methods import check_n_iter, method_spec

    check_scheduler(scheduler)
    _check_retries(retries)
    source = image
    image, stored, channel_axis, spatial = open_tiled_image(image, channel_axis)
    psf = check_values(psf, name="psf")
    psf = np.asarray(prepared_psf(psf, image, channel_axis, background=options.pop("psf_background", "auto"),
                                  voxel_size=options.pop("voxel_size", None),
                                  psf_voxel_size=options.pop("psf_voxel_size", None)), dtype=np.float32)
    options["psf_background"] = "none"  # prepared once here, not again per tile
    if psf.ndim != len(spatial):
        raise ValueError(f"psf has {psf.ndim} axes but the image has {len(spatial)} spatial axes")
    if isinstance(options.get("lam"), str):
        raise ValueError(
            "lam='auto' chooses λ per tile in a distributed run; choose λ on the whole image first and pass "
            "the number"
        )
    method = options.get("method", "admm-tv")
    spec = method_spec(METHODS, method, "deconvolution")
    tile_shape = checked_tile_shape(tile_shape, len(spatial))
    spatial_shape = [image.shape[axis] for axis in spatial]
    for size, n, p in zip(tile_shape, spatial_shape, psf.shape):
        if min(size, n) < p:
            raise ValueError(f"tile size {size} is smaller than the PSF ({psf.shape}); use larger tiles")
    if overlap is None:
        n_iter = check_n_iter(options.get("n_iter"), spec.default_n_iter)
        overlap = default_overlap(psf.shape, n_iter, iterative=spec.iterative)
    if isinstance(overlap, bool) or not isinstance(overlap, int) or overlap < 0:
        raise ValueError(f"overlap must be a non-negative integer, got {overlap!r}")

    full = list(image.shape)
    tiles = channel_tiles(tile_grid(spatial_shape, tile_shape, [overlap] * len(spatial),
                                    periodic=boundary == "periodic"), full, channel_axis)
    start, _ = open_input(x0, name="x0") if x0 is not None else (None, None)
    if start is not None and not is_lazy(start):
        start = np.asarray(start, dtype=np.float32)
    flat_start = start is None and method in POISSON_METHODS and options.get("background") is not None
    # everything else deconvolve refuses (method options, λ, n_iter, nonneg, the PSF, ...) is refused here,
    # on the first tile and this machine's CPU, before any cluster starts or task is sent
    first = tiles[0].source
    deconvolve_iter(materialize(take(image, first)), psf,
                    x0=None if start is None else materialize(take(start, first)),
                    **dict(options, channel_axis=channel_axis, boundary=boundary, device="cpu"))
    with open_client(scheduler) as client:
        peak, means, background = _statistics(image, channel_axis, spatial, options.get("background"), client)
        if "background" in options:
            options["background"] = background
        # every tile is scaled by the whole image's peak, so λ means the same in every tile
        tile_options = dict(options, channel_axis=channel_axis, boundary=boundary, data_peak=peak)
        # Richardson-Lucy with a background depends on its flat start: the whole image's, not each tile's
        levels = _poisson_levels(means, background, peak) if flat_start else None
        run = dict(problem="deconvolution", image=identity(source), x0=identity(x0), psf=identity(psf),
                   tile_shape=tile_shape, overlap=overlap, options=without_device(tile_options))
        target = tile_output(out, full, tile_shape, channel_axis, stored, run, overwrite=overwrite, source=source)

        def arguments(tile: Tile) -> tuple:
            shape = tuple(len(i) if isinstance(i, np.ndarray) else n for i, n in zip(tile.source, full))
            tile_start = Flat(levels, shape) if levels is not None else None if start is None else take(start, tile.source)
            return take(image, tile.source), psf, tile_start, tile_options

        result, work = run_tiles(client, _deconvolve_tile, tiles, arguments, target, full, retries=retries,
                                 progress=progress)
    if target is None:
        return result
    return finish_output(target, provenance("deconvolution", method=method, parameters=jsonable(tile_options),
                                            source=identity(source), psf_shape=list(psf.shape), tile_shape=tile_shape,
                                            overlap=overlap, **work))

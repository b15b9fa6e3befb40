"""A big denoising on a dask cluster, in overlapping tiles (a denoiser sees only a few pixels around each)."""

from __future__ import annotations

import numpy as np

from .._shared.provenance import provenance
from .cluster import Progress, _check_retries, check_scheduler, open_client
from .storage import (
    finish_output,
    identity,
    is_lazy,
    jsonable,
    materialize,
    run_task,
    take,
    without_device,
)
from .tiles import Tile, channel_tiles, checked_tile_shape, open_tiled_image, run_tiles, tile_grid, tile_output

#: Halo (pixels per side) of a denoised tile: beyond the reach of the learned denoiser's receptive field
#: and of TV's smoothing at a noise-level σ.
DEFAULT_DENOISE_OVERLAP = 16
#: Side of the central block of a lazy image that its noise level is estimated on.
NOISE_BLOCK = 256


def _denoise_tile(tile, options: dict, out, core: tuple[slice, ...], core_in_tile: tuple[slice, ...]):
    """One task: denoise an extended tile with the single-process call; keep its core."""
    from ..priors.denoisers import denoise

    return run_task(lambda: denoise(materialize(tile), **options), out, core, core_in_tile)


def denoise_distributed(image, *, scheduler, method: str = "learned", sigma: float | None = None,
                        channel_axis: int | None = None, tile_shape=None, overlap: int = DEFAULT_DENOISE_OVERLAP,
                        retries: int = 2, progress: Progress | None = None, out=None, overwrite: bool = False,
                        device=None):
    """Denoise a large 2D/3D image on a dask cluster, in overlapping tiles.

    Each tile, extended by ``overlap`` pixels per side (clipped at the image's edges), is denoised by
    :func:`napari_invprob.priors.denoisers.denoise` and its core kept. ``image`` may be a dask array or
    an OME-Zarr path, and ``out`` an OME-Zarr path, as for
    :func:`~napari_invprob.distributed.tiles.deconvolve_distributed`: tasks read their tile and write its
    core, the client holds neither, and an interrupted run resumes.

    Parameters
    ----------
    image : array-like, dask.array.Array, str or path-like
        2D or 3D image, optionally with a channel axis.
    scheduler : str or distributed.Client
        ``"local:N"``, a scheduler address or a client.
    method : str
        The denoiser (see :data:`napari_invprob.priors.denoisers.DENOISERS`).
    sigma : float or None
        Noise standard deviation in the image's units; None: :func:`~napari_invprob.priors.denoisers.noise_level`
        of the whole image (in memory) or of its central block of :data:`NOISE_BLOCK` pixels per spatial
        axis (lazy), so every tile uses the same σ.
    channel_axis : int or None
        Axis of independent channels.
    tile_shape : int or sequence of int or None
        Core of a tile per spatial axis; None: 512 (2D) or 128 (3D).
    overlap : int
        Halo in pixels on each side. Each tile is denoised alone (scaled by its own peak), so the
        result is within a small tolerance of the whole image's, not equal to it.
    retries, progress, out, overwrite
        As for :func:`~napari_invprob.distributed.tiles.deconvolve_distributed`.
    device : str or None
        Torch device of the workers.

    Returns
    -------
    numpy.ndarray or dask.array.Array
        Float32, the shape of ``image``; with ``out`` the store's level 0, lazily.

    Raises
    ------
    ValueError
        If the image is not 2D/3D (plus a channel axis), ``tile_shape``/``overlap``/``retries`` are
        invalid, or the method or σ are refused by ``denoise`` (checked on the first tile before any
        cluster starts).
    """
    from ..priors.denoisers import check_denoiser, noise_level

    check_scheduler(scheduler)
    _check_retries(retries)
    source = image
    image, stored, channel_axis, spatial = open_tiled_image(image, channel_axis)
    tile_shape = checked_tile_shape(tile_shape, len(spatial))
    if isinstance(overlap, bool) or not isinstance(overlap, int) or overlap < 0:
        raise ValueError(f"overlap must be a non-negative integer, got {overlap!r}")
    full = list(image.shape)
    tiles = channel_tiles(tile_grid([full[a] for a in spatial], tile_shape, [overlap] * len(spatial),
                                    periodic=False), full, channel_axis)
    sigma_source = "given"
    if sigma is None:
        if is_lazy(image):
            block = tuple(slice(max(0, (n - NOISE_BLOCK) // 2), max(0, (n - NOISE_BLOCK) // 2) + NOISE_BLOCK)
                          if a in spatial else slice(None) for a, n in enumerate(full))
            sigma, sigma_source = noise_level(materialize(take(image, block)), channel_axis=channel_axis), \
                f"estimated on the central {NOISE_BLOCK} pixels per axis"
        else:
            sigma, sigma_source = noise_level(image, channel_axis=channel_axis), "estimated on the whole image"
    options = dict(method=method, sigma=float(sigma), channel_axis=channel_axis, device=device)
    check_denoiser(method)  # an unknown method is refused here, not on a worker
    if not np.isfinite(options["sigma"]) or options["sigma"] < 0:
        raise ValueError(f"sigma must be a finite number >= 0, got {sigma}")
    with open_client(scheduler) as client:
        run = dict(problem="denoising", image=identity(source), tile_shape=tile_shape, overlap=overlap,
                   options=without_device(options))
        target = tile_output(out, full, tile_shape, channel_axis, stored, run, overwrite=overwrite, source=source)

        def arguments(tile: Tile) -> tuple:
            return take(image, tile.source), options

        result, work = run_tiles(client, _denoise_tile, tiles, arguments, target, full, retries=retries,
                                 progress=progress)
    if target is None:
        return result
    return finish_output(target, provenance("denoising", method=method, parameters=jsonable(options),
                                            source=identity(source), sigma_source=sigma_source,
                                            tile_shape=tile_shape, overlap=overlap, **work))

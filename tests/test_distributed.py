"""Scale-out on dask.distributed: chunking and tiling geometry, retries, and equality with one process.

One LocalCluster (2 worker processes, 1 thread each) serves the whole module.
"""

from __future__ import annotations

import os
import sys

import cloudpickle
import numpy as np
import pytest

from napari_invprob import distributed as nd

distributed = pytest.importorskip("distributed")

# Workers import task functions by name; ship this module's helpers by value instead.
cloudpickle.register_pickle_by_value(sys.modules[__name__])


@pytest.fixture(scope="module")
def client():
    with nd.open_client("local:2") as c:
        yield c


# ------------------------------------------------------------------------------------------ geometry


def test_slice_chunks_partition_the_slices_evenly():
    chunks = nd.slice_chunks(10, 4)
    assert [(s.start, s.stop) for s in chunks] == [(0, 3), (3, 7), (7, 10)]
    assert nd.slice_chunks(3, 8) == [slice(0, 3)]
    with pytest.raises(ValueError, match="cannot split"):
        nd.slice_chunks(5, 0)


def test_default_chunk_slices_balances_and_bounds_memory():
    assert nd.default_chunk_slices((50, 64, 64), n_workers=2) == 8  # four chunks per worker
    big = nd.default_chunk_slices((120, 4096, 4096), n_workers=100)
    assert 120 * big * 4096 * 4 <= nd.DEFAULT_CHUNK_BYTES


@pytest.mark.parametrize("periodic", [True, False])
def test_tile_cores_partition_the_image_and_halos_follow_the_boundary(periodic):
    shape, tile, halo = (50, 37), (16, 40), 5
    tiles = nd.tile_grid(shape, tile, (halo, halo), periodic=periodic)
    covered = np.zeros(shape, int)
    image = np.arange(np.prod(shape)).reshape(shape)
    for t in tiles:
        covered[t.core] += 1
        extended = image[np.ix_(*t.source)]
        assert np.array_equal(extended[t.core_in_tile], image[t.core])
        # Axis 1 fits in one tile: no halo there, whatever the boundary.
        assert len(t.source[1]) == shape[1]
        rows = t.source[0]
        if periodic:
            assert len(rows) == t.core[0].stop - t.core[0].start + 2 * halo
        else:
            assert rows.min() >= 0 and rows.max() < shape[0] and np.all(np.diff(rows) == 1)
    assert np.all(covered == 1)
    assert len(tiles) == 3  # cores at multiples of 16: 0-16, 16-32, and 32-50 (the short 48-50 joined)
    assert [t.core[0].start for t in tiles] == [0, 16, 32]
    if periodic:
        assert tiles[0].source[0][0] == shape[0] - halo  # the first tile's halo wraps to the last rows


def test_default_overlap_grows_with_psf_and_iterations():
    assert nd.default_overlap((7, 7), 20) > nd.default_overlap((7, 7), 5) > nd.default_overlap((3, 3), 5)
    assert nd.default_overlap((15, 15, 15), 1, iterative=False) == 168


# ---------------------------------------------------------------------------------------- arguments


@pytest.mark.parametrize("scheduler", ["local:0", "local", "localhost:8786", "", "tcp:/x"])
def test_bad_scheduler_strings_are_refused(scheduler):
    with pytest.raises(ValueError, match="scheduler"):
        nd.check_scheduler(scheduler)


def test_good_scheduler_specs_pass():
    for spec in ("local:1", "local:16", "tcp://10.0.0.5:8786", "tls://head:8786"):
        nd.check_scheduler(spec)
    with pytest.raises(TypeError, match="scheduler"):
        nd.check_scheduler(4)


def test_bad_arguments_are_refused_before_any_work():
    series, angles = np.zeros((5, 4, 8), np.float32), np.linspace(-60, 60, 5)
    with pytest.raises(ValueError, match="4 angles for 5 projections"):
        nd.reconstruct_distributed(series, angles[:4], scheduler="local:1")
    with pytest.raises(ValueError, match="tilt_axis"):
        nd.reconstruct_distributed(series, angles, scheduler="local:1", tilt_axis="z")
    with pytest.raises(ValueError, match="lam='auto'"):
        nd.reconstruct_distributed(series, angles, scheduler="local:1", lam="auto")
    with pytest.raises(ValueError, match="chunk_slices"):
        nd.reconstruct_distributed(series, angles, scheduler="local:1", chunk_slices=0)
    with pytest.raises(ValueError, match="retries"):
        nd.reconstruct_distributed(series, angles, scheduler="local:1", retries=-1)
    with pytest.raises(ValueError, match="scheduler"):
        nd.reconstruct_distributed(series, angles, scheduler="local:0")


def test_an_unreachable_scheduler_is_a_connection_error():
    import dask

    series, angles = np.zeros((5, 4, 8), np.float32), np.linspace(-60, 60, 5)
    with dask.config.set({"distributed.comm.timeouts.connect": "1s"}):
        with pytest.raises(ConnectionError, match="cannot reach the dask scheduler at tcp://127.0.0.1:9"):
            nd.reconstruct_distributed(series, angles, scheduler="tcp://127.0.0.1:9")


# ------------------------------------------------------------------------------------------ retries


def _fail_once(marker: str, value: np.ndarray) -> np.ndarray:
    """A task that raises the first time it runs (a marker file remembers) and works afterwards."""
    if not os.path.exists(marker):
        with open(marker, "w"):
            pass
        raise RuntimeError("injected failure")
    return -value


def test_a_failing_task_is_retried_and_the_result_is_complete(client, tmp_path):
    pieces = [(str(tmp_path / f"marker{i}"), np.full(3, i)) for i in range(5)]
    seen = []
    results = dict(nd.map_pieces(client, _fail_once, iter(pieces), total=5, retries=1,
                                 progress=lambda done, total: seen.append((done, total))))
    assert sorted(results) == list(range(5))
    assert all(np.array_equal(results[i], -np.full(3, i)) for i in range(5))
    assert seen[0] == (0, 5) and seen[-1] == (5, 5) and len(seen) == 6


def test_without_retries_the_failure_is_raised(client, tmp_path):
    pieces = [(str(tmp_path / "marker"), np.ones(2))]
    with pytest.raises(RuntimeError, match="injected failure"):
        dict(nd.map_pieces(client, _fail_once, iter(pieces), total=1, retries=0))


# ------------------------------------------------------------------------- equality with one process


@pytest.fixture(scope="module")
def tilt_series():
    from napari_invprob import project
    from napari_invprob.phantom import rods_and_spheres

    angles = np.linspace(-60, 60, 15)
    volume = rods_and_spheres((24, 10, 24), seed=0)
    return project(volume, angles, tilt_axis="y"), angles


@pytest.mark.parametrize("method", ["sirt", "tv"])
def test_chunked_reconstruction_equals_one_process(client, tilt_series, method):
    from napari_invprob import reconstruct

    series, angles = tilt_series
    single = reconstruct(series, angles, method=method, n_iter=8)
    calls = []
    chunked = nd.reconstruct_distributed(series, angles, scheduler=client, method=method, n_iter=8,
                                         chunk_slices=3, progress=lambda done, total: calls.append(total))
    assert calls[-1] == 4  # 10 slices in chunks of at most 3
    np.testing.assert_allclose(chunked, single, rtol=0, atol=1e-5 * np.abs(single).max())


def test_a_background_is_removed_once_for_the_whole_series(client, tilt_series):
    """Counts on a background: the chunks solve what one process solves (the level is estimated on the
    whole series, not per chunk)."""
    from napari_invprob import reconstruct

    series, angles = tilt_series
    rng = np.random.default_rng(0)
    counts = np.round(200 + 1000 * series + rng.normal(0, 5, series.shape)).astype(np.uint16)
    single = reconstruct(counts, angles, method="sirt", n_iter=5)
    chunked = nd.reconstruct_distributed(counts, angles, scheduler=client, method="sirt", n_iter=5, chunk_slices=3)
    np.testing.assert_allclose(chunked, single, rtol=0, atol=1e-5 * np.abs(single).max())


def test_chunks_along_x_equal_one_process(client, tilt_series):
    from napari_invprob import reconstruct

    series, angles = tilt_series
    series_x = np.ascontiguousarray(series.transpose(0, 2, 1))
    single = reconstruct(series_x, angles, method="sirt", n_iter=5, tilt_axis="x")
    chunked = nd.reconstruct_distributed(series_x, angles, scheduler=client, method="sirt", n_iter=5,
                                         tilt_axis="x", chunk_slices=4)
    np.testing.assert_allclose(chunked, single, rtol=0, atol=1e-5 * np.abs(single).max())


def _install_worker_killer(marker: str) -> None:
    """On a worker: the first chunk reconstructed anywhere kills its worker process (a marker file
    remembers); the chunk task looks ``reconstruct`` up at every call, so it meets this wrapper."""
    from napari_invprob.tomography import reconstruct as tomography

    original = tomography.reconstruct

    def kill_once(*args, **kwargs):
        if not os.path.exists(marker):
            with open(marker, "w"):
                pass
            os._exit(1)
        return original(*args, **kwargs)

    kill_once.original = original
    tomography.reconstruct = kill_once


def _remove_worker_killer() -> None:
    from napari_invprob.tomography import reconstruct as tomography

    tomography.reconstruct = getattr(tomography.reconstruct, "original", tomography.reconstruct)


def test_a_worker_dying_mid_run_is_recovered_and_the_volume_is_right(client, tilt_series, tmp_path):
    from napari_invprob import reconstruct

    series, angles = tilt_series
    marker = tmp_path / "killed"
    client.run(_install_worker_killer, str(marker))
    try:
        chunked = nd.reconstruct_distributed(series, angles, scheduler=client, method="sirt", n_iter=5,
                                             chunk_slices=2)
    finally:
        client.run(_remove_worker_killer)
    assert marker.exists()  # a worker did die
    single = reconstruct(series, angles, method="sirt", n_iter=5)
    np.testing.assert_allclose(chunked, single, rtol=0, atol=1e-5 * np.abs(single).max())


@pytest.fixture(scope="module")
def blurred_case():
    from scipy import ndimage

    from napari_invprob.datasets import gaussian_kernel

    rng = np.random.default_rng(0)
    yy, xx = np.mgrid[:96, :80]
    clean = (0.2 + 0.6 * ((yy // 12 + xx // 10) % 2)).astype(np.float32)
    psf = gaussian_kernel(7, 1.5)
    blurred = ndimage.convolve(clean, psf, mode="wrap") + 0.01 * rng.standard_normal(clean.shape)
    return blurred.astype(np.float32), psf


@pytest.mark.parametrize("boundary", ["periodic", "zero"])
def test_tiled_deconvolution_is_within_tolerance_of_one_process(client, blurred_case, boundary):
    from napari_invprob import deconvolve

    blurred, psf = blurred_case
    options = dict(method="admm-tv", lam=0.005, n_iter=20, boundary=boundary)
    single = deconvolve(blurred, psf, **options)
    tiled = nd.deconvolve_distributed(blurred, psf, scheduler=client, tile_shape=32, **options)
    assert np.abs(tiled - single).max() < 1e-3 * np.ptp(single)


def test_tiled_deconvolution_of_a_colour_image(client, blurred_case):
    from napari_invprob import deconvolve

    blurred, psf = blurred_case
    rgb = np.stack([blurred, blurred[::-1], blurred[:, ::-1]], axis=-1)
    options = dict(method="admm-tv", lam=0.005, n_iter=10, channel_axis=-1)
    single = deconvolve(rgb, psf, **options)
    tiled = nd.deconvolve_distributed(rgb, psf, scheduler=client, tile_shape=(48, 40), **options)
    assert tiled.shape == rgb.shape
    assert np.abs(tiled - single).max() < 1e-3 * np.ptp(single)


def test_tiles_share_one_background_estimated_on_the_whole_image(client):
    from scipy import ndimage

    from napari_invprob import deconvolve
    from napari_invprob.datasets import gaussian_kernel

    rng = np.random.default_rng(0)
    beads = np.zeros((96, 80))
    beads[tuple(rng.integers(8, 72, size=(2, 30)))] = 1.0
    # the left half holds the beads: alone, a tile of the right half would estimate a different level
    counts = rng.poisson(ndimage.gaussian_filter(beads, 1.5) * 3000 + 100).astype(np.float32)
    psf = gaussian_kernel(7, 1.5)
    options = dict(method="richardson-lucy", n_iter=10, boundary="periodic", background="auto")
    single = deconvolve(counts, psf, **options)
    tiled = nd.deconvolve_distributed(counts, psf, scheduler=client, tile_shape=32, **options)
    assert np.abs(tiled - single).max() < 1e-3 * np.ptp(single)

"""Bigger than memory: distributed runs read from OME-Zarr or dask, write to OME-Zarr, and resume.

The zarr→zarr runs equal the in-memory ones (to float32 rounding) on stacks that fit; a run killed
part way and started again keeps the chunks it wrote and gives the same result.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pytest

from napari_invprob import distributed as nd
from napari_invprob.deconvolution.background import estimate_background
from napari_invprob.deconvolution.psf import gaussian
from napari_invprob.files import zarr as ngff

pytest.importorskip("distributed")
pytest.importorskip("zarr")
da = pytest.importorskip("dask.array")

SRC = str(Path(nd.__file__).resolve().parents[2])


@pytest.fixture(scope="module")
def client():
    with nd.open_client("local:2") as c:
        yield c


def _stack(shape=(24, 40, 40), seed=0) -> np.ndarray:
    """Blobs on a camera offset of 100 with Poisson noise (made directly, not by our operators)."""
    rng = np.random.default_rng(seed)
    z, y, x = np.indices(shape, dtype=np.float32)
    image = np.full(shape, 100.0, np.float32)
    for _ in range(12):
        c = rng.uniform(0, 1, 3) * np.array(shape)
        image += 400.0 * np.exp(-((z - c[0]) ** 2 + (y - c[1]) ** 2 + (x - c[2]) ** 2) / 8.0)
    return rng.poisson(image).astype(np.float32)


RL = dict(method="richardson-lucy", n_iter=6, background="auto", device="cpu")


def test_the_streamed_background_equals_the_whole_image_estimate(client):
    image = np.stack([_stack(seed=1), 0.5 * _stack(seed=2)], axis=1)  # (z, c, y, x)
    lazy = da.from_array(image, chunks=(5, 1, 17, 40))
    streamed = nd.storage.streamed_background(lazy, 1, client)  # blocks of every axis: the chunks'
    assert streamed == estimate_background(image, channel_axis=1)


def test_zarr_to_zarr_deconvolution_equals_the_in_memory_run(client, tmp_path):
    image = _stack()
    source = ngff.write_zarr(tmp_path / "in.zarr", image, axes="ZYX", voxel_size=(3000.0, 1000.0, 1000.0),
                             unit="µm", chunks=(7, 13, 40))
    psf = gaussian(5, 1.2, ndim=3)
    keywords = dict(scheduler=client, tile_shape=(12, 20, 20), overlap=6, **RL)
    in_memory = nd.deconvolve_distributed(image, psf, **keywords)
    seen = []
    result = nd.deconvolve_distributed(str(source), psf, out=tmp_path / "out.zarr",
                                       progress=lambda done, total: seen.append((done, total)), **keywords)
    assert isinstance(result, da.Array) and result.chunksize == (12, 20, 20)
    np.testing.assert_allclose(result.compute(), in_memory, rtol=2e-6, atol=2e-6 * float(in_memory.max()))
    assert seen[-1] == (8, 8)
    stored = ngff.read_zarr(tmp_path / "out.zarr")
    assert stored.voxel_size == (3000.0, 1000.0, 1000.0) and stored.unit == "µm"
    record = stored.attributes["provenance"]
    assert record["method"] == "richardson-lucy" and record["pieces"] == 8 and record["pieces_kept"] == 0
    # a dask array in, an array out: the same again
    lazy = nd.deconvolve_distributed(da.from_array(image, chunks=(5, 40, 9)), psf, **keywords)
    np.testing.assert_allclose(lazy, in_memory, rtol=2e-6, atol=2e-6 * float(in_memory.max()))


def test_zarr_to_zarr_reconstruction_equals_the_in_memory_run(client, tmp_path):
    rng = np.random.default_rng(3)
    angles = np.linspace(-60, 60, 25)
    series = rng.random((25, 10, 32)).astype(np.float32) + 5.0  # a background to remove
    source = ngff.write_zarr(tmp_path / "series.zarr", series, axes="ZYX", chunks=(25, 3, 32))
    keywords = dict(scheduler=client, chunk_slices=4, method="sirt", n_iter=5, device="cpu")
    in_memory = nd.reconstruct_distributed(series, angles, **keywords)
    result = nd.reconstruct_distributed(str(source), angles, out=tmp_path / "volume.zarr", **keywords)
    assert result.shape == in_memory.shape == (32, 10, 32)
    np.testing.assert_allclose(result.compute(), in_memory, rtol=1e-6, atol=1e-6 * float(np.abs(in_memory).max()))
    record = ngff.read_zarr(tmp_path / "volume.zarr").attributes["provenance"]
    assert record["preparation"]["background_source"] == "estimated"


_KILLED_RUN = """
import sys, numpy as np
sys.path.insert(0, {src!r})
from napari_invprob import distributed as nd
from napari_invprob.deconvolution.psf import gaussian

def slow(done, total):
    print(done, flush=True)

nd.deconvolve_distributed({source!r}, gaussian(5, 1.2, ndim=3), scheduler="local:1", tile_shape=(8, 20, 20),
                          overlap=6, out={out!r}, progress=slow, method="richardson-lucy", n_iter=30,
                          background=100.0, device="cpu")
"""


def test_a_run_killed_part_way_resumes_and_gives_the_same_result(client, tmp_path):
    image = _stack()
    source = ngff.write_zarr(tmp_path / "in.zarr", image, axes="ZYX", chunks=(8, 20, 20))
    out = tmp_path / "out.zarr"
    script = textwrap.dedent(_KILLED_RUN).format(src=SRC, source=str(source), out=str(out))
    run = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                           text=True, start_new_session=True)
    try:
        deadline = time.monotonic() + 120
        for line in run.stdout:  # tiles finished so far
            if int(line) >= 3 or time.monotonic() > deadline:
                break
    finally:
        os.killpg(run.pid, signal.SIGKILL)  # the run and its cluster's worker processes
        run.wait()
    level0 = ngff.create_zarr(out, image.shape, axes="ZYX", chunks=(8, 20, 20), run=ngff.read_zarr(out).attributes["run"])
    written = ngff.written_chunks(level0)
    assert 3 <= len(written) < 12
    seen = []
    psf = gaussian(5, 1.2, ndim=3)
    keywords = dict(scheduler=client, tile_shape=(8, 20, 20), overlap=6, method="richardson-lucy", n_iter=30,
                    background=100.0, device="cpu")
    resumed = nd.deconvolve_distributed(str(source), psf, out=out, progress=lambda d, t: seen.append((d, t)),
                                        **keywords)
    assert seen[0] == (len(written), 12)  # the tiles written before the kill are kept, not run again
    assert ngff.read_zarr(out).attributes["provenance"]["pieces_kept"] == len(written)
    whole = nd.deconvolve_distributed(image, psf, **keywords)
    np.testing.assert_allclose(resumed.compute(), whole, rtol=2e-6, atol=2e-6 * float(whole.max()))


def test_zarr_to_zarr_denoising_equals_the_in_memory_tiles_and_nearly_the_whole(client, tmp_path):
    from napari_invprob.priors.denoisers import denoise

    image = _stack(shape=(16, 48, 48), seed=4)
    source = ngff.write_zarr(tmp_path / "noisy.zarr", image, axes="ZYX", chunks=(8, 24, 24))
    keywords = dict(scheduler=client, method="tv", sigma=20.0, tile_shape=(8, 24, 24), overlap=8, device="cpu")
    in_memory = nd.denoise_distributed(image, **keywords)
    result = nd.denoise_distributed(str(source), out=tmp_path / "smooth.zarr", **keywords)
    np.testing.assert_allclose(result.compute(), in_memory, rtol=1e-6, atol=1e-6 * float(image.max()))
    whole = denoise(image, method="tv", sigma=20.0, device="cpu")
    assert np.abs(in_memory - whole).max() < 0.02 * float(np.ptp(whole))  # tiles denoised alone: near, not equal
    assert ngff.read_zarr(tmp_path / "smooth.zarr").attributes["provenance"]["pieces"] == 8

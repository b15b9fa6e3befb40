"""OME-Zarr files: lazy reading with axes and voxel sizes, chunked writing with a pyramid, resuming."""

from __future__ import annotations

import json

import numpy as np
import pytest

zarr = pytest.importorskip("zarr")
da = pytest.importorskip("dask.array")

from napari_invprob import io  # noqa: E402
from napari_invprob.files import zarr as ngff  # noqa: E402


@pytest.fixture
def stack():
    return np.random.default_rng(0).random((12, 40, 52)).astype(np.float32)


def test_write_volume_as_zarr_reads_back_lazily_with_sizes_pyramid_and_provenance(tmp_path, stack):
    path = io.write_volume(tmp_path / "out.zarr", stack, (2000.0, 650.0, 650.0), provenance={"method": "rl"})
    volume = io.read_volume(path)
    assert volume.lazy and isinstance(volume.data, da.Array)
    assert volume.axes == "ZYX" and volume.unit == "Å"
    assert volume.voxel_size == (2000.0, 650.0, 650.0)
    assert volume.attributes["provenance"] == {"method": "rl"} and volume.attributes["status"] == "complete"
    np.testing.assert_array_equal(volume.data.compute(), stack)
    with pytest.raises(FileExistsError, match="exists"):
        io.write_volume(path, stack)


def test_pyramid_levels_are_means_with_their_scale(tmp_path, stack):
    path = ngff.write_zarr(tmp_path / "p.zarr", stack, axes="ZYX", voxel_size=(3e4, 1e4, 1e4), unit="µm",
                           chunks=(6, 16, 16), levels=2)
    level1 = ngff.read_zarr(path, level=1)
    # z (12) is shorter than twice PYRAMID_SHORTEST and stays whole; y and x are halved
    assert level1.data.shape == (12, 20, 26)
    np.testing.assert_allclose(level1.data.compute(), stack.reshape(12, 20, 2, 26, 2).mean(axis=(2, 4)), rtol=1e-6)
    assert level1.voxel_size == (3e4, 2e4, 2e4) and level1.unit == "µm"
    assert zarr.open_array(str(path / "0"), mode="r").chunks == (6, 16, 16)


def test_an_ngff_04_store_in_micrometres_is_read_in_angstrom(tmp_path):
    values = np.arange(2 * 5 * 6 * 7, dtype=np.uint16).reshape(2, 5, 6, 7)
    group = zarr.open_group(str(tmp_path / "v04.zarr"), mode="w", zarr_format=2)
    group.create_array("s0", shape=values.shape, chunks=(1, 5, 3, 7), dtype="uint16")[...] = values
    group.attrs["multiscales"] = [{
        "version": "0.4",
        "axes": [{"name": "c", "type": "channel"}] + [{"name": n, "type": "space", "unit": "micrometer"} for n in "zyx"],
        "datasets": [{"path": "s0", "coordinateTransformations": [{"type": "scale", "scale": [1, 0.5, 0.1, 0.1]}]}],
    }]
    image = io.read_volume(tmp_path / "v04.zarr")
    assert image.axes == "CZYX" and image.unit == "µm"
    assert image.voxel_size == (None, 5000.0, 1000.0, 1000.0)
    assert image.data.chunksize == (1, 5, 3, 7)
    np.testing.assert_array_equal(image.data.compute(), values)


def test_a_bare_zarr_array_reads_without_sizes(tmp_path):
    zarr.create_array(str(tmp_path / "bare.zarr"), shape=(4, 9, 9), chunks=(2, 9, 9), dtype="float32")[...] = 1.0
    image = ngff.read_zarr(tmp_path / "bare.zarr")
    assert image.axes == "ZYX" and image.voxel_size == (None, None, None) and image.unit is None


def test_a_run_reopens_its_own_store_and_refuses_another(tmp_path):
    run = {"method": "richardson-lucy", "n_iter": 10}
    level0 = ngff.create_zarr(tmp_path / "r.zarr", (10, 20), axes="YX", chunks=(5, 10), run=run)
    assert np.isnan(level0[0, 0])  # unwritten chunks read as NaN, never as plausible zeros
    level0[0:5, 10:20] = 2.0
    again = ngff.create_zarr(tmp_path / "r.zarr", (10, 20), axes="YX", chunks=(5, 10), run=json.loads(json.dumps(run)))
    assert ngff.written_chunks(again) == {(0, 1)}
    assert again[0, 15] == 2.0
    with pytest.raises(FileExistsError, match="same parameters"):
        ngff.create_zarr(tmp_path / "r.zarr", (10, 20), axes="YX", chunks=(5, 10), run={**run, "n_iter": 11})
    assert ngff.chunks_of(again, (slice(0, 5), slice(0, 20))) == [(0, 0), (0, 1)]


def test_bad_data_and_names_are_refused(tmp_path, stack):
    bad = stack.copy()
    bad[3, 4, 5] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        io.write_volume(tmp_path / "nan.zarr", da.from_array(bad, chunks=(6, 20, 26)))
    assert not (tmp_path / "nan.zarr").exists()
    with pytest.raises(ValueError, match="axes"):
        ngff.write_zarr(tmp_path / "a.zarr", stack, axes="ZY")
    with pytest.raises(ValueError, match=".zarr suffix"):
        ngff.create_zarr(tmp_path / "a.n5", (4, 4), axes="YX")
    with pytest.raises(FileNotFoundError):
        io.read_volume(tmp_path / "missing.zarr")
    with pytest.raises(ValueError, match="without OME-Zarr"):
        zarr.open_group(str(tmp_path / "plain.zarr"), mode="w")
        io.read_volume(tmp_path / "plain.zarr")


def test_napari_ome_zarr_reads_our_store_with_its_scale(tmp_path, stack):
    reader = pytest.importorskip("napari_ome_zarr._reader")
    path = ngff.write_zarr(tmp_path / "n.zarr", stack, axes="ZYX", voxel_size=(2e4, 6500.0, 6500.0), unit="µm",
                           levels=2)
    (data, meta, kind), = reader.napari_get_reader(str(path))()
    assert kind == "image" and len(data) == 2 and data[0].shape == stack.shape
    np.testing.assert_allclose(meta["scale"], [2.0, 0.65, 0.65], rtol=1e-12)
    assert meta["units"] == ("micrometer",) * 3

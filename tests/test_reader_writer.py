"""The napari reader and writer contributions (pure functions; no viewer needed)."""

from __future__ import annotations

from contextlib import nullcontext

import mrcfile
import numpy as np
import pytest

from napari_invprob.io import read_image
from napari_invprob.napari.reader import get_reader
from napari_invprob.napari.writer import write_mrc

ANGLES = [-30.0, -15.0, 0.0, 15.0, 30.0]


@pytest.fixture
def stack(tmp_path):
    path = tmp_path / "tomo.st"
    mrcfile.write(path, np.arange(5 * 6 * 7, dtype=np.int16).reshape(5, 6, 7), voxel_size=3.0)
    (tmp_path / "tomo.rawtlt").write_text("\n".join(str(a) for a in ANGLES))
    return path


def test_reader_makes_a_tilt_series_layer(stack):
    reader = get_reader(str(stack))
    assert reader is not None
    [(data, kwargs, layer_type)] = reader(str(stack))
    assert layer_type == "image" and data.shape == (5, 6, 7) and data.dtype == np.int16
    assert kwargs["metadata"]["angles"] == ANGLES
    assert kwargs["metadata"]["tilt_axis"] == "y"
    assert kwargs["metadata"]["angle_source"] == "tomo.rawtlt"
    assert kwargs["scale"] == (1.0, 3.0, 3.0)
    assert kwargs["name"] == "tomo"


def test_a_tiff_stack_with_angles_beside_it_opens_as_the_mrc_file_does(tmp_path):
    """A file made like a real one (int16 with the unsigned offset, tilt axis x, 2° off the grid) saved as
    TIFF with its .rawtlt: the TIFF reader makes the same tilt series layer as the MRC reader: angles,
    the tilt axis estimated, the offset undone, scale (1, pixel, pixel) without a length unit on the
    projections' axis."""
    import tifffile
    from _realistic_tilt_series import write_tilt_series

    from napari_invprob.files.mrc import read_mrc
    from napari_invprob.napari.tiff_reader import get_tiff_reader

    made = write_tilt_series(tmp_path, n=64, n_angles=31, drift_rms=4.0)
    tiff = tmp_path / "tiff" / "specimen.tif"
    tiff.parent.mkdir()
    tifffile.imwrite(tiff, read_mrc(made.path).data, imagej=True, resolution=(1 / 2.5, 1 / 2.5),
                     metadata={"unit": "nm", "axes": "ZYX"})
    (tiff.parent / "specimen.rawtlt").write_text(made.path.with_suffix(".rawtlt").read_text())
    [(mrc_data, mrc_kwargs, _)] = get_reader(str(made.path))(str(made.path))
    [(data, kwargs, layer_type)] = get_tiff_reader(str(tiff))(str(tiff))
    assert layer_type == "image"
    np.testing.assert_array_equal(data, mrc_data)
    expected = {key: mrc_kwargs["metadata"][key] for key in ("angles", "tilt_axis", "tilt_axis_angle",
                                                               "tilt_axis_source", "value_offset", "conventions")}
    assert {key: kwargs["metadata"][key] for key in expected} == expected
    assert expected["tilt_axis"] == "x" and expected["tilt_axis_source"] == "estimated"
    assert kwargs["metadata"]["angle_source"] == "specimen.rawtlt"
    assert kwargs["scale"] == pytest.approx((1.0, 25.0, 25.0)) and "units" not in kwargs  # 2.5 nm in Å


def test_reader_opens_a_volume_without_angles(tmp_path):
    path = tmp_path / "vol.rec"
    mrcfile.write(path, np.zeros((4, 5, 6), np.float32), voxel_size=(1.5, 2.0, 2.5))  # (x, y, z)
    [(data, kwargs, _)] = get_reader([str(path)])(str(path))
    assert "angles" not in kwargs["metadata"]
    assert kwargs["scale"] == (2.5, 2.0, 1.5)


def test_reader_warns_and_opens_without_angles_when_the_count_is_wrong(stack):
    stack.with_suffix(".rawtlt").write_text("1\n2\n")
    with pytest.warns(UserWarning, match="lists 2 angles"):
        [(_, kwargs, _)] = get_reader(str(stack))(str(stack))
    assert "angles" not in kwargs["metadata"]


@pytest.mark.parametrize("name, content", [("fake.mrc", b"hello" * 300), ("cut.mrc", None), ("a.tif", b"II*\x00")])
def test_reader_declines_what_it_cannot_read(tmp_path, name, content):
    path = tmp_path / name
    if content is None:
        mrcfile.write(path, np.ones((3, 16, 16), np.float32))
        path.write_bytes(path.read_bytes()[:-100])
    else:
        path.write_bytes(content)
    with pytest.warns(UserWarning, match="cannot open") if path.suffix == ".mrc" else nullcontext():
        assert get_reader(str(path)) is None
    assert get_reader([str(path), str(path)]) is None
    assert get_reader(str(tmp_path / "missing.mrc")) is None


def test_writer_writes_voxel_size_and_protects_the_source(stack, tmp_path):
    [(data, kwargs, _)] = get_reader(str(stack))(str(stack))
    before = stack.read_bytes()
    with pytest.raises(FileExistsError, match="input file"):
        write_mrc(str(stack), data, kwargs)
    assert stack.read_bytes() == before
    volume = np.random.default_rng(0).random((4, 6, 7)).astype(np.float32)
    [written] = write_mrc(str(tmp_path / "rec.mrc"), volume, {"scale": (3.0, 3.0, 3.0), "metadata": kwargs["metadata"]})
    data, pixel_size = read_image(written)
    np.testing.assert_array_equal(data, volume)
    assert pixel_size == pytest.approx(3.0)


def test_manifest_routes_mrc_files_to_the_reader_and_writer(stack):
    PluginManifest = pytest.importorskip("npe2").PluginManifest  # napari's plugin engine

    manifest = PluginManifest.from_distribution("napari-invprob")
    commands = {c.id: c.python_name for c in manifest.contributions.commands}
    [reader] = [r for r in manifest.contributions.readers if commands[r.command].endswith(":get_reader")]
    assert set(reader.filename_patterns) >= {"*.mrc", "*.st", "*.ali", "*.rec", "*.mrcs", "*.map"}
    [writer] = [w for w in manifest.contributions.writers if commands[w.command].endswith(":write_mrc")]
    assert ".mrc" in writer.filename_extensions and writer.layer_types == ["image"]

"""Reading and writing tilt series and volumes: MRC (old and FEI headers), angle sidecars, TIFF."""

from __future__ import annotations

import warnings

import mrcfile
import numpy as np
import pytest
import tifffile
from _tilt_phantom import blob_tilt_series, random_blobs

from napari_invprob.io import MrcHeaderWarning, read_image, read_mdoc, read_tilt_series, write_volume

ANGLES = np.linspace(-60, 60, 41)


@pytest.fixture(scope="module")
def phantom_series():
    series = blob_tilt_series(random_blobs(64, 12, seed=1), 64, ANGLES)
    return np.round(series / series.max() * 3000).astype(np.int16)


def write_old_style_mrc(path, data, pixel_size):
    """An MRC as pre-2014 software wrote it: no ``MAP`` identifier and no machine stamp."""
    with mrcfile.new(path, overwrite=True) as mrc:
        mrc.set_data(data)
        mrc.voxel_size = pixel_size
    raw = bytearray(path.read_bytes())
    raw[208:216] = bytes(8)
    path.write_bytes(bytes(raw))


def write_angles(path, angles):
    path.write_text("".join(f"{a:8.2f}\n" for a in angles))


def test_old_style_int16_mrc_with_rawtlt_reads_back_with_warning(tmp_path, phantom_series):
    stack = tmp_path / "tomo.st"
    write_old_style_mrc(stack, phantom_series, 4.2)
    write_angles(tmp_path / "tomo.rawtlt", ANGLES)
    with pytest.raises(ValueError):
        mrcfile.open(stack).close()  # strict reading rejects it
    with pytest.warns(MrcHeaderWarning, match="permissively"):
        series = read_tilt_series(stack)
    assert series.data.dtype == np.int16
    np.testing.assert_array_equal(series.data, phantom_series)
    np.testing.assert_allclose(series.angles, ANGLES, atol=0.005)
    assert series.pixel_size == pytest.approx(4.2, rel=1e-5)
    assert series.angle_source == "tomo.rawtlt"


@pytest.mark.parametrize("dtype", [np.int8, np.int16, np.uint16, np.float32])
def test_modes_read_without_warning(tmp_path, dtype):
    data = (np.arange(3 * 5 * 7) % 100).reshape(3, 5, 7).astype(dtype)
    mrcfile.write(tmp_path / "s.mrc", data, voxel_size=2.0)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        series = read_tilt_series(tmp_path / "s.mrc", angles=[-10, 0, 10])
    assert series.data.dtype == dtype
    np.testing.assert_array_equal(series.data, data)
    assert series.angle_source == "given"


def test_angle_file_priority_and_explicit_angle_file(tmp_path):
    data = np.zeros((3, 4, 4), np.float32)
    mrcfile.write(tmp_path / "t.ali", data)
    write_angles(tmp_path / "t.rawtlt", [-20, 0, 20])
    write_angles(tmp_path / "t.tlt", [-21, 0.5, 19])
    assert read_tilt_series(tmp_path / "t.ali").angle_source == "t.tlt"  # refined angles for aligned stacks
    write_angles(tmp_path / "other.txt", [1, 2, 3])
    np.testing.assert_allclose(read_tilt_series(tmp_path / "t.ali", angles=tmp_path / "other.txt").angles, [1, 2, 3])


def test_serialem_mdoc(tmp_path):
    data = np.ones((3, 4, 4), np.int16)
    mrcfile.write(tmp_path / "ts.mrc", data)
    sections = "".join(
        f"\n[ZValue = {z}]\nTiltAngle = {a}\nExposureTime = 1.0\n" for z, a in [(2, 30.01), (0, -29.98), (1, 0.02)]
    )
    (tmp_path / "ts.mrc.mdoc").write_text(f"PixelSpacing = 3.5\nImageFile = ts.mrc\n{sections}")
    series = read_tilt_series(tmp_path / "ts.mrc")
    np.testing.assert_allclose(series.angles, [-29.98, 0.02, 30.01])
    assert series.angle_source == "ts.mrc.mdoc"
    assert series.pixel_size == 3.5  # the header records none, the .mdoc does


def test_mdoc_errors(tmp_path):
    bad = tmp_path / "bad.mdoc"
    bad.write_text("PixelSpacing = 3\n[ZValue = 0]\nExposureTime = 1\n")
    with pytest.raises(ValueError, match="ZValue = 0 has no TiltAngle"):
        read_mdoc(bad)
    bad.write_text("just text\n")
    with pytest.raises(ValueError, match="no \\[ZValue"):
        read_mdoc(bad)


def test_fei_extended_header_alpha_tilts(tmp_path):
    angles = np.array([-40.0, -20.0, 0.0, 20.0, 40.0])
    ext = np.zeros(angles.size, dtype=mrcfile.dtypes.get_ext_header_dtype(b"FEI1"))
    ext["Metadata size"] = ext.dtype.itemsize
    ext["Alpha tilt"] = angles
    ext["Tilt axis angle"] = 86.0
    with mrcfile.new(tmp_path / "fei.mrc") as mrc:
        mrc.set_data(np.zeros((5, 8, 8), np.float32))
        mrc.set_extended_header(ext)
        mrc.header.exttyp = b"FEI1"
    series = read_tilt_series(tmp_path / "fei.mrc")
    np.testing.assert_allclose(series.angles, angles)
    assert series.angle_source == "FEI extended header"


def test_wrong_angle_count_is_refused(tmp_path, phantom_series):
    mrcfile.write(tmp_path / "tomo.mrc", phantom_series)
    write_angles(tmp_path / "tomo.rawtlt", ANGLES[:-1])
    with pytest.raises(ValueError, match="tomo.rawtlt lists 40 angles but tomo.mrc holds 41 projections"):
        read_tilt_series(tmp_path / "tomo.mrc")


def test_missing_angles_and_garbled_angle_file(tmp_path):
    mrcfile.write(tmp_path / "a.mrc", np.zeros((2, 3, 3), np.float32))
    with pytest.raises(ValueError, match="no tilt angles found for a.mrc"):
        read_tilt_series(tmp_path / "a.mrc")
    (tmp_path / "a.tlt").write_text("-10\nzero\n")
    with pytest.raises(ValueError, match="line 2"):
        read_tilt_series(tmp_path / "a.mrc")


def test_truncated_mrc_is_refused(tmp_path, phantom_series):
    path = tmp_path / "cut.mrc"
    mrcfile.write(path, phantom_series)
    path.write_bytes(path.read_bytes()[:-5000])
    with pytest.raises(ValueError, match="cut.mrc is truncated"):
        read_tilt_series(path, angles=ANGLES)


@pytest.mark.parametrize("content", [b"not an image at all\n" * 100, b"\x89PNG\r\n\x1a\n" + bytes(2000), b"tiny"])
def test_non_mrc_file_with_mrc_name_is_refused(tmp_path, content):
    path = tmp_path / "fake.mrc"
    path.write_bytes(content)
    with pytest.raises(ValueError, match="fake.mrc is not an MRC file"):
        read_image(path)


@pytest.mark.parametrize("suffix", [".mrc", ".tif"])
def test_write_volume_round_trip_with_voxel_size(tmp_path, suffix):
    volume = np.random.default_rng(0).random((4, 6, 8)).astype(np.float64)
    volume_before = volume.copy()
    path = write_volume(tmp_path / f"rec{suffix}", volume, 2.5)
    data, pixel_size = read_image(path)
    assert data.dtype == np.float32 and data.shape == volume.shape
    np.testing.assert_allclose(data, volume, rtol=1e-6)
    assert pixel_size == pytest.approx(2.5, rel=1e-5)
    np.testing.assert_array_equal(volume, volume_before)
    if suffix == ".mrc":
        with mrcfile.open(path) as mrc:
            assert float(mrc.voxel_size.z) == pytest.approx(2.5)
    else:
        assert tifffile.TiffFile(path).imagej_metadata["spacing"] == pytest.approx(2.5)
    assert sorted(p.name for p in tmp_path.iterdir()) == [f"rec{suffix}"]


def test_write_refuses_to_overwrite(tmp_path):
    source = tmp_path / "input.mrc"
    mrcfile.write(source, np.ones((2, 3, 3), np.float32))
    before = source.read_bytes()
    with pytest.raises(FileExistsError, match="overwrite=True"):
        write_volume(source, np.zeros((2, 3, 3)), 1.0)
    with pytest.raises(FileExistsError, match="input file"):
        write_volume(source, np.zeros((2, 3, 3)), 1.0, overwrite=True, source=source)
    assert source.read_bytes() == before
    write_volume(tmp_path / "out.mrc", np.zeros((2, 3, 3)), 1.0)
    write_volume(tmp_path / "out.mrc", np.ones((2, 3, 3)), 1.0, overwrite=True, source=source)
    assert read_image(tmp_path / "out.mrc")[0].max() == 1


def test_failed_write_leaves_no_partial_file(tmp_path, monkeypatch):
    import napari_invprob.files.write as write_module

    def fail_midway(filename, data, spacing):
        with open(filename, "wb") as f:
            f.write(b"half a volume")
        raise OSError("disk full")

    monkeypatch.setattr(write_module, "_write_mrc", fail_midway)
    with pytest.raises(OSError, match="disk full"):
        write_volume(tmp_path / "rec.mrc", np.zeros((2, 3, 3)), 1.0)
    assert list(tmp_path.iterdir()) == []


def test_bad_writes_are_refused_before_any_file(tmp_path):
    with pytest.raises(ValueError, match="NaN"):
        write_volume(tmp_path / "a.mrc", np.full((2, 2, 2), np.nan), 1.0)
    with pytest.raises(ValueError, match="voxel size"):
        write_volume(tmp_path / "a.mrc", np.zeros((2, 2, 2)), -1.0)
    with pytest.raises(ValueError, match="suffix"):
        write_volume(tmp_path / "a.h5", np.zeros((2, 2, 2)), 1.0)
    assert list(tmp_path.iterdir()) == []


def test_png_and_tiff_reading(tmp_path):
    import skimage.io

    image = (np.arange(64).reshape(8, 8) * 3).astype(np.uint8)
    skimage.io.imsave(tmp_path / "a.png", image, check_contrast=False)
    tifffile.imwrite(tmp_path / "b.tif", image)
    np.testing.assert_array_equal(read_image(tmp_path / "a.png")[0], image)
    data, pixel_size = read_image(tmp_path / "b.tif")
    np.testing.assert_array_equal(data, image)
    assert pixel_size is None

"""Voxel sizes from the file (issue 15 item 2): ImageJ and OME-TIFF metadata, our napari TIFF reader, and
round trips through ``io.write_volume`` (TIFF and MRC)."""

from __future__ import annotations

import numpy as np
import pytest
import tifffile

from napari_invprob.files.tiff import read_tiff
from napari_invprob.io import read_image, write_volume
from napari_invprob.napari.reader import read_mrc_layers
from napari_invprob.napari.tiff_reader import get_tiff_reader, read_tiff_layers

#: A widefield stack's sampling: 65 nm pixels, 200 nm planes, in ångström.
VOXEL = (2000.0, 650.0, 650.0)


@pytest.fixture
def stack():
    return np.random.default_rng(0).integers(100, 4000, size=(6, 20, 24)).astype(np.uint16)


def test_an_imagej_tiff_gives_its_resolution_spacing_and_unit(tmp_path, stack):
    path = tmp_path / "imagej.tif"
    tifffile.imwrite(path, stack, imagej=True, resolution=(1 / 0.065, 1 / 0.065),
                     metadata={"spacing": 0.2, "unit": "micron", "axes": "ZYX"})
    image = read_tiff(path)
    assert image.axes == "ZYX" and image.source == "ImageJ" and image.unit == "µm"
    np.testing.assert_allclose(image.voxel_size, VOXEL, rtol=1e-6)
    np.testing.assert_array_equal(image.data, stack)
    assert read_image(path)[1] == pytest.approx(650.0)


def test_an_ome_tiff_gives_sizes_in_their_units_and_the_channels_wavelengths(tmp_path, stack):
    path = tmp_path / "cells.ome.tif"
    two = np.stack([stack, stack[::-1]], axis=1)  # (z, c, y, x)
    tifffile.imwrite(path, two, ome=True, metadata={
        "axes": "ZCYX", "PhysicalSizeX": 65, "PhysicalSizeXUnit": "nm", "PhysicalSizeY": 65,
        "PhysicalSizeYUnit": "nm", "PhysicalSizeZ": 0.2,  # OME's default unit: µm
        "Channel": {"Name": ["GFP", "mCherry"], "EmissionWavelength": [520, 610]},
    })
    image = read_tiff(path)
    assert image.axes == "ZCYX" and image.source == "OME" and image.channel_axis == 1
    assert image.voxel_size[1] is None  # channels have no size
    np.testing.assert_allclose([image.voxel_size[i] for i in (0, 2, 3)], VOXEL, rtol=1e-6)
    assert image.emission_wavelengths == (520.0, 610.0)
    assert read_image(path)[1] == pytest.approx(650.0)  # read_image reads OME sizes too


def test_a_plain_tiff_has_no_voxel_size(tmp_path, stack):
    path = tmp_path / "plain.tif"
    tifffile.imwrite(path, stack, resolution=(300, 300))  # a DPI, not a length
    image = read_tiff(path)
    assert image.source is None and image.voxel_size == (None, None, None)
    [(_, kwargs, _)] = read_tiff_layers(path)
    assert "scale" not in kwargs and "voxel_size" not in kwargs["metadata"]


@pytest.mark.parametrize("suffix", [".tif", ".mrc"])
def test_voxel_sizes_round_trip_through_write_volume_and_the_readers(tmp_path, stack, suffix):
    path = tmp_path / f"stack{suffix}"
    write_volume(path, stack.astype(np.float32), VOXEL)
    reader = read_tiff_layers if suffix == ".tif" else read_mrc_layers
    [(data, kwargs, kind)] = reader(path)
    assert kind == "image" and np.asarray(data).shape == stack.shape
    np.testing.assert_allclose(kwargs["scale"], VOXEL, rtol=1e-6)
    assert kwargs["metadata"]["pixel_size"] == pytest.approx(650.0)
    if suffix == ".tif":
        assert kwargs["units"] == ("angstrom",) * 3
        assert kwargs["metadata"]["unit"] == "Å" and kwargs["metadata"]["voxel_size_source"] == "ImageJ"
        np.testing.assert_allclose(kwargs["metadata"]["voxel_size"], VOXEL, rtol=1e-6)


@pytest.mark.parametrize("axes, stored", [("ZCYX", "ZCYX"), ("CZYX", "ZCYX"), ("TZCYX", "TZCYX"), ("YXC", "CYX"),
                                           ("ZTYX", "TZYX")])
def test_named_axes_are_written_in_imagej_order_and_read_back(tmp_path, axes, stored):
    data = np.arange(np.prod(range(2, 2 + len(axes))), dtype=np.float32).reshape(range(2, 2 + len(axes)))
    path = write_volume(tmp_path / "named.tif", data, (2.0, 0.5, 0.5), axes=axes)
    with tifffile.TiffFile(path) as tif:
        assert tif.series[0].axes == stored
        np.testing.assert_array_equal(tif.series[0].asarray(),
                                      np.transpose(data, [axes.index(letter) for letter in stored]))
    for bad in (axes[:-1], axes.replace("Y", "Q"), "YYX"[: len(axes)]):
        with pytest.raises(ValueError, match="axes"):
            write_volume(tmp_path / "bad.tif", data, axes=bad)
    with pytest.raises(ValueError, match="MRC"):
        write_volume(tmp_path / "named.mrc", data, axes=axes)
    with pytest.raises(ValueError, match="2D image, a 3D volume"):
        write_volume(tmp_path / "five.tif", np.zeros((2, 2, 2, 4, 4), np.float32))  # 5D needs its axes named


def test_the_reader_splits_channels_and_keeps_their_wavelengths(tmp_path, stack):
    path = tmp_path / "cells.ome.tif"
    tifffile.imwrite(path, np.stack([stack, stack], axis=0), ome=True, metadata={
        "axes": "CZYX", "PhysicalSizeX": 0.065, "PhysicalSizeY": 0.065, "PhysicalSizeZ": 0.2,
        "Channel": {"EmissionWavelength": [0.52, 0.61], "EmissionWavelengthUnit": ["µm", "µm"]},
    })
    [(data, kwargs, _)] = read_tiff_layers(path)
    assert kwargs["channel_axis"] == 0 and kwargs["name"] == ["cells [0]", "cells [1]"]
    np.testing.assert_allclose(kwargs["scale"], VOXEL, rtol=1e-6)
    assert [m["emission_wavelength"] for m in kwargs["metadata"]] == pytest.approx([520.0, 610.0])
    assert kwargs["metadata"][0]["voxel_size"] == pytest.approx([0.2, 0.065, 0.065])
    assert kwargs["metadata"][0]["unit"] == "µm" and kwargs["metadata"][0]["axes"] == "ZYX"


def test_napari_builtin_reader_drops_the_voxel_size_so_the_manifest_offers_ours(tmp_path, stack):
    """Why we ship a TIFF reader: napari's own opens ImageJ and OME files without ``scale``."""
    pytest.importorskip("napari")  # its built-in reader
    import npe2

    npe2.PluginManager.instance().discover()  # napari's own manifest too
    path = tmp_path / "imagej.tif"
    tifffile.imwrite(path, stack, imagej=True, resolution=(1 / 0.065, 1 / 0.065),
                     metadata={"spacing": 0.2, "unit": "micron", "axes": "ZYX"})
    [builtin] = npe2.io_utils.read([str(path)], stack=False, plugin_name="napari")
    assert "scale" not in (builtin[1] if len(builtin) > 1 else {})
    [ours] = npe2.io_utils.read([str(path)], stack=False, plugin_name="napari-invprob")
    np.testing.assert_allclose(ours[1]["scale"], VOXEL, rtol=1e-6)


def test_the_reader_declines_what_it_cannot_read(tmp_path):
    broken = tmp_path / "broken.tif"
    broken.write_bytes(b"II*\x00" + b"\x00" * 8)
    with pytest.warns(UserWarning, match="cannot open"):
        assert get_tiff_reader(str(broken)) is None
    assert get_tiff_reader(str(tmp_path / "image.png")) is None
    assert get_tiff_reader([str(broken), str(broken)]) is None
    assert get_tiff_reader(str(tmp_path / "missing.tif")) is None

"""Hostile TIFF files through the napari reader (issue 27 rows 2, 3, 12, 13): a reader never raises,
never hands napari sizes it cannot display, never invents or drops planes silently, and opens a
thousand channels as one layer."""

from __future__ import annotations

import numpy as np
import pytest
import tifffile
from _hostile_tiffs import cut_in_half, imagej_stack, ome_tiff

from napari_invprob.files.tiff import read_tiff
from napari_invprob.napari import tiff_reader
from napari_invprob.napari.tiff_reader import get_tiff_reader


def _open(path):
    """The reader's layers for ``path`` (the reader must take it)."""
    reader = get_tiff_reader(str(path))
    assert reader is not None
    return reader(str(path))


@pytest.mark.parametrize("case", ["no SizeZ", "odd DimensionOrder"])
def test_ome_xml_tifffile_cannot_lay_out_is_read_as_plain_tiff_with_a_warning(tmp_path, case):
    # row 2: a KeyError 'SizeZ' / 'SizeQ' escaped the reader
    path = ome_tiff(tmp_path / "a.ome.tif", size_z=None) if case == "no SizeZ" else \
        ome_tiff(tmp_path / "a.ome.tif", order="XYQZT")
    with pytest.warns(UserWarning, match=r"OME-XML metadata are incomplete or unusual \(no Size[ZQ]\); read as a plain"):
        layers = _open(path)
    (data, kwargs, kind), = layers
    assert data.shape == (8, 8, 8) and kind == "image" and "scale" not in kwargs


@pytest.mark.parametrize("extra, said", [
    ('PhysicalSizeX="1e300" PhysicalSizeY="1e300" PhysicalSizeZ="1"', "X 1e+300 µm"),
    ('PhysicalSizeX="0.1" PhysicalSizeXUnit="cm" PhysicalSizeY="0.1" PhysicalSizeYUnit="cm"', "X 0.1 cm"),
    ('PhysicalSizeX="100" PhysicalSizeXUnit="pm" PhysicalSizeY="100" PhysicalSizeYUnit="pm" PhysicalSizeZ="0.3"',
     "X 100 pm"),
])
def test_absurd_sizes_and_foreign_units_are_refused_with_a_warning_naming_the_file(tmp_path, extra, said):
    # row 3: 1e300 µm made napari's transforms singular; pm beside µm left a layer of pixels and ångström
    path = ome_tiff(tmp_path / "odd.ome.tif", pixels_extra=extra)
    with pytest.warns(UserWarning, match="odd.ome.tif") as caught:
        (data, kwargs, _), = _open(path)
    assert said in str(caught[0].message) and "read without voxel sizes" in str(caught[0].message)
    assert "scale" not in kwargs and "units" not in kwargs  # all in pixels, none half in Å


@pytest.mark.parametrize("resolution", [(4294967295, 4294967295), ((1, 4294967295), (1, 4294967295))])
def test_an_imagej_resolution_beyond_any_microscope_is_refused(tmp_path, resolution):
    path = imagej_stack(tmp_path / "ij.tif", np.ones((4, 8, 8)), resolution=resolution, spacing=1)
    with pytest.warns(UserWarning, match="ij.tif: the voxel sizes X"):
        (data, kwargs, _), = _open(path)
    assert "scale" not in kwargs


def test_sane_sizes_in_mixed_known_units_and_an_uncalibrated_imagej_file_pass_without_a_word(tmp_path, recwarn):
    ok = ome_tiff(tmp_path / "ok.ome.tif", pixels_extra='PhysicalSizeX="65" PhysicalSizeXUnit="nm" '
                  'PhysicalSizeY="65" PhysicalSizeYUnit="nm" PhysicalSizeZ="0.2"')
    (_, kwargs, _), = _open(ok)
    assert kwargs["scale"] == pytest.approx((2000.0, 650.0, 650.0))
    plain = imagej_stack(tmp_path / "plain.tif", np.ones((4, 8, 8)), spacing=1, unit="pixel")
    _open(plain)
    assert not [w for w in recwarn if issubclass(w.category, UserWarning)]


def _truncated(tmp_path):
    full = imagej_stack(tmp_path / "full.tif", np.random.default_rng(0).random((8, 16, 16)))
    return cut_in_half(full, tmp_path / "cut.tif")


@pytest.mark.parametrize("case, said", [("cut", "invalid page offset"), ("SizeZ 80", "missing 72 frames"),
                                        ("SizeZ 5", "expected 5 frames, got 8")])
def test_a_file_whose_planes_do_not_match_its_metadata_is_declined_not_padded(tmp_path, case, said):
    # row 12: the first plane of a cut stack, 72 zero planes or 3 dropped, with only tifffile's log saying so
    path = {"cut": lambda: _truncated(tmp_path),
            "SizeZ 80": lambda: ome_tiff(tmp_path / "z80.ome.tif", size_z=80),
            "SizeZ 5": lambda: ome_tiff(tmp_path / "z5.ome.tif", size_z=5)}[case]()
    with pytest.warns(UserWarning, match="cannot open") as caught:
        assert get_tiff_reader(str(path)) is None
    assert said in str(caught[0].message) and "re-save it" in str(caught[0].message)
    with pytest.raises(ValueError, match="planes do not match its metadata"):
        read_tiff(path)


def test_a_tiff_without_pages_says_it_holds_no_image(tmp_path):
    # "list index out of range" was the message
    path = tmp_path / "empty.tif"
    path.write_bytes(b"II*\x00\x00\x00\x00\x00")
    with pytest.raises(ValueError, match="empty.tif could not be read as TIFF: it holds no image"):
        read_tiff(path)


def test_a_thousand_channels_open_as_one_layer_with_a_channel_axis(tmp_path):
    # row 13: 1000 layers did not finish in 120 s
    path = tmp_path / "many.tif"
    tifffile.imwrite(path, np.arange(1000 * 16, dtype=np.uint8).reshape(1000, 4, 4), imagej=True,
                     metadata={"axes": "CYX"})
    with pytest.warns(UserWarning, match="1000 channels: opened as one layer"):
        layers = _open(path)
    (data, kwargs, _), = layers
    assert data.shape == (1000, 4, 4) and "channel_axis" not in kwargs
    assert kwargs["metadata"]["axes"] == "CYX"
    few = tmp_path / "few.tif"
    most = tiff_reader.MAX_CHANNEL_LAYERS
    tifffile.imwrite(few, np.zeros((most, 4, 4), np.uint8), imagej=True, metadata={"axes": "CYX"})
    (_, kwargs, _), = _open(few)
    assert kwargs["channel_axis"] == 0 and len(kwargs["name"]) == most

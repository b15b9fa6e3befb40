"""Hostile input through the command line (issue 27): RGB and channel axes written as they are, a
hyperstack's z spacing kept, optics flags in the wrong unit, backgrounds above the data, broken TIFFs,
and the flags whose messages did not say what to do: exit 2, one line, nothing written, input unchanged."""

from __future__ import annotations

import numpy as np
import pytest
import skimage.io
import tifffile
from _hostile_tiffs import cut_in_half, imagej_stack

from napari_invprob.cli import main


@pytest.fixture
def files(tmp_path):
    rng = np.random.default_rng(0)
    skimage.io.imsave(tmp_path / "rgb.png", (rng.random((32, 32, 3)) * 255).astype(np.uint8), check_contrast=False)
    tifffile.imwrite(tmp_path / "rgb.tif", (rng.random((32, 32, 3)) * 255).astype(np.uint8), photometric="rgb")
    tifffile.imwrite(tmp_path / "yxzc.tif", rng.random((8, 8, 16, 2)).astype(np.float32))
    tifffile.imwrite(tmp_path / "plain.tif", rng.random((32, 32)).astype(np.float32))
    tifffile.imwrite(tmp_path / "series.tif", (rng.random((8, 16, 16)) + 1).astype(np.float32))
    tifffile.imwrite(tmp_path / "centred.tif", (rng.random((8, 16, 16)) - 0.5).astype(np.float32))
    imagej_stack(tmp_path / "czyx.tif", rng.random((4, 2, 16, 16)), axes="ZCYX")  # z 0.3 µm, xy 0.1 µm
    imagej_stack(tmp_path / "tzcyx.tif", rng.random((2, 4, 2, 16, 16)), axes="TZCYX")
    cut_in_half(imagej_stack(tmp_path / "full.tif", rng.random((8, 16, 16))), tmp_path / "cut.tif")
    (tmp_path / "full.tif").unlink()
    (tmp_path / "existing.tif").write_bytes(b"keep")
    return tmp_path


def _run(argv, directory):
    return main([a.format(d=directory) for a in argv] + ["--quiet"])


# -- row 1: RGB and channel axes -----------------------------------------------------------------------
@pytest.mark.parametrize("argv", [
    ["deconvolve", "{d}/rgb.png", "--psf-sigma", "1", "--psf-size", "3", "--n-iter", "2"],
    ["denoise", "{d}/rgb.png"],
    ["simulate", "blur", "{d}/rgb.png", "--psf-sigma", "1", "--psf-size", "3"],
    ["deconvolve", "{d}/rgb.tif", "--psf-sigma", "1", "--psf-size", "3", "--n-iter", "2"],
    ["deconvolve", "{d}/rgb.png", "--psf-sigma", "1", "--psf-size", "3", "--n-iter", "2", "--channel-axis", "-1"],
], ids=["deconvolve png", "denoise", "simulate blur", "deconvolve rgb tif", "channel axis -1"])
def test_an_rgb_image_is_written_as_three_channels_not_a_stack_of_32(files, argv):
    assert _run([*argv, "--out", "{d}/out.tif"], files) == 0
    with tifffile.TiffFile(files / "out.tif") as tif:
        assert (tif.series[0].axes, tif.series[0].shape) == ("CYX", (3, 32, 32))


def test_a_4d_image_with_a_negative_channel_axis_ends_well(files):
    # was "RuntimeError: generator raised StopIteration" after the whole solve
    argv = ["deconvolve", "{d}/yxzc.tif", "--psf-sigma", "1", "--psf-size", "3", "--n-iter", "2", "--channel-axis",
            "-1", "--out", "{d}/out.tif"]
    assert _run(argv, files) == 0
    with tifffile.TiffFile(files / "out.tif") as tif:
        assert (tif.series[0].axes, tif.series[0].shape) == ("ZCYX", (8, 2, 8, 16))


def _refused(argv, directory, capsys, expected):
    before = {p.name: p.read_bytes() for p in directory.iterdir()}
    status = _run(argv, directory)
    lines = capsys.readouterr().err.strip().splitlines()
    assert status == 2, lines
    assert len(lines) == 1 and "error:" in lines[0], lines
    assert expected in lines[0], lines[0]
    assert {p.name: p.read_bytes() for p in directory.iterdir()} == before  # nothing written, inputs unchanged


def test_an_rgb_result_is_not_written_as_an_mrc_volume(files, capsys):
    _refused(["deconvolve", "{d}/rgb.png", "--psf-sigma", "1", "--psf-size", "3", "--out", "{d}/out.mrc"], files,
             capsys, "MRC holds a 2D image or a 3D volume, not a YXC result")


# -- row 5: a hyperstack's z spacing ----------------------------------------------------------------------
@pytest.mark.parametrize("name, axes", [("czyx", "ZCYX"), ("tzcyx", "TZCYX")])
def test_a_hyperstacks_z_spacing_reaches_the_output(files, name, axes):
    argv = ["deconvolve", f"{{d}}/{name}.tif", "--psf-sigma", "1", "--psf-size", "3", "--n-iter", "1",
            "--out", "{d}/out.tif"]
    assert _run(argv, files) == 0
    with tifffile.TiffFile(files / "out.tif") as tif:
        assert tif.series[0].axes == axes
        assert tif.imagej_metadata["spacing"] == pytest.approx(3000.0)  # 0.3 µm in Å, not the 0.1 µm pixel
        numerator, denominator = tif.pages[0].tags["XResolution"].value
        assert denominator / numerator == pytest.approx(1000.0)


def test_the_psf_model_takes_a_hyperstacks_voxel_size(files, capsys):
    argv = ["deconvolve", "{d}/czyx.tif", "--psf-model", "born-wolf", "--na", "1.4", "--wavelength", "520",
            "--n-iter", "1", "--out", "{d}/out.tif"]
    assert main([a.format(d=files) for a in argv]) == 0
    assert "voxel 0.3 x 0.1 x 0.1 µm (z y x, from the file)" in capsys.readouterr().err


# -- rows 6, 7, 8, 12 and the unclear messages ----------------------------------------------------------------
CASES = {
    "wavelength in µm": (["deconvolve", "{d}/plain.tif", "--psf-model", "born-wolf", "--na", "1.4", "--wavelength",
                          "0.52", "--voxel-size", "0.1,0.1"], "--wavelength 0.52 nm is not a wavelength of light"),
    "voxel size in nm": (["deconvolve", "{d}/plain.tif", "--psf-model", "born-wolf", "--na", "1.4", "--wavelength",
                          "520", "--voxel-size", "100,100"], "check that the voxel size and depth are in micrometres"),
    "1 mm voxels": (["deconvolve", "{d}/plain.tif", "--psf-model", "born-wolf", "--na", "1.4", "--wavelength", "520",
                     "--voxel-size", "1000,1000"], "quadrature nodes"),
    "background above the data": (["deconvolve", "{d}/plain.tif", "--psf-sigma", "1", "--method", "richardson-lucy",
                                   "--background", "1e30"], "is at or above the data's maximum"),
    "cut ImageJ stack": (["deconvolve", "{d}/cut.tif", "--psf-sigma", "1"], "its planes do not match its metadata"),
    "negative pixel size": (["deconvolve", "{d}/plain.tif", "--psf-sigma", "1", "--pixel-size", "-1"],
                            "argument --pixel-size: expected a positive number, got '-1'"),
    "angle range in e-notation": (["reconstruct", "{d}/series.tif", "--angle-range", "-1e9", "1e9", "--n-angles", "8"],
                                  "tilt angles are in degrees, within ±360"),
    "huge sigma": (["deconvolve", "{d}/plain.tif", "--psf-sigma", "1e12"],
                   "is larger than the image (32 x 32): check --psf-sigma"),
    "huge psf size": (["deconvolve", "{d}/plain.tif", "--psf-sigma", "1", "--psf-size", "1000000000"],
                      "is larger than the image (32 x 32): check --psf-size"),
    "no voxel size": (["deconvolve", "{d}/plain.tif", "--psf-model", "born-wolf", "--na", "1.4", "--wavelength", "520",
                       "--pixel-size", "650"], "--pixel-size only sets the size recorded in the output"),
    "bright-field on values below 0": (["reconstruct", "{d}/centred.tif", "--angle-range", "-60", "60", "--n-angles", "8",
                                        "--contrast", "bright-field", "--background", "none"],
                                       "(--contrast on the command line)"),
}


@pytest.mark.parametrize("case", list(CASES))
def test_bad_input_is_one_line_with_status_2_and_writes_nothing(files, capsys, case):
    argv, expected = CASES[case]
    _refused([*argv, "--out", "{d}/out.tif"], files, capsys, expected)


def test_an_empty_tiff_is_one_clear_line(files, capsys):
    (files / "empty.tif").write_bytes(b"II*\x00\x00\x00\x00\x00")
    _refused(["denoise", "{d}/empty.tif", "--out", "{d}/out.tif"], files, capsys,
             "empty.tif could not be read as TIFF: it holds no image")

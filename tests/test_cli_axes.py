"""The command line takes the channel and time axes of an ImageJ or OME TIFF from its metadata."""

import numpy as np
import pytest
import tifffile

from napari_invprob.cli import main
from napari_invprob.files.tiff import read_tiff

FLAGS = ["--psf-sigma", "1.0", "1.2", "1.2", "--psf-size", "3", "5", "5", "--method", "richardson-lucy",
         "--n-iter", "2", "--background", "none"]


def _stack(shape, seed=0):
    return (np.random.default_rng(seed).poisson(20.0, size=shape) + 100).astype(np.uint16)


@pytest.mark.parametrize("axes, shape, imagej, said, written", [
    ("ZCYX", (6, 2, 16, 18), True, "channel axis 1 (C) from the file's axes 'ZCYX'", "ZCYX"),
    ("CZYX", (2, 6, 16, 18), False, "channel axis 0 (C) from the file's axes 'CZYX'", "ZCYX"),
    ("TZYX", (2, 6, 16, 18), True, "time axis 0 (T) from the file's axes 'TZYX'", "TZYX"),
    ("TZCYX", (2, 4, 2, 16, 18), True, "channel axis 2 (C) and time axis 0 (T) from the file's axes 'TZCYX'",
     "TZCYX"),
])
def test_the_channel_and_time_axes_come_from_the_file_and_a_flag_still_wins(tmp_path, capsys, axes, shape, imagej,
                                                                            said, written):
    path = tmp_path / "stack.tif"
    if imagej:
        tifffile.imwrite(path, _stack(shape), imagej=True, metadata={"axes": axes})
    else:
        tifffile.imwrite(path, _stack(shape), ome=True, metadata={"axes": axes})
    assert main(["deconvolve", str(path), *FLAGS, "--out", str(tmp_path / "auto.tif")]) == 0
    assert said in capsys.readouterr().err
    with tifffile.TiffFile(tmp_path / "auto.tif") as result:  # the result names its axes (ImageJ's order)
        assert result.series[0].axes == written
        stored = result.series[0].asarray()
    data = read_tiff(path).data
    assert stored.shape == tuple(data.shape[axes.index(letter)] for letter in written)
    explicit = [*(["--channel-axis", str(axes.index("C"))] if "C" in axes else []),
                *(["--time-axis", str(axes.index("T"))] if "T" in axes else [])]
    assert main(["deconvolve", str(path), *FLAGS, *explicit, "--out", str(tmp_path / "given.tif")]) == 0
    assert "from the file's axes" not in capsys.readouterr().err
    np.testing.assert_array_equal(read_tiff(tmp_path / "auto.tif").data, read_tiff(tmp_path / "given.tif").data)
    # a flag wins over the file: with neither, the four axes are taken as spatial and refused
    assert main(["deconvolve", str(path), *FLAGS, "--channel-axis", "none", "--time-axis", "none",
                 "--out", str(tmp_path / "none.tif")]) == 2

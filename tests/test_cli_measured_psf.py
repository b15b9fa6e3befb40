"""The command line with a measured PSF file (issue 25 items 1, 2): a bead stack TIFF prepared and resampled
onto the image's grid from both files' voxel sizes (or --voxel-size / --psf-voxel-size), said on stderr
and recorded in the sidecar; bad flags and PSFs that are not one bead: one line, status 2, nothing written."""

from __future__ import annotations

import json

import numpy as np
import pytest
import tifffile
from _realistic_bead import bead_stack, specimen

from napari_invprob.cli import main

VOXEL = (0.3, 0.104, 0.104)
BEAD_VOXEL = (0.1, 0.104, 0.104)


def imagej(path, volume, voxel):
    tifffile.imwrite(path, volume, imagej=True, resolution=(1 / voxel[2], 1 / voxel[1]),
                     metadata={"spacing": voxel[0], "unit": "micron", "axes": "ZYX"})


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    folder = tmp_path_factory.mktemp("measured_psf_cli")
    _, data = specimen((32, 48, 48), VOXEL)
    bead = bead_stack(photons=600_000)
    imagej(folder / "cells.tif", data, VOXEL)
    imagej(folder / "bead.tif", bead, BEAD_VOXEL)
    tifffile.imwrite(folder / "bead-plain.tif", bead)  # no voxel size in the file
    two = bead.astype(np.float64)
    two[:, :, :20] = two[:, :, 20:][:, ::-1, ::-1]  # a second bead where the first was mirrored
    tifffile.imwrite(folder / "two-beads.tif", two.astype(np.uint16))
    return folder


def deconvolve(files, *flags):
    return main(["deconvolve", str(files / "cells.tif"), "--method", "richardson-lucy", "--n-iter", "3",
                 "--overwrite", *flags])


def test_a_bead_stack_file_is_prepared_onto_the_images_grid_and_said(files, capsys):
    out = files / "r.tif"
    assert deconvolve(files, "--psf", str(files / "bead.tif"), "--out", str(out)) == 0
    err = capsys.readouterr().err
    said = [line for line in err.splitlines() if "bead.tif: " in line]
    assert len(said) == 1 and "the PSF sat on a background of 99.77 (3.1% of its peak, 95% of its sum): removed" \
        in said[0]
    assert "resampled from its voxel size 0.1 x 0.104 x 0.104 to the data's 0.3 x 0.104 x 0.104" in said[0]
    record = json.loads((files / "r.tif.json").read_text())
    assert record["psf_source"]["psf_voxel_size"] == pytest.approx(list(BEAD_VOXEL))
    assert record["psf_source"]["voxel_size"] == pytest.approx(list(VOXEL))
    assert record["psf_source"]["preparation"]["shape_out"] == [13, 15, 15]
    assert record["parameters"]["psf_background"] == "none"  # prepared once, then used as it is


def test_a_psf_file_without_a_voxel_size_takes_the_flag_or_is_said(files, capsys):
    out = files / "r2.tif"
    # used as sampled: its 0.1 µm planes are too many for the image: refused, and the reason said
    assert deconvolve(files, "--psf", str(files / "bead-plain.tif"), "--out", str(out)) == 2
    err = capsys.readouterr().err
    assert "only the data's voxel size is known (0.3 x 0.104 x 0.104), not the PSF's" in err
    assert "larger than the image's spatial shape" in err.splitlines()[-1] and not out.exists()
    assert deconvolve(files, "--psf", str(files / "bead-plain.tif"), "--psf-voxel-size", "0.104,0.104,0.1",
                      "--out", str(out)) == 0
    assert "resampled from its voxel size 0.1 x 0.104 x 0.104" in capsys.readouterr().err


@pytest.mark.parametrize(("flags", "message"), [
    (["--psf", "{d}/bead.tif", "--psf-voxel-size", "0.1,-1,0.1"], "expected X,Y or X,Y,Z"),
    (["--psf", "{d}/bead.tif", "--psf-voxel-size", "0.1,0.1"], "--psf-voxel-size takes 3 values"),
    (["--psf", "{d}/bead.tif", "--psf-background", "-3"], "expected auto, none or a level >= 0"),
    (["--psf-sigma", "1.5", "--psf-voxel-size", "0.1,0.1,0.1"], "--psf-voxel-size goes with --psf"),
    (["--psf-sigma", "1.5", "--voxel-size", "0.1,0.1,0.1"], "--voxel-size goes with --psf-model or --psf"),
    (["--psf", "{d}/two-beads.tif"], "holds 2 beads, not one"),
])
def test_bad_psf_flags_and_files_are_one_line_with_status_2(files, capsys, flags, message):
    out = files / "bad.tif"
    assert deconvolve(files, *[f.format(d=files) for f in flags], "--out", str(out)) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert message in err[-1] and not out.exists()

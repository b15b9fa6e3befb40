"""``napari-invprob deskew``: a raw light-sheet TIFF without a voxel size in, the deskewed stack out with
its voxel size; bad arguments as one line and exit status 2 (issue 25, item 3)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from _realistic_light_sheet import write_light_sheet

import napari_invprob as nip
from napari_invprob.cli import main
from napari_invprob.files.tiff import read_tiff

SCRIPT = Path(sys.executable).with_name("napari-invprob")


@pytest.fixture(scope="module")
def raw(tmp_path_factory):
    return write_light_sheet(tmp_path_factory.mktemp("lls") / "raw.tif", shape=(40, 48, 72))


def test_deskew_writes_the_stack_with_its_voxel_size_and_a_record(raw, tmp_path, capsys):
    out = tmp_path / "deskewed.tif"
    status = main(["deskew", str(raw.path), "--angle", "30", "--step", "0.3", "--pixel-size", "0.104",
                   "--out", str(out)])
    captured = capsys.readouterr()
    assert status == 0, captured.err
    assert "background" in captured.err and "wrote" in captured.out
    image = read_tiff(out)
    assert image.data.dtype == np.float32
    np.testing.assert_allclose(image.voxel_size, [1500.0, 1040.0, 1040.0], rtol=1e-5)  # Å
    record = json.loads(Path(f"{out}.json").read_text())
    assert record["problem"] == "light sheet" and record["method"] == "deskew" and record["unit"] == "µm"
    np.testing.assert_allclose(record["voxel_size_in_unit"], raw.voxel_size)
    again = nip.deskew(raw.raw, **record["parameters"])
    np.testing.assert_array_equal(image.data, again)


def test_the_console_script_takes_nm_the_other_direction_and_the_coverslip_frame(raw, tmp_path):
    out = tmp_path / "upright.mrc"
    result = subprocess.run([str(SCRIPT), "deskew", str(raw.path), "--angle", "30", "--step", "300", "--pixel-size",
                             "104", "--unit", "nm", "--direction", "-1", "--fill", "100", "--frame", "coverslip",
                             "--out", str(out), "--json"], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    summary = json.loads(result.stdout)
    assert summary["method"] == "rotate_to_coverslip" and summary["voxel_size"] == pytest.approx([1040.0] * 3)
    volume, pixel_size = nip.io.read_image(out)
    np.testing.assert_array_equal(
        volume, nip.deconvolution.rotate_to_coverslip(raw.raw, angle=30, step=300, pixel_size=104, fill=100,
                                                      direction=-1))
    assert pixel_size == pytest.approx(1040.0)


CASES = {
    "angle 90": (["--angle", "90", "--step", "0.3", "--pixel-size", "0.1"], "between 0 and 90"),
    "angle -5": (["--angle", "-5", "--step", "0.3", "--pixel-size", "0.1"], "between 0 and 90"),
    "step 0": (["--angle", "30", "--step", "0", "--pixel-size", "0.1"], "step must be > 0"),
    "step nan": (["--angle", "30", "--step", "nan", "--pixel-size", "0.1"], "finite"),
    "pixel size -1": (["--angle", "30", "--step", "0.3", "--pixel-size", "-1"], "pixel_size must be > 0"),
    "no step": (["--angle", "30", "--pixel-size", "0.1"], "--step"),
    "direction 2": (["--angle", "30", "--step", "0.3", "--pixel-size", "0.1", "--direction", "2"], "invalid choice"),
    "fill text": (["--angle", "30", "--step", "0.3", "--pixel-size", "0.1", "--fill", "dark"], "auto or a number"),
    "chunks alone": (["--angle", "30", "--step", "0.3", "--pixel-size", "0.1", "--chunk-planes", "4"],
                     "--scheduler"),
}


@pytest.mark.parametrize("case", list(CASES))
def test_bad_arguments_are_one_line_with_status_2_and_write_nothing(raw, tmp_path, capsys, case):
    flags, expected = CASES[case]
    status = main(["deskew", str(raw.path), *flags, "--out", str(tmp_path / "o.tif")])
    lines = capsys.readouterr().err.strip().splitlines()
    assert status == 2 and len(lines) == 1 and "error:" in lines[0] and expected in lines[0], lines
    assert not list(tmp_path.iterdir())


def test_a_stack_that_is_not_3d_is_refused(tmp_path, capsys):
    nip.io.write_volume(tmp_path / "image.tif", np.ones((8, 8), np.float32), 1.0)
    status = main(["deskew", str(tmp_path / "image.tif"), "--angle", "30", "--step", "0.3", "--pixel-size", "0.1",
                   "--out", str(tmp_path / "o.tif")])
    assert status == 2 and "3D stack" in capsys.readouterr().err
    assert not (tmp_path / "o.tif").exists()

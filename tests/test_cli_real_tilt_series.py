"""The command line on a file made like a microscope's: conventions resolved, printed and recorded."""

from __future__ import annotations

import json

import numpy as np
from _realistic_tilt_series import write_tilt_series
from test_cli import run

from napari_invprob.io import read_image


def test_align_then_reconstruct_resolve_print_and_record_the_conventions(tmp_path):
    made = write_tilt_series(tmp_path, n=64, n_angles=31, drift_rms=4.0, name="raw")
    aligned = run("align", made.path, "--method", "cross-correlation", "--out", "aligned.mrc", cwd=tmp_path)
    assert "tilt axis x" in aligned.stderr and "estimated from the projections" in aligned.stderr
    assert "32768 added" in aligned.stderr and "background" in aligned.stderr
    record = json.loads((tmp_path / "aligned.mrc.json").read_text())
    assert record["tilt_axis"] == "x" and record["tilt_axis_source"] == "estimated"
    assert record["value_offset"] == 32768.0 and record["preparation"]["offset"] == 0.0  # undone by the reader
    assert record["preparation"]["background_source"] == "estimated"
    assert 1.5 < abs(record["rotation"]) < 2.5  # the file's axis is 2° off the grid

    volume = run("reconstruct", "aligned.mrc", "--method", "sirt", "--n-iter", "10", "--out", "volume.mrc",
                 cwd=tmp_path)
    assert "tilt axis x" in volume.stderr and "no background found" in volume.stderr
    record = json.loads((tmp_path / "volume.mrc.json").read_text())
    assert record["tilt_axis"] == "x" and record["preparation"]["contrast"] == "dark-field"
    assert record["parameters"]["background"] == "auto" and record["parameters"]["contrast"] == "auto"
    result, _ = read_image(tmp_path / "volume.mrc")
    assert result.shape == (64, 64, 64) and result.max() > 0

    overridden = run("reconstruct", made.path, "--method", "fbp", "--tilt-axis", "y", "--background", "none",
                     "--contrast", "dark-field", "--quiet", "--json", "--out", "forced.mrc", cwd=tmp_path)
    record = json.loads(overridden.stdout)
    assert record["tilt_axis"] == "y" and record["tilt_axis_source"] == "given"
    assert record["preparation"]["background_source"] == "off"
    assert np.isfinite(read_image(tmp_path / "forced.mrc")[0]).all()

"""The command line on OME-Zarr: `.zarr` in and out, streamed on dask, resumed with --resume."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import napari_invprob as nip
from napari_invprob import io, project
from napari_invprob.files import zarr as ngff
from napari_invprob.phantom import rods_and_spheres

pytest.importorskip("zarr")
pytest.importorskip("distributed")

SRC = str(Path(io.__file__).resolve().parents[1])
ANGLES = np.linspace(-60, 60, 21)


def run(*args, cwd, check=True, timeout=240):
    """The command line of this source tree (``python -m``, so the code under test runs)."""
    env = {**os.environ, "PYTHONPATH": SRC}
    result = subprocess.run([sys.executable, "-m", "napari_invprob", *map(str, args)], cwd=cwd, capture_output=True,
                            text=True, timeout=timeout, env=env)
    if check:
        assert result.returncode == 0, result.stderr
    return result


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    folder = tmp_path_factory.mktemp("inputs")
    rng = np.random.default_rng(0)
    z, y, x = np.indices((20, 32, 32), dtype=np.float32)
    stack = 100.0 + 300.0 * np.exp(-((z - 9) ** 2 + (y - 14) ** 2 + (x - 18) ** 2) / 10.0)
    stack = rng.poisson(stack).astype(np.float32)
    io.write_volume(folder / "stack.tif", stack, (2000.0, 650.0, 650.0))
    ngff.write_zarr(folder / "stack.zarr", stack, axes="ZYX", voxel_size=(2000.0, 650.0, 650.0), unit="µm",
                    chunks=(7, 16, 11))
    series = project(rods_and_spheres((16, 12, 32), seed=0), ANGLES, tilt_axis="y")
    ngff.write_zarr(folder / "series.zarr", series, axes="ZYX", voxel_size=(2.5, 2.5, 2.5), chunks=(21, 4, 32))
    io.write_volume(folder / "series.mrc", series, 2.5)
    for name in ("series.rawtlt",):
        (folder / name).write_text("".join(f"{a:.2f}\n" for a in ANGLES))
    return folder


DECONVOLVE = ("deconvolve", "--psf-sigma", 1.2, "--psf-size", 5, "--method", "richardson-lucy", "--n-iter", 8,
              "--scheduler", "local:2", "--tile-size", 10, 16, 16, "--overlap", 6, "--quiet")


def test_deconvolve_zarr_to_zarr_equals_tiff_to_tiff_and_resumes(data, tmp_path):
    run(DECONVOLVE[0], data / "stack.tif", *DECONVOLVE[1:], "--out", tmp_path / "rl.tif", cwd=tmp_path)
    run(DECONVOLVE[0], data / "stack.zarr", *DECONVOLVE[1:], "--out", tmp_path / "rl.zarr", cwd=tmp_path)
    expected, _ = io.read_image(tmp_path / "rl.tif")
    result = io.read_volume(tmp_path / "rl.zarr")
    assert result.lazy and result.axes == "ZYX" and result.voxel_size == (2000.0, 650.0, 650.0)
    np.testing.assert_allclose(result.data.compute(), expected, rtol=2e-6, atol=2e-6 * float(expected.max()))
    record = result.attributes["provenance"]
    assert record["method"] == "richardson-lucy" and record["scheduler"] == "local:2"
    assert record["pieces"] == 8 and record["pieces_kept"] == 0
    assert record["background_level"] == pytest.approx(json.loads(
        (tmp_path / "rl.tif.json").read_text())["background_level"], rel=1e-6)
    # the same command again: refused without --resume, a no-op resume with it
    again = run(DECONVOLVE[0], data / "stack.zarr", *DECONVOLVE[1:], "--out", tmp_path / "rl.zarr", cwd=tmp_path,
                check=False)
    assert again.returncode != 0 and "--resume" in again.stderr
    run(DECONVOLVE[0], data / "stack.zarr", *DECONVOLVE[1:], "--resume", "--out", tmp_path / "rl.zarr", cwd=tmp_path)
    assert io.read_volume(tmp_path / "rl.zarr").attributes["provenance"]["pieces_kept"] == 8


def test_reconstruct_zarr_to_zarr_equals_the_single_process_run(data, tmp_path):
    args = ("--method", "sirt", "--n-iter", 10, "--quiet")
    run("reconstruct", data / "series.mrc", *args, "--out", tmp_path / "one.mrc", cwd=tmp_path)
    run("reconstruct", data / "series.zarr", "--angles", data / "series.rawtlt", *args, "--scheduler", "local:2",
        "--chunk-slices", 5, "--out", tmp_path / "vol.zarr", cwd=tmp_path)
    one, _ = io.read_image(tmp_path / "one.mrc")
    volume = io.read_volume(tmp_path / "vol.zarr")
    assert volume.data.shape == one.shape == (32, 12, 32) and volume.data.chunksize[1] == 5
    np.testing.assert_allclose(volume.data.compute(), one, rtol=0, atol=1e-5 * np.abs(one).max())
    record = json.loads((tmp_path / "vol.zarr.json").read_text())
    assert record["parameters"]["angle_source"] == "series.rawtlt" and record["pieces"] == 3


def test_a_zarr_tilt_series_gets_its_tilt_axis_estimated(tmp_path):
    """A zarr series of a file made like a real one (the stored int16 values with the unsigned offset,
    tilt axis x, 2° off the grid): the command estimates the axis from the projections (read a block at a
    time) as it does for the MRC file, not the default y, and the volumes agree."""
    from _realistic_tilt_series import write_tilt_series

    from napari_invprob.files.mrc import read_mrc

    made = write_tilt_series(tmp_path, n=64, n_angles=31, drift_rms=0.0)
    stored = read_mrc(made.path).data
    ngff.write_zarr(tmp_path / "series.zarr", stored, axes="ZYX", voxel_size=(2.5, 2.5, 2.5), chunks=(4, 64, 64))
    args = ("--method", "sirt", "--n-iter", 10, "--quiet")
    run("reconstruct", made.path, *args, "--out", tmp_path / "one.mrc", cwd=tmp_path)
    said = run("reconstruct", tmp_path / "series.zarr", "--angles", made.path.with_suffix(".rawtlt"), "--method", "sirt",
               "--n-iter", 10, "--scheduler", "local:2", "--out", tmp_path / "vol.zarr", cwd=tmp_path).stderr
    assert "tilt axis x (" in said and "estimated from the projections" in said
    assert "warning" not in said  # nor a stand-in's "large negative values (0 against a signal of 0)"
    from_file = json.loads((tmp_path / "one.mrc.json").read_text())
    from_zarr = json.loads((tmp_path / "vol.zarr.json").read_text())
    assert (from_zarr["tilt_axis"], from_zarr["tilt_axis_source"]) == ("x", "estimated")
    assert from_zarr["tilt_axis_angle"] == pytest.approx(from_file["tilt_axis_angle"], abs=0.05)
    one, _ = io.read_image(tmp_path / "one.mrc")
    volume = io.read_volume(tmp_path / "vol.zarr").data.compute()
    np.testing.assert_allclose(volume, one, rtol=0, atol=1e-4 * np.abs(one).max())


def test_a_zarr_input_runs_here_when_it_fits_and_resume_needs_a_cluster(data, tmp_path):
    run("deconvolve", data / "stack.zarr", "--psf-sigma", 1.2, "--psf-size", 5, "--n-iter", 3, "--quiet",
        "--out", tmp_path / "here.tif", cwd=tmp_path)
    image, _ = io.read_image(tmp_path / "here.tif")
    assert image.shape == (20, 32, 32)
    refused = run("deconvolve", data / "stack.zarr", "--psf-sigma", 1.2, "--resume", "--out", tmp_path / "x.zarr",
                  cwd=tmp_path, check=False)
    assert refused.returncode != 0 and "--resume" in refused.stderr and not (tmp_path / "x.zarr").exists()


def test_denoise_zarr_to_zarr_on_dask(data, tmp_path):
    run("denoise", data / "stack.zarr", "--method", "tv", "--sigma", 15, "--scheduler", "local:2", "--tile-size", 10,
        16, 16, "--quiet", "--out", tmp_path / "smooth.zarr", cwd=tmp_path)
    result = io.read_volume(tmp_path / "smooth.zarr")
    assert result.data.shape == (20, 32, 32) and result.voxel_size == (2000.0, 650.0, 650.0)
    record = result.attributes["provenance"]
    assert record["problem"] == "denoising" and record["noise_sigma"] == 15 and record["pieces"] == 8


def test_deskew_zarr_to_zarr_on_dask_equals_one_deskew(data, tmp_path):
    """A stage scan in OME-Zarr deskewed on dask into OME-Zarr, chunk by chunk: the same volume as one
    ``deskew`` of the whole stack, with the deskewed voxel size and the run's record."""
    raw = io.read_volume(data / "stack.zarr").data
    run("deskew", data / "stack.zarr", "--angle", 30, "--step", 0.3, "--pixel-size", 0.104, "--fill", 100,
        "--scheduler", "local:2", "--chunk-planes", 6, "--quiet", "--out", tmp_path / "deskewed.zarr", cwd=tmp_path)
    result = io.read_volume(tmp_path / "deskewed.zarr")
    expected = nip.deskew(np.asarray(raw), angle=30, step=0.3, pixel_size=0.104, fill=100)
    np.testing.assert_array_equal(np.asarray(result.data), expected)
    np.testing.assert_allclose(result.voxel_size, [1500.0, 1040.0, 1040.0], rtol=1e-5)  # Å: 0.3 sin 30°, 0.104 µm
    record = result.attributes["provenance"]
    assert record["problem"] == "light sheet" and record["scheduler"] == "local:2"

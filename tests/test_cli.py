"""The ``napari-invprob`` console script end to end, through the installed entry point (subprocess).

Small data made here (fixed seeds): a blurred 64x64 image (TIFF, 3.5 Å pixels) and a 21-projection tilt
series (MRC, 2.5 Å pixels, ``.rawtlt`` sidecar). Quality is tested elsewhere; these tests check the
plumbing: every subcommand, the files it writes, voxel sizes, the JSON records, and that a killed run
loses nothing.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from scipy import ndimage

from napari_invprob import project
from napari_invprob.datasets import gaussian_kernel
from napari_invprob.io import read_image, write_volume
from napari_invprob.phantom import rods_and_spheres

SCRIPT = Path(sys.executable).with_name("napari-invprob")
ANGLES = np.linspace(-60, 60, 21)


def run(*args, cwd, check=True, timeout=180):
    result = subprocess.run([str(SCRIPT), *map(str, args)], cwd=cwd, capture_output=True, text=True,
                            timeout=timeout)
    if check:
        assert result.returncode == 0, result.stderr
    return result


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    """The inputs, written once for the module; tests write their outputs into their own tmp_path."""
    folder = tmp_path_factory.mktemp("inputs")
    rng = np.random.default_rng(0)
    yy, xx = np.mgrid[:64, :64]
    clean = (0.2 + 0.6 * ((yy // 16 + xx // 16) % 2)).astype(np.float32)
    blurred = ndimage.convolve(clean, gaussian_kernel(7, 1.5), mode="wrap")
    blurred = (blurred + 0.01 * rng.standard_normal(blurred.shape)).astype(np.float32)
    write_volume(folder / "clean.tif", clean, 3.5)
    write_volume(folder / "blurred.tif", blurred, 3.5)
    volume = rods_and_spheres((16, 12, 32), seed=0)
    series = project(volume, ANGLES, tilt_axis="y")
    write_volume(folder / "series.mrc", series, 2.5)
    (folder / "series.rawtlt").write_text("".join(f"{a:.2f}\n" for a in ANGLES))
    write_volume(folder / "volume.mrc", volume, 2.5)
    return folder


def test_python_dash_m_runs_the_same_program_and_help_has_examples(tmp_path):
    result = subprocess.run([sys.executable, "-m", "napari_invprob", "reconstruct", "--help"], capture_output=True,
                            text=True, cwd=tmp_path)
    assert result.returncode == 0
    assert "examples:" in result.stdout and "sirt" in result.stdout and "--scheduler" in result.stdout


def test_deconvolve_writes_tiff_with_voxel_size_sidecar_and_psnr(data, tmp_path):
    out = tmp_path / "restored.tif"
    result = run("deconvolve", data / "blurred.tif", "--psf-sigma", 1.5, "--psf-size", 7, "--lam", 0.002,
                 "--n-iter", 15, "--reference", data / "clean.tif", "--json", "--out", out, cwd=tmp_path)
    summary = json.loads(result.stdout)
    restored, pixel = read_image(out)
    assert restored.shape == (64, 64) and restored.dtype == np.float32
    assert pixel == pytest.approx(3.5)
    record = json.loads(out.with_name("restored.tif.json").read_text())
    assert record["method"] == "admm-tv" and record["iterations"] == 15
    assert record["parameters"]["lam"] == 0.002
    assert record["problem"] == "deconvolution" and record["status"] == "finished"
    assert record["psf_source"] == {"gaussian": {"sigma": [1.5, 1.5], "size": [7, 7]}}
    assert record["source"] == str((data / "blurred.tif").resolve())
    assert record["napari_invprob_version"] and record["elapsed_s"] > 0
    clean, _ = read_image(data / "clean.tif")
    blurred, _ = read_image(data / "blurred.tif")
    assert summary["psnr_db"] > _psnr(clean, blurred) + 1.0


def _psnr(reference, estimate):
    return 10 * np.log10(np.ptp(reference) ** 2 / np.mean((reference - estimate) ** 2))


def test_reconstruct_on_a_local_cluster_equals_the_single_process_run(data, tmp_path):
    single, cluster = tmp_path / "vol.mrc", tmp_path / "vol_cluster.mrc"
    args = ("reconstruct", data / "series.mrc", "--method", "sirt", "--n-iter", 10, "--quiet")
    run(*args, "--out", single, cwd=tmp_path)
    run(*args, "--scheduler", "local:2", "--chunk-slices", 5, "--out", cluster, cwd=tmp_path)
    one, pixel = read_image(single)
    many, pixel_cluster = read_image(cluster)
    assert one.shape == (32, 12, 32)
    assert pixel == pixel_cluster == pytest.approx(2.5)
    np.testing.assert_allclose(many, one, rtol=0, atol=1e-5 * np.abs(one).max())
    record = json.loads(Path(f"{cluster}.json").read_text())
    assert record["scheduler"] == "local:2"
    assert record["parameters"]["angle_source"] == "series.rawtlt"
    np.testing.assert_allclose(record["parameters"]["angles"], ANGLES)


def test_simulate_then_reconstruct_reads_the_written_angles(data, tmp_path):
    series = tmp_path / "sim.tif"
    run("simulate", "project", data / "volume.mrc", "--angle-range", -45, 45, "--n-angles", 11,
        "--noise", 0.01, "--out", series, cwd=tmp_path)
    assert np.allclose(np.loadtxt(tmp_path / "sim.tlt"), np.linspace(-45, 45, 11))
    stack, pixel = read_image(series)
    assert stack.shape == (11, 12, 32) and pixel == pytest.approx(2.5)
    run("reconstruct", series, "--out", tmp_path / "rec.tif", "--quiet", cwd=tmp_path)
    assert read_image(tmp_path / "rec.tif")[0].shape == (32, 12, 32)

    blurred = tmp_path / "blurred.mrc"
    run("simulate", "blur", data / "clean.tif", "--psf-sigma", 1.5, "--noise", 0.01, "--seed", 3,
        "--out", blurred, cwd=tmp_path)
    image, pixel = read_image(blurred)
    assert image.shape == (64, 64) and pixel == pytest.approx(3.5)
    assert json.loads(Path(f"{blurred}.json").read_text())["parameters"]["seed"] == 3


def test_align_writes_the_aligned_series_its_angles_and_the_shifts(data, tmp_path):
    out = tmp_path / "aligned.mrc"
    run("align", data / "series.mrc", "--method", "cross-correlation", "--out", out, "--quiet", cwd=tmp_path)
    aligned, pixel = read_image(out)
    assert aligned.shape == (21, 12, 32) and pixel == pytest.approx(2.5)
    assert np.allclose(np.loadtxt(tmp_path / "aligned.tlt"), ANGLES)
    record = json.loads(Path(f"{out}.json").read_text())
    assert np.asarray(record["shifts"]).shape == (21, 2)


def test_denoise_writes_the_denoised_image_with_its_record(data, tmp_path):
    clean, _ = read_image(data / "clean.tif")
    noisy = (clean + 0.05 * np.random.default_rng(1).standard_normal(clean.shape)).astype(np.float32)
    write_volume(tmp_path / "noisy.tif", noisy, 3.5)
    out = tmp_path / "denoised.mrc"
    summary = json.loads(run("denoise", tmp_path / "noisy.tif", "--reference", data / "clean.tif", "--json",
                             "--out", out, cwd=tmp_path).stdout)
    denoised, pixel = read_image(out)
    assert denoised.shape == noisy.shape and pixel == pytest.approx(3.5)
    record = json.loads(Path(f"{out}.json").read_text())
    assert record["problem"] == "denoising" and record["method"] == "learned"
    assert record["parameters"] == {"sigma": None, "channel_axis": None}  # None: estimated from the image ...
    assert 0.04 < record["noise_sigma"] < 0.06  # ... as this
    assert summary["psnr_db"] > _psnr(clean, noisy) + 3.0
    run("denoise", tmp_path / "noisy.tif", "--method", "tv", "--sigma", 0.05, "--quiet", "--out",
        tmp_path / "tv.tif", cwd=tmp_path)
    assert json.loads((tmp_path / "tv.tif.json").read_text())["parameters"]["sigma"] == 0.05


def test_demo_restores_the_lecture_case(tmp_path):
    summary = json.loads(run("demo", "--out-dir", tmp_path / "demo", "--json", "--quiet", cwd=tmp_path).stdout)
    for name in ("clean.tif", "blurred.tif", "psf.tif", "restored.tif", "restored.tif.json"):
        assert (tmp_path / "demo" / name).is_file()
    assert summary["input_psnr_db"] == pytest.approx(21.96, abs=0.05)
    assert summary["psnr_db"] > summary["input_psnr_db"] + 3.0


def test_errors_are_one_line_with_exit_status_2(data, tmp_path):
    existing = tmp_path / "existing.tif"
    existing.write_bytes(b"keep me")
    result = run("deconvolve", data / "blurred.tif", "--psf-sigma", 1, "--out", existing, cwd=tmp_path, check=False)
    assert result.returncode == 2, result.stderr
    assert len(result.stderr.strip().splitlines()) == 1 and "--overwrite" in result.stderr
    assert existing.read_bytes() == b"keep me"
    debug = run("deconvolve", tmp_path / "missing.tif", "--psf-sigma", 1, "--out", tmp_path / "o.tif", "--debug",
                cwd=tmp_path, check=False)
    assert debug.returncode != 0 and "Traceback" in debug.stderr and "FileNotFoundError" in debug.stderr


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGKILL])
def test_a_killed_run_leaves_the_existing_output_intact(data, tmp_path, sig):
    out = tmp_path / "restored.tif"
    out.write_bytes(b"the previous result")
    process = subprocess.Popen(
        [str(SCRIPT), "deconvolve", str(data / "blurred.tif"), "--psf-sigma", "1.5", "--method", "landweber",
         "--n-iter", "1000000", "--overwrite", "--out", str(out)],
        cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    process.stderr.read(1)  # the progress bar appears once the solve has started
    process.send_signal(sig)
    _, stderr = process.communicate(timeout=60)
    if sig == signal.SIGINT:
        assert process.returncode == 130 and "interrupted" in stderr
    else:
        assert process.returncode == -signal.SIGKILL
    assert out.read_bytes() == b"the previous result"
    assert sorted(os.listdir(tmp_path)) == ["restored.tif"]

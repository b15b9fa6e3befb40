"""Hostile input through the Python calls (issue 18): refused before work, never a silent NaN.

``img`` is a 64x64 float32 image and ``psf`` a 5x5 box, as in the issue. Each table row names the
reproduction and the error (type and words) or warning the call must give instead.
"""

from __future__ import annotations

import os
import stat
import warnings

import numpy as np
import pytest
import torch

from napari_invprob import deconvolve, denoise, project, reconstruct
from napari_invprob.io import write_volume
from napari_invprob.priors.denoisers import noise_level

IMG = np.random.default_rng(0).random((64, 64), dtype=np.float32)
PSF = np.ones((5, 5))

#: row -> (call, expected exception, words in its message)
REFUSED = {
    # row 4: λ beyond float32 gave an all-NaN result with no error
    "lam 1e39 admm-tv": (lambda: deconvolve(IMG, PSF, lam=1e39), ValueError, "float32"),
    "lam 1e39 fista-tv": (lambda: deconvolve(IMG, PSF, method="fista-tv", lam=1e39), ValueError, "float32"),
    "lam 1e39 rl-tv": (lambda: deconvolve(IMG, PSF, method="rl-tv", lam=1e39), ValueError, "float32"),
    "lam 1e39 pnp-admm": (lambda: deconvolve(IMG, PSF, method="pnp-admm", lam=1e39), ValueError, "float32"),
    "lam 1e39 adam": (lambda: deconvolve(IMG, PSF, method="adam", lam=1e39), ValueError, "float32"),
    "rho 1e39": (lambda: deconvolve(IMG, PSF, rho=1e39), ValueError, "option rho"),
    # row 7: data near float32's maximum overflowed into an Inf result
    "data near 3.4e38": (lambda: deconvolve(IMG * np.float32(3e38), PSF), ValueError, "NaN or Inf at iteration 1"),
    "float64 data beyond float32": (lambda: deconvolve(IMG.astype(np.float64) * 1e300, PSF), ValueError, "NaN or Inf"),
    # row 6: an infinite or unrepresentable noise level gave NaN
    "denoise sigma inf": (lambda: denoise(IMG, sigma=np.inf), ValueError, "sigma must be a finite number"),
    "denoise sigma 1e39": (lambda: denoise(IMG, sigma=1e39), ValueError, "float32"),
    # row 13: a string where a number belongs gave "'>' not supported between 'str' and 'int'"
    "denoise sigma text": (lambda: denoise(IMG, sigma="a"), TypeError, "sigma must be a number, got str"),
    "option rho text": (lambda: deconvolve(IMG, PSF, rho="abc"), TypeError, "option rho must be a number"),
    "option step text": (lambda: deconvolve(IMG, PSF, method="landweber", step="big"), TypeError, "option step"),
    "adam lr 1e38 (torch overflow)": (lambda: deconvolve(IMG, PSF, method="adam", lr=1e38, n_iter=3), ValueError,
                                      "float32's range"),
    "option n_inner float": (lambda: deconvolve(IMG, PSF, method="fista-tv", n_inner=2.5), ValueError,
                             "option n_inner must be a positive integer"),
    # row 14: a constant image, noise level estimated: "sigma must be non-negative, got nan"
    "denoise zeros": (lambda: denoise(np.zeros((64, 64))), ValueError, "cannot estimate the noise of a constant image"),
    "denoise constant": (lambda: denoise(np.full((64, 64), 7.0)), ValueError, "give sigma"),
    "noise_level constant": (lambda: noise_level(np.ones((32, 32))), ValueError, "constant image"),
    # row 12: AssertionError (cuda) and RuntimeError (bogus) from torch
    "device bogus": (lambda: deconvolve(IMG, PSF, device="bogus"), ValueError, "unknown device 'bogus'"),
    "device cuda:99": (lambda: deconvolve(IMG, PSF, device="cuda:99"), ValueError, "not available"),
    "device number": (lambda: deconvolve(IMG, PSF, device=3), TypeError, "device must be a string"),
    # row 18: booleans must be booleans; masked arrays are not silently unmasked
    "nonneg maybe": (lambda: deconvolve(IMG, PSF, nonneg="maybe"), TypeError, "nonneg must be True or False"),
    "masked image": (lambda: deconvolve(np.ma.masked_less(IMG, 0.5), PSF), ValueError, "masked array"),
    "masked psf": (lambda: deconvolve(IMG, np.ma.masked_equal(np.eye(5), 0)), ValueError, "psf is a masked array"),
    "masked denoise": (lambda: denoise(np.ma.masked_less(IMG, 0.5), sigma=0.1), ValueError, "fill them"),
}


@pytest.mark.parametrize("row", list(REFUSED))
def test_hostile_calls_are_refused_with_a_specific_error(row):
    call, error, words = REFUSED[row]
    with pytest.raises(error, match=words):
        call()


def test_cuda_without_a_gpu_is_a_value_error():
    if torch.cuda.is_available():
        pytest.skip("this machine has CUDA")
    with pytest.raises(ValueError, match="no CUDA GPU"):
        deconvolve(IMG, PSF, device="cuda")


ANGLES = np.linspace(-60, 60, 9)
SINOGRAM = project(np.pad(np.ones((8, 8), np.float32), 12), ANGLES)

#: row 8: angles in radians by mistake gave a wrong result with no warning; row 18: project accepted
#: what reconstruct refuses, and lost mass silently on a slice that is not square
WARNED_TOMOGRAPHY = {
    "reconstruct radians": (lambda: reconstruct(SINOGRAM, np.deg2rad(ANGLES)), "as angles in radians would"),
    "project radians": (lambda: project(np.ones((32, 32)), np.deg2rad(ANGLES)), "numpy.rad2deg"),
    "project non-square slice": (lambda: project(np.ones((64, 32)), [90, 91]), "lose mass"),
}


@pytest.mark.parametrize("row", list(WARNED_TOMOGRAPHY))
def test_angles_that_look_wrong_are_warned_about(row):
    call, words = WARNED_TOMOGRAPHY[row]
    with pytest.warns(UserWarning, match=words):
        call()


def test_project_refuses_repeated_angles_as_reconstruct_does():
    for call in (lambda: project(IMG, [0, 0]), lambda: reconstruct(SINOGRAM[:2], [10, 370])):
        with pytest.raises(ValueError, match="repeated projection angles"):
            call()


def test_degrees_and_square_slices_warn_about_nothing():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        reconstruct(SINOGRAM, ANGLES)
        project(np.ones((32, 32)), ANGLES)
        project(np.ones((8, 32, 32)), [-1.0, 0.0, 1.0])  # few small angles: degrees near zero


#: row 18: options a method does not use, and PSFs that mean something other than they seem, warn
WARNED = {
    "lam for wiener": (lambda: deconvolve(IMG, PSF, method="wiener", lam=1.0), "has no λ"),
    "n_iter for fourier": (lambda: deconvolve(IMG, PSF, method="fourier", n_iter=5), "n_iter=5 is ignored"),
    "even psf": (lambda: deconvolve(IMG, np.ones((4, 4)), method="tikhonov"), "even size"),
    "partly negative psf": (lambda: deconvolve(IMG, np.pad([[2.0]], 2) - 0.01, method="tikhonov"),
                            "negative values"),
}


@pytest.mark.parametrize("row", list(WARNED))
def test_hostile_calls_that_run_say_what_they_ignore_or_assume(row):
    call, words = WARNED[row]
    with pytest.warns(UserWarning, match=words):
        call()


def test_a_masked_array_without_masked_values_is_its_data():
    masked = np.ma.masked_array(IMG, mask=np.zeros(IMG.shape, bool))
    assert np.array_equal(deconvolve(masked, PSF, method="tikhonov"), deconvolve(IMG, PSF, method="tikhonov"))


def test_a_plain_call_warns_about_nothing():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        deconvolve(IMG, np.ones((5, 5)), method="fourier", n_iter=1)
        deconvolve(IMG, np.ones((5, 5)), method="landweber", n_iter=2)


# row 5: RL-TV at λ = 0.3 reached 3.4e5 on data of peak 0.25, and NaN at λ = 10
@pytest.mark.parametrize("lam", [0.3, 10.0])
def test_rl_tv_stays_bounded_for_a_large_lam(lam):
    from scipy import ndimage
    from skimage import data

    from napari_invprob.psf import gaussian

    camera = data.camera()[128:256, 128:256].astype(np.float32) / 255 / 4
    psf = gaussian((7, 7), (2.0, 2.0))
    blurred = ndimage.convolve(camera, psf, mode="wrap")
    result = deconvolve(blurred, psf, method="rl-tv", lam=lam, n_iter=10)
    assert np.isfinite(result).all()
    assert result.max() < 10 * camera.max()


def test_rl_tv_at_its_default_lam_is_unchanged_by_the_floor():
    """The floor only acts where λ·div(∇x/|∇x|) > 1/2: never at the small λ RL-TV is meant for."""
    from napari_invprob.solvers import richardson_lucy as rl

    psf = np.ones((5, 5)) / 25
    default = deconvolve(IMG, psf, method="rl-tv", lam=0.01, n_iter=5)
    floor = rl.TV_DENOMINATOR_FLOOR
    try:
        rl.TV_DENOMINATOR_FLOOR = 1e-9
        unfloored = deconvolve(IMG, psf, method="rl-tv", lam=0.01, n_iter=5)
    finally:
        rl.TV_DENOMINATOR_FLOOR = floor
    assert np.array_equal(default, unfloored)


# row 6 (the other half): a huge but representable noise level does not blow up the Gaussian denoiser
def test_a_huge_noise_level_smooths_flat_instead_of_allocating_exabytes():
    result = denoise(IMG, method="gaussian", sigma=1e30)
    assert np.isfinite(result).all()
    assert np.ptp(result) < 0.2 * np.ptp(IMG)


# row 7: float64 data were checked before the float32 cast, so 1e300 was written as Inf
@pytest.mark.parametrize("name", ["b.mrc", "b.tif"])
def test_write_volume_checks_finiteness_in_the_stored_type(tmp_path, name):
    with pytest.raises(ValueError, match="float32's range"):
        write_volume(tmp_path / name, np.ones((4, 4, 4)) * 1e300)
    assert os.listdir(tmp_path) == []


# row 12: a 300-character file name gave an OSError
def test_write_volume_refuses_a_name_too_long_for_the_file_system(tmp_path):
    with pytest.raises(ValueError, match="too long"):
        write_volume(tmp_path / ("v" * 300 + ".mrc"), np.ones((4, 4), np.float32))


# row 9: files were created 0600 (the temporary file's mode), and overwrite turned 0644 into 0600
@pytest.fixture
def umask_022():
    previous = os.umask(0o022)
    yield
    os.umask(previous)


def test_written_files_get_the_umask_mode(tmp_path, umask_022):
    path = write_volume(tmp_path / "v.mrc", np.ones((4, 4), np.float32))
    assert stat.S_IMODE(path.stat().st_mode) == 0o644


def test_a_replaced_file_keeps_its_mode(tmp_path, umask_022):
    path = write_volume(tmp_path / "v.tif", np.ones((4, 4), np.float32))
    path.chmod(0o640)
    write_volume(path, np.zeros((4, 4), np.float32), overwrite=True)
    assert stat.S_IMODE(path.stat().st_mode) == 0o640


#: rows 4, 18 for reconstruct: λ beyond float32 gave NaN; a switch that is not a bool was taken as True;
#: a step size beyond float32 turned the volume into NaN
RECONSTRUCT_REFUSED = {
    "lam 1e39 pnp-admm": (dict(method="pnp-admm", lam=1e39), ValueError, "float32"),
    "lam 1e39 adam": (dict(method="adam", lam=1e39), ValueError, "float32"),
    "nonneg maybe": (dict(method="sirt", nonneg="maybe"), TypeError, "nonneg must be True or False"),
    "adam lr 1e30": (dict(method="adam", lr=1e30, n_iter=3), ValueError, "NaN or Inf at iteration"),
}


@pytest.mark.parametrize("row", list(RECONSTRUCT_REFUSED))
def test_hostile_reconstructions_are_refused(row):
    keywords, error, words = RECONSTRUCT_REFUSED[row]
    with pytest.raises(error, match=words):
        reconstruct(SINOGRAM, ANGLES, **keywords)


# row 18: fbp's --n-iter 5 and --lam 1 were silently ignored
@pytest.mark.parametrize("keywords", [dict(n_iter=5), dict(lam=1.0)])
def test_reconstruct_reports_what_fbp_ignores(keywords):
    with pytest.warns(UserWarning, match="is ignored"):
        reconstruct(SINOGRAM, ANGLES, method="fbp", **keywords)

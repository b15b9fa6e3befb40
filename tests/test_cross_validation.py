"""λ by cross-validation, and whole tilt series reconstructed about either tilt axis."""

from __future__ import annotations

import numpy as np
import pytest
from _tilt_phantom import blob_tilt_series, random_blobs

from napari_invprob import datasets, reconstruct
from napari_invprob.metrics import psnr
from napari_invprob.tomography.cross_validation import (
    cross_validate,
    held_out_projections,
    normalised_cross_correlation,
)
from napari_invprob.tomography.reconstruct import METHODS


@pytest.fixture(scope="module")
def wedge_case():
    return datasets.shepp_logan_case("wedge", n=64, noise=0.02, seed=1)


def test_cross_validation_picks_a_lambda_near_the_psnr_best(wedge_case):
    case = wedge_case
    lams = METHODS["tv"].default_lam * np.logspace(-1, 1, 5)
    sinogram_before = case.sinogram.copy()
    result = cross_validate(case.sinogram, case.angles, method="tv", lams=lams, n_iter=30, k=4)
    np.testing.assert_array_equal(case.sinogram, sinogram_before)
    np.testing.assert_array_equal(result.lams, lams)
    assert result.scores.shape == lams.shape and np.all(result.scores <= 1.0)
    quality = [
        psnr(case.phantom, reconstruct(case.sinogram, case.angles, method="tv", lam=lam, n_iter=30),
             data_range=1.0, mask=case.mask)
        for lam in lams
    ]
    best_by_psnr = int(np.argmax(quality))
    assert 0 < best_by_psnr < lams.size - 1  # the grid brackets the optimum, so the test can fail
    chosen = int(np.flatnonzero(lams == result.best_lam)[0])
    assert abs(chosen - best_by_psnr) <= 1  # at most one grid step (a factor √10) away
    assert max(quality) - quality[chosen] < 1.0


def test_held_out_projections_and_score():
    angles = np.array([30.0, -30.0, 0.0, 10.0, -10.0, 20.0, -20.0, 40.0, -40.0])
    held = held_out_projections(angles, 3)
    np.testing.assert_array_equal(np.sort(angles[held]), [-30.0, 0.0, 30.0])
    a = np.random.default_rng(0).random((4, 5))
    assert normalised_cross_correlation(a, 3 * a + 2) == pytest.approx(1.0)
    assert normalised_cross_correlation(a, -a) == pytest.approx(-1.0)


def test_cross_validation_refuses_bad_input(wedge_case):
    case = wedge_case
    with pytest.raises(ValueError, match="49 angles for 50 projections"):
        cross_validate(case.sinogram, case.angles[:-1])
    with pytest.raises(ValueError, match="no regularisation weight"):
        cross_validate(case.sinogram, case.angles, method="fbp")
    with pytest.raises(ValueError, match="k must be"):
        cross_validate(case.sinogram, case.angles, k=1)
    with pytest.raises(ValueError, match="lams"):
        cross_validate(case.sinogram, case.angles, lams=[-1.0])


def test_tilt_axis_x_and_y_agree_after_transposing():
    angles = np.linspace(-60, 60, 31)
    series = blob_tilt_series(random_blobs(32, 8, seed=3), 32, angles, noise=0.01, seed=4)
    about_y = reconstruct(series, angles, method="sirt", n_iter=20, tilt_axis="y")
    about_x = reconstruct(series.transpose(0, 2, 1), angles, method="sirt", n_iter=20, tilt_axis="x")
    assert about_y.shape == (32, 32, 32)
    np.testing.assert_allclose(about_x, about_y.transpose(0, 2, 1), atol=1e-5 * float(np.abs(about_y).max()))

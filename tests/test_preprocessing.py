"""Tilt-series preprocessing: normalisation, log, crop, binning, tilt-axis estimation."""

from __future__ import annotations

import numpy as np
import pytest
from _tilt_phantom import blob_tilt_series, random_blobs
from scipy import ndimage

from napari_invprob.tomography.preprocessing import bin_series, crop, normalize_intensity, to_absorption
from napari_invprob.tomography.tilt_axis import choose_tilt_axis, estimate_tilt_axis

ANGLES = np.linspace(-60, 60, 41)


@pytest.fixture(scope="module")
def series():
    return blob_tilt_series(random_blobs(64, 12, seed=1), 64, ANGLES, noise=0.02, seed=2)


def test_mean_normalisation_equalises_exposure(series):
    exposure = np.linspace(0.5, 1.5, series.shape[0])[:, None, None]
    raw = (series + 10.0) * exposure
    before = raw.copy()
    normalised = normalize_intensity(raw, method="mean")
    np.testing.assert_array_equal(raw, before)
    means = normalised.mean(axis=(1, 2))
    np.testing.assert_allclose(means, means.mean(), rtol=1e-5)
    unit_mean = (series + 10.0) / (series + 10.0).mean(axis=(1, 2), keepdims=True)
    np.testing.assert_allclose(normalised / means.mean(), unit_mean, rtol=1e-4)


def test_background_normalisation_by_region_and_percentile(series):
    raw = series + np.arange(series.shape[0], dtype=np.float32)[:, None, None]
    by_region = normalize_intensity(raw, method="background", region=(slice(0, 4), slice(0, 64)))
    np.testing.assert_allclose(np.median(by_region[:, :4], axis=(1, 2)), 0, atol=1e-4)
    by_percentile = normalize_intensity(raw, method="background", percentile=1)
    np.testing.assert_allclose(by_percentile, by_region, atol=0.05 * series.max())
    with pytest.raises(ValueError, match="unknown normalisation"):
        normalize_intensity(raw, method="median")


def test_absorption_inverts_beer_lambert(series):
    line_integrals = series / series.max()
    intensity = 1000.0 * np.exp(-line_integrals)
    np.testing.assert_allclose(to_absorption(intensity, i0=1000.0), line_integrals, atol=1e-5)
    with pytest.raises(ValueError, match="I0 must be positive"):
        to_absorption(intensity, i0=0.0)


def test_crop_and_bin(series):
    cropped = crop(series, (32, 48))
    np.testing.assert_array_equal(cropped, series[:, 16:48, 8:56])
    np.testing.assert_array_equal(crop(series, (10, 10), centre=(5, 5)), series[:, :10, :10])
    with pytest.raises(ValueError, match="leaves"):
        crop(series, (10, 10), centre=(2, 2))
    binned = bin_series(series[:, :63, :62], 2)
    assert binned.shape == (41, 31, 31) and binned.dtype == np.float32
    assert binned[3, 4, 5] == pytest.approx(series[3, 8:10, 10:12].mean(), rel=1e-6)
    assert bin_series(series, 4).shape == (41, 16, 16)
    with pytest.raises(ValueError, match="positive integer"):
        bin_series(series, 1.5)


def test_tilt_axis_estimated_from_common_line(series):
    assert abs(estimate_tilt_axis(series)) < 1.0
    assert choose_tilt_axis(series) == "y"
    assert choose_tilt_axis(series.transpose(0, 2, 1)) == "x"
    rotated = ndimage.rotate(series, 20, axes=(1, 2), reshape=False, order=1)
    assert estimate_tilt_axis(rotated) == pytest.approx(20, abs=3)


def test_bad_input(series):
    with pytest.raises(ValueError, match="n_angles, rows, cols"):
        bin_series(series[0], 2)
    bad = series.copy()
    bad[0, 0, 0] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        normalize_intensity(bad)

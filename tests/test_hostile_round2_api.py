"""Hostile input through the Python calls (issue 27): optics in the wrong unit or without bound,
backgrounds at or above the data, bright-field on values that are no intensities, views with negative
strides, sizes that cannot fit, and the messages that did not say what to do."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

from napari_invprob import deconvolve, project, reconstruct
from napari_invprob.psf import from_bead_at, gaussian, optical_psf

OPTICS = dict(image_shape=(16, 32, 32), voxel_size=(0.3, 0.1, 0.1), na=1.4)


@pytest.fixture
def series():
    """A cube's projections at 21 angles (exact line integrals of a box are not needed: shapes only)."""
    volume = np.zeros((16, 16, 16), np.float32)
    volume[4:12, 4:12, 4:12] = 1.0
    angles = np.linspace(-60, 60, 21)
    return project(volume, angles), angles


# -- row 6: one unit per name, mistakes said ------------------------------------------------------------
def test_a_wavelength_in_nanometres_passed_as_micrometres_is_refused_with_the_fix():
    with pytest.raises(ValueError, match=r"wavelength 520 µm is not a wavelength of light .* looks like nanometres"):
        optical_psf("born-wolf", wavelength=520, **OPTICS)
    with pytest.raises(ValueError, match=r"wavelength_nm 0.52 nm .* looks like micrometres; wavelength_nm takes nm \(520\)"):
        optical_psf("born-wolf", wavelength_nm=0.52, **OPTICS)


def test_the_wavelength_may_be_given_in_nanometres_by_its_name_and_gives_the_same_psf():
    in_um = optical_psf("confocal", wavelength=0.52, excitation_wavelength=0.488, **OPTICS)
    in_nm = optical_psf("confocal", wavelength_nm=520, excitation_wavelength_nm=488, **OPTICS)
    np.testing.assert_array_equal(in_um, in_nm)
    with pytest.raises(ValueError, match="give wavelength .* or wavelength_nm .*, not both"):
        optical_psf("born-wolf", wavelength=0.52, wavelength_nm=520, **OPTICS)


def test_a_psf_smaller_than_a_voxel_or_flat_over_its_box_is_warned_about():
    with pytest.warns(UserWarning, match="the PSF is smaller than a voxel .* is the voxel size in micrometres"):
        optical_psf("born-wolf", image_shape=(16, 32, 32), voxel_size=(30, 10, 10), na=1.4, wavelength=0.52)
    with pytest.warns(UserWarning, match="the PSF is flat over its box along z"):
        optical_psf("born-wolf", image_shape=(16, 32, 32), voxel_size=(0.0003, 0.1, 0.1), na=1.4, wavelength=0.52)


def test_a_psf_sampled_as_microscopes_sample_it_warns_about_nothing():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        optical_psf("born-wolf", wavelength=0.52, image_shape=(32, 64, 64), voxel_size=(0.2, 0.065, 0.065), na=1.4)


# -- row 7: the optics grid has a bound ------------------------------------------------------------------
@pytest.mark.parametrize("model, changes", [
    ("born-wolf", dict(voxel_size=(1000.0, 1000.0, 1000.0))),
    ("born-wolf", dict(wavelength=1e-9)),
    ("gibson-lanni", dict(depth=1e6, ns=1.33)),
])
def test_optics_in_a_wrong_unit_are_refused_before_any_allocation(model, changes):
    parameters = dict(OPTICS, wavelength=0.52)
    parameters.update(changes)
    with pytest.raises(ValueError, match="quadrature nodes|not a wavelength of light"):
        optical_psf(model, **parameters)


def test_a_huge_pinhole_and_a_2000_cube_image_stay_within_the_psf_box():
    kernel = optical_psf("confocal", wavelength=0.52, excitation_wavelength=0.488, pinhole=1e3, **OPTICS)
    assert kernel.shape[0] <= 15
    box = optical_psf("born-wolf", wavelength=0.52, image_shape=(2000, 2000, 2000), voxel_size=(0.3, 0.1, 0.1),
                      na=1.4)
    assert max(box.shape) <= 255


def test_a_reconstruction_that_cannot_fit_in_memory_is_refused_before_any_work(series, monkeypatch):
    from napari_invprob._shared import budget

    monkeypatch.setattr(budget, "available_memory", lambda: 2**30)
    data, angles = series
    with pytest.raises(ValueError, match=r"the reconstruction \(1000000 x 16 x 16 voxels and its projector\) needs "
                                         r"about .* GiB, but only 1 GiB of memory is free: give a thickness"):
        reconstruct(data, angles, thickness=10**6)


@pytest.mark.parametrize("size", [(100000, 100000, 100000), 10**19, (10**7, 10**7, 10**7)])
def test_a_gaussian_that_cannot_fit_in_memory_is_refused(size):
    # was a MemoryError, "Maximum allowed size exceeded" or "broadcast dimensions too large"
    with pytest.raises(ValueError, match=r"a Gaussian PSF of [0-9 x]+ pixels needs about .* PiB, but only .* free: "
                                         "size is in pixels per axis"):
        gaussian(size, 1.0)


# -- row 8: backgrounds at or above the data ------------------------------------------------------------
@pytest.fixture
def counts():
    rng = np.random.default_rng(0)
    return (rng.poisson(80, (32, 32)) + 10).astype(np.float32)


def test_richardson_lucy_refuses_a_background_at_or_above_the_data(counts):
    with pytest.raises(ValueError, match="the background 10000.0 is at or above the data's maximum .* nothing would "
                                         "be left to deconvolve"):
        deconvolve(counts, gaussian(5, 1.0), method="richardson-lucy", n_iter=3, background=1e4)


@pytest.mark.parametrize("background", [None, 0.0, "auto"])
def test_richardson_lucy_refuses_data_without_a_positive_value(counts, background):
    with pytest.raises(ValueError, match="Richardson-Lucy models photon counts .* no positive value"):
        deconvolve(-counts, gaussian(5, 1.0), method="richardson-lucy", n_iter=3, background=background)


def test_reconstruct_refuses_a_background_at_or_above_the_projections(series):
    data, angles = series
    with pytest.raises(ValueError, match="the background 1000 is at or above the maximum of 21 of the 21 projections"):
        reconstruct(data, angles, background=1e3)


# -- row 9 and the contrast messages ---------------------------------------------------------------------
def test_bright_field_on_values_at_or_below_zero_is_refused(series):
    data, angles = series
    with pytest.raises(ValueError, match=r"contrast='bright-field' takes transmitted intensities I > 0, but .* at or "
                                         r"below 0 .* pass contrast='dark-field' or 'auto' \(--contrast"):
        reconstruct(data - 0.5, angles, contrast="bright-field")


def test_bright_field_given_for_dark_field_data_is_warned_about_in_both_faces_terms(series):
    data, angles = series
    with pytest.warns(UserWarning, match=r"look dark-field .* pass contrast='dark-field' \(or 'auto'; --contrast on the "
                                         r"command line\)"):
        reconstruct(data + 1.0, angles, contrast="bright-field")


# -- row 15: views with negative strides -----------------------------------------------------------------
def test_reconstruct_takes_a_reversed_view_as_deconvolve_does(series):
    data, angles = series
    reversed_view = data[::-1]
    assert reversed_view.strides[0] < 0
    np.testing.assert_allclose(reconstruct(reversed_view, angles[::-1]),
                               reconstruct(np.ascontiguousarray(reversed_view), angles[::-1]), atol=1e-6)


# -- unclear messages ----------------------------------------------------------------------------------------
@pytest.mark.parametrize("call, expected", [
    (lambda: gaussian(float("nan"), 1.0), "size must be positive whole numbers of pixels, got nan"),
    (lambda: optical_psf("born-wolf", wavelength=0.52, image_shape=(float("nan"), 8, 8),
                         voxel_size=(0.3, 0.1, 0.1), na=1.4), "image_shape must be positive whole numbers"),
    (lambda: optical_psf("born-wolf", wavelength=0.52, image_shape=(0, 32, 32), voxel_size=(0.3, 0.1, 0.1),
                         na=1.4), "image_shape must be positive whole numbers of pixels, got 0, 32, 32"),
    (lambda: optical_psf("gibson-lanni", wavelength=0.52, depth=-1.0, **OPTICS), "depth must be >= 0 micrometres"),
    (lambda: from_bead_at(np.ones((8, 8)), (np.float64(80.0), np.float64(8.0)), size=3),
     r"position \(80, 8\) is not inside"),
])
def test_messages_name_the_argument_in_the_callers_terms(call, expected):
    with pytest.raises(ValueError, match=expected) as caught:
        call()
    for internal in ("cannot convert float NaN", "np.float64", "(-1, ", "particle_depth"):
        assert internal not in str(caught.value)

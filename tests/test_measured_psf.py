"""Measured PSFs prepared by default (issue 25 items 1 and 2; issue 27 rows 10 and 11): background,
one bead, centre, crop, voxel size; a theoretical PSF passes through bit for bit."""

import warnings

import numpy as np
import pytest
from _realistic_bead import bead_stack, true_psf

from napari_invprob import deconvolve
from napari_invprob.deconvolution import bead as bead_psf
from napari_invprob.deconvolution import optics
from napari_invprob.deconvolution.measured_psf import prepare_psf, resample_psf
from napari_invprob.deconvolution.psf import gaussian

BEAD_VOXEL = (0.1, 0.104, 0.104)


@pytest.fixture(scope="module")
def bead():
    return bead_stack(photons=600_000)


def centre_of_mass(kernel):
    return [float((kernel.sum(axis=tuple(a for a in range(kernel.ndim) if a != axis)) * np.arange(n)).sum()
                  / kernel.sum()) for axis, n in enumerate(kernel.shape)]


@pytest.mark.parametrize("kernel", [
    gaussian(7, 2.0),
    gaussian(31, 2.0),
    gaussian((21, 25, 25), (4.0, 2.0, 2.0)),
    optics.optical_psf("born-wolf", image_shape=(24, 48, 48), voxel_size=(0.2, 0.065, 0.065), na=1.4,
                       wavelength=0.52),
    optics.optical_psf("gibson-lanni", image_shape=(24, 48, 48), voxel_size=(0.2, 0.065, 0.065), na=1.4,
                       wavelength=0.52, ns=1.33, depth=10.0),
    optics.optical_psf("confocal", image_shape=(24, 48, 48), voxel_size=(0.2, 0.065, 0.065), na=1.4,
                       wavelength=0.52, excitation_wavelength=0.488, pinhole=1.0),
], ids=["gaussian-7", "gaussian-31", "gaussian-3d", "born-wolf", "gibson-lanni-depth", "confocal"])
def test_a_theoretical_psf_passes_through_bit_for_bit(kernel):
    before = kernel.copy()
    prepared, report = prepare_psf(kernel)
    assert prepared.dtype == np.float32 and prepared.tobytes() == kernel.tobytes()
    assert not report.changed and report.background == 0.0 and str(report) == "the PSF was used as given"
    np.testing.assert_array_equal(kernel, before)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # deconvolve says nothing about it either
        deconvolve(np.ones((24, 48, 48) if kernel.ndim == 3 else (32, 32), np.float32), kernel, method="wiener")


def test_a_bead_stack_is_freed_of_its_background_centred_cropped_and_normalised(bead):
    before = bead.copy()
    kernel, report = prepare_psf(bead)
    np.testing.assert_array_equal(bead, before)
    assert kernel.dtype == np.float32 and all(n % 2 == 1 for n in kernel.shape)
    assert kernel.shape[0] < bead.shape[0] and kernel.shape[1] < bead.shape[1]
    assert kernel.sum() == pytest.approx(1.0, abs=1e-5) and kernel.min() >= 0
    # the bead's centre of mass on the centre; the crop of its long tail along +z moves it by 0.07 planes
    np.testing.assert_allclose(centre_of_mass(kernel), [n // 2 for n in kernel.shape], atol=0.1)
    truth = true_psf(kernel.shape, BEAD_VOXEL)
    assert np.linalg.norm(kernel - truth) / np.linalg.norm(truth) < 0.06  # measured: 3.6 % (photon noise)
    assert report.background == pytest.approx(100.0, abs=1.0)
    text = str(report)
    assert "the PSF sat on a background of 99.77 (3.1% of its peak, 95% of its sum): removed" in text
    assert "moved to the centre (35, 20, 20)" in text and "cropped from 71x40x40" in text
    assert "voxel sizes not given" in text
    again, second = prepare_psf(kernel, background="none")  # prepared once: nothing more to do
    assert again is kernel and not second.changed


def test_the_background_can_be_kept_or_given(bead):
    kept, report = prepare_psf(bead, background="none")
    assert kept.shape == bead.shape and report.background == 0.0  # used as given (off-centre, but not far)
    given, report = prepare_psf(bead, background=90.0)
    assert report.background == 90.0 and "the PSF sat on a background of 90 (2.8% of its peak" in str(report)
    for bad, error, message in [("mean", ValueError, "unknown psf_background 'mean'"),
                                (-1.0, ValueError, "finite number >= 0"), (float("nan"), ValueError, "finite"),
                                (True, TypeError, "'auto', 'none' or a number")]:
        with pytest.raises(error, match=message):
            prepare_psf(bead, background=bad)


def gaussian_on_grid(shape, voxel, sigma=(0.5, 0.15, 0.15)):
    axes = [(np.arange(n) - n // 2) * v for n, v in zip(shape, voxel)]
    kernel = np.exp(-0.5 * sum((a / s) ** 2 for a, s in zip(np.meshgrid(*axes, indexing="ij"), sigma)))
    return kernel / kernel.sum()


@pytest.mark.parametrize(("psf_step", "data_step", "planes"), [(0.1, 0.15, 33), (0.1, 0.3, 17), (0.3, 0.1, 55)])
def test_a_psf_is_resampled_onto_the_data_grid_keeping_its_energy_and_centre(psf_step, data_step, planes):
    """A Gaussian sampled at the PSF's z step, resampled to the data's: the same Gaussian sampled there."""
    source = gaussian_on_grid((2 * int(np.ceil(2.5 / psf_step)) + 1, 21, 21), (psf_step, 0.1, 0.1))
    kernel, report = prepare_psf(source.astype(np.float32), voxel_size=(data_step, 0.1, 0.1),
                                 psf_voxel_size=(psf_step, 0.1, 0.1))
    assert kernel.shape == (planes, 21, 21) and kernel.sum() == pytest.approx(1.0, abs=1e-5)
    expected = gaussian_on_grid(kernel.shape, (data_step, 0.1, 0.1))
    assert np.linalg.norm(kernel - expected) / np.linalg.norm(expected) < 2e-3  # measured: 0.09 % at 0.3 -> 0.1
    np.testing.assert_allclose(centre_of_mass(kernel), [n // 2 for n in kernel.shape], atol=1e-4)
    assert f"resampled from its voxel size {psf_step:g} x 0.1 x 0.1 to the data's {data_step:g} x 0.1 x 0.1" \
        in str(report)
    np.testing.assert_array_equal(resample_psf(source, (0.1, 0.1, 0.1), (0.1, 0.1, 0.1)), source / source.sum())


def test_only_one_voxel_size_is_said_not_guessed():
    kernel = gaussian((9, 9, 9), 1.5)
    _, report = prepare_psf(kernel, voxel_size=(0.3, 0.1, 0.1))
    assert "only the data's voxel size is known (0.3 x 0.1 x 0.1), not the PSF's" in report.warnings[0]
    _, report = prepare_psf(kernel, psf_voxel_size=(0.1, 0.1, 0.1))
    assert "only the PSF's voxel size is known" in report.warnings[0]
    with pytest.warns(UserWarning, match="only the data's voxel size is known"):
        deconvolve(np.ones((16, 16, 16), np.float32), kernel, method="wiener", voxel_size=(0.3, 0.1, 0.1))


@pytest.mark.parametrize(("sizes", "message"), [
    ({"voxel_size": (0.3, 0.0, 0.1), "psf_voxel_size": (0.1, 0.1, 0.1)}, "voxel_size must be positive finite"),
    ({"voxel_size": (0.3, -0.1, 0.1), "psf_voxel_size": (0.1, 0.1, 0.1)}, "voxel_size must be positive finite"),
    ({"voxel_size": (0.3, 0.1, 0.1), "psf_voxel_size": (np.nan, 0.1, 0.1)}, "psf_voxel_size must be positive"),
    ({"voxel_size": (0.1, 0.1), "psf_voxel_size": (0.1, 0.1, 0.1)}, r"has 2 entries for a PSF with 3 axes"),
    ({"voxel_size": 0.1, "psf_voxel_size": (0.1, 0.1, 0.1)}, "one size per axis"),
    ({"voxel_size": ("a", 1, 1)}, "must be numbers"),
])
def test_bad_voxel_sizes_are_refused_before_any_work(sizes, message):
    with pytest.raises(ValueError, match=message):
        prepare_psf(gaussian((9, 9, 9), 1.5), **sizes)
    with pytest.raises(ValueError, match=message):
        deconvolve(np.ones((16, 16, 16), np.float32), gaussian((9, 9, 9), 1.5), **sizes)


def spot(shape, centre, sigma=1.5):
    grids = np.meshgrid(*[np.arange(n, dtype=float) for n in shape], indexing="ij")
    return np.exp(-0.5 * sum((g - c) ** 2 for g, c in zip(grids, centre)) / sigma**2)


def noisy(image, seed=0):
    rng = np.random.default_rng(seed)
    return (rng.poisson(image) + 100 + 2.0 * rng.standard_normal(image.shape)).astype(np.float32)


@pytest.mark.parametrize(("image", "message"), [
    (noisy(np.zeros((24, 32, 32))), "has no bead: its brightest point is only"),
    (np.full((24, 32, 32), 100.0), "all background"),
    (noisy(2000 * spot((24, 32, 32), (12, 10, 10)) + 1500 * spot((24, 32, 32), (12, 22, 21))),
     r"holds 2 beads, not one: the brightest at \(12, 10, 10\), another at \(12, 22, 21\) \(75% as bright\)"),
    (noisy(2000 * spot((24, 32, 32), (12, 1, 16))), "is cut by the border: its bright core"),
])
def test_a_psf_that_is_not_one_bead_is_refused_with_what_was_found(image, message):
    with pytest.raises(ValueError, match=message):
        prepare_psf(image)
    with pytest.raises(ValueError, match=message):
        deconvolve(np.ones((32, 32, 32), np.float32), image, method="wiener")


@pytest.mark.parametrize(("image", "message"), [
    (noisy(np.zeros((32, 32))) - 100, "has no bead"),
    (noisy(2000 * spot((32, 32), (10, 10)) + 1500 * spot((32, 32), (22, 21))) - 100, "holds 2 beads"),
    (noisy(2000 * spot((32, 32), (16, 0.5))) - 100, "is cut by the border"),
])
def test_from_bead_refuses_what_is_not_one_whole_bead(image, message):
    """Issue 27 row 11: pure noise, two beads and a bead cut by the border no longer give a 'PSF'."""
    with pytest.raises(ValueError, match=message):
        bead_psf.from_bead(image)
    with pytest.raises(ValueError, match=message):
        bead_psf.from_bead(image + 100)


def test_an_ifftshifted_psf_is_centred_and_said():
    """Issue 27 row 10: np.fft.ifftshift(psf) is centred by default, with a warning."""
    kernel = gaussian((15, 15), (1.5, 2.5))
    shifted = np.fft.ifftshift(kernel)
    prepared, report = prepare_psf(shifted)
    np.testing.assert_allclose(prepared, kernel, atol=1e-7)
    assert "far from its centre (7, 7), as if it had been np.fft.ifftshift-ed: centred" in str(report)
    image = np.random.default_rng(0).random((32, 32)).astype(np.float32)
    with pytest.warns(UserWarning, match="ifftshift-ed: centred"):
        result = deconvolve(image, shifted, method="wiener")
    np.testing.assert_allclose(result, deconvolve(image, kernel, method="wiener"), atol=1e-5)


def test_a_small_psf_on_a_plateau_is_warned_about():
    """Camera counts too small to estimate a background in (lateral < 21 pixels), never near 0: said, not
    guessed; a theoretical PSF that small (floats) is left alone."""
    plateau = np.round(3000 * gaussian((9, 15, 15), 2.0) / gaussian((9, 15, 15), 2.0).max()).astype(np.uint16) + 100
    kernel, report = prepare_psf(plateau)
    np.testing.assert_array_equal(kernel, plateau)
    assert "too small to estimate its background, but its lowest value is" in report.warnings[0]

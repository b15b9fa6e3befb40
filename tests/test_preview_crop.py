"""The live preview on a crop (issue 15 item 5): the region in view grown by a halo of the PSF's reach,
deconvolved alone, matches the same region of the whole run. Data blurred with scipy."""

import numpy as np
import pytest
from scipy import ndimage

import napari_invprob as nip
from napari_invprob import psf as psf_models
from napari_invprob.distributed import default_overlap
from napari_invprob.problems.preview import crop_around


def test_the_crop_holds_the_region_its_halo_and_the_psf_within_the_image():
    assert crop_around((24, 100, 100), (10, 40, 50), (10, 60, 70), 8, (7, 7, 7)) == (
        slice(2, 19), slice(32, 69), slice(42, 79))
    # clipped at the image, grown to hold the PSF, given corners in any order
    assert crop_around((24, 100, 100), (0, 95, 0), (0, 99, 3), 2, (9, 5, 5)) == (
        slice(0, 9), slice(93, 100), slice(0, 6))
    assert crop_around((8, 20, 20), (4, 12, 9), (4, 3, 2), 50, (9, 31, 31)) == (
        slice(0, 8), slice(0, 20), slice(0, 20))
    with pytest.raises(ValueError, match="halo"):
        crop_around((8, 20, 20), (0, 0, 0), (1, 1, 1), -1, (1, 1, 1))


@pytest.fixture(scope="module")
def stack():
    rng = np.random.default_rng(0)
    beads = np.zeros((16, 192, 192))
    beads[tuple(rng.integers(0, 192, size=(3, 600)) % np.array([[16], [192], [192]]))] = 1.0
    clean = ndimage.gaussian_filter(beads, 1.0) * 50
    blurred = ndimage.gaussian_filter(clean, (1.2, 1.5, 1.5), mode="reflect")
    return (blurred + 0.01 * rng.standard_normal(blurred.shape)).astype(np.float32)


@pytest.mark.parametrize("method, n_iter", [("admm-tv", 10), ("richardson-lucy", 10)])
def test_a_crop_deconvolved_alone_matches_the_whole_run_inside(stack, method, n_iter):
    kernel = psf_models.gaussian((7, 9, 9), (1.2, 1.5, 1.5))
    options = dict(method=method, n_iter=n_iter, boundary="periodic")
    whole = nip.deconvolve(stack, kernel, **options)
    lo, hi = (8, 80, 90), (8, 110, 120)  # the view: one plane, 31 x 31 pixels
    halo = default_overlap(kernel.shape, n_iter)
    crop = crop_around(stack.shape, lo, hi, halo, kernel.shape)
    assert crop[1:] == (slice(38, 153), slice(48, 163))  # a crop: 115 x 115 of 192 x 192 pixels
    alone = nip.deconvolve(stack[crop], kernel, data_peak=float(np.abs(stack).max()), **options)
    inside = tuple(slice(a - s.start, b + 1 - s.start) for a, b, s in zip(lo, hi, crop))
    view = tuple(slice(a, b + 1) for a, b in zip(lo, hi))
    # measured: 6e-8 (admm-tv) and 9e-8 (richardson-lucy) of the range; tiles of a dask run promise 1e-3
    assert np.abs(alone[inside] - whole[view]).max() < 1e-3 * np.ptp(whole)

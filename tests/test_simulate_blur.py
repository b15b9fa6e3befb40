"""simulate.blur: matches an independent blur, reproducible noise, inputs untouched, bad input refused."""

import numpy as np
import pytest

from napari_invprob.datasets import lecture_astronaut
from napari_invprob.simulate import blur


def test_noiseless_rgb_blur_matches_the_lecture_case():
    case = lecture_astronaut(noise_sigma=0.0, clip=False)
    ours = blur(case.clean, case.psf, channel_axis=-1)
    assert ours.dtype == np.float32 and ours.shape == case.clean.shape
    np.testing.assert_allclose(ours, case.blurred, atol=1e-5)


def test_noise_has_the_requested_sigma_and_is_reproducible():
    image = np.random.default_rng(0).random((128, 128)).astype(np.float32)
    psf = np.ones((3, 3), np.float32) / 9
    clean = blur(image, psf)
    noisy = blur(image, psf, 0.05, seed=1)
    assert np.std(noisy - clean) == pytest.approx(0.05, rel=0.03)
    np.testing.assert_array_equal(noisy, blur(image, psf, 0.05, seed=1))
    assert not np.array_equal(noisy, blur(image, psf, 0.05, seed=2))


def test_zero_boundary_does_not_wrap_and_integers_are_converted():
    image = np.zeros((16, 16), np.uint8)
    image[0, 0] = 200
    psf = np.ones((3, 3)) / 9
    wrapped = blur(image, psf)
    padded = blur(image, psf, boundary="zero")
    assert wrapped[-1, -1] == pytest.approx(200 / 9, rel=1e-5) and abs(padded[-1, -1]) < 1e-4
    assert padded.sum() == pytest.approx(4 * 200 / 9, rel=1e-5)


def test_inputs_are_never_modified():
    image = np.random.default_rng(3).random((20, 20, 3))
    psf = np.ones((5, 5)) / 25
    before_image, before_psf = image.copy(), psf.copy()
    blur(image, psf, 0.1, seed=0, channel_axis=-1)
    np.testing.assert_array_equal(image, before_image)
    np.testing.assert_array_equal(psf, before_psf)


@pytest.mark.parametrize(
    ("image", "psf", "kwargs", "message"),
    [
        (np.zeros((8, 8)), np.ones((9, 3)), {}, r"psf of shape \(9, 3\) is larger than the image's spatial shape \(8, 8\)"),
        (np.full((8, 8), np.nan), np.ones((3, 3)), {}, "image contains NaN"),
        (np.zeros((8, 8)), np.ones((3, 3, 3)), {}, "psf has 3 axes"),
        (np.zeros((8, 8)), np.ones((3, 3)), {"noise_sigma": -1.0}, "noise_sigma must be a finite number >= 0"),
        (np.zeros((8, 8)), np.ones((3, 3)), {"boundary": "mirror"}, "unknown boundary 'mirror'"),
    ],
)
def test_bad_input_is_refused(image, psf, kwargs, message):
    with pytest.raises(ValueError, match=message):
        blur(image, psf, **kwargs)

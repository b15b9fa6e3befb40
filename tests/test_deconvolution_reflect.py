"""``boundary="reflect"``: mirrored edges, no ringing on images whose opposite edges differ."""

import numpy as np
import pytest
import scipy.fft
from scipy import ndimage
from skimage import data, img_as_float

import napari_invprob as nip
from napari_invprob.deconvolution.problem import MIN_REFLECT_MARGIN, reflect_margins
from napari_invprob.metrics import psnr


@pytest.fixture(scope="module")
def crop_case():
    """A non-periodic crop of ``camera`` blurred with mirrored edges (scipy, not our operator)."""
    clean = img_as_float(data.camera())[100:356, 150:406].astype(np.float32)
    r = np.arange(7) - 3
    psf = np.exp(-(r[:, None] ** 2 + r[None] ** 2) / (2 * 4.0**2))
    psf /= psf.sum()
    blurred = ndimage.convolve(clean, psf, mode="reflect")
    noisy = blurred + 0.05 * np.random.default_rng(0).standard_normal(clean.shape)
    return clean, psf, noisy.astype(np.float32)


def test_margins_cover_the_psf_and_give_a_fast_size():
    shape, psf_shape = (256, 250), (7, 15)
    for n, k, (before, after) in zip(shape, psf_shape, reflect_margins(shape, psf_shape)):
        margin = max(2 * k, MIN_REFLECT_MARGIN)
        assert before >= margin and after >= margin
        assert n + before + after == scipy.fft.next_fast_len(n + 2 * margin, real=True)
    assert reflect_margins((3, 3), (3, 3)) == ((2, 2), (2, 2))  # a mirror is shorter than the image


@pytest.mark.parametrize("method, options", [("admm-tv", {}), ("pnp-admm", {"denoiser": "learned"})])
def test_reflect_removes_the_edge_ringing_of_periodic(crop_case, method, options):
    clean, psf, noisy = crop_case
    periodic = nip.deconvolve(noisy, psf, method=method, **options)
    reflect = nip.deconvolve(noisy, psf, method=method, boundary="reflect", **options)
    assert reflect.shape == noisy.shape and reflect.dtype == np.float32
    # measured: admm-tv 22.9 -> 25.6 dB, learned pnp-admm 17.1 -> 25.8 dB (its iterates blow up at the edges)
    assert psnr(clean, reflect, data_range=1) > psnr(clean, periodic, data_range=1) + 2.0
    assert psnr(clean, reflect, data_range=1) > 25.3


def test_reflect_works_in_3d_with_channels_direct_methods_and_x0():
    rng = np.random.default_rng(1)
    volume = rng.random((12, 20, 18)).astype(np.float32)
    psf = np.ones((3, 3, 3), np.float32)
    out = nip.deconvolve(volume, psf, method="wiener", boundary="reflect")
    assert out.shape == volume.shape
    rgb = rng.random((24, 30, 3)).astype(np.float32)
    out = nip.deconvolve(rgb, np.ones((5, 5)), method="fista-tv", n_iter=3, boundary="reflect", channel_axis=-1,
                         x0=rgb)
    assert out.shape == rgb.shape
    steps = list(nip.deconvolve_iter(rgb, np.ones((5, 5)), method="landweber", n_iter=2, boundary="reflect",
                                     channel_axis=-1))
    assert len(steps) == 2 and tuple(steps[-1].x.shape) == rgb.shape


def test_reflect_refuses_a_psf_larger_than_the_image():
    with pytest.raises(ValueError, match="larger than the image"):
        nip.deconvolve(np.ones((8, 8)), np.ones((9, 9)), boundary="reflect")

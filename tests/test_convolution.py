"""Convolution: exact adjoints, agreement with scipy, no shift, Fourier access and bad input."""

import numpy as np
import pytest
import scipy.ndimage as ndi
import scipy.signal
import torch

from napari_invprob.operators import Convolution, Gradient
from napari_invprob.testing import adjoint_test


def random_psf(shape, seed=0):
    psf = np.random.default_rng(seed).random(shape).astype(np.float32)
    return psf / psf.sum()


@pytest.mark.parametrize("boundary", ["periodic", "zero"])
@pytest.mark.parametrize(
    ("shape", "psf_shape", "channel_axis", "batch"),
    [
        ((32, 40), (5, 5), None, ()),  # 2D, odd PSF
        ((32, 41), (4, 6), None, ()),  # 2D, even PSF, odd image width
        ((12, 14, 16), (3, 4, 5), None, ()),  # 3D, mixed parities
        ((20, 24), (7, 7), None, (2, 3)),  # batched
        ((24, 20, 3), (6, 5), -1, ()),  # RGB, channel last
        ((3, 24, 20), (5, 5), 0, (2,)),  # channel first, batched
    ],
)
def test_adjoint_is_exact(shape, psf_shape, channel_axis, batch, boundary):
    op = Convolution(random_psf(psf_shape), shape, boundary=boundary, channel_axis=channel_axis, device="cpu")
    assert adjoint_test(op, batch_shape=batch) < 1e-4


@pytest.mark.parametrize("psf_shape", [(5, 7), (4, 6), (1, 4)])
def test_zero_boundary_is_linear_convolution(psf_shape):
    rng = np.random.default_rng(1)
    x = rng.random((30, 33)).astype(np.float32)
    psf = random_psf(psf_shape, seed=2)
    ours = Convolution(psf, x.shape, boundary="zero", device="cpu")(torch.from_numpy(x)).numpy()
    full = scipy.signal.fftconvolve(x.astype(np.float64), psf, mode="full")
    # our centre is size // 2; scipy's "same" starts its crop at (size - 1) // 2 (differs for even sizes)
    start = [k // 2 for k in psf_shape]
    expected = full[start[0] : start[0] + 30, start[1] : start[1] + 33]
    np.testing.assert_allclose(ours, expected, atol=1e-5)
    if all(k % 2 for k in psf_shape):
        np.testing.assert_allclose(ours, scipy.signal.fftconvolve(x, psf, mode="same"), atol=1e-5)


@pytest.mark.parametrize("psf_shape", [(5, 5), (4, 6), (3, 4, 5)])
def test_periodic_boundary_matches_ndimage_wrap(psf_shape):
    shape = (18, 20) if len(psf_shape) == 2 else (10, 12, 14)
    x = np.random.default_rng(3).random(shape).astype(np.float32)
    psf = random_psf(psf_shape, seed=4)
    ours = Convolution(psf, shape, device="cpu")(torch.from_numpy(x)).numpy()
    np.testing.assert_allclose(ours, ndi.convolve(x.astype(np.float64), psf, mode="wrap"), atol=1e-5)


def test_rgb_applies_the_psf_to_each_channel():
    x = np.random.default_rng(5).random((16, 18, 3)).astype(np.float32)
    psf = random_psf((5, 4), seed=6)
    for boundary in ("periodic", "zero"):
        rgb = Convolution(psf, x.shape, boundary=boundary, channel_axis=-1, device="cpu")(torch.from_numpy(x))
        gray = Convolution(psf, x.shape[:2], boundary=boundary, device="cpu")
        for c in range(3):
            torch.testing.assert_close(rgb[..., c], gray(torch.from_numpy(x[..., c].copy())))


@pytest.mark.parametrize("psf_shape", [(7, 7), (6, 8), (5, 6, 4)])
def test_delta_survives_convolution_then_fourier_division(psf_shape):
    shape = (32, 32) if len(psf_shape) == 2 else (16, 16, 16)
    # a Gaussian PSF has no spectral zeros, so noiseless division is well posed
    grids = np.meshgrid(*[np.arange(k) - k // 2 for k in psf_shape], indexing="ij")
    psf = np.exp(-sum(g**2 for g in grids) / (2 * 1.0**2))
    op = Convolution(psf / psf.sum(), shape, device="cpu")
    delta = torch.zeros(shape)
    where = tuple(s // 3 for s in shape)
    delta[where] = 1.0
    blurred = op(delta)
    assert tuple(np.unravel_index(int(blurred.argmax()), shape)) == where  # no shift from the blur itself
    restored = op.irfft(op.rfft(blurred) / op.otf)
    assert tuple(np.unravel_index(int(restored.argmax()), shape)) == where
    torch.testing.assert_close(restored, delta, atol=1e-3, rtol=0)


def test_rfft_irfft_with_channel_axis():
    x = torch.from_numpy(np.random.default_rng(7).random((2, 10, 12, 3)).astype(np.float32))
    op = Convolution(random_psf((3, 3)), (10, 12, 3), channel_axis=-1, device="cpu")
    spectrum = op.rfft(x)
    assert spectrum.shape == (2, 3, 10, 7) and op.otf.shape == (10, 7)
    torch.testing.assert_close(op.irfft(spectrum), x)
    torch.testing.assert_close(op.irfft(spectrum * op.otf), op(x))


def test_zero_boundary_has_no_fourier_access():
    op = Convolution(random_psf((3, 3)), (8, 8), boundary="zero", device="cpu")
    with pytest.raises(AttributeError, match="periodic"):
        op.otf


def test_norm_of_normalised_nonnegative_psf_is_one_and_composes_with_gradient():
    op = Convolution(random_psf((5, 5)), (24, 24), device="cpu")
    assert op.norm() == pytest.approx(1.0, rel=1e-3)
    composed = Gradient((24, 24), device="cpu") @ op
    assert composed.out_shape == (2, 24, 24)
    assert adjoint_test(composed, batch_shape=(2,)) < 1e-4


def test_input_is_not_modified():
    x = torch.rand(12, 12)
    before = x.clone()
    op = Convolution(random_psf((3, 3)), (12, 12), boundary="zero", device="cpu")
    op(x), op.H(x)
    torch.testing.assert_close(x, before, rtol=0, atol=0)


@pytest.mark.parametrize(
    ("psf", "shape", "kwargs", "message"),
    [
        (np.ones((9, 9)), (8, 16), {}, r"psf of shape \(9, 9\) is larger than the image's spatial shape \(8, 16\)"),
        (np.full((3, 3), np.nan), (8, 8), {}, "psf contains NaN"),
        (np.ones((3, 3, 3)), (8, 8), {}, r"psf has 3 axes .* 2 spatial axes"),
        (np.ones((3, 3, 3)), (8, 8, 3), {"channel_axis": -1}, r"psf has 3 axes .* 2 spatial axes"),
        (np.zeros((3, 3)), (8, 8), {}, "psf is all zero"),
        (np.ones((3, 3)), (8, 8), {"boundary": "reflect"}, "unknown boundary 'reflect'.*periodic, zero"),
        (np.ones((3, 3)), (8, 8, 3), {"channel_axis": 3}, "channel_axis 3 is out of range"),
    ],
)
def test_bad_input_is_refused(psf, shape, kwargs, message):
    with pytest.raises(ValueError, match=message):
        Convolution(psf, shape, device="cpu", **kwargs)


def test_wrong_input_shape_is_refused():
    op = Convolution(random_psf((3, 3)), (8, 8), device="cpu")
    with pytest.raises(ValueError, match=r"trailing axes of shape \(8, 8\)"):
        op(torch.zeros(8, 9))


@pytest.fixture
def plane_by_plane(monkeypatch):
    """Every image takes the plane-by-plane transforms (the path of stacks above WHOLE_TRANSFORM_ELEMENTS)."""
    import napari_invprob.operators.convolution as convolution

    monkeypatch.setattr(convolution, "WHOLE_TRANSFORM_ELEMENTS", 0)


@pytest.mark.parametrize("boundary", ["periodic", "zero"])
@pytest.mark.parametrize(("psf_shape", "symmetric"), [((5, 7, 3), False), ((5, 7, 3), True), ((4, 6, 5), False)])
def test_plane_by_plane_transforms_match_scipy_in_place_and_with_channels(plane_by_plane, boundary, psf_shape,
                                                                          symmetric):
    rng = np.random.default_rng(3)
    psf = rng.random(psf_shape).astype(np.float32)
    if symmetric:
        psf = psf + psf[::-1, ::-1, ::-1]
    psf /= psf.sum()
    x = rng.random((2, 12, 14, 16)).astype(np.float32)
    if boundary == "zero":  # linear convolution, the centre pixel size // 2 at zero shift
        crop = tuple(slice(k // 2, k // 2 + n) for k, n in zip(psf.shape, x.shape[1:]))
        expected = np.stack([scipy.signal.fftconvolve(image, psf, mode="full")[crop] for image in x])
    else:
        expected = np.stack([ndi.convolve(image.astype(np.float64), psf, mode="wrap") for image in x])
    op = Convolution(psf, x.shape[1:], boundary=boundary, device="cpu")
    assert op.symmetric == symmetric
    np.testing.assert_allclose(op(torch.from_numpy(x)).numpy(), expected, atol=2e-6)
    work = op.scratch((2,))  # in place: the spectrum lives in the image's memory
    work.copy_(torch.from_numpy(x))
    np.testing.assert_allclose(op.forward_into(work, work).numpy(), expected, atol=2e-6)
    assert adjoint_test(op, batch_shape=(2,)) < 1e-4
    channels = Convolution(psf, (12, 3, 14, 16), boundary=boundary, channel_axis=1, device="cpu")
    by_channel = channels(torch.from_numpy(np.ascontiguousarray(np.repeat(x[:, :, None], 3, axis=2))))
    np.testing.assert_allclose(by_channel.numpy()[:, :, 1], expected, atol=2e-6)


def test_a_periodic_blur_knows_its_column_sums_and_a_zero_boundary_computes_them():
    psf = random_psf((5, 5), seed=4)
    assert float(Convolution(psf, (20, 24), device="cpu").adjoint_ones()) == pytest.approx(1.0, abs=1e-6)
    sums = Convolution(psf, (20, 24), boundary="zero", device="cpu").adjoint_ones()
    expected = scipy.signal.correlate(np.ones((20, 24)), psf, mode="same")  # odd PSF: "same" is centred
    np.testing.assert_allclose(sums.numpy(), expected, atol=1e-6)

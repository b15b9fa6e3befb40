"""Proximal maps, the TV prox/denoiser, the Gaussian denoiser and ``napari_invprob.denoise``."""

import numpy as np
import pytest
import torch
from skimage import data
from skimage.util import img_as_float32

import napari_invprob as nip
from napari_invprob.metrics import psnr
from napari_invprob.operators import Gradient
from napari_invprob.priors.denoisers import DENOISERS, get_denoiser
from napari_invprob.priors.gaussian import GaussianDenoiser
from napari_invprob.priors.proximal import project_box, project_nonneg, soft_threshold
from napari_invprob.priors.tv import TVDenoiser, TVProx, shrink_magnitude, tv_norm


def test_soft_threshold_and_projections():
    v = torch.tensor([-2.0, -0.5, 0.0, 0.25, 3.0])
    assert torch.equal(soft_threshold(v, 0.5), torch.tensor([-1.5, 0.0, 0.0, 0.0, 2.5]))
    assert torch.equal(project_nonneg(v), torch.tensor([0.0, 0.0, 0.0, 0.25, 3.0]))
    assert torch.equal(project_box(v, -1.0, 1.0), torch.tensor([-1.0, -0.5, 0.0, 0.25, 1.0]))
    with pytest.raises(ValueError, match="empty"):
        project_box(v, 1.0, 0.0)


def test_shrink_magnitude_shrinks_each_pixels_gradient_vector():
    gradient = Gradient((1, 2), device="cpu")
    field = torch.tensor([[[3.0, 0.1]], [[4.0, 0.0]]])  # magnitudes 5 and 0.1
    out = shrink_magnitude(gradient, field, 1.0)
    assert torch.allclose(out[:, 0, 0], torch.tensor([2.4, 3.2]))
    assert torch.equal(out[:, 0, 1], torch.zeros(2))


def _objective(x, v, tau, gradient):
    return 0.5 * float(torch.sum((x - v) ** 2)) + tau * tv_norm(gradient, x)


@pytest.mark.parametrize("shape", [(20, 24), (6, 8, 10)])
def test_tv_prox_minimises_the_rof_objective_in_2d_and_3d(shape):
    gen = torch.Generator().manual_seed(0)
    v = torch.rand(2, *shape, generator=gen)  # a batch of 2 (e.g. channels)
    gradient = Gradient(shape, device="cpu")
    tau = 0.1
    x = TVProx(gradient, n_iter=300)(v, tau)
    best = _objective(x, v, tau, gradient)
    assert best < _objective(v, v, tau, gradient)
    for scale in (1e-2, 1e-3):  # no random perturbation does better
        assert best <= _objective(x + scale * torch.randn(x.shape, generator=gen), v, tau, gradient) + 1e-4
    nonneg = TVProx(gradient, n_iter=50, nonneg=True)(v - 0.5, tau)
    assert float(nonneg.min()) >= 0.0


def test_tv_prox_keeps_the_mean_and_removes_noise_from_a_piecewise_constant_image():
    gen = torch.Generator().manual_seed(1)
    clean = torch.zeros(1, 48, 48)
    clean[:, 12:36, 12:36] = 1.0
    noisy = clean + 0.1 * torch.randn(clean.shape, generator=gen)
    out = TVProx(Gradient((48, 48), device="cpu"), n_iter=100)(noisy, 0.1)
    assert float(out.mean()) == pytest.approx(float(noisy.mean()), abs=1e-4)
    assert psnr(clean, out, data_range=1) > psnr(clean, noisy, data_range=1) + 8


@pytest.mark.parametrize("name", ["tv", "gaussian"])
def test_denoisers_are_fresh_callables_that_denoise_2d_and_3d_batches(name):
    gen = torch.Generator().manual_seed(2)
    assert get_denoiser(name) is not get_denoiser(name)
    for shape in [(2, 64, 64), (1, 16, 32, 32)]:
        grid = torch.meshgrid(*[torch.linspace(-1, 1, n) for n in shape[1:]], indexing="ij")
        clean = torch.exp(-2 * sum(g**2 for g in grid)).expand(shape)  # smooth blob
        noisy = clean + 0.1 * torch.randn(shape, generator=gen)
        out = get_denoiser(name)(noisy, 0.1)
        assert out.shape == noisy.shape
        assert psnr(clean, out, data_range=1) > psnr(clean, noisy, data_range=1) + 3


def test_denoiser_strength_grows_with_sigma():
    constant = torch.full((1, 16, 16), 0.5)
    for denoiser in (GaussianDenoiser(), TVDenoiser()):
        assert torch.allclose(denoiser(constant, 0.2), constant, atol=1e-6)  # flat stays flat
    assert TVDenoiser.weight(0.02) == pytest.approx(0.01)
    assert TVDenoiser.weight(0.2) > 5 * TVDenoiser.weight(0.05) / 2


def test_get_denoiser_lists_the_valid_names():
    assert {"tv", "gaussian"} <= set(DENOISERS)
    with pytest.raises(ValueError, match="gaussian, .*tv"):
        get_denoiser("bm3d")


@pytest.fixture(scope="module")
def noisy_astronaut():
    clean = img_as_float32(data.astronaut()[::2, ::2])
    rng = np.random.default_rng(0)
    return clean, (clean + 0.05 * rng.standard_normal(clean.shape)).astype(np.float32)


def test_denoise_rgb_with_an_estimated_sigma(noisy_astronaut):
    clean, noisy = noisy_astronaut
    before = noisy.copy()
    for method, gain in (("tv", 3.0), ("gaussian", 0.3)):
        out = nip.denoise(noisy, method=method, channel_axis=-1)
        assert out.shape == noisy.shape and out.dtype == np.float32
        assert psnr(clean, out, data_range=1) > psnr(clean, noisy, data_range=1) + gain
    np.testing.assert_array_equal(noisy, before)


def test_denoise_converts_integer_images_and_refuses_bad_input(noisy_astronaut):
    clean, noisy = noisy_astronaut
    as_uint8 = (np.clip(noisy[..., 0], 0, 1) * 255).round().astype(np.uint8)
    out = nip.denoise(as_uint8)
    assert out.dtype == np.float32 and out.max() > 100  # the image's own units, not truncated to [0, 1]
    assert psnr(clean[..., 0], out / 255, data_range=1) > psnr(clean[..., 0], as_uint8 / 255, data_range=1) + 3
    with pytest.raises(ValueError, match="unknown denoiser"):
        nip.denoise(noisy, method="nope")
    with pytest.raises(ValueError, match="2D or 3D"):
        nip.denoise(np.zeros(10))
    with pytest.raises(ValueError, match="NaN"):
        nip.denoise(np.full((8, 8), np.nan))
    with pytest.raises(ValueError, match="sigma"):
        nip.denoise(noisy[..., 0], sigma=-1.0)


def test_every_denoiser_has_a_one_line_summary():
    from napari_invprob.priors.denoisers import DENOISERS

    assert all(name == spec.name for name, spec in DENOISERS.items())
    assert all(spec.summary and "\n" not in spec.summary for spec in DENOISERS.values())

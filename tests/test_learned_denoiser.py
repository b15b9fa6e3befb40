"""The learned denoiser: shipped weights, the denoiser contract, and its quality floors."""

from __future__ import annotations

import importlib.util
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import torch
from skimage import data as skdata
from skimage import restoration
from skimage.color import rgb2gray
from skimage.util import img_as_float32

from napari_invprob import datasets, deconvolve, deconvolve_iter
from napari_invprob.deconvolution import methods as deconvolution_methods
from napari_invprob.metrics import psnr
from napari_invprob.operators import ParallelBeamProjector
from napari_invprob.phantom import shepp_logan_image
from napari_invprob.priors import denoisers, learned
from napari_invprob.priors.denoisers import denoise
from napari_invprob.priors.learned import SIGMA_MAX, learned_denoiser, load_net
from napari_invprob.solvers.pnp import pnp_admm, pnp_fista

SCRIPT = Path(__file__).resolve().parents[1] / "scripts" / "train_denoiser.py"


@pytest.fixture(scope="module")
def denoiser():
    return learned_denoiser()


@pytest.fixture(scope="module")
def grey_astronaut() -> np.ndarray:
    return rgb2gray(img_as_float32(skdata.astronaut())).astype(np.float32)


def _noisy(clean: np.ndarray, sigma: float, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return (clean + sigma * rng.standard_normal(clean.shape)).astype(np.float32)


def test_weights_ship_in_the_package_and_are_small():
    path = Path(learned.__file__).parent / "weights" / learned.WEIGHTS_FILE
    assert path.is_file()
    assert path.stat().st_size < 4 * 2**20
    assert (path.parent / "MODEL_CARD.md").is_file()


def test_network_is_loaded_once_per_device():
    assert load_net(torch.device("cpu")) is load_net(torch.device("cpu"))
    assert not any(p.requires_grad for p in load_net(torch.device("cpu")).parameters())


@pytest.mark.parametrize("shape", [(37, 50), (3, 40, 33), (2, 3, 24, 24), (5, 7)])
def test_denoiser_keeps_shape_and_leaves_input_alone(denoiser, shape):
    x = torch.rand(shape, generator=torch.Generator().manual_seed(0))
    before = x.clone()
    out = denoiser(x, 0.05)
    assert out.shape == x.shape and out.dtype == torch.float32
    assert torch.isfinite(out).all()
    assert torch.equal(x, before)


def test_batch_axes_are_independent_images(denoiser):
    rgb = torch.rand(3, 64, 48, generator=torch.Generator().manual_seed(1))
    together = denoiser(rgb, 0.1)
    alone = torch.stack([denoiser(rgb[c], 0.1) for c in range(3)])
    torch.testing.assert_close(together, alone, atol=1e-5, rtol=1e-5)


def test_bad_input_is_refused(denoiser):
    with pytest.raises(ValueError, match="sigma"):
        denoiser(torch.zeros(8, 8), -0.1)
    with pytest.raises(ValueError, match="sigma"):
        denoiser(torch.zeros(8, 8), float("nan"))
    with pytest.raises(ValueError, match="images"):
        denoiser(torch.zeros(8), 0.1)
    with pytest.raises(TypeError, match="Tensor"):
        denoiser(np.zeros((8, 8), np.float32), 0.1)


def test_noise_above_the_trained_range_is_still_removed(denoiser, grey_astronaut):
    sigma = 1.5 * SIGMA_MAX
    noisy = _noisy(grey_astronaut[::2, ::2], sigma)
    out = denoiser(torch.from_numpy(noisy), sigma).numpy()
    clean = grey_astronaut[::2, ::2]
    assert psnr(clean, out, data_range=1.0) > psnr(clean, noisy, data_range=1.0) + 8.0


@pytest.fixture(scope="module")
def training_script():
    spec = importlib.util.spec_from_file_location("train_denoiser", SCRIPT)
    script = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(script)
    return script


#: Margins in dB over the best-weight TV and the best of the non-local means settings the model card
#: tries, at sigma 0.05, noise seed 0, a little under the measured ones (model card: astronaut +1.79 /
#: +0.72, camera +0.96 / +0.38). The issue's target, +1 dB over both, is not reached by this network
#: trained on a 2-core CPU.
FLOORS = {"astronaut": (1.7, 0.65), "camera": (0.9, 0.3)}


@pytest.mark.parametrize("name", sorted(FLOORS))
def test_beats_tv_and_nonlocal_means_at_sigma_005(denoiser, grey_astronaut, training_script, name):
    """Both images are never seen in training or validation (scripts/train_denoiser.py TEST_IMAGES)."""
    sigma = 0.05
    clean = grey_astronaut if name == "astronaut" else img_as_float32(skdata.camera())
    noisy = _noisy(clean, sigma)
    learned_psnr = psnr(clean, denoiser(torch.from_numpy(noisy), sigma).numpy(), data_range=1.0)
    tv_psnr = max(
        psnr(clean, restoration.denoise_tv_chambolle(noisy, weight=w), data_range=1.0)
        for w in (0.02, 0.03, 0.04, 0.05, 0.06, 0.08)
    )
    nlm_psnr = max(
        psnr(clean, restoration.denoise_nl_means(noisy, h=h * sigma, sigma=sigma, patch_size=5, patch_distance=6,
                                                 fast_mode=fast), data_range=1.0)
        for h, fast in training_script.NLM_SETTINGS
    )
    tv_margin, nlm_margin = FLOORS[name]
    assert learned_psnr >= tv_psnr + tv_margin, (learned_psnr, tv_psnr)
    assert learned_psnr >= nlm_psnr + nlm_margin, (learned_psnr, nlm_psnr)


def test_training_script_never_sees_the_test_images(training_script):
    assert {"astronaut", "camera", "shepp_logan_phantom"} <= set(training_script.TEST_IMAGES)
    used = set(training_script.TRAINING_IMAGES) | set(training_script.VALIDATION_IMAGES)
    assert not used & set(training_script.TEST_IMAGES)
    assert not set(training_script.TRAINING_IMAGES) & set(training_script.VALIDATION_IMAGES)


def test_denoise_step_by_name_on_rgb():
    clean = img_as_float32(skdata.astronaut())[::4, ::4]
    noisy = _noisy(clean, 0.1, seed=3)
    before = noisy.copy()
    out = denoise(noisy, method="learned", sigma=0.1, channel_axis=-1)
    assert out.shape == clean.shape and out.dtype == np.float32
    assert np.array_equal(noisy, before)
    assert psnr(clean, out, data_range=1.0) > psnr(clean, noisy, data_range=1.0) + 3.0


def test_denoise_step_estimates_the_noise_level(grey_astronaut):
    """``napari_invprob.denoise(image, method="learned")`` with sigma left to the wavelet estimate."""
    clean = grey_astronaut[::2, ::2]
    noisy = _noisy(clean, 0.05, seed=4)
    estimated = denoise(noisy, method="learned")
    given = denoise(noisy, method="learned", sigma=0.05)
    assert psnr(clean, estimated, data_range=1.0) > psnr(clean, given, data_range=1.0) - 0.5  # 0.25 measured
    assert psnr(clean, estimated, data_range=1.0) > psnr(clean, noisy, data_range=1.0) + 4.0


@pytest.mark.slow
def test_pnp_admm_with_the_learned_denoiser_beats_tv_on_the_lecture_case():
    """The lecture's RGB astronaut (7x7 Gaussian sigma 4, noise 0.05); ADMM-TV's best is 26.0 dB.

    The default call runs the decreasing noise schedule (26.72 dB measured with the shipped weights).
    """
    case = datasets.lecture_astronaut()
    restored = deconvolve(case.blurred, case.psf, method="pnp-admm", denoiser="learned", channel_axis=-1)
    assert psnr(case.clean, restored, data_range=1.0) >= 26.4


def test_pnp_admm_learned_default_follows_the_noise_schedule(monkeypatch):
    """σ_k falls geometrically from 0.15 to λ and ρ_k = 0.23·λ²/σ_k², one data step per ρ_k."""
    seen_sigma, seen_rho = [], []
    monkeypatch.setitem(denoisers.DENOISERS, "learned", replace(denoisers.DENOISERS["learned"],
                        factory=lambda: lambda x, sigma: seen_sigma.append(sigma) or x))
    real_step = deconvolution_methods.fourier_least_squares_step
    monkeypatch.setattr(deconvolution_methods, "fourier_least_squares_step",
                        lambda op, y, *, rho: seen_rho.append(rho) or real_step(op, y, rho=rho))
    image = np.random.default_rng(0).random((24, 24)).astype(np.float32)
    iterates = list(deconvolve_iter(image, np.ones((3, 3)), method="pnp-admm", denoiser="learned",
                                    lam=0.05, n_iter=5))
    assert [it.iteration for it in iterates] == [1, 2, 3, 4, 5]
    expected = np.geomspace(0.15, 0.05, 5)
    np.testing.assert_allclose(seen_sigma, expected, rtol=1e-6)
    np.testing.assert_allclose(seen_rho, 0.23 * (0.05 / expected) ** 2, rtol=1e-6)


def test_pnp_fista_with_the_learned_denoiser_stays_bounded_on_a_limited_angle_scan(denoiser):
    """A ±60° wedge leaves directions the data do not see; plain momentum lets the learned denoiser
    inflate them without bound (the image's peak passed 2.8 by iteration 40 before the safeguard)."""
    n = 64
    image = torch.from_numpy(shepp_logan_image(n)).float()[None]
    op = ParallelBeamProjector((n, n), np.linspace(-60, 60, 31))
    clean_data = op.forward(image)
    noise = torch.randn(clean_data.shape, generator=torch.Generator().manual_seed(0))
    data = clean_data + 0.02 * float(clean_data.max()) * noise
    peaks = [float(it.x.max()) for it in pnp_fista(op, data, denoiser, sigma=0.003, n_iter=60, nonneg=True)]
    assert max(peaks) < 1.5, peaks
    assert peaks[-1] > 0.8  # it did reconstruct


def test_pnp_admm_takes_sigma_and_rho_schedules():
    """Generic schedules: a sequence or a function of k; a factory builds the data step per ρ_k."""
    seen_sigma, seen_rho = [], []

    def factory(rho):
        seen_rho.append(rho)
        return lambda v: v

    iterates = list(pnp_admm(factory, lambda x, sigma: seen_sigma.append(sigma) or x, torch.ones(1, 4, 4),
                             sigma=lambda k: 0.1 / k, rho=[1.0, 1.0, 2.0], n_iter=3))
    assert [it.iteration for it in iterates] == [1, 2, 3]
    assert seen_sigma == pytest.approx([0.1, 0.05, 0.1 / 3])
    assert seen_rho == [1.0, 2.0]  # one data step per distinct ρ
    with pytest.raises(ValueError, match="3 values for 2 iterations"):
        pnp_admm(factory, lambda x, s: x, torch.ones(1, 4, 4), sigma=[0.1, 0.1, 0.1], n_iter=2)
    with pytest.raises(ValueError, match="rho must be a positive"):
        pnp_admm(factory, lambda x, s: x, torch.ones(1, 4, 4), sigma=0.1, rho=[1.0, -1.0], n_iter=2)

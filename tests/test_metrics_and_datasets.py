import numpy as np
import pytest
import torch
from skimage.metrics import peak_signal_noise_ratio, structural_similarity

from napari_invprob import datasets, metrics
from napari_invprob._shared.device import to_numpy, to_tensor


def test_psnr_and_ssim_agree_with_skimage():
    rng = np.random.default_rng(0)
    ref = rng.random((32, 32, 3))
    est = ref + 0.1 * rng.standard_normal(ref.shape)
    assert metrics.psnr(ref, est, data_range=1.0) == pytest.approx(
        peak_signal_noise_ratio(ref, est, data_range=1.0)
    )
    assert metrics.ssim(ref, torch.tensor(est), data_range=1.0, channel_axis=-1) == pytest.approx(
        structural_similarity(ref, est, data_range=1.0, channel_axis=-1)
    )
    mask = np.zeros((32, 32, 3), bool)
    mask[:8] = True
    assert metrics.psnr(ref, est, data_range=1.0, mask=mask) == pytest.approx(
        peak_signal_noise_ratio(ref[:8], est[:8], data_range=1.0)
    )


def test_metric_errors():
    with pytest.raises(ValueError, match="shape"):
        metrics.psnr(np.zeros((2, 2)), np.zeros((3, 3)), data_range=1)
    with pytest.raises(ValueError, match="data_range"):
        metrics.psnr(np.zeros((2, 2)), np.zeros((2, 2)), data_range=0)
    with pytest.raises(ValueError, match="NaN"):
        metrics.ssim(np.zeros((8, 8)), np.full((8, 8), np.nan), data_range=1)


def test_lecture_case_matches_the_issue_figures():
    case = datasets.lecture_astronaut()
    assert case.blurred.shape == (512, 512, 3) and case.blurred.dtype == np.float32
    assert case.psf.sum() == pytest.approx(1.0, abs=1e-6)
    assert metrics.psnr(case.clean, case.blurred, data_range=1.0) == pytest.approx(21.96, abs=0.1)


def test_tensor_conversion_copies_and_refuses_bad_data():
    arr = np.arange(6, dtype=np.int16).reshape(2, 3)
    t = to_tensor(arr, "cpu")
    t += 1
    assert arr[0, 0] == 0 and t.dtype == torch.float32
    np.testing.assert_array_equal(to_numpy(t), arr + 1)
    with pytest.raises(ValueError, match="NaN"):
        to_tensor(np.array([1.0, np.inf]), "cpu")
    with pytest.raises(TypeError, match="complex"):
        to_tensor(np.ones(3, complex), "cpu")

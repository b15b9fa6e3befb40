"""Filtered back-projection: scikit-image's filters and scale, per-angle weights, quality beside iradon."""

import numpy as np
import pytest
import torch
from skimage.transform import iradon
from skimage.transform.radon_transform import _get_fourier_filter

from napari_invprob import reconstruct
from napari_invprob.datasets import shepp_logan_case
from napari_invprob.metrics import psnr
from napari_invprob.operators.projector import ParallelBeamProjector
from napari_invprob.solvers.base import last
from napari_invprob.solvers.fbp import FILTERS, angle_weights, fbp, fourier_filter, padded_size


@pytest.mark.parametrize("name", FILTERS)
def test_filters_are_the_even_part_of_skimages(name):
    size = padded_size(256)
    assert size == 1024  # iradon pads 256 bins to the diagonal (363), then to 2 x that as a power of 2
    theirs = _get_fourier_filter(size, name)[:, 0]
    even = 0.5 * (theirs + np.roll(theirs[::-1], 1))
    np.testing.assert_allclose(fourier_filter(size, name), even[: size // 2 + 1], atol=1e-12)


def test_angle_weights_uniform_full_range_is_iradons_scale():
    np.testing.assert_allclose(angle_weights(np.arange(180.0)), np.pi / (2 * 180))
    np.testing.assert_allclose(angle_weights(np.arange(0.0, 360.0, 2.0)), np.pi / (2 * 180))


def test_angle_weights_leave_a_missing_wedge_empty_and_follow_the_order():
    angles = np.linspace(-70, 70, 50)
    step = np.deg2rad(140 / 49)
    np.testing.assert_allclose(angle_weights(angles), step / 2)
    order = np.random.default_rng(0).permutation(50)
    np.testing.assert_allclose(angle_weights(angles[order]), angle_weights(angles)[order])


def test_angle_weights_of_irregular_full_coverage_sum_to_half_pi():
    angles = np.arange(0.0, 180.0, 3.0) + np.random.default_rng(1).uniform(-1.0, 1.0, 60)
    weights = angle_weights(angles)
    assert weights.sum() == pytest.approx(np.pi / 2)
    assert np.all(weights > 0)


def test_fbp_back_projects_with_the_projectors_adjoint():
    gen = torch.Generator().manual_seed(0)
    angles = np.linspace(0, 170, 18)
    op = ParallelBeamProjector((32, 32), angles, device="cpu")
    y = torch.randn((2, 18, 32), generator=gen)
    weights = torch.ones(18)
    x = last(fbp(op, y, weights=weights, filter_name="ramp")).x
    size = padded_size(32)
    response = torch.as_tensor(fourier_filter(size, "ramp"), dtype=torch.float32)
    filtered = torch.fft.irfft(torch.fft.rfft(y, n=size) * response, n=size)[..., :32]
    torch.testing.assert_close(x, op.adjoint(filtered), rtol=1e-5, atol=1e-5)


@pytest.fixture(scope="module")
def cases():
    return {kind: shepp_logan_case(kind) for kind in ("wedge", "full")}


def _score(case, image):
    return psnr(case.phantom, image, data_range=float(case.phantom.max() - case.phantom.min()), mask=case.mask)


@pytest.mark.parametrize("name", FILTERS)
def test_fbp_matches_iradon_on_the_full_range_case(cases, name):
    case = cases["full"]
    ours = reconstruct(case.sinogram, case.angles, method="fbp", filter=name, device="cpu")
    theirs = iradon(case.sinogram.T.astype(np.float64), case.angles, filter_name=name)
    assert ours.shape == theirs.shape and ours.dtype == np.float32
    assert abs(_score(case, ours) - _score(case, theirs)) < 0.3
    assert np.all(ours[~case.mask] == 0)  # zero outside the reconstruction circle, as iradon


@pytest.mark.parametrize("name", ["ramp", "hann"])
def test_fbp_on_the_wedge_is_at_least_as_good_as_iradon(cases, name):
    # iradon scales every angle by pi/(2 n_angles) as if they covered 180 degrees; our weights follow
    # the 140 degrees actually covered, which differs by a constant factor only
    case = cases["wedge"]
    ours = reconstruct(case.sinogram, case.angles, method="fbp", filter=name, device="cpu")
    theirs = iradon(case.sinogram.T.astype(np.float64), case.angles, filter_name=name)
    assert _score(case, ours) > _score(case, theirs) - 0.3
    ratio = (np.pi / (2 * 50)) / (np.deg2rad(140 / 49) / 2)
    assert abs(_score(case, ours * ratio) - _score(case, theirs)) < 0.3

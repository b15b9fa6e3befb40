"""Tilt-series geometry (project, to_slices/from_slices) and simulate.project."""

import numpy as np
import pytest
import torch

from napari_invprob import simulate
from napari_invprob.operators import ParallelBeamProjector
from napari_invprob.phantom import rods_and_spheres
from napari_invprob.tomography.geometry import from_slices, project, to_slices

ANGLES = np.linspace(-60.0, 60.0, 7)


@pytest.fixture(scope="module")
def volume():
    return rods_and_spheres((16, 20, 24), seed=1)


def test_image_gives_the_projectors_sinogram():
    rng = np.random.default_rng(0)
    image = rng.random((20, 26)).astype(np.float32)
    sino = project(image, ANGLES, device="cpu")
    assert sino.shape == (7, 26) and sino.dtype == np.float32
    expected = ParallelBeamProjector((20, 26), ANGLES, device="cpu")(torch.from_numpy(image)).numpy()
    np.testing.assert_array_equal(sino, expected)


@pytest.mark.parametrize("tilt_axis", ["y", "x"])
def test_volume_is_projected_slice_by_slice(volume, tilt_axis):
    series = project(volume, ANGLES, tilt_axis=tilt_axis, device="cpu")
    assert series.shape == (7, 20, 24) and series.dtype == np.float32
    if tilt_axis == "y":  # each y-row is a slice (z, x) whose sinogram is that row of the projections
        op = ParallelBeamProjector((16, 24), ANGLES, device="cpu")
        for y in (0, 7, 19):
            expected = op(torch.from_numpy(np.ascontiguousarray(volume[:, y, :]))).numpy()
            np.testing.assert_allclose(series[:, y, :], expected, rtol=1e-6, atol=1e-5)
    else:  # each x-column is a slice (z, y) whose sinogram is that column of the projections
        op = ParallelBeamProjector((16, 20), ANGLES, device="cpu")
        for x in (0, 11, 23):
            expected = op(torch.from_numpy(np.ascontiguousarray(volume[:, :, x]))).numpy()
            np.testing.assert_allclose(series[:, :, x], expected, rtol=1e-6, atol=1e-5)


@pytest.mark.parametrize("tilt_axis", ["y", "x"])
def test_zero_tilt_projects_along_z_and_mass_is_kept(volume, tilt_axis):
    series = project(volume, [0.0, -70.0, 70.0], tilt_axis=tilt_axis, device="cpu")
    np.testing.assert_allclose(series[0], volume.sum(axis=0), rtol=1e-5, atol=1e-4)
    # the specimen stays in view over +-70 degrees: every projection carries all of its mass
    np.testing.assert_allclose(series.sum(axis=(1, 2)), volume.sum(), rtol=1e-4)


def test_tilt_direction_of_a_single_voxel():
    volume = np.zeros((9, 5, 11), np.float32)
    volume[4 + 3, 2, 5 + 1] = 1.0  # 3 voxels along +z and 1 along +x from the rotation centre
    series = project(volume, [0.0, 90.0], tilt_axis="y", device="cpu")
    assert np.unravel_index(series[0].argmax(), series[0].shape) == (2, 6)
    assert np.unravel_index(series[1].argmax(), series[1].shape) == (2, 5 - 3)  # t = x cos - z sin


@pytest.mark.parametrize("tilt_axis", ["y", "x"])
def test_to_slices_and_back(tilt_axis):
    volume = np.arange(3 * 4 * 5).reshape(3, 4, 5)
    slices = to_slices(volume, tilt_axis)
    assert slices.shape == ((4, 3, 5) if tilt_axis == "y" else (5, 3, 4))
    np.testing.assert_array_equal(from_slices(slices, tilt_axis), volume)
    tensor = torch.from_numpy(volume)
    assert torch.equal(from_slices(to_slices(tensor, tilt_axis), tilt_axis), tensor)


def test_input_is_not_modified(volume):
    before = volume.copy()
    project(volume, ANGLES, device="cpu")
    simulate.project(volume, ANGLES, noise=0.05, seed=0)
    np.testing.assert_array_equal(volume, before)


@pytest.mark.parametrize(
    ("data", "angles", "kwargs", "error", "match"),
    [
        (np.zeros(8), ANGLES, {}, ValueError, "2D image .* or a 3D volume"),
        (np.zeros((2, 8, 8, 8)), ANGLES, {}, ValueError, "2D image .* or a 3D volume"),
        (np.zeros((8, 8)), [], {}, ValueError, "empty"),
        (np.zeros((8, 8)), [0.0, np.nan], {}, ValueError, "NaN or Inf"),
        (np.zeros((8, 8)), np.zeros((2, 2)), {}, ValueError, "1D"),
        (np.zeros((8, 8, 8)), ANGLES, {"tilt_axis": "z"}, ValueError, "tilt_axis"),
        (np.full((8, 8), np.nan), ANGLES, {}, ValueError, "image contains NaN"),
        (np.zeros((8, 8), complex), ANGLES, {}, TypeError, "complex"),
    ],
)
def test_bad_input_is_refused(data, angles, kwargs, error, match):
    with pytest.raises(error, match=match):
        project(data, angles, **kwargs)


def test_simulated_noise_is_a_fraction_of_the_maximum_and_reproducible(volume):
    clean = simulate.project(volume, ANGLES)
    noisy = simulate.project(volume, ANGLES, noise=0.02, seed=5)
    assert noisy.dtype == np.float32 and noisy.shape == clean.shape
    assert np.std(noisy - clean) == pytest.approx(0.02 * clean.max(), rel=0.05)
    np.testing.assert_array_equal(noisy, simulate.project(volume, ANGLES, noise=0.02, seed=5))
    with pytest.raises(ValueError, match="noise"):
        simulate.project(volume, ANGLES, noise=-0.1)

"""Light-sheet deskew against the closed-form shear of analytic volumes (issue 25, item 3)."""

import math

import numpy as np
import pytest

import napari_invprob
from napari_invprob.deconvolution.deskew import (
    deskew,
    deskewed_shape,
    deskewed_voxel_size,
    plane_offsets,
    rotate_to_coverslip,
    shift_planes,
    skew_background,
)

GEOMETRY = {"angle": 30.0, "step": 0.4, "pixel_size": 0.104}
SHIFT = 0.4 * math.cos(math.radians(30)) / 0.104  # 3.331 columns per plane


def _blobs(k, r, u):
    """An analytic volume in the objective's frame (plane, row, column in pixels): a background of 100
    and Gaussian ridges along the rows that move with the plane and the row."""
    centre = 20.0 + 1.5 * k + 0.5 * r
    return 100.0 + 500.0 * np.exp(-((u - centre) ** 2) / (2 * 4.0**2)) + 200.0 * np.exp(-((u - 70.0) ** 2) / 50.0)


def _raw(function, shape, direction=1, geometry=GEOMETRY):
    """The raw stage-scanned stack sampled from ``function`` of the deskewed frame: raw column ``c`` of
    plane ``k`` lies at deskewed column ``c + offset_k`` (closed form, not our deskew)."""
    planes, rows, columns = shape
    shift = geometry["step"] * math.cos(math.radians(geometry["angle"])) / geometry["pixel_size"]
    extra = math.ceil((planes - 1) * shift - 1e-9)
    k, r, c = np.meshgrid(np.arange(planes), np.arange(rows), np.arange(columns), indexing="ij")
    offset = k * shift if direction == 1 else extra - k * shift
    return function(k, r, c + offset), offset[:, :, :1], extra


@pytest.mark.parametrize("direction", [1, -1])
def test_deskew_matches_the_closed_form_shear(direction):
    shape = (24, 6, 64)
    raw, offset, extra = _raw(_blobs, shape, direction)
    out = deskew(raw, **GEOMETRY, fill=100.0, direction=direction)
    assert out.dtype == np.float32 and out.shape == (24, 6, 64 + extra)
    k, r, j = np.meshgrid(*(np.arange(n) for n in out.shape), indexing="ij")
    truth = _blobs(k, r, j)
    inside = (j - offset >= 0) & (j - offset <= shape[2] - 1)
    # linear interpolation between columns one pixel apart errs by at most max|g''| / 8
    bound = (500.0 / 4.0**2 + 200.0 / 25.0) / 8
    error = np.abs(out - truth)[inside]
    assert error.max() <= bound
    assert error.mean() < bound / 4
    # the new pixels, one column or more beyond a plane, are the fill exactly
    assert np.all(out[(j - offset <= -1) | (j - offset >= shape[2])] == 100.0)


def test_deskew_is_exact_on_a_volume_linear_along_the_columns():
    def ramp(k, r, u):
        return 100.0 + 2.0 * u + 3.0 * k + r

    raw, offset, _ = _raw(ramp, (12, 4, 40))
    out = deskew(raw, **GEOMETRY, fill=0.0)
    k, r, j = np.meshgrid(*(np.arange(n) for n in out.shape), indexing="ij")
    inside = (j - offset >= 0) & (j - offset <= 39)
    np.testing.assert_allclose(out[inside], ramp(k, r, j)[inside], rtol=2e-6)


def test_whole_column_shifts_move_planes_bit_for_bit():
    # step · cos(60°) / 0.1 = 2 columns per plane exactly (floating noise is snapped)
    raw = np.random.default_rng(0).poisson(200, (5, 3, 7)).astype(np.uint16)
    out = deskew(raw, angle=60, step=0.4, pixel_size=0.1, fill=7)
    assert out.shape == (5, 3, 7 + 8)
    for k in range(5):
        np.testing.assert_array_equal(out[k, :, 2 * k:2 * k + 7], raw[k])
        assert np.all(np.delete(out[k], np.s_[2 * k:2 * k + 7], axis=1) == 7)


def test_deskew_is_public_at_the_top_and_in_its_wing():
    from napari_invprob import deconvolution

    assert napari_invprob.deskew is deskew  # (deconvolution.deskew is the module, as deconvolution.deconvolve)
    assert deconvolution.rotate_to_coverslip is rotate_to_coverslip
    assert deconvolution.deskewed_voxel_size is deskewed_voxel_size


def test_geometry_of_shape_offsets_and_voxel_size():
    assert deskewed_shape((100, 512, 256), **GEOMETRY) == (100, 512, 256 + math.ceil(99 * SHIFT))
    np.testing.assert_allclose(plane_offsets(4, **GEOMETRY), SHIFT * np.arange(4))
    np.testing.assert_allclose(plane_offsets(4, **GEOMETRY, direction=-1), math.ceil(3 * SHIFT) - SHIFT * np.arange(4))
    dz, dy, dx = deskewed_voxel_size(**GEOMETRY)
    assert dz == pytest.approx(0.2) and dy == dx == 0.104


def test_fill_auto_is_the_cameras_offset_and_the_input_is_kept():
    rng = np.random.default_rng(1)
    raw = rng.poisson(100, (20, 16, 32)).astype(np.uint16)
    raw[:, 4:10, 10:20] += 1000
    before = raw.copy()
    out = deskew(raw, **GEOMETRY)
    np.testing.assert_array_equal(raw, before)
    level = skew_background(raw)
    assert 95 < level < 101
    assert out[-1, 0, 0] == np.float32(level)  # the last plane starts ~63 columns in


def test_deskew_agrees_with_scipy_affine_transform():
    from scipy import ndimage

    raw, _, extra = _raw(_blobs, (16, 5, 48))
    out = deskew(raw, **GEOMETRY, fill=100.0)
    matrix = np.eye(3)
    matrix[2, 0] = -SHIFT  # input column = output column - k · shift
    peer = ndimage.affine_transform(raw.astype(np.float32), matrix, output_shape=out.shape, order=1,
                                    mode="grid-constant", cval=100.0)
    np.testing.assert_allclose(out, peer, atol=1e-3)


def test_shift_planes_refuses_offsets_that_do_not_fit():
    with pytest.raises(ValueError, match="do not fit"):
        shift_planes(np.zeros((2, 3, 4)), [0.0, 1.5], 5, fill=0.0)
    with pytest.raises(ValueError, match="one offset per plane"):
        shift_planes(np.zeros((2, 3, 4)), [0.0], 9, fill=0.0)


@pytest.mark.parametrize(
    ("change", "error", "message"),
    [
        ({"angle": 0}, ValueError, "between 0 and 90"),
        ({"angle": 90}, ValueError, "between 0 and 90"),
        ({"angle": -30}, ValueError, "between 0 and 90"),
        ({"angle": float("nan")}, ValueError, "angle must be a finite number"),
        ({"step": 0}, ValueError, "step must be > 0"),
        ({"step": -0.4}, ValueError, "step must be > 0"),
        ({"step": float("nan")}, ValueError, "step must be a finite number"),
        ({"pixel_size": 0}, ValueError, "pixel_size must be > 0"),
        ({"pixel_size": float("nan")}, ValueError, "pixel_size must be a finite number"),
        ({"pixel_size": "0.1"}, TypeError, "pixel_size must be a number"),
        ({"direction": 0}, ValueError, "direction must be 1 or -1"),
        ({"fill": "median"}, ValueError, "fill must be 'auto' or a number"),
        ({"fill": float("inf")}, ValueError, "fill must be a finite number"),
        ({"step": 1e9}, ValueError, "same unit"),
    ],
)
@pytest.mark.parametrize("function", [deskew, rotate_to_coverslip])
def test_bad_parameters_are_refused_before_any_work(function, change, error, message):
    raw = np.zeros((4, 3, 5), np.uint16)
    with pytest.raises(error, match=message):
        function(raw, **dict(GEOMETRY, **change))


@pytest.mark.parametrize(
    ("stack", "message"),
    [
        (np.zeros((3, 4)), "3 axes"),
        (np.zeros((2, 3, 4, 5)), "3 axes"),
        (np.full((2, 3, 4), np.nan), "NaN"),
        (np.zeros((0, 3, 4)), "empty"),
    ],
)
def test_bad_stacks_are_refused(stack, message):
    with pytest.raises(ValueError, match=message):
        deskew(stack, **GEOMETRY)


@pytest.mark.parametrize("direction", [1, -1])
def test_rotate_to_coverslip_matches_the_closed_form(direction):
    angle, step, pixel = 30.0, 0.4, 0.104
    sin, cos = math.sin(math.radians(angle)), math.cos(math.radians(angle))
    planes, rows, columns = 60, 3, 64
    height, sigma = 400.0, 8.0

    def specimen(z, y, x):  # coverslip frame, in pixels: a smooth blob 12 pixels up
        return 100.0 + height * np.exp(-((z - 12.0) ** 2 + (x - 50.0) ** 2) / (2 * sigma**2)) * (1 + 0.1 * y)

    k, r, c = np.meshgrid(np.arange(planes), np.arange(rows), np.arange(columns), indexing="ij")
    x_start = 0.0 if direction == 1 else (planes - 1) * step / pixel
    raw = specimen(c * sin, r, c * cos + direction * k * step / pixel + x_start)
    out = rotate_to_coverslip(raw, angle=angle, step=step, pixel_size=pixel, fill=100.0, direction=direction)
    assert out.dtype == np.float32
    assert out.shape == (math.floor(63 * sin) + 1, rows, math.floor(63 * cos + 59 * step / pixel) + 1)
    z, y, x = np.meshgrid(*(np.arange(n) for n in out.shape), indexing="ij")
    # bilinear interpolation between raw samples step/pixel = 3.85 pixels apart along the scan and one
    # pixel apart along the sheet errs by at most (3.85² + 1²) / 8 · max|g''|
    bound = ((step / pixel) ** 2 + 1) / 8 * height * 1.2 / sigma**2
    scan = direction * (x - z / sin * cos - x_start) * pixel / step  # the raw plane each voxel comes from
    inside = (scan >= 0) & (scan <= planes - 1)
    assert np.abs(out - specimen(z, y, x))[inside].max() < bound
    assert np.all(out[(scan < -1) | (scan > planes)] == 100.0)
    # up is away from the coverslip: the blob's peak is 12 planes up, not mirrored
    # up is away from the coverslip (a mirrored volume would put the blob 7 planes higher)
    signal, expected = (np.where(inside, v, 100.0)[:, 0] - 100.0 for v in (out, specimen(z, y, x)))
    for axis in (z, x):
        assert np.sum(signal * axis[:, 0]) / signal.sum() == pytest.approx(
            np.sum(expected * axis[:, 0]) / expected.sum(), abs=0.1)

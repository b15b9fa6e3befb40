"""Alignment of drifting tilt series: cross-correlation, tilt-axis centring, projection matching."""

from __future__ import annotations

import numpy as np
import pytest
from _tilt_phantom import blob_tilt_series, random_blobs

from napari_invprob.tomography.alignment import align, apply_shifts, cross_correlation_shifts

N = 64
ANGLES = np.linspace(-60, 60, 41)


def random_drift(seed: int, step: float = 1.0) -> np.ndarray:
    """A stage drift: a random walk of ``(d_rows, d_cols)`` steps, zero mean."""
    drift = np.cumsum(np.random.default_rng(seed).normal(0.0, step, (ANGLES.size, 2)), axis=0)
    return drift - drift.mean(axis=0)


def rms_error(shifts: np.ndarray, drift: np.ndarray) -> float:
    """RMS error of found drifts, up to what no alignment can know: a rigid move of the object
    (a constant along the tilt axis, ``dx cos θ − dz sin θ`` across it)."""
    error = shifts - drift
    theta = np.radians(ANGLES)
    rigid = np.stack([np.cos(theta), np.sin(theta)], axis=1)
    along = error[:, 0] - error[:, 0].mean()
    across = error[:, 1] - rigid @ np.linalg.lstsq(rigid, error[:, 1], rcond=None)[0]
    return float(np.sqrt(np.mean(along**2 + across**2)))


@pytest.fixture(scope="module")
def drifting():
    blobs = random_blobs(N, 15, seed=4, thickness=1.0)  # thick: parallax defeats cosine stretching
    drift = random_drift(seed=4)
    series = blob_tilt_series(blobs, N, ANGLES, shifts=drift, noise=0.02, seed=5)
    return series, drift


def test_cross_correlation_removes_random_drift(drifting):
    series, drift = drifting
    before = series.copy()
    aligned, shifts = align(series, ANGLES, method="cross-correlation")
    np.testing.assert_array_equal(series, before)
    assert shifts.shape == (ANGLES.size, 2) and aligned.shape == series.shape
    assert rms_error(np.zeros_like(drift), drift) > 2.0
    assert rms_error(shifts, drift) < 0.5
    np.testing.assert_allclose(aligned, apply_shifts(series, shifts))


def test_tilt_axis_x_gives_the_transposed_answer(drifting):
    series, _ = drifting
    _, shifts_y = align(series, ANGLES, method="cross-correlation")
    _, shifts_x = align(series.transpose(0, 2, 1), ANGLES, tilt_axis="x", method="cross-correlation")
    np.testing.assert_allclose(shifts_x, shifts_y[:, ::-1], atol=1e-5)


def test_centring_finds_an_offset_tilt_axis():
    blobs = random_blobs(N, 15, seed=6)
    offset = np.zeros((ANGLES.size, 2))
    offset[:, 1] = 3.0  # the tilt axis sits 3 pixels right of the rotation centre
    series = blob_tilt_series(blobs, N, ANGLES, shifts=offset, noise=0.01, seed=7)
    theta = np.radians(ANGLES)
    design = np.stack([np.ones_like(theta), np.cos(theta), np.sin(theta)], axis=1)

    def axis_offset(shifts):  # the part of the column shifts no rigid move of the object explains
        return np.linalg.lstsq(design, shifts[:, 1], rcond=None)[0][0]

    _, shifts = align(series, ANGLES, method="cross-correlation")
    assert axis_offset(shifts) == pytest.approx(3.0, abs=0.4)


def test_subpixel_registration_of_a_pure_shift():
    blobs = random_blobs(N, 15, seed=8)
    angles = np.array([0.0, 0.0])
    drift = np.array([[0.0, 0.0], [1.6, -2.3]])
    series = blob_tilt_series(blobs, N, angles, shifts=drift)
    np.testing.assert_allclose(cross_correlation_shifts(series, angles), drift, atol=0.02)


def test_bad_input_is_refused(drifting):
    series, _ = drifting
    with pytest.raises(ValueError, match="40 angles for 41 projections"):
        align(series, ANGLES[:-1])
    with pytest.raises(ValueError, match="unknown alignment method"):
        align(series, ANGLES, method="phase")
    with pytest.raises(ValueError, match="tilt_axis"):
        align(series, ANGLES, tilt_axis="z")
    with pytest.raises(ValueError, match="between -90 and 90"):
        align(series, np.linspace(-90, 90, 41))


def test_projection_matching_improves_on_cross_correlation(drifting):
    series, drift = drifting
    _, by_correlation = align(series, ANGLES, method="cross-correlation")
    _, by_matching = align(series, ANGLES, method="projection-matching", n_iter=3)
    assert rms_error(by_matching, drift) < 0.6 * rms_error(by_correlation, drift)
    assert rms_error(by_matching, drift) < 0.15


def test_align_iter_streams_stages(drifting):
    from napari_invprob.tomography.alignment import align_iter

    series, _ = drifting
    steps = list(align_iter(series, ANGLES, n_iter=1))
    assert [s.stage for s in steps] == ["cross-correlation", "projection-matching"]
    assert all(s.shifts.shape == (ANGLES.size, 2) for s in steps)


def test_large_projections_are_aligned_binned(drifting):
    series, drift = drifting
    _, shifts = align(series, ANGLES, method="cross-correlation", max_size=32)
    assert rms_error(shifts, drift) < 0.6  # found at half resolution, reported in full pixels


def test_integer_stacks_align_like_float_ones(drifting):
    series, _ = drifting
    counts = np.round(series / series.max() * 20000).astype(np.int16)
    _, from_counts = align(counts, ANGLES, method="cross-correlation")
    _, from_floats = align(counts.astype(np.float32), ANGLES, method="cross-correlation")
    np.testing.assert_allclose(from_counts, from_floats, atol=1e-3)


def test_align_iter_checks_at_the_call(drifting):
    from napari_invprob.tomography.alignment import align_iter

    series, _ = drifting
    with pytest.raises(ValueError, match="n_iter"):
        align_iter(series, ANGLES, n_iter=0)


def test_a_rotated_tilt_axis_is_put_on_the_grid():
    """The projections of a tilt axis 2° off y are rotated back (estimated, or given), in one
    interpolation with the shifts; a given angle near the other axis is refused."""
    from scipy import ndimage

    from napari_invprob.tomography.alignment import align_iter, apply_alignment

    blobs = random_blobs(96, 25, seed=8, thickness=0.5)
    upright = blob_tilt_series(blobs, 96, ANGLES, noise=0.01, seed=9)
    rotated = np.stack([ndimage.rotate(p, 2.0, reshape=False, order=3, mode="nearest") for p in upright])
    for given in ("auto", 2.0):
        step = list(align_iter(rotated, ANGLES, tilt_axis_angle=given, method="cross-correlation"))[-1]
        assert abs(step.rotation - 2.0) < 0.3
        aligned = apply_alignment(rotated, step)
        inner = (slice(None), slice(20, -20), slice(20, -20))
        upright_aligned = apply_shifts(upright, step.shifts)
        error = np.abs(aligned - upright_aligned)[inner].mean() / np.abs(upright_aligned[inner]).mean()
        unrotated = np.abs(apply_shifts(rotated, step.shifts) - upright_aligned)[inner].mean()
        assert error < 0.25 * unrotated / np.abs(upright_aligned[inner]).mean()
    assert list(align_iter(upright, ANGLES, tilt_axis_angle=None, method="cross-correlation"))[-1].rotation == 0.0
    with pytest.raises(ValueError, match="nearer x"):
        align_iter(rotated, ANGLES, tilt_axis_angle=88.0)


def test_alignment_removes_an_offset_background_first(drifting):
    """Counts with a constant background (and the int16 storage offset) align as the line integrals do."""
    from napari_invprob.tomography.alignment import align_iter

    series, drift = drifting
    counts = np.round(1000 + series / series.max() * 5000).astype(np.int64)
    stored = (counts - 32768).astype(np.int16)
    steps = list(align_iter(stored, ANGLES, method="cross-correlation", tilt_axis_angle=None))
    preparation = steps[-1].preparation
    assert preparation.offset == 32768.0 and preparation.background_source == "estimated"
    noise = 0.02 * 5000 / 4  # the fixture's noise, binned 4x4 for the estimate
    assert np.abs(preparation.background - 1000).max() < 2 * noise
    assert abs(preparation.background.mean() - 1000) < 0.5 * noise
    assert rms_error(steps[-1].shifts, drift) < 0.5

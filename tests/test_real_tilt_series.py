"""A tilt-series file made like a real one (issue 14) goes through the default path right the first time.

The file (``tests/_realistic_tilt_series.py``): exact projections of a porous support with nanoparticles,
Poisson counts stored as int16 minus 32768, the tilt axis along x turned 2° in-plane, drifts of 7 px
RMS, a ``.rawtlt`` beside it. The score is the held-out projection misfit
(:func:`napari_invprob.tomography.cross_validation.held_out_misfit`: every 4th projection held out, SIRT 50 from the rest,
1 − NCC of the reprojections), compared with the same counts model for the exact, undrifted
projections with the axis on the grid, prepared the same way.
"""

from __future__ import annotations

import numpy as np
import pytest
from _realistic_tilt_series import INT16_OFFSET, Specimen, make_specimen, project_exact, write_tilt_series
from _tilt_phantom import blob_tilt_series, blob_volume, random_blobs

from napari_invprob import align, project
from napari_invprob.io import read_tilt_series
from napari_invprob.tomography.cross_validation import held_out_misfit
from napari_invprob.tomography.tilt_axis import estimate_tilt_axis

N = 112  # projections N x N, 41 angles over ±60°
MISFIT_RATIO = 1.5  # the bound: at most 1.5x the misfit of the exact, undrifted data


def prepared_reference(made, contrast: str) -> np.ndarray:
    """The reference counts prepared as the default path prepares the file (background, −log)."""
    from napari_invprob.preparation import prepare

    return prepare(made.reference, contrast=contrast)[0]


def misfit(series, angles, tilt_axis: str) -> float:
    """Held-out misfit of a prepared series (nothing more removed), x 1e-3."""
    return 1e3 * held_out_misfit(series, angles, tilt_axis=tilt_axis, background="none", contrast="dark-field")


@pytest.fixture(scope="module")
def dark_field(tmp_path_factory):
    return write_tilt_series(tmp_path_factory.mktemp("haadf"), n=N)


# -- the helper itself -------------------------------------------------------------------------------


def test_exact_projections_follow_the_projectors_geometry():
    """The closed-form projections agree with ``project(..., tilt_axis="x")`` of the voxelised blobs
    (so the helper's ψ = 90, undrifted, is the reconstruction's grid), and drifts move the content by
    ``+drift``."""
    n, angles = 48, np.array([-50.0, 0.0, 35.0])
    blobs = random_blobs(n, 6, seed=3, thickness=0.6)
    exact = project_exact(Specimen(np.zeros((0, 9)), blobs), n, angles)
    ours = project(blob_volume(blobs, n), angles, tilt_axis="x")
    assert np.linalg.norm(ours - exact) / np.linalg.norm(exact) < 0.015
    drifted = project_exact(Specimen(np.zeros((0, 9)), blobs), n, angles, drifts=[[0, 0], [3, -2], [0, 0]])
    np.testing.assert_allclose(drifted[1, 3:, : n - 2], exact[1, : n - 3, 2:], atol=1e-6 * exact.max())


@pytest.mark.parametrize("psi", [88.0, 92.0, 85.0])
def test_the_helpers_psi_is_the_estimators(psi):
    """Noise-free, ``estimate_tilt_axis`` finds the ψ the file was made with (mod 180°, in [-90, 90)):
    ψ = 88 is the default file's axis, x turned 2° from +x towards +y."""
    n = 96
    angles = np.linspace(-60.0, 60.0, 21)
    series = project_exact(make_specimen(n), n, angles, psi=psi).astype(np.float32)
    assert estimate_tilt_axis(series) == pytest.approx((psi + 90.0) % 180.0 - 90.0, abs=0.5)


def test_the_file_is_made_like_a_real_one(dark_field):
    import mrcfile

    made = dark_field
    with mrcfile.open(made.path, permissive=False) as mrc:
        stored = np.array(mrc.data)
        assert stored.dtype == np.int16 and stored.shape == (41, N, N)
        assert float(mrc.voxel_size.x) == pytest.approx(2.5)
    np.testing.assert_array_equal(stored.astype(np.int32) + INT16_OFFSET, made.counts)
    assert np.median(stored) < -31_000  # the vacuum: dark level ~870 counts minus 32768
    angles = np.loadtxt(made.path.with_suffix(".rawtlt"))
    np.testing.assert_allclose(angles, made.angles, atol=0.005)
    assert np.sqrt(np.mean(np.sum(made.drifts**2, axis=1))) > 5.0
    assert made.psi == 88.0 and made.reference.shape == made.counts.shape


# -- the library's score -----------------------------------------------------------------------------


def test_held_out_misfit_sees_drift():
    n = 48
    angles = np.linspace(-60.0, 60.0, 25)
    blobs = random_blobs(n, 8, seed=1)
    exact = blob_tilt_series(blobs, n, angles)
    drifts = np.random.default_rng(0).normal(0.0, 3.0, (angles.size, 2))
    before = exact.copy()
    consistent = held_out_misfit(exact, angles, n_iter=30)
    assert consistent < 0.02 and np.array_equal(exact, before)
    assert held_out_misfit(blob_tilt_series(blobs, n, angles, shifts=drifts), angles, n_iter=30) > 5 * consistent
    with pytest.raises(ValueError, match="k must be"):
        held_out_misfit(exact, angles, k=1)
    with pytest.raises(ValueError, match="24 angles for 25"):
        held_out_misfit(exact, angles[1:])


# -- the default path (the backend of issue 14) --------------------------------------------------------


def test_the_reader_resolves_the_files_conventions(dark_field):
    """Tilt axis x, about 2° off the grid with the sign of ψ = 88, estimated; the int16 offset undone."""
    made = dark_field
    ts = read_tilt_series(made.path)
    assert ts.tilt_axis == "x"
    assert ts.tilt_axis_source == "estimated"
    assert ts.tilt_axis_angle == pytest.approx(made.psi, abs=1.0), f"ψ = {ts.tilt_axis_angle}, made with {made.psi}"
    assert ts.value_offset == INT16_OFFSET
    np.testing.assert_array_equal(ts.data, made.counts)
    np.testing.assert_allclose(ts.angles, made.angles, atol=0.005)


def test_a_lazy_stack_gets_the_same_tilt_axis_read_a_block_at_a_time(dark_field, monkeypatch):
    """The stored int16 stack as a dask array (an OME-Zarr file): the tilt axis estimated as from the
    file, its projections read three at a time (binned 2x here), never all at once; the stack is returned
    as stored, its offset left to the preparation."""
    import dask.array as da

    from napari_invprob.files.mrc import read_mrc
    from napari_invprob.tomography import files

    made = dark_field
    stored = read_mrc(made.path).data
    monkeypatch.setattr(files, "ESTIMATION_SIZE", N // 2)
    monkeypatch.setattr(files, "BINNING_BLOCK_BYTES", 3 * N * N * stored.dtype.itemsize)
    lazy = da.from_array(stored, chunks=(1, N, N))
    from_file = files.tilt_series_with_conventions(stored, made.angles, 2.5, "given")
    binned, bin_series = [], files.bin_series
    monkeypatch.setattr(files, "bin_series", lambda block, factor: binned.append(block.shape) or bin_series(block, factor))
    from_lazy = files.tilt_series_with_conventions(lazy, made.angles, 2.5, "given")
    assert from_lazy.tilt_axis == "x" and from_lazy.tilt_axis_source == "estimated"
    assert from_lazy.tilt_axis_angle == from_file.tilt_axis_angle
    assert from_lazy.tilt_axis_uncertainty == from_file.tilt_axis_uncertainty
    assert from_file.value_offset == INT16_OFFSET and from_lazy.value_offset == 0.0
    assert from_lazy.data is lazy  # as stored, still lazy
    assert [shape[0] for shape in binned] == [3] * (len(made.angles) // 3) + [len(made.angles) % 3] * (len(made.angles) % 3 > 0)


def test_the_napari_reader_records_them_too(dark_field):
    from napari_invprob.napari.reader import get_reader

    (data, kwargs, _), *_ = get_reader(str(dark_field.path))(str(dark_field.path))
    metadata = kwargs["metadata"]
    assert metadata["tilt_axis"] == "x" and metadata["tilt_axis_source"] == "estimated"
    assert metadata["tilt_axis_angle"] == pytest.approx(dark_field.psi, abs=1.0)
    assert metadata["value_offset"] == INT16_OFFSET
    np.testing.assert_array_equal(np.asarray(data), dark_field.counts)


def test_the_default_path_predicts_held_out_projections_as_well_as_exact_data(dark_field):
    """read_tilt_series → align(ts.data, ts.angles, tilt_axis=ts.tilt_axis) → reconstruct(method="sirt"):
    the misfit is at most 1.5x that of the exact, undrifted projections; reconstruct's own default
    preparation leaves the aligned series as it is."""
    from napari_invprob.preparation import prepare

    made = dark_field
    ts = read_tilt_series(made.path)
    aligned, shifts = align(ts.data, ts.angles, tilt_axis=ts.tilt_axis)
    assert aligned.shape == made.counts.shape and shifts.shape == (made.angles.size, 2)
    np.testing.assert_allclose(prepare(aligned)[0], aligned)
    found = misfit(aligned, ts.angles, ts.tilt_axis)
    exact = misfit(prepared_reference(made, "dark-field"), made.angles, "x")
    assert found <= MISFIT_RATIO * exact, f"misfit {found:.2f}e-3 against {exact:.2f}e-3 for exact data"


def test_align_turns_the_tilt_axis_onto_the_grid(dark_field):
    """The default alignment rotates by ψ − 90 = −2° (the held-out misfit barely sees a few degrees:
    every held-out projection lies 3° from kept ones, so the rotation is checked on its own)."""
    from napari_invprob.tomography.alignment import align_iter

    made = dark_field
    ts = read_tilt_series(made.path)
    last = list(align_iter(ts.data, ts.angles, tilt_axis=ts.tilt_axis))[-1]
    assert last.rotation == pytest.approx(made.psi - 90.0, abs=1.0)


@pytest.mark.parametrize("storage", ["uint16", "int16-offset"])
def test_bright_field_works_with_contrast_auto(tmp_path, storage):
    """Bright-field counts (``I0 exp(−μL)``): detected, −log taken, the axis found and turned onto the
    grid, and the default path scores as above."""
    from napari_invprob.preparation import resolve_preparation
    from napari_invprob.tomography.alignment import align_iter

    made = write_tilt_series(tmp_path, n=96, contrast="bright-field", storage=storage, seed=1)
    ts = read_tilt_series(made.path)
    assert ts.tilt_axis == "x"
    assert ts.tilt_axis_angle == pytest.approx(made.psi, abs=1.0), f"ψ = {ts.tilt_axis_angle}, made with {made.psi}"
    assert ts.value_offset == (INT16_OFFSET if storage == "int16-offset" else 0.0)
    preparation = resolve_preparation(ts.data)
    assert (preparation.contrast, preparation.contrast_source) == ("bright-field", "detected")
    assert list(align_iter(ts.data, ts.angles, tilt_axis=ts.tilt_axis))[-1].rotation == pytest.approx(
        made.psi - 90.0, abs=1.0)
    aligned, _ = align(ts.data, ts.angles, tilt_axis=ts.tilt_axis)
    assert np.median(aligned) == pytest.approx(0.0, abs=0.05 * float(aligned.max()))  # vacuum: −log(I0/I0) = 0
    found = misfit(aligned, ts.angles, ts.tilt_axis)
    exact = misfit(prepared_reference(made, "bright-field"), made.angles, "x")
    assert found <= MISFIT_RATIO * exact, f"misfit {found:.2f}e-3 against {exact:.2f}e-3 for exact data"

"""reconstruct / reconstruct_iter: layouts (2D, 3D with either tilt axis), warm starts, bad input."""

import concurrent.futures
import threading
from dataclasses import replace

import numpy as np
import pytest
import torch

import napari_invprob
from napari_invprob import project, reconstruct
from napari_invprob.operators.projector import ParallelBeamProjector
from napari_invprob.solvers.fbp import angle_weights, filter_projections
from napari_invprob.testing import adjoint_test
from napari_invprob.tomography import chunks
from napari_invprob.tomography import geometry as tilt_geometry
from napari_invprob.tomography import reconstruct as tomography
from napari_invprob.tomography.reconstruct import METHODS, reconstruct_iter

ANGLES = np.linspace(-60.0, 60.0, 11)


def _volume(shape=(24, 4, 24), seed=0):
    rng = np.random.default_rng(seed)
    volume = np.zeros(shape, np.float32)
    z, y, x = shape
    volume[6:18, :, 5:19] = 0.5 + 0.5 * rng.random((12, y, 14))
    return volume


def test_the_table_and_the_lazy_exports():
    for name in ("fbp", "sirt", "cgls", "fista-tv", "pdhg-tv", "tv", "adam", "pnp-fista", "pnp-admm"):
        assert name in METHODS
    assert METHODS["tv"].solver is METHODS["pdhg-tv"].solver
    assert napari_invprob.reconstruct is reconstruct
    assert napari_invprob.project is tilt_geometry.project is tomography.project


def test_project_is_the_adjoint_partner_of_the_back_projection_used_by_reconstruct():
    rng = np.random.default_rng(1)
    image = rng.random((32, 32)).astype(np.float32)
    sinogram = rng.standard_normal((11, 32)).astype(np.float32)
    op = ParallelBeamProjector((32, 32), ANGLES, device="cpu")
    assert adjoint_test(op, batch_shape=(2,)) < 1e-4
    np.testing.assert_allclose(project(image, ANGLES, device="cpu"), op(torch.from_numpy(image)).numpy(), atol=1e-5)
    # fbp = back-projection (Aᵀ) of the filtered, angle-weighted data, inside the reconstruction circle
    weights = torch.as_tensor(angle_weights(ANGLES), dtype=torch.float32)
    back = op.adjoint(filter_projections(torch.from_numpy(sinogram), "hann") * weights[:, None]).numpy()
    ours = reconstruct(sinogram, ANGLES, method="fbp", filter="hann", device="cpu")
    inside = ours != 0
    np.testing.assert_allclose(ours[inside], back[inside], rtol=1e-5, atol=1e-5)
    assert inside.mean() > 0.7


@pytest.mark.parametrize("tilt_axis", ["y", "x"])
@pytest.mark.parametrize("method", ["fbp", "sirt", "cgls", "tv", "fista-tv", "adam"])
def test_a_tilt_series_reconstructs_as_its_slices_do(monkeypatch, tilt_axis, method):
    volume = _volume()
    if tilt_axis == "x":
        volume = np.ascontiguousarray(volume.transpose(0, 2, 1))
    series = project(volume, ANGLES, tilt_axis=tilt_axis, device="cpu")
    series_copy = series.copy()
    # chunks of two slices, so the lockstep stitching of chunks is exercised too
    monkeypatch.setattr(tomography, "MAX_CHUNK_ELEMENTS", 2 * 24 * 24)
    monkeypatch.setattr(chunks, "MIN_CHUNK_SLICES", 1)
    result = reconstruct(series, ANGLES, method=method, n_iter=5, tilt_axis=tilt_axis, device="cpu")
    assert result.shape == volume.shape and result.dtype == np.float32
    np.testing.assert_array_equal(series, series_copy)
    for j in range(4):
        if tilt_axis == "y":
            expected = reconstruct(series[:, j, :], ANGLES, method=method, n_iter=5, device="cpu")
            got = result[:, j, :]
        else:
            expected = reconstruct(series[:, :, j], ANGLES, method=method, n_iter=5, device="cpu")
            got = result[:, :, j]
        np.testing.assert_allclose(got, expected, atol=1e-4 * float(np.abs(expected).max()))


def test_thickness_sets_the_depth_of_the_volume():
    series = project(_volume(), ANGLES, device="cpu")
    assert reconstruct(series, ANGLES, method="sirt", n_iter=2, thickness=16, device="cpu").shape == (16, 4, 24)
    assert reconstruct(series, ANGLES, method="fbp", tilt_axis="x", device="cpu").shape == (4, 4, 24)


def test_iterates_stream_and_warm_start_continues():
    volume = _volume()[:, 0, :]
    sinogram = project(volume, ANGLES, device="cpu")
    iterates = list(reconstruct_iter(sinogram, ANGLES, method="sirt", n_iter=6, device="cpu"))
    assert [it.iteration for it in iterates] == list(range(1, 7))
    assert all(it.x.shape == (24, 24) for it in iterates)
    true_residual = np.linalg.norm(project(iterates[-1].x.numpy(), ANGLES, device="cpu") - sinogram)
    assert iterates[-1].residual == pytest.approx(true_residual, rel=1e-3)
    x0 = iterates[-1].x.numpy()
    x0_copy = x0.copy()
    resumed = next(reconstruct_iter(sinogram, ANGLES, method="sirt", n_iter=1, x0=x0, device="cpu"))
    assert resumed.residual < iterates[-1].residual
    np.testing.assert_array_equal(x0, x0_copy)
    assert len(list(reconstruct_iter(sinogram, ANGLES, method="fbp", device="cpu"))) == 1


GOOD = np.zeros((11, 24), np.float32)


@pytest.mark.parametrize(
    "data, angles, kwargs, error, match",
    [
        (GOOD, ANGLES[:10], {}, ValueError, "10 angles for 11 projections"),
        (GOOD, np.where(np.arange(11) == 3, np.nan, ANGLES), {}, ValueError, "NaN or Inf"),
        (GOOD, np.where(np.arange(11) == 3, ANGLES[2], ANGLES), {}, ValueError, "repeated"),
        (GOOD, np.where(np.arange(11) == 3, ANGLES[2] + 360.0, ANGLES), {}, ValueError, "repeated"),
        (GOOD[:1], [0.0], {}, ValueError, "at least 2"),
        (np.where(np.arange(24) == 5, np.nan, GOOD), ANGLES, {}, ValueError, "NaN"),
        (np.zeros(11), ANGLES, {}, ValueError, "sinogram"),
        (np.zeros((11, 2, 2, 2)), ANGLES, {}, ValueError, "sinogram"),
        (GOOD, ANGLES, {"method": "art"}, ValueError, "valid methods are fbp"),
        (GOOD, ANGLES, {"filter": "parzen"}, ValueError, "valid filters"),
        (np.zeros((11, 3, 24)), ANGLES, {"tilt_axis": "z"}, ValueError, "tilt_axis"),
        (GOOD, ANGLES, {"method": "tv", "lam": -0.1}, ValueError, "lam must be a finite number >= 0"),
        (GOOD, ANGLES, {"method": "tv", "lam": "best"}, ValueError, "'auto'"),
        (GOOD, ANGLES, {"method": "sirt", "lam": "auto"}, ValueError, "has no λ"),
        (GOOD, ANGLES, {"method": "sirt", "n_iter": 0}, ValueError, "n_iter"),
        (np.zeros((11, 3, 24)), ANGLES, {"thickness": 0}, ValueError, "thickness"),
        (GOOD, ANGLES, {"method": "sirt", "x0": np.zeros((23, 24))}, ValueError, "x0 has shape"),
        (GOOD, ANGLES, {"method": "cgls", "filter": "ramp"}, TypeError, "unknown option"),
        (GOOD, ANGLES, {"method": "tv", "step_ratio": 0.0}, ValueError, "step_ratio"),
        (GOOD, ANGLES, {"method": "pnp-admm", "denoiser": "bm4d"}, ValueError, "valid denoisers"),
        (GOOD, ANGLES, {"method": "pnp-admm", "n_cg": 0}, ValueError, "n_cg"),
        (GOOD.astype(np.complex64), ANGLES, {}, TypeError, "complex"),
        (GOOD, ["a"] * 11, {}, TypeError, "real numbers"),
    ],
)
def test_bad_input_is_refused_before_any_work(data, angles, kwargs, error, match):
    with pytest.raises(error, match=match):
        reconstruct_iter(data, angles, device="cpu", **kwargs)  # the call itself, not its first step


def test_reconstruct_solves_chunk_after_chunk_as_the_stream_does(monkeypatch):
    volume = _volume((24, 5, 24))
    series = project(volume, ANGLES, tilt_axis="x", device="cpu")
    streamed = list(reconstruct_iter(series, ANGLES, method="tv", n_iter=15, tilt_axis="x", device="cpu"))[-1].x
    monkeypatch.setattr(chunks, "SOLVE_CHUNK_ELEMENTS", 2 * 24 * 24)  # chunks of 2, 2 and 1 slices
    monkeypatch.setattr(chunks, "MIN_CHUNK_SLICES", 1)
    chunked = reconstruct(series, ANGLES, method="tv", n_iter=15, tilt_axis="x", device="cpu")
    np.testing.assert_allclose(chunked, streamed.numpy(), atol=1e-6)


@pytest.mark.parametrize("method", ["tv", "sirt"])
def test_chunks_solved_side_by_side_on_one_thread_each_match_one_after_another(monkeypatch, method):
    volume = _volume((24, 7, 24))
    series = project(volume, ANGLES, tilt_axis="x", device="cpu")
    monkeypatch.setattr(chunks, "SOLVE_CHUNK_ELEMENTS", 2 * 24 * 24)  # four chunks
    monkeypatch.setattr(chunks, "MIN_CHUNK_SLICES", 1)
    threads = torch.get_num_threads()
    try:
        torch.set_num_threads(1)
        one_by_one = reconstruct(series, ANGLES, method=method, n_iter=10, tilt_axis="x", device="cpu")
        torch.set_num_threads(3)
        side_by_side = reconstruct(series, ANGLES, method=method, n_iter=10, tilt_axis="x", device="cpu")
        assert torch.get_num_threads() == 3  # restored after the work
    finally:
        torch.set_num_threads(threads)
    np.testing.assert_array_equal(side_by_side, one_by_one)


def test_chunks_hold_at_least_min_chunk_slices_when_the_series_has_them(monkeypatch):
    series = project(_volume((24, 20, 24)), ANGLES, tilt_axis="x", device="cpu")
    monkeypatch.setattr(chunks, "SOLVE_CHUNK_ELEMENTS", 24 * 24)  # one slice's worth
    plan = chunks.make_plan(series, ANGLES, method="sirt", n_iter=2, tilt_axis="x", device="cpu")
    rows = [r for r, _ in plan.chunks(chunks.SOLVE_CHUNK_ELEMENTS)]
    assert rows == [slice(0, 8), slice(8, 16), slice(16, 24)]


def test_an_error_in_a_chunk_solved_in_parallel_reaches_the_caller(monkeypatch):
    series = project(_volume((24, 7, 24)), ANGLES, tilt_axis="x", device="cpu")
    monkeypatch.setattr(chunks, "SOLVE_CHUNK_ELEMENTS", 2 * 24 * 24)
    monkeypatch.setattr(chunks, "MIN_CHUNK_SLICES", 1)

    def failing(problem, **kwargs):
        raise RuntimeError("solver failed")
        yield  # a generator, as solvers are

    monkeypatch.setitem(METHODS, "sirt", replace(METHODS["sirt"], solver=failing))
    threads = torch.get_num_threads()
    try:
        torch.set_num_threads(2)
        with pytest.raises(RuntimeError, match="solver failed"):
            reconstruct(series, ANGLES, method="sirt", n_iter=2, tilt_axis="x", device="cpu")
        assert torch.get_num_threads() == 2
    finally:
        torch.set_num_threads(threads)


def test_lam_auto_is_the_cross_validated_lam_and_lands_near_the_psnr_best():
    from napari_invprob.datasets import shepp_logan_case
    from napari_invprob.metrics import psnr
    from napari_invprob.tomography.cross_validation import cross_validate

    case = shepp_logan_case("wedge", n=64)
    lams = np.geomspace(0.003, 0.3, 5)
    kwargs = {"method": "tv", "n_iter": 100, "device": "cpu"}

    def score(image):
        return psnr(case.phantom, image, data_range=1.0, mask=case.mask)

    best = cross_validate(case.sinogram, case.angles, **kwargs).best_lam
    auto = reconstruct(case.sinogram, case.angles, lam="auto", **kwargs)
    np.testing.assert_array_equal(auto, reconstruct(case.sinogram, case.angles, lam=best, **kwargs))
    best_psnr = max(score(reconstruct(case.sinogram, case.angles, lam=lam, **kwargs)) for lam in lams)
    assert score(auto) >= best_psnr - 1.0
    streamed = reconstruct_iter(case.sinogram, case.angles, lam="auto", **kwargs)  # λ chosen at the first next
    np.testing.assert_array_equal(list(streamed)[-1].x.numpy(), auto)


def test_overlapping_runs_leave_the_thread_count_intact():
    """Two runs that overlap (two widgets, or a widget's run around the chunk engine) and end in the
    order they did not start in restore torch's thread count (each saving and restoring its own, the
    second run restored the first one's limit: 2 here)."""
    from napari_invprob._shared.device import torch_threads

    threads = torch.get_num_threads()
    try:
        torch.set_num_threads(3)
        first_in, second_in, first_out = threading.Event(), threading.Event(), threading.Event()

        def first():
            with torch_threads(2):
                first_in.set()
                second_in.wait(5)
            first_out.set()

        def second():
            first_in.wait(5)
            with torch_threads(1):
                second_in.set()
                first_out.wait(5)

        runs = [threading.Thread(target=first), threading.Thread(target=second)]
        for run in runs:
            run.start()
        for run in runs:
            run.join(10)
        assert torch.get_num_threads() == 3

        series = project(_volume((24, 7, 24)), ANGLES, tilt_axis="x", device="cpu")
        with concurrent.futures.ThreadPoolExecutor(2) as pool:  # two real runs side by side
            results = list(pool.map(lambda m: reconstruct(series, ANGLES, method=m, n_iter=3, tilt_axis="x",
                                                          device="cpu"), ["sirt", "tv"]))
        assert len(results) == 2 and torch.get_num_threads() == 3
    finally:
        torch.set_num_threads(threads)

"""The dock widgets in a real viewer: docking from the manifest, streaming, Stop, live λ, errors, metadata."""

from __future__ import annotations

import tempfile
from pathlib import Path

import numpy as np
import pytest
from scipy import ndimage
from skimage import data as skdata

from napari_invprob import metrics, psf
from napari_invprob.napari.widgets import _base

pytestmark = pytest.mark.gui

PLUGIN = "napari-invprob"
#: Screenshots the tests save, for a person to look at.
SCREENSHOT_DIR = Path(tempfile.gettempdir()) / "napari-invprob-test-screenshots"


@pytest.fixture
def errors(monkeypatch):
    """Messages the widgets showed as error notifications."""
    shown: list[str] = []
    monkeypatch.setattr(_base, "show_error", shown.append)
    return shown


def dock(viewer, name):
    _, widget = viewer.window.add_plugin_dock_widget(PLUGIN, name)
    return widget


def wait_until_done(qtbot, widget, timeout=30_000):
    qtbot.waitUntil(lambda: not widget.runner.running, timeout=timeout)


def add_blurred(viewer, *, size=96, name="blurred"):
    """A small blurred, noisy camera image with its forward model, made with scipy (not our operators)."""
    clean = skdata.camera()[::4, ::4][:size, :size].astype(np.float32) / 255
    kernel = psf.gaussian(7, 1.5)
    rng = np.random.default_rng(0)
    blurred = ndimage.convolve(clean, kernel, mode="wrap") + 0.01 * rng.standard_normal(clean.shape)
    model = {"psf": kernel, "boundary": "periodic", "channel_axis": None, "noise_sigma": 0.01}
    viewer.add_image(clean, name="clean", visible=False)
    return viewer.add_image(blurred.astype(np.float32), name=name, metadata={"forward_model": model})


def snapshot(viewer):
    return [(layer.name, np.array(layer.data, copy=True)) for layer in viewer.layers]


def assert_unchanged(viewer, before):
    assert [layer.name for layer in viewer.layers] == [name for name, _ in before]
    for layer, (_, data) in zip(viewer.layers, before):
        np.testing.assert_array_equal(np.asarray(layer.data), data)


def test_each_widget_docks_from_the_manifest(make_napari_viewer):
    viewer = make_napari_viewer()
    for name in ("Deconvolution", "Tomography", "Simulate measurement", "Denoise"):
        dock_widget, widget = viewer.window.add_plugin_dock_widget(PLUGIN, name)
        assert dock_widget is not None and callable(widget.run) and callable(widget.stop)


def test_boundary_follows_the_input_forward_model_or_mirrors_a_measured_image(make_napari_viewer):
    viewer = make_napari_viewer()
    measured = viewer.add_image(np.random.default_rng(0).random((40, 48), dtype=np.float32), name="measured")
    simulated = add_blurred(viewer, size=48)
    widget = dock(viewer, "Deconvolution")
    assert widget.boundary.choices == ("periodic", "zero", "reflect")
    widget.input.value = simulated
    assert widget.boundary.value == "periodic"  # from its forward model
    widget.input.value = measured
    assert widget.boundary.value == "reflect"


def test_sample_data_runs_with_no_control_touched_and_streams_into_the_layer(make_napari_viewer, qtbot, errors):
    viewer = make_napari_viewer()
    viewer.open_sample(PLUGIN, "astronaut")
    widget = dock(viewer, "Deconvolution")
    widget.reference.value = viewer.layers["astronaut (reference)"]
    worker = widget.run()
    assert worker is not None and not errors
    result = viewer.layers[-1]  # shown at once, before the first iterate
    assert result.name == "astronaut (blurred, noisy) (admm-tv)" and result.rgb
    updates = []
    result.events.data.connect(lambda event: updates.append(result.metadata["iterations"]))
    qtbot.waitUntil(lambda: len(updates) >= 2 and updates[-1] >= 2, timeout=60_000)
    widget.stop()
    wait_until_done(qtbot, widget)
    assert not errors and updates == sorted(updates)
    clean = viewer.layers["astronaut (reference)"].data
    assert metrics.psnr(clean, result.data, data_range=1.0) > 23.5  # input 21.96 dB; 26 dB when finished
    assert result.metadata["status"] == "stopped" and result.metadata["scored_iteration"] >= 1


def test_result_metadata_reproduces_the_result(make_napari_viewer, qtbot):
    from napari_invprob import deconvolve

    viewer = make_napari_viewer()
    source = add_blurred(viewer)
    widget = dock(viewer, "Deconvolution")
    widget.n_iter.value = 15
    widget.reference.value = viewer.layers["clean"]
    widget.run()
    wait_until_done(qtbot, widget)
    meta = viewer.layers[-1].metadata
    assert meta["status"] == "finished" and meta["reference_layer"] == "clean" and meta["scored_iteration"] == 15
    clean = viewer.layers["clean"].data  # scored with the reference's peak-to-peak range
    assert meta["psnr_db"] == pytest.approx(metrics.psnr(clean, viewer.layers[-1].data, data_range=np.ptp(clean)),
                                            abs=1e-3)
    convergence = widget.plot.curves()["algorithm residual"]  # admm-tv: ADMM's primal residual, no objective
    assert widget.plot._objective_plot.getAxis("left").labelText == "primal residual"  # labelled as what it is
    np.testing.assert_array_equal(convergence[0], np.arange(1, 16))  # every iteration, not only those shown
    expected = {"method", "parameters", "source_layer", "psf", "iterations", "elapsed_s", "status",
                "napari_invprob_version", "psf_source"}
    assert expected <= set(meta)
    assert {"lam", "n_iter", "boundary", "nonneg", "channel_axis"} <= set(meta["parameters"])
    assert meta["source_layer"] == source.name and meta["iterations"] == 15 and meta["elapsed_s"] > 0
    again = deconvolve(source.data, meta["psf"], method=meta["method"], **meta["parameters"])
    np.testing.assert_allclose(viewer.layers[-1].data, again, atol=1e-4)


def test_pnp_methods_offer_a_denoiser_and_run_the_learned_one(make_napari_viewer, qtbot, errors):
    from napari_invprob import deconvolve
    from napari_invprob.priors.denoisers import DENOISERS

    viewer = make_napari_viewer()
    source = add_blurred(viewer, size=48)
    widget = dock(viewer, "Deconvolution")
    assert widget.denoiser.native.isHidden()  # admm-tv has no denoiser (the window itself is not shown)
    widget.method.value = "pnp-admm"
    assert not widget.denoiser.native.isHidden() and set(widget.denoiser.choices) == set(DENOISERS)
    widget.denoiser.value = "learned"
    widget.n_iter.value = 3
    widget.run()
    wait_until_done(qtbot, widget)
    meta = viewer.layers[-1].metadata
    assert not errors and meta["status"] == "finished" and meta["parameters"]["denoiser"] == "learned"
    again = deconvolve(source.data, meta["psf"], method=meta["method"], **meta["parameters"])
    np.testing.assert_allclose(viewer.layers[-1].data, again, atol=1e-4)
    widget.method.value = "tikhonov"
    assert widget.denoiser.native.isHidden()


def test_stop_ends_the_run_quickly_and_keeps_the_last_iterate(make_napari_viewer, qtbot):
    viewer = make_napari_viewer()
    add_blurred(viewer)
    widget = dock(viewer, "Deconvolution")
    widget.n_iter.value = 100_000
    widget.run()
    result = viewer.layers[-1]
    qtbot.waitUntil(lambda: result.metadata.get("iterations", 0) >= 2, timeout=20_000)
    widget.stop()
    wait_until_done(qtbot, widget, timeout=2000)
    assert widget.runner.last_stop_latency < 0.5
    assert result.metadata["status"] == "stopped"
    assert 2 <= result.metadata["iterations"] < 100_000
    assert np.isfinite(result.data).all() and result.data.std() > 0.05
    assert not widget._stop_button.enabled and widget._run_button.enabled


def test_live_lambda_change_cancels_and_restarts_warm(make_napari_viewer, qtbot):
    viewer = make_napari_viewer()
    add_blurred(viewer)
    widget = dock(viewer, "Deconvolution")
    widget.n_iter.value = 100_000
    widget.live.value = True
    first = widget.run()
    result = viewer.layers[-1]
    qtbot.waitUntil(lambda: result.metadata.get("iterations", 0) >= 2, timeout=20_000)
    ended = []
    first.finished.connect(lambda: ended.append(True))
    widget.lam.number = 0.05
    widget.lam.number = 0.04  # debounced: only the last value starts a run
    qtbot.waitUntil(lambda: result.metadata["parameters"]["lam"] == 0.04, timeout=20_000)
    assert ended and first.abort_requested
    assert widget.worker is not first
    assert result.metadata["warm_start"] is True
    assert [layer.name for layer in viewer.layers].count(result.name) == 1  # the same layer, reused
    widget.stop()
    wait_until_done(qtbot, widget, timeout=2000)


def test_bad_lambda_is_reported_and_nothing_changes(make_napari_viewer, errors):
    viewer = make_napari_viewer()
    add_blurred(viewer)
    widget = dock(viewer, "Deconvolution")
    before = snapshot(viewer)
    widget.lam._field.value = "-1"
    assert widget.run() is None
    assert len(errors) == 1 and "λ must be ≥ 0" in errors[0]
    widget.lam._field.value = "abc"
    assert widget.run() is None
    assert "must be a number" in errors[1]
    assert_unchanged(viewer, before)


def test_solver_error_leaves_no_layer_and_the_widget_stays_usable(make_napari_viewer, qtbot, errors):
    viewer = make_napari_viewer()
    good = add_blurred(viewer)
    bad = np.array(good.data)
    bad[3, 4] = np.nan
    viewer.add_image(bad, name="with NaN")
    widget = dock(viewer, "Deconvolution")
    widget.psf_source.value = "Gaussian"
    before = snapshot(viewer)
    widget.run()
    wait_until_done(qtbot, widget)
    assert len(errors) == 1 and "NaN" in errors[0]
    assert_unchanged(viewer, before)
    widget.input.value = good
    widget.n_iter.value = 5
    widget.run()
    wait_until_done(qtbot, widget)
    assert len(errors) == 1 and viewer.layers[-1].metadata["status"] == "finished"


def test_tomography_refuses_mismatched_angles_and_rgb(make_napari_viewer, errors):
    viewer = make_napari_viewer()
    viewer.add_image(np.zeros((32, 32, 3), np.float32), name="rgb", rgb=True)
    viewer.add_image(np.ones((30, 48), np.float32), name="sinogram")
    widget = dock(viewer, "Tomography")
    before = snapshot(viewer)
    widget.angle_count.value = 20
    assert widget.run() is None
    assert "20 angles for 30 projections" in errors[-1]
    widget.input.value = viewer.layers["rgb"]
    assert widget.run() is None
    assert "grey-level" in errors[-1]
    assert_unchanged(viewer, before)


def test_simulate_then_deconvolve_picks_up_the_forward_model(make_napari_viewer, qtbot, errors):
    viewer = make_napari_viewer()
    clean = viewer.add_image(skdata.camera()[::4, ::4].astype(np.float32) / 255, name="camera")
    simulate = dock(viewer, "Simulate measurement")
    simulate.psf_sigma.value = 1.5
    simulate.blur_noise.value = 0.01
    simulate.run()
    wait_until_done(qtbot, simulate)
    measured = viewer.layers["camera (blurred)"]
    model = measured.metadata["forward_model"]
    assert model["psf"].shape == (7, 7) and model["noise_sigma"] == 0.01
    deconv = dock(viewer, "Deconvolution")
    viewer.layers.selection.active = measured
    assert deconv.input.value is measured and deconv.psf_source.value == "input's forward model"
    assert deconv.reference.value is clean  # the simulation's source, found without a click
    deconv.n_iter.value = 20
    deconv.run()
    wait_until_done(qtbot, deconv)
    result = viewer.layers[-1].metadata
    assert not errors and result["psnr_db"] > metrics.psnr(clean.data, measured.data, data_range=1.0)


def test_denoise_adds_a_denoised_layer_that_its_metadata_reproduces(make_napari_viewer, qtbot, errors):
    from napari_invprob import denoise

    viewer = make_napari_viewer()
    clean = skdata.camera()[::4, ::4].astype(np.float32) / 255
    noisy = (clean + 0.05 * np.random.default_rng(0).standard_normal(clean.shape)).astype(np.float32)
    layer = viewer.add_image(noisy, name="noisy", scale=(2.0, 2.0))
    before = snapshot(viewer)
    widget = dock(viewer, "Denoise")
    assert widget.input.value is layer and widget.method.value == "learned" and not widget.sigma.enabled
    widget.run()
    wait_until_done(qtbot, widget)
    result = viewer.layers["noisy (denoised)"]
    assert not errors and result.metadata["status"] == "finished"
    assert result.metadata["parameters"] == {"sigma": None, "channel_axis": None}  # None: estimated ...
    assert 0.04 < result.metadata["noise_sigma"] < 0.07  # ... as this (0.060: texture adds to the estimate)
    assert metrics.psnr(clean, result.data, data_range=1.0) > metrics.psnr(clean, noisy, data_range=1.0) + 2.0  # 2.8
    assert tuple(result.scale) == (2.0, 2.0)
    again = denoise(noisy, method=result.metadata["method"], **result.metadata["parameters"])
    np.testing.assert_allclose(result.data, again, atol=1e-5)

    widget.estimate.value = False  # a typed noise level, another denoiser: the same layer is updated
    widget.sigma.number = 0.05
    widget.method.value = "tv"
    widget.run()
    wait_until_done(qtbot, widget)
    assert not errors and viewer.layers[-1] is result
    assert result.metadata["method"] == "tv" and result.metadata["parameters"]["sigma"] == 0.05
    assert result.metadata["noise_sigma"] == 0.05
    assert_unchanged(viewer, before + [("noisy (denoised)", np.asarray(result.data))])


def test_denoise_refuses_bad_input_and_changes_nothing(make_napari_viewer, errors):
    viewer = make_napari_viewer()
    viewer.add_image(np.zeros((3, 4, 16, 16), dtype=np.float32), name="4d")
    widget = dock(viewer, "Denoise")
    before = snapshot(viewer)
    assert widget.run() is None and "2D image or a 3D volume" in errors[-1]
    viewer.add_image(np.random.default_rng(0).random((16, 16), dtype=np.float32), name="image")
    before = snapshot(viewer)
    widget.input.value = viewer.layers["image"]
    widget.estimate.value = False
    widget.sigma._field.value = "-0.1"
    assert widget.run() is None and "≥ 0" in errors[-1]
    widget.sigma._field.value = "loud"
    assert widget.run() is None and "number" in errors[-1]
    assert_unchanged(viewer, before)


def test_simulate_then_reconstruct_with_angles_from_metadata_and_fourier_view(make_napari_viewer, qtbot, errors):
    from napari_invprob.phantom import shepp_logan_image

    viewer = make_napari_viewer()
    viewer.add_image(shepp_logan_image(64), name="phantom")
    simulate = dock(viewer, "Simulate measurement")
    simulate.kind.value = simulate.kind.choices[1]
    simulate.angle_count.value = 40
    simulate.run()
    wait_until_done(qtbot, simulate)
    sinogram = viewer.layers["phantom (projections)"]
    assert sinogram.data.shape[0] == 40 and len(sinogram.metadata["angles"]) == 40
    tomo = dock(viewer, "Tomography")
    viewer.layers.selection.active = sinogram
    assert tomo.angle_source.value == "input's metadata"
    assert tomo.reference.value is viewer.layers["phantom"]
    tomo.n_iter.value = 10
    tomo.run()
    wait_until_done(qtbot, tomo)
    result = viewer.layers[-1]
    assert not errors and result.data.shape == (64, 64) and "psnr_db" in result.metadata
    np.testing.assert_array_equal(result.metadata["angles"], sinogram.metadata["angles"])
    tomo.fourier_layer.value = result
    worker = tomo.fourier_view()
    qtbot.waitUntil(lambda: viewer.layers[-1].name == f"{result.name} (power spectrum)", timeout=10_000)
    assert worker is not None and viewer.layers[-1].data.shape == (64, 64)


def test_screenshot_of_a_finished_result_is_not_blank(make_napari_viewer, qtbot):
    viewer = make_napari_viewer(show=True)
    add_blurred(viewer)
    widget = dock(viewer, "Deconvolution")
    widget.n_iter.value = 10
    widget.run()
    wait_until_done(qtbot, widget)
    viewer.layers["blurred"].visible = False
    viewer.window._qt_window.resize(1200, 800)
    viewer.reset_view()
    SCREENSHOT_DIR.mkdir(exist_ok=True)
    image = viewer.screenshot(str(SCREENSHOT_DIR / "finished_result.png"), canvas_only=True, flash=False)
    grey = image[..., :3].mean(axis=-1)
    assert grey.std() > 20 and (grey > 100).mean() > 0.05


def test_tilt_series_sample_aligns_and_reconstructs_in_3d(make_napari_viewer, qtbot, errors):
    viewer = make_napari_viewer()
    viewer.open_sample(PLUGIN, "tilt_series")
    series = viewer.layers.selection.active
    tomo = dock(viewer, "Tomography")
    assert tomo.input.value is series and tomo.angle_source.value == "input's metadata"
    tomo.align_method.value = "cross-correlation"
    tomo.align()
    # the layer is added when the alignment returns; its worker finishes an event later
    qtbot.waitUntil(lambda: viewer.layers[-1].name == f"{series.name} (aligned)" and tomo._task is None,
                    timeout=30_000)
    aligned = viewer.layers[-1]
    assert aligned.data.shape == series.data.shape and aligned.metadata["shifts"].shape == (series.data.shape[0], 2)
    assert tomo.input.value is aligned  # an aligned series is a measurement: the input follows it
    tomo.method.value = "sirt"
    tomo.n_iter.value = 3
    tomo.thickness.value = 64
    tomo.reference.value = viewer.layers["rods and spheres (reference volume)"]
    tomo.run()
    wait_until_done(qtbot, tomo)
    result = viewer.layers[-1]
    assert not errors and result.data.shape == (64, 96, 96) and result.metadata["iterations"] == 3
    assert result.metadata["parameters"]["thickness"] == 64 and "psnr_db" in result.metadata


def test_choose_lambda_by_cross_validation_sets_the_field(make_napari_viewer, qtbot, errors, monkeypatch):
    from napari_invprob import project
    from napari_invprob.napari.widgets import tomography
    from napari_invprob.phantom import shepp_logan_image

    infos = []
    monkeypatch.setattr(tomography, "show_info", infos.append)

    viewer = make_napari_viewer()
    angles = np.linspace(-70, 70, 32)
    sinogram = project(shepp_logan_image(64), angles)
    viewer.add_image(sinogram, name="sinogram", metadata={"angles": angles})
    tomo = dock(viewer, "Tomography")
    tomo.method.value = "fista-tv"
    tomo.n_iter.value = 10
    before = tomo.lam.number
    worker = tomo.choose_lam()
    assert worker is not None
    qtbot.waitUntil(lambda: tomo._task is None, timeout=60_000)
    assert not errors
    assert len(infos) == 1 and "cross-validation chose λ" in infos[0]
    chosen = float(infos[0].split("λ = ")[1].split()[0])
    assert tomo.lam.number == pytest.approx(chosen, rel=1e-2)
    assert np.isclose(before * np.logspace(-1.5, 1.5, 7), chosen, rtol=1e-2).any()


def test_runs_that_cannot_fit_are_refused_and_slow_ones_announced(make_napari_viewer, qtbot, errors, monkeypatch):
    from napari_invprob.napari.widgets import _estimate

    viewer = make_napari_viewer()
    add_blurred(viewer)
    widget = dock(viewer, "Deconvolution")
    before = snapshot(viewer)
    monkeypatch.setattr(_estimate, "available_memory", lambda: 2**16)
    assert widget.run() is None
    assert "GiB" in errors[-1] and "crop or bin" in errors[-1]
    assert_unchanged(viewer, before)
    monkeypatch.undo()
    monkeypatch.setattr(_base, "show_error", errors.append)
    warnings = []
    monkeypatch.setattr(_base, "show_warning", warnings.append)
    monkeypatch.setattr(_estimate, "SLOW_RUN_SECONDS", 1.0)
    widget.n_iter.value = 100_000
    assert widget.run() is not None
    widget.stop()
    wait_until_done(qtbot, widget)
    assert len(warnings) == 1 and "this run will take about" in warnings[0] and "Stop" in warnings[0]


def test_psf_from_an_image_layer_is_normalised_and_recorded(make_napari_viewer, qtbot, errors):
    from napari_invprob import deconvolve

    viewer = make_napari_viewer()
    source = add_blurred(viewer)
    kernel = psf.gaussian(7, 1.5)
    viewer.add_image(5 * kernel, name="measured PSF")  # not normalised: the widget normalises it
    widget = dock(viewer, "Deconvolution")
    widget.input.value = source
    widget.psf_source.value = "PSF layer"
    widget.psf_layer.value = viewer.layers["measured PSF"]
    widget.n_iter.value = 3
    widget.run()
    wait_until_done(qtbot, widget)
    meta = viewer.layers[-1].metadata
    assert not errors and "measured PSF" in meta["psf_source"]
    np.testing.assert_allclose(meta["psf"], kernel, rtol=1e-5)
    again = deconvolve(source.data, kernel, method=meta["method"], **meta["parameters"])
    np.testing.assert_allclose(viewer.layers[-1].data, again, atol=1e-4)

"""The Tomography widget's Run slab by slab (big tilt series) and the forecast that chooses it."""

from __future__ import annotations

import re
import tempfile
import threading
import time
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from napari_invprob import project, reconstruct
from napari_invprob.napari.widgets import _base, _estimate
from napari_invprob.tomography import chunks
from napari_invprob.tomography.reconstruct import METHODS

PLUGIN = "napari-invprob"
SCREENSHOT_DIR = Path(tempfile.gettempdir()) / "napari-invprob-test-screenshots"
ANGLES = np.linspace(-60.0, 60.0, 15)
GiB = 2**30


# -- the forecast (arithmetic only) --------------------------------------------------------------------


@pytest.mark.parametrize("method, n_iter", [("sirt", 20), ("tv", 150)])
def test_a_1024_series_goes_slab_by_slab_and_fits_in_24_gib(method, n_iter):
    forecast = _estimate.tomography_forecast(120, 1024, 1024, method, n_iter, tilt_axis="x",
                                             available=22 * GiB, workers=2)
    assert forecast.by_slabs and forecast.estimate == forecast.slabs
    assert forecast.lockstep.memory > 24 * GiB  # the stream would not fit: the widget refused it before
    assert forecast.slabs.memory < _estimate.MEMORY_SHARE * 22 * GiB
    assert forecast.n_slabs == 128 and forecast.slab_slices == 8 and forecast.workers == 2


def test_the_slab_forecast_is_within_30_percent_of_the_measured_runs():
    """Measured with ``reconstruct`` on 2 threads (the slab engine), peak memory beyond the loaded series
    (``benchmarks/big_tilt_series.py``, ``benchmarks/tilt_series.py``): 120x1024x1024 SIRT 20 took 779 s and
    6.76 GiB, TV (defaults) 3513 s and 8.11 GiB; 77x256x256 SIRT 100 43.7 s (3.1x the volume), TV 42.6 s
    (3.7x)."""
    volume = 4 * 256**3
    measured = [((120, 1024, "sirt", 20), 779.0, 6.76 * GiB), ((120, 1024, "tv", 150), 3513.0, 8.11 * GiB),
                ((77, 256, "sirt", 100), 43.7, 3.1 * volume), ((77, 256, "tv", 150), 42.6, 3.7 * volume)]
    for (n_angles, n, method, n_iter), seconds, memory in measured:
        slabs = _estimate.tomography_forecast(n_angles, n, n, method, n_iter, tilt_axis="x", available=22 * GiB,
                                              workers=2).slabs
        assert abs(slabs.seconds / seconds - 1) < 0.3, (method, n, slabs.seconds, seconds)
        assert abs(slabs.memory / memory - 1) < 0.3, (method, n, slabs.memory / GiB, memory / GiB)


def test_the_default_series_streams_in_lockstep():
    forecast = _estimate.tomography_forecast(77, 256, 256, "sirt", 50, available=22 * GiB, workers=2)
    assert not forecast.by_slabs and forecast.estimate == forecast.lockstep
    assert forecast.slabs.memory < forecast.lockstep.memory and forecast.slabs.seconds < forecast.lockstep.seconds


def test_a_stream_that_does_not_fit_goes_slab_by_slab():
    fits = _estimate.tomography_forecast(77, 256, 256, "tv", 150, available=22 * GiB, workers=2)
    tight = _estimate.tomography_forecast(77, 256, 256, "tv", 150, available=fits.lockstep.memory,
                                          workers=2)
    assert not fits.by_slabs and tight.by_slabs


# -- the widget -------------------------------------------------------------------------------------------


@pytest.fixture
def errors(monkeypatch):
    shown: list[str] = []
    monkeypatch.setattr(_base, "show_error", shown.append)
    return shown


@pytest.fixture
def slabs(monkeypatch):
    """Every full run of a tilt series goes slab by slab, in slabs of 4 slices."""
    monkeypatch.setattr(_estimate, "SLAB_ITERATION_SECONDS", 0.0)
    monkeypatch.setattr(chunks, "SOLVE_CHUNK_ELEMENTS", 4 * 32 * 32)
    monkeypatch.setattr(chunks, "MIN_CHUNK_SLICES", 1)


def slow_sirt(monkeypatch, seconds: float):
    """SIRT taking at least ``seconds`` per iteration (same numbers), so a run can be watched and stopped."""
    spec = METHODS["sirt"]

    def slow(problem, **kwargs):
        for iterate in spec.solver(problem, **kwargs):
            time.sleep(seconds)
            yield iterate

    monkeypatch.setitem(METHODS, "sirt", replace(spec, solver=slow))


def gated_sirt(monkeypatch) -> threading.Event:
    """SIRT whose slabs started after one has finished go slowly (0.1 s an iteration) and stop before
    their last iteration until the returned event is set: a test sees the run part way (some slabs done,
    not all) whatever the load, and their iterates keep coming, so the display takes the newest count of
    slabs done (a frame held back for the frame interval goes out with the next iterate)."""
    spec = METHODS["sirt"]
    release, finished = threading.Event(), threading.Event()

    def gated(problem, **kwargs):
        late = finished.is_set()
        for iterate in spec.solver(problem, **kwargs):
            yield iterate
            if late and not release.is_set():
                if iterate.iteration < kwargs["n_iter"] - 1:
                    time.sleep(0.1)
                else:
                    release.wait(timeout=60)
            if iterate.iteration == kwargs["n_iter"]:  # the engine takes no more: this slab is done
                finished.set()

    monkeypatch.setitem(METHODS, "sirt", replace(spec, solver=gated))
    return release


def series_layer(viewer):
    """A 15-angle series of 16 rows (slices along y) of a blobby 32x16x32 volume."""
    z, y, x = np.mgrid[:32, :16, :32]
    volume = np.zeros((32, 16, 32), np.float32)
    for cz, cx, r, v in ((16, 12, 7, 1.0), (12, 22, 5, 0.6), (21, 20, 4, 0.8)):
        volume[(z - cz) ** 2 + (x - cx) ** 2 + 0.5 * (y - 8) ** 2 < r * r] = v
    series = project(volume, ANGLES, device="cpu")
    return viewer.add_image(series, name="series", metadata={"angles": ANGLES, "tilt_axis": "y"})


def start(viewer, qtbot, n_iter):
    _, widget = viewer.window.add_plugin_dock_widget(PLUGIN, "Tomography")
    widget.method.value = "sirt"
    widget.n_iter.value = n_iter
    assert widget.run() is not None
    return widget


def expected(layer, n_iter):
    return reconstruct(np.asarray(layer.data), ANGLES, method="sirt", n_iter=n_iter, device="cpu")


def test_run_fills_the_layer_slab_by_slab_and_ends_with_reconstructs_volume(make_napari_viewer, qtbot, errors,
                                                                             slabs, monkeypatch):
    release = gated_sirt(monkeypatch)
    viewer = make_napari_viewer(show=True)
    layer = series_layer(viewer)
    widget = start(viewer, qtbot, 30)
    statuses, shown = [], []
    shown_frame = widget._frame_shown

    def frame_shown(plan, frame):
        shown_frame(plan, frame)
        statuses.append(widget._status.value)

    widget._frame_shown = frame_shown
    result = viewer.layers["series (sirt)"]
    result.events.data.connect(lambda event: shown.append(int(np.count_nonzero(result.data.any(axis=(0, 2))))))
    layer.visible = False
    viewer.window._qt_window.resize(1400, 800)
    # generous time-outs: the gate, not the clock, decides what is part way (a loaded machine is only slower)
    qtbot.waitUntil(lambda: result.metadata.get("slabs_done", 0) >= 1, timeout=300_000)
    SCREENSHOT_DIR.mkdir(parents=True, exist_ok=True)
    viewer.reset_view()
    part_way = viewer.screenshot(str(SCREENSHOT_DIR / "slabs_part_way.png"), canvas_only=False, flash=False)
    assert 0 < result.metadata["slabs_done"] < 4  # the slabs started later wait for the gate: part way
    assert not widget.plot.isVisible()  # no objective to plot: the status line and progress bar say how far
    release.set()
    qtbot.waitUntil(lambda: not widget.runner.running, timeout=300_000)
    done = viewer.screenshot(str(SCREENSHOT_DIR / "slabs_done.png"), canvas_only=False, flash=False)
    assert (done[..., :3].mean(axis=-1) > 100).sum() > (part_way[..., :3].mean(axis=-1) > 100).sum()
    assert errors == []
    np.testing.assert_array_equal(result.data, expected(layer, 30))
    assert result.metadata["status"] == "finished" and result.metadata["slabs_done"] == 4
    assert result.metadata["engine"] == "slabs" and result.metadata["slabs"] == 4
    assert result.metadata["parameters"]["n_iter"] == 30
    assert any(0 < filled < 16 for filled in shown)  # the layer showed a part of the slices, then all
    assert shown[-1] == 16
    said = [re.search(r"sirt: slab (\d) of 4 done \((\d+) of 16 slices along y\)", status) for status in statuses]
    assert any(match and 0 < int(match[1]) < 4 and int(match[2]) == 4 * int(match[1]) for match in said), statuses
    assert widget.progress.max == 4 and widget.progress.value == 4
    assert widget._status.value.startswith("sirt: finished after 4 of 4 slabs")


def test_stop_keeps_the_slabs_done_and_says_the_rest_are_zero(make_napari_viewer, qtbot, errors, slabs, monkeypatch):
    slow_sirt(monkeypatch, 0.02)
    viewer = make_napari_viewer()
    layer = series_layer(viewer)
    widget = start(viewer, qtbot, 50)  # a slab takes at least 1 s
    result = viewer.layers["series (sirt)"]
    qtbot.waitUntil(lambda: result.metadata.get("slabs_done", 0) >= 1, timeout=30_000)
    widget.stop()
    qtbot.waitUntil(lambda: not widget.runner.running, timeout=30_000)
    assert widget.runner.last_stop_latency < 0.5  # the running slabs ended after their current iteration
    done = result.metadata["slabs_done"]
    assert 1 <= done < 4
    assert result.metadata["status"].startswith("stopped: slab") and "zero" in result.metadata["status"]
    assert f"stopped after {done} of 4 slabs" in widget._status.value and "zero" in widget._status.value
    full = expected(layer, 50)
    kept = result.data.any(axis=(0, 2))  # slices along y that hold something
    assert 4 * done <= kept.sum() < 16
    if done <= 2:  # the slab of the slice in view (8: slices 8-11) and its nearest (4-7, then 12-15) come first
        assert widget.preview_slice.value == 8 and not kept[:4].any()
    np.testing.assert_array_equal(result.data[:, kept], full[:, kept])
    assert not result.data[:, ~kept].any()
    assert errors == []


def test_an_error_in_a_slab_is_shown_and_leaves_no_layer(make_napari_viewer, qtbot, errors, slabs, monkeypatch):
    def failing(problem, **kwargs):
        raise RuntimeError("the solver failed")
        yield  # a generator, as solvers are

    monkeypatch.setitem(METHODS, "sirt", replace(METHODS["sirt"], solver=failing))
    viewer = make_napari_viewer()
    series_layer(viewer)
    widget = start(viewer, qtbot, 5)
    qtbot.waitUntil(lambda: not widget.runner.running, timeout=30_000)
    assert len(errors) == 1 and "the solver failed" in errors[0]
    assert [layer.name for layer in viewer.layers] == ["series"]
    assert widget.run() is not None  # still usable

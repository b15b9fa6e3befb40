"""The Tomography widget on tilt series made like real ones: the file's conventions adopted and shown,
defaults that finish, a live preview slice equal to the same slice of the full run, open → Align → Run."""

from __future__ import annotations

import numpy as np
import pytest
from _chunk_gates import gate_the_lead
from _realistic_tilt_series import write_tilt_series
from _tilt_phantom import blob_tilt_series, random_blobs
from test_widgets import PLUGIN, SCREENSHOT_DIR, dock, errors, wait_until_done  # noqa: F401 - errors: a fixture

from napari_invprob.napari.widgets import tomography
from napari_invprob.tomography import chunks

pytestmark = pytest.mark.gui


@pytest.fixture(scope="module")
def realistic_file(tmp_path_factory):
    """A small int16 file with the −32768 offset, tilt axis x turned 2° off the grid, drifts, a .rawtlt."""
    return write_tilt_series(tmp_path_factory.mktemp("realistic"), n=64, n_angles=31, drift_rms=4.0)


@pytest.fixture
def infos(monkeypatch):
    """Messages the Tomography widget showed as information notifications."""
    shown: list[str] = []
    monkeypatch.setattr(tomography, "show_info", shown.append)
    return shown


def shown(widget) -> bool:
    """Whether a control is shown in the widget (not hidden; the dock itself is off screen in tests)."""
    return not widget.native.isHidden()


def best_correlation(volume, truth, *, reach: int) -> float:
    """The largest correlation coefficient of ``volume`` with ``truth`` over whole-pixel shifts up to ``reach``."""
    shifts = range(-reach, reach + 1)
    return max(np.corrcoef(np.roll(volume, (a, b, c), (0, 1, 2)).ravel(), truth.ravel())[0, 1]
               for a in shifts for b in shifts for c in shifts)


def open_series(viewer, path):
    (layer,) = viewer.open(str(path), plugin=PLUGIN)
    return layer


def test_file_conventions_are_adopted_and_shown_and_a_series_defaults_to_sirt(make_napari_viewer, realistic_file):
    viewer = make_napari_viewer()
    series = open_series(viewer, realistic_file.path)
    tomo = dock(viewer, "Tomography")
    assert tomo.input.value is series and series.metadata["tilt_axis"] == "x"
    assert tomo.tilt_axis.value == "x"
    line = tomo.conventions.value
    assert shown(tomo.conventions) and line == series.metadata["conventions"]
    assert line.startswith("tilt axis x (") and "off the grid: Align rotates" in line and "32768" in line
    assert (tomo.method.value, tomo.n_iter.value) == (tomography.SERIES_METHOD, tomography.SERIES_N_ITER)
    assert shown(tomo.preview_slice) and tomo.preview_slice.value == series.data.shape[2] // 2

    sinogram = viewer.add_image(np.ones((20, 32), dtype=np.float32), name="sinogram")
    tomo.input.value = sinogram  # a sinogram: TV again, no file line, no preview slice
    assert tomo.method.value == "tv" and not shown(tomo.conventions) and not shown(tomo.preview_slice)
    tomo.method.value = "fista-tv"  # the user's choice is kept
    tomo.input.value = series
    assert tomo.method.value == "fista-tv"


def _add_blob_series(viewer, *, n=48, n_angles=21, level=0.3):
    """Closed-form blob projections about the x axis, on a constant background ``level`` of the peak."""
    angles = np.linspace(-60.0, 60.0, n_angles)
    series = blob_tilt_series(random_blobs(n, 10, seed=3), n, angles).transpose(0, 2, 1)  # tilt axis y → x
    series = series + level * series.max()
    return viewer.add_image(np.ascontiguousarray(series), name="blobs",
                            metadata={"angles": angles, "tilt_axis": "x"})


def test_live_preview_slice_equals_that_slice_of_the_full_run(make_napari_viewer, qtbot, errors, infos):
    viewer = make_napari_viewer()
    layer = _add_blob_series(viewer)
    original = np.array(layer.data)
    tomo = dock(viewer, "Tomography")
    tomo.method.value = "tv"
    tomo.n_iter.value = 25
    viewer.dims.set_point(2, 17)
    assert tomo.preview_slice.value == 24  # x is displayed: the central slice
    viewer.dims.order = (2, 0, 1)  # the tilt axis (x) becomes a slider: the preview follows it
    assert tomo.preview_slice.value == 17
    tomo.live.value = True
    tomo.lam.number = 0.02  # a live change: the preview of slice 17 only
    name = "blobs (preview)"
    qtbot.waitUntil(lambda: name in viewer.layers and viewer.layers[name].metadata.get("status") == "finished",
                    timeout=30_000)
    preview = viewer.layers[name]
    meta = preview.metadata
    assert preview.data.shape == (48, 48) and meta["preview"] and meta["preview_slice"] == 17
    assert meta["tilt_axis"] == "x" and not meta["warm_start"] and meta["iterations"] == 25
    assert meta["preparation"]["background_source"] == "estimated"  # the constant level was removed
    assert len(infos) == 1 and "background" in infos[0]  # said once
    first = np.array(preview.data)

    tomo.live.value = False
    tomo.run()
    wait_until_done(qtbot, tomo)
    volume = viewer.layers["blobs (tv)"]
    assert volume.data.shape == (48, 48, 48) and volume.metadata["preparation"] == meta["preparation"]
    np.testing.assert_allclose(first, volume.data[:, :, 17], rtol=1e-4, atol=1e-4 * np.abs(volume.data).max())

    tomo.live.value = True
    tomo.lam.number = 0.05  # the next preview of the same slice starts from the last one
    qtbot.waitUntil(lambda: preview.metadata.get("warm_start") and preview.metadata.get("status") == "finished",
                    timeout=30_000)
    assert not errors and len(infos) == 1
    np.testing.assert_array_equal(layer.data, original)  # the input is never modified


def test_run_shows_the_slice_in_view_solved_first(make_napari_viewer, qtbot, errors, monkeypatch):
    """*Run* (all slices streamed) solves the slab of the slice in view ahead of the others: every frame
    past the first shows that slice at its final value while the other slabs still sharpen, and the run
    ends with every iteration counted and the same volume as reconstruct."""
    from napari_invprob import reconstruct

    monkeypatch.setattr(chunks, "MAX_CHUNK_ELEMENTS", 8 * 48 * 48)  # six slabs of 8 slices along x
    # the other slabs wait after iteration 1 until the lead is done, then take 20 ms an iteration: frames between
    lead_rows = gate_the_lead(monkeypatch, delay=0.02)
    shown = []
    frame_shown = tomography.TomographyWidget._frame_shown

    def recording(self, plan, frame):
        shown.append((frame.iteration, np.array(frame.image)))
        frame_shown(self, plan, frame)

    monkeypatch.setattr(tomography.TomographyWidget, "_frame_shown", recording)
    viewer = make_napari_viewer()
    layer = _add_blob_series(viewer)
    tomo = dock(viewer, "Tomography")
    viewer.dims.order = (2, 0, 1)  # the tilt axis (x) is a slider: the slice in view follows it
    viewer.dims.set_point(2, 30)
    assert tomo.preview_slice.value == 30 and tomo.method.value == "sirt"
    tomo.run()
    wait_until_done(qtbot, tomo, timeout=60_000)
    result = viewer.layers["blobs (sirt)"]
    assert not errors and result.metadata["status"] == "finished" and result.metadata["iterations"] == 50
    assert lead_rows == [slice(24, 32)]  # the slab of slice 30 led
    final = np.array(result.data)
    early = [image for iteration, image in shown if 1 < iteration < 50]
    assert early, "no frame between the first and the last"
    for image in early:
        np.testing.assert_array_equal(image[..., 24:32], final[..., 24:32])
    assert not np.allclose(early[0][..., :24], final[..., :24], atol=1e-3 * np.abs(final).max())
    expected = reconstruct(np.asarray(layer.data), layer.metadata["angles"], method="sirt", n_iter=50,
                           tilt_axis="x")
    np.testing.assert_allclose(final, expected, rtol=1e-4, atol=1e-4 * np.abs(expected).max())


def test_a_series_that_records_no_tilt_axis_is_checked_against_its_projections(make_napari_viewer, qtbot, errors,
                                                                              monkeypatch):
    """A tilt series added from the console (angles only, tilted about x): *Run* about y (the control's
    default) estimates the axis as the readers do and warns, once, that the projections' axis is x; the
    estimate is recorded in the result; the same series about x gets no warning."""
    from napari_invprob.napari.widgets import _base

    warned: list[str] = []
    monkeypatch.setattr(_base, "show_warning", warned.append)
    viewer = make_napari_viewer()
    blobs = _add_blob_series(viewer)
    layer = viewer.add_image(np.array(blobs.data), name="console", metadata={"angles": blobs.metadata["angles"]})
    tomo = dock(viewer, "Tomography")
    tomo.input.value = layer
    assert tomo.tilt_axis.value == "y"
    tomo.n_iter.value = 5
    for _ in range(2):
        tomo.run()
        wait_until_done(qtbot, tomo)
    assert not errors and len(warned) == 1, warned
    assert "'console' records no tilt axis" in warned[0] and "lies along x" in warned[0] and "Pick tilt axis x" in warned[0]
    assert viewer.layers["console (sirt)"].metadata["tilt_axis_estimate"].endswith("(on the x grid)")
    other = viewer.add_image(np.array(blobs.data), name="other", metadata={"angles": blobs.metadata["angles"]})
    tomo.input.value = other
    tomo.tilt_axis.value = "x"
    tomo.run()
    wait_until_done(qtbot, tomo)
    assert len(warned) == 1 and "on the x grid" in viewer.layers["other (sirt)"].metadata["tilt_axis_estimate"]


def test_open_align_run_on_a_realistic_file(make_napari_viewer, qtbot, errors, infos, realistic_file):
    from napari_invprob import align, reconstruct
    from napari_invprob.io import read_tilt_series

    viewer = make_napari_viewer()
    series = open_series(viewer, realistic_file.path)
    tomo = dock(viewer, "Tomography")
    tomo.align_method.value = "cross-correlation"
    assert tomo.align() is not None
    aligned_name = f"{series.name} (aligned)"
    qtbot.waitUntil(lambda: aligned_name in viewer.layers and tomo._task is None, timeout=60_000)
    aligned = viewer.layers[aligned_name]
    meta = aligned.metadata
    # the axis estimated again after the drift was removed (2° off in the file) and rotated onto the grid
    assert meta["tilt_axis"] == "x" and meta["rotation"] == pytest.approx(realistic_file.psi - 90.0, abs=0.5)
    assert len(meta["tilt_axis_estimates"]) == 2 and "with the drift" in infos[-1] and "without it" in infos[-1]
    assert viewer.dims.current_step[0] == 15  # the projection nearest 0°, not an inherited index
    assert meta["preparation"]["offset"] == 0.0  # the reader undid the storage offset already
    assert meta["preparation"]["background_source"] == "estimated" and meta["shifts"].shape == (31, 2)
    assert "rotated" in infos[-1] and "background" in infos[-1]
    assert tomo.input.value is aligned and "on the grid" in tomo.conventions.value
    assert (tomo.method.value, tomo.n_iter.value) == ("sirt", 50)

    tomo.run()
    wait_until_done(qtbot, tomo, timeout=60_000)
    result = viewer.layers[f"{aligned_name} (sirt)"]
    assert not errors and result.metadata["status"] == "finished" and "preparation" in result.metadata
    assert result.metadata["input_preparation"] == meta["preparation"]
    # the API's default path gives the same volume ...
    file = read_tilt_series(realistic_file.path)
    by_api, _ = align(file.data, file.angles, tilt_axis=file.tilt_axis, method="cross-correlation")
    expected = reconstruct(by_api, file.angles, method="sirt", n_iter=50, tilt_axis=file.tilt_axis)
    np.testing.assert_allclose(result.data, expected, rtol=1e-4, atol=1e-4 * np.abs(expected).max())
    # ... the specimen's, up to a shift of a pixel or two (where the alignment puts the tilt axis)
    truth = reconstruct(realistic_file.line_integrals, realistic_file.angles, method="sirt", n_iter=50,
                        tilt_axis="x")
    assert best_correlation(result.data, truth, reach=2) > 0.9

    # shown at a slice through the specimen (the middle z), not at the projections' index
    z = int(round(float(result.world_to_data(viewer.dims.point)[0])))
    assert z == result.data.shape[0] // 2
    np.testing.assert_allclose(result.scale, (2.5, 2.5, 2.5))  # the file's pixel size, z included
    viewer.window._qt_window.resize(1400, 900)
    viewer.reset_view()
    SCREENSHOT_DIR.mkdir(exist_ok=True)
    viewer.screenshot(str(SCREENSHOT_DIR / "tomography_real_align_run.png"), canvas_only=False, flash=False)
    canvas = viewer.screenshot(canvas_only=True, flash=False)[..., :3].astype(float)
    assert canvas.std() > 10 and (canvas > 60).mean() > 0.02  # not blank: the specimen is in view

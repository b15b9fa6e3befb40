"""The widgets on an OME-Zarr layer opened by napari-ome-zarr: a multiscale, dask-backed layer with its scale.

Run reads level 0 (in the worker) and keeps the layer's scale; the live preview reads only a crop of
level 0 around the view; Run on a layer larger than the memory refuses and names the command line.
"""

from __future__ import annotations

import numpy as np
import pytest
from test_widgets import SCREENSHOT_DIR, errors  # noqa: F401 - errors: a fixture

from napari_invprob import psf as psf_models
from napari_invprob.deconvolution.deconvolve import deconvolve
from napari_invprob.files import zarr as ngff
from napari_invprob.napari.widgets import _estimate

pytestmark = pytest.mark.gui
pytest.importorskip("napari_ome_zarr")


@pytest.fixture
def zarr_layer(make_napari_viewer, tmp_path):
    """A 3D stack written as OME-Zarr (2 levels, µm sizes) and opened by napari-ome-zarr."""
    rng = np.random.default_rng(0)
    z, y, x = np.indices((40, 64, 64), dtype=np.float32)
    stack = 10.0 + 200.0 * np.exp(-((z - 20) ** 2 / 8 + (y - 30) ** 2 / 20 + (x - 34) ** 2 / 20))
    stack = rng.poisson(stack).astype(np.float32)
    path = tmp_path / "cells.zarr"
    viewer, layer = opened_as_ome_zarr(make_napari_viewer(), path, stack, voxel_size=(2e4, 6500.0, 6500.0), unit="µm",
                                       chunks=(8, 32, 32))
    return viewer, layer, stack, path


def opened_as_ome_zarr(viewer, path, array, **write):
    """``array`` written to ``path`` as a 2-level ZYX OME-Zarr (``write``: its sizes, unit and chunks) and
    opened in ``viewer`` by napari-ome-zarr: ``(viewer, layer)``."""
    ngff.write_zarr(path, array, axes="ZYX", levels=2, **write)
    (layer,) = viewer.open(str(path), plugin="napari-ome-zarr")
    return viewer, layer


def test_a_napari_ome_zarr_layer_runs_with_its_scale(zarr_layer, qtbot, errors):
    viewer, layer, stack, _ = zarr_layer
    assert layer.multiscale and not isinstance(layer.data[0], np.ndarray)
    np.testing.assert_allclose(layer.scale, (2.0, 0.65, 0.65))
    _, widget = viewer.window.add_plugin_dock_widget("napari-invprob", "Deconvolution")
    widget.input.value = layer
    widget.psf_source.value = "Gaussian"
    widget.psf_ndim.value, widget.psf_size.value, widget.psf_sigma.value = "3D", 5, 1.0
    widget.method.value = "richardson-lucy"
    widget.n_iter.value = 5
    widget.background.value = "none"
    assert widget.run() is not None
    qtbot.waitUntil(lambda: not widget.runner.running, timeout=60_000)
    assert not errors
    result = viewer.layers[-1]
    assert result.name == "cells (richardson-lucy)" and result.data.shape == stack.shape
    np.testing.assert_allclose(result.scale, layer.scale)
    expected = deconvolve(stack, psf_models.gaussian(5, 1.0, ndim=3), method="richardson-lucy", n_iter=5,
                          background=None, boundary=widget.boundary.value, device="cpu")
    np.testing.assert_allclose(result.data, expected, rtol=1e-4, atol=1e-4 * float(expected.max()))
    SCREENSHOT_DIR.mkdir(exist_ok=True)
    viewer.screenshot(str(SCREENSHOT_DIR / "ome_zarr_layer_deconvolved.png"), canvas_only=False)


def test_the_live_preview_reads_a_crop_of_level_0(zarr_layer, qtbot, errors):
    viewer, layer, stack, _ = zarr_layer
    _, widget = viewer.window.add_plugin_dock_widget("napari-invprob", "Deconvolution")
    widget.input.value = layer
    widget.psf_source.value = "Gaussian"
    widget.psf_ndim.value, widget.psf_size.value, widget.psf_sigma.value = "3D", 5, 1.0
    widget.n_iter.value = 3
    viewer.dims.set_point(0, 20 * 2.0)
    worker = widget._start(live=True)
    assert worker is not None
    qtbot.waitUntil(lambda: not widget.runner.running, timeout=60_000)
    assert not errors
    preview = viewer.layers["cells (preview)"]
    crop = preview.metadata["crop"]
    assert crop[0][1] - crop[0][0] < stack.shape[0] and "read lazily" in preview.metadata["preview"]


def test_run_on_a_layer_bigger_than_memory_refuses_naming_the_command(zarr_layer, monkeypatch, errors):
    viewer, layer, _, path = zarr_layer
    monkeypatch.setattr(_estimate, "available_memory", lambda: 2**18)  # 256 KiB free: the stack is 640 KiB
    _, widget = viewer.window.add_plugin_dock_widget("napari-invprob", "Deconvolution")
    widget.input.value = layer
    count = len(viewer.layers)
    assert widget.run() is None
    assert len(viewer.layers) == count
    assert f"napari-invprob deconvolve {path}" in errors[-1] and "--out OUT.zarr --scheduler local:2" in errors[-1]
    _, tomography = viewer.window.add_plugin_dock_widget("napari-invprob", "Tomography")
    tomography.input.value = layer
    assert tomography.run() is None and "napari-invprob reconstruct" in errors[-1]
    tomography.fourier_layer.value = layer
    assert tomography.fourier_view() is None and "no power spectrum of it here" in errors[-1]
    assert len(viewer.layers) == count


@pytest.fixture
def zarr_series(make_napari_viewer, tmp_path):
    """A tilt series (21 projections over ±60° about x, blobs on a background) written as OME-Zarr in
    chunks of 4 slices along the tilt axis, opened by napari-ome-zarr."""
    from _tilt_phantom import blob_tilt_series, random_blobs

    angles = np.linspace(-60.0, 60.0, 21)
    series = blob_tilt_series(random_blobs(48, 10, seed=3), 48, angles).transpose(0, 2, 1)  # tilt axis y → x
    series = np.ascontiguousarray(series + 0.3 * series.max())
    viewer, layer = opened_as_ome_zarr(make_napari_viewer(), tmp_path / "series.zarr", series,
                                       voxel_size=(2.5, 2.5, 2.5), unit="nm", chunks=(21, 48, 4))
    return viewer, layer, series, angles


def test_tomography_on_a_zarr_series_previews_a_slice_without_reading_the_rest(zarr_series, qtbot, errors):
    """The live preview of one slice reads and prepares that slice alone (the preparation resolved in
    passes over the chunks); Run then reads the series once, in the worker, and its slice equals the
    preview; the volume is the API's."""
    from napari_invprob import reconstruct

    viewer, layer, series, angles = zarr_series
    assert layer.multiscale and not isinstance(layer.data[0], np.ndarray)
    _, tomo = viewer.window.add_plugin_dock_widget("napari-invprob", "Tomography")
    tomo.input.value = layer
    tomo.angle_source.value = "range and count"
    tomo.angle_start.value, tomo.angle_stop.value, tomo.angle_count.value = -60.0, 60.0, 21
    tomo.tilt_axis.value = "x"
    tomo.n_iter.value = 20
    tomo.preview_slice.value = 17
    assert tomo._start(live=True) is not None
    qtbot.waitUntil(lambda: not tomo.runner.running, timeout=60_000)
    assert not errors
    preview = viewer.layers["series (preview)"]
    assert preview.data.shape == (48, 48) and preview.metadata["preview_slice"] == 17
    assert tomo._prepared._prepared is None  # the series was never prepared whole: the slice alone was read
    assert tomo.run() is not None
    qtbot.waitUntil(lambda: not tomo.runner.running, timeout=60_000)
    assert not errors
    volume = viewer.layers["series (sirt)"]
    assert volume.units == layer.units  # the file's length unit, so napari mixes no units
    assert volume.metadata["preparation"] == preview.metadata["preparation"]
    np.testing.assert_allclose(preview.data, volume.data[:, :, 17], rtol=1e-4, atol=1e-4 * np.abs(volume.data).max())
    expected = reconstruct(series, angles, method="sirt", n_iter=20, tilt_axis="x")
    np.testing.assert_allclose(volume.data, expected, rtol=1e-4, atol=1e-4 * np.abs(expected).max())
    tomo.fourier_layer.value = layer
    assert tomo.fourier_view() is not None
    qtbot.waitUntil(lambda: "series (power spectrum)" in viewer.layers, timeout=60_000)
    assert viewer.layers["series (power spectrum)"].data.shape == series.shape  # of level 0, not the coarsest

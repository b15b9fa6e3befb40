"""The Deconvolution widget on fluorescence data: a camera offset under Poisson counts, voxel sizes from
the file, a PSF from the optics (issue 15). Data made with scipy, never with the operator under test."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import ndimage

from napari_invprob import psf as psf_models
from napari_invprob.problems.background import estimate_background
from napari_invprob.widgets import _base
from napari_invprob.widgets import deconvolution as deconvolution_widget

pytestmark = pytest.mark.gui

PLUGIN = "napari-invprob"


@pytest.fixture
def errors(monkeypatch):
    shown: list[str] = []
    monkeypatch.setattr(_base, "show_error", shown.append)
    return shown


@pytest.fixture
def infos(monkeypatch):
    shown: list[str] = []
    monkeypatch.setattr(deconvolution_widget, "show_info", shown.append)
    return shown


def dock(viewer):
    _, widget = viewer.window.add_plugin_dock_widget(PLUGIN, "Deconvolution")
    return widget


def shown(control) -> bool:
    """Whether a control is shown in its widget (``visible`` is False while the dock is not on screen)."""
    return not control.native.isHidden()


def wait_until_done(qtbot, widget, timeout=30_000):
    qtbot.waitUntil(lambda: not widget.runner.running, timeout=timeout)


def offset_counts(shape=(64, 64), offset=100.0, seed=0):
    """Beads blurred by scipy (σ 1.5 pixels), peak about 500 counts on a camera offset, Poisson noise."""
    rng = np.random.default_rng(seed)
    beads = np.zeros(shape)
    for _ in range(12):
        beads[tuple(rng.integers(n // 4, n - n // 4) for n in shape)] = 1.0
    blurred = ndimage.gaussian_filter(beads, 1.5)
    return rng.poisson(blurred * 500 / blurred.max() + offset).astype(np.float32)


def test_poisson_methods_model_the_estimated_offset_and_record_it(make_napari_viewer, qtbot, errors, infos):
    from napari_invprob import deconvolve

    viewer = make_napari_viewer()
    counts = offset_counts()
    source = viewer.add_image(counts, name="counts")
    widget = dock(viewer)
    widget.input.value = source
    assert not shown(widget.background)  # admm-tv: a least-squares method
    widget.method.value = "richardson-lucy"
    assert shown(widget.background) and widget.background.value == "auto"
    assert not shown(widget.background_level)
    widget.psf_size.value, widget.psf_sigma.value, widget.n_iter.value = 9, 1.5, 10
    widget.run()
    wait_until_done(qtbot, widget)
    result = viewer.layers[-1]
    meta = result.metadata
    assert not errors and meta["status"] == "finished"
    assert meta["parameters"]["background"] == "auto"
    assert meta["background_level"] == pytest.approx(estimate_background(counts))
    assert len(infos) == 1 and "background (camera offset) estimated at 9" in infos[0]
    again = deconvolve(source.data, meta["psf"], method=meta["method"], **meta["parameters"])
    np.testing.assert_allclose(result.data, again, rtol=1e-4, atol=1e-2)

    widget.background.value = "level"
    assert shown(widget.background_level)
    widget.background_level.value = 100.0
    widget.run()
    wait_until_done(qtbot, widget)
    assert viewer.layers[-1].metadata["parameters"]["background"] == 100.0
    assert viewer.layers[-1].metadata["background_level"] == 100.0

    warnings_shown: list[str] = []
    widget.runner._on_warning = lambda job, message: warnings_shown.append(message)
    widget.background.value = "none"
    widget.run()
    wait_until_done(qtbot, widget)
    assert viewer.layers[-1].metadata["parameters"]["background"] is None
    assert "background_level" not in viewer.layers[-1].metadata
    assert any("camera offset" in message for message in warnings_shown)


def test_a_tiff_opens_with_its_voxel_size_and_the_result_keeps_it(make_napari_viewer, qtbot, tmp_path, errors):
    import tifffile

    path = tmp_path / "stack.ome.tif"
    volume = offset_counts((12, 40, 40)).astype(np.uint16)
    tifffile.imwrite(path, np.stack([volume, volume[:, ::-1]], axis=1), ome=True, metadata={
        "axes": "ZCYX", "PhysicalSizeX": 0.065, "PhysicalSizeY": 0.065, "PhysicalSizeZ": 0.2,
        "Channel": {"EmissionWavelength": [520, 610]},
    })
    viewer = make_napari_viewer()
    layers = viewer.open(str(path), plugin=PLUGIN)
    assert [layer.name for layer in layers] == ["stack [0]", "stack [1]"]
    for layer, wavelength in zip(layers, (520.0, 610.0)):
        np.testing.assert_allclose(layer.scale, (2000.0, 650.0, 650.0), rtol=1e-6)
        assert [str(unit) for unit in layer.units] == ["angstrom"] * 3
        assert layer.metadata["unit"] == "µm" and layer.metadata["emission_wavelength"] == wavelength
    widget = dock(viewer)
    widget.input.value = layers[0]
    widget.n_iter.value = 2
    widget.run()
    wait_until_done(qtbot, widget)
    assert not errors
    np.testing.assert_allclose(viewer.layers[-1].scale, (2000.0, 650.0, 650.0), rtol=1e-6)

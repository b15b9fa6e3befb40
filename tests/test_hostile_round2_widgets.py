"""Hostile input in a real viewer (issue 27): an error of *Add PSF layer* is one notification, not also an
uncaught exception from its worker (row 16); a file with absurd voxel sizes no longer breaks the viewer
(row 3); a thousand channels open as one layer (row 13)."""

from __future__ import annotations

import time

import numpy as np
import pytest
import tifffile
from _hostile_tiffs import ome_tiff
from test_widgets import PLUGIN, SCREENSHOT_DIR, errors  # noqa: F401 - errors: a fixture
from test_widgets import dock as dock_named

pytestmark = pytest.mark.gui


def _layers(viewer):
    """Each layer's name with a copy of its data, to see that nothing else changed."""
    return [(layer.name, np.array(layer.data, copy=True)) for layer in viewer.layers]


@pytest.mark.parametrize("source", ["optics", "bead"])
def test_an_add_psf_layer_error_is_one_notification_and_no_uncaught_exception(make_napari_viewer, qtbot, errors,
                                                                              source):
    viewer = make_napari_viewer()
    image = viewer.add_image(np.random.default_rng(0).random((32, 32)).astype(np.float32), name="cells")
    widget = dock_named(viewer, "Deconvolution")
    widget.input.value = image
    if source == "optics":
        widget.psf_source.value = "optics"
        widget.optics.pixel_size.value = 0.1  # typed: the layer records no voxel size (issue 25)
        widget.optics.na.value, widget.optics.ni.value = 1.7, 1.0  # NA beyond the immersion index
        expected = "exceeds the immersion refractive index"
    else:
        beads = np.ones((32, 32), np.float32)
        beads[15, 15] = np.nan
        widget.psf_source.value = "bead"
        widget.bead.image.value = viewer.add_image(beads, name="beads")
        viewer.add_points([[16.0, 16.0]], name="bead")
        widget.bead.points.value = viewer.layers["bead"]
        widget.bead.size.value = 5
        expected = "bead image contains NaN"
    before = _layers(viewer)
    worker = widget.add_psf_layer()
    assert worker is not None  # the error comes from the worker, where the PSF is computed
    qtbot.waitUntil(lambda: bool(errors), timeout=30_000)
    qtbot.wait(200)  # an uncaught re-raise would come now, through pytest-qt's exception capture
    assert len(errors) == 1 and expected in errors[0], errors
    after = _layers(viewer)
    assert [name for name, _ in after] == [name for name, _ in before]
    assert all(np.array_equal(a, b, equal_nan=True) for (_, a), (_, b) in zip(after, before))


def test_a_file_with_absurd_voxel_sizes_opens_in_pixels_and_the_viewer_keeps_working(make_napari_viewer, tmp_path):
    path = ome_tiff(tmp_path / "huge.ome.tif", pixels_extra='PhysicalSizeX="1e300" PhysicalSizeY="1e300" '
                    'PhysicalSizeZ="1"')
    viewer = make_napari_viewer()
    with pytest.warns(UserWarning, match="huge.ome.tif: the voxel sizes"):
        [layer] = viewer.open(str(path), plugin=PLUGIN)
    np.testing.assert_array_equal(layer.scale, (1.0, 1.0, 1.0))
    other = viewer.add_image(np.ones((8, 8, 8), np.float32), name="after")  # was OverflowError from then on
    assert other in viewer.layers
    viewer.dims.ndisplay = 3
    viewer.reset_view()


def test_a_thousand_channel_tiff_opens_at_once_as_one_layer(make_napari_viewer, tmp_path):
    path = tmp_path / "many.tif"
    tifffile.imwrite(path, np.arange(1000 * 16, dtype=np.uint8).reshape(1000, 4, 4), imagej=True,
                     metadata={"axes": "CYX"})
    viewer = make_napari_viewer()
    start = time.perf_counter()
    with pytest.warns(UserWarning, match="1000 channels: opened as one layer"):
        layers = viewer.open(str(path), plugin=PLUGIN)
    assert len(layers) == 1 and layers[0].data.shape == (1000, 4, 4)
    assert time.perf_counter() - start < 20.0
    viewer.dims.set_point(0, 500)  # the channel slider, for a person to look at
    SCREENSHOT_DIR.mkdir(parents=True, exist_ok=True)
    viewer.screenshot(path=str(SCREENSHOT_DIR / "thousand_channels.png"), canvas_only=False)

"""The *Light sheet* dock in a real viewer: a raw stage-scan stack typed in, *Deskew*, a new layer with
its scale and provenance (issue 25, item 3)."""

from __future__ import annotations

import numpy as np
import pytest
from _realistic_light_sheet import make_light_sheet
from test_widgets import SCREENSHOT_DIR, assert_unchanged, dock, errors, snapshot, wait_until_done  # noqa: F401

import napari_invprob as nip
from napari_invprob.deconvolution import deskewed_shape, rotate_to_coverslip

pytestmark = pytest.mark.gui


@pytest.fixture(scope="module")
def acquisition():
    return make_light_sheet(shape=(40, 48, 72))


def test_deskew_adds_a_layer_with_its_scale_that_its_metadata_reproduces(make_napari_viewer, qtbot, errors,
                                                                          acquisition):
    a = acquisition
    viewer = make_napari_viewer()
    raw = viewer.add_image(a.raw, name="raw")  # as the file opens: no voxel size
    widget = dock(viewer, "Light sheet")
    assert widget.input.value is raw and widget._run_button.text == "Deskew"
    assert widget.step.value == 0 and widget.pixel_size.value == 0  # nothing to adopt from a layer in pixels
    before = snapshot(viewer)
    widget.run()  # no step typed: refused, nothing added
    assert errors and "stage step" in errors[-1]
    assert_unchanged(viewer, before)

    widget.step.value, widget.pixel_size.value = a.step, a.pixel_size
    widget.run()
    wait_until_done(qtbot, widget)
    result = viewer.layers["raw (deskewed)"]
    meta = result.metadata
    assert meta["status"] == "finished" and meta["problem"] == "light sheet" and meta["method"] == "deskew"
    assert meta["source_layer"] == "raw" and meta["unit"] == "µm"
    assert result.data.dtype == np.float32
    assert result.data.shape == deskewed_shape(a.raw.shape, angle=30.0, step=a.step, pixel_size=a.pixel_size)
    # the voxel size on the layer, in ångström as every layer of the package
    np.testing.assert_allclose(result.scale, np.array(a.voxel_size) * 1e4)
    assert [str(unit) for unit in result.units] == ["angstrom"] * 3
    np.testing.assert_allclose(meta["voxel_size"], a.voxel_size)
    assert 95 < meta["parameters"]["fill"] < 105  # the camera's offset, estimated
    again = nip.deskew(a.raw, **meta["parameters"])
    np.testing.assert_array_equal(result.data, again)
    np.testing.assert_array_equal(raw.data, a.raw)  # the input is kept
    # the view shows the new volume's middle plane
    assert viewer.dims.point[0] == pytest.approx(result.data_to_world([(n - 1) / 2 for n in result.data.shape])[0])
    SCREENSHOT_DIR.mkdir(parents=True, exist_ok=True)
    viewer.layers["raw"].visible = False
    viewer.screenshot(str(SCREENSHOT_DIR / "light_sheet_deskew.png"), canvas_only=False)

    widget.frame.value = "coverslip"
    widget.direction.value = 1
    widget.run()
    wait_until_done(qtbot, widget)
    rotated = viewer.layers["raw (coverslip frame)"]
    np.testing.assert_array_equal(rotated.data, rotate_to_coverslip(a.raw, **rotated.metadata["parameters"]))
    np.testing.assert_allclose(rotated.scale, [a.pixel_size * 1e4] * 3)
    assert len(errors) == 1


def test_the_sizes_come_from_a_layer_with_length_units(make_napari_viewer):
    viewer = make_napari_viewer()
    viewer.add_image(np.zeros((4, 5, 6), np.uint16), name="raw", scale=(3000.0, 1040.0, 1040.0),
                     units=("angstrom",) * 3)
    widget = dock(viewer, "Light sheet")
    assert widget.step.value == pytest.approx(0.3) and widget.pixel_size.value == pytest.approx(0.104)
    widget.unit.value = "nm"
    widget._adopt_sizes(viewer.layers["raw"])
    assert widget.step.value == pytest.approx(300.0) and widget.pixel_size.value == pytest.approx(104.0)


def test_a_stack_that_is_not_3d_is_refused(make_napari_viewer, errors):
    viewer = make_napari_viewer()
    viewer.add_image(np.zeros((5, 6), np.float32), name="image")
    widget = dock(viewer, "Light sheet")
    widget.step.value, widget.pixel_size.value = 0.3, 0.1
    before = snapshot(viewer)
    widget.run()
    assert errors and "3D stack" in errors[-1]
    assert_unchanged(viewer, before)

"""The Deconvolution widget with a measured PSF (issue 25 items 1, 2, 4; issue 27 rows 4, 11, 14): a bead
stack layer prepared and resampled onto the input's grid from the layers' scales and units, said in a
notification; voxel sizes shown, typed where a layer has none, never guessed; layers with unusable sizes,
RGB PSF layers and rectangular pixels refused with a message, not a crash."""

from __future__ import annotations

import numpy as np
import pytest
from _realistic_bead import bead_stack, specimen, true_psf
from test_widgets import PLUGIN, SCREENSHOT_DIR, errors  # noqa: F401 - errors: a fixture
from test_widgets import dock as dock_named

from napari_invprob import deconvolve
from napari_invprob.metrics import psnr
from napari_invprob.napari.widgets import _base
from napari_invprob.napari.widgets import deconvolution as deconvolution_widget

pytestmark = pytest.mark.gui

VOXEL = (0.3, 0.104, 0.104)
BEAD_VOXEL = (0.1, 0.104, 0.104)
UM = ("micrometer",) * 3


@pytest.fixture
def infos(monkeypatch):
    shown: list[str] = []
    monkeypatch.setattr(deconvolution_widget, "show_info", shown.append)
    return shown


@pytest.fixture
def warned(monkeypatch):
    shown: list[str] = []
    monkeypatch.setattr(_base, "show_warning", shown.append)
    return shown


def dock(viewer):
    return dock_named(viewer, "Deconvolution")


def wait_until_done(qtbot, widget, timeout=60_000):
    qtbot.waitUntil(lambda: not widget.runner.running, timeout=timeout)


@pytest.fixture(scope="module")
def case():
    truth, data = specimen((32, 48, 48), VOXEL)
    return truth, data, bead_stack(photons=600_000)


def test_a_bead_stack_layer_is_prepared_onto_the_inputs_grid_and_said(make_napari_viewer, qtbot, errors, infos,
                                                                       warned, case):
    """Run with the defaults (ADMM-TV, reflect): within 0.5 dB of the true PSF on the data's grid."""
    truth, data, bead = case
    viewer = make_napari_viewer()
    source = viewer.add_image(data, name="cells", scale=VOXEL, units=UM)
    beads = viewer.add_image(bead, name="bead", scale=BEAD_VOXEL, units=UM)
    widget = dock(viewer)
    widget.input.value = source
    widget.psf_source.value = "PSF layer"
    widget.psf_layer.value = beads
    assert widget.voxel_size.value == "0.3, 0.104, 0.104" and widget.psf_voxel_size.value == "0.1, 0.104, 0.104"
    assert widget.psf_background.value == "auto"
    widget.run()
    wait_until_done(qtbot, widget)
    result = viewer.layers[-1]
    meta = result.metadata
    assert not errors and not warned and meta["status"] == "finished"
    assert meta["psf"].shape == (13, 15, 15) and meta["parameters"]["psf_background"] == "none"
    steps = meta["psf_preparation"]["steps"]
    assert steps[0] == "the PSF sat on a background of 99.77 (3.1% of its peak, 95% of its sum): removed"
    assert any(step.startswith("resampled from its voxel size 0.1 x 0.104 x 0.104 to the data's 0.3 x 0.104 x "
                               "0.104") for step in steps)
    assert len(infos) == 1 and infos[0].startswith("Deconvolution: PSF layer 'bead': the PSF sat on a background")
    np.testing.assert_array_equal(bead, case[2])  # the bead layer is untouched
    again = deconvolve(data, meta["psf"], method=meta["method"], **meta["parameters"])
    np.testing.assert_allclose(result.data, again, rtol=1e-4, atol=1e-2)
    parameters = {k: v for k, v in meta["parameters"].items() if k != "psf_background"}
    with_truth = deconvolve(data, true_psf((21, 21, 21), VOXEL).astype(np.float32), method=meta["method"],
                            **parameters)
    ours, best = (psnr(truth, x - x.min(), data_range=float(truth.max())) for x in (result.data, with_truth))
    assert ours > best - 0.5, (ours, best)

    viewer.dims.order = (1, 0, 2)  # z against x, for a person to look at
    viewer.dims.set_point(1, 24 * VOXEL[1])
    viewer.reset_view()
    SCREENSHOT_DIR.mkdir(parents=True, exist_ok=True)
    viewer.screenshot(path=str(SCREENSHOT_DIR / "measured_psf_xz.png"), canvas_only=False)


def test_only_one_voxel_size_is_said_and_a_typed_one_is_used(make_napari_viewer, qtbot, errors, infos, warned,
                                                            case):
    _, data, bead = case
    viewer = make_napari_viewer()
    source = viewer.add_image(data, name="no sizes")  # a file without a voxel size
    beads = viewer.add_image(bead, name="bead", scale=BEAD_VOXEL, units=UM)
    widget = dock(viewer)
    widget.input.value = source
    widget.psf_source.value = "PSF layer"
    widget.psf_layer.value = beads
    assert widget.voxel_size.value == "" and widget.psf_voxel_size.value == "0.1, 0.104, 0.104"
    widget.n_iter.value = 2
    widget.run()
    wait_until_done(qtbot, widget)
    assert any("only the PSF's voxel size is known (0.1 x 0.104 x 0.104), not the data's" in w for w in warned)
    # used as sampled, its 0.1 µm planes are too many for the stack: refused, with the reason
    assert "psf of shape (41, 15, 15) is larger than the image's spatial shape (32, 48, 48)" in errors[-1]

    widget.voxel_size.value = "0.3, 0.104, 0.104"  # typed
    widget.run()
    wait_until_done(qtbot, widget)
    assert len(errors) == 1 and viewer.layers[-1].metadata["psf"].shape == (13, 15, 15)
    for typed, message in [("0.3, 0, 0.1", "between"), ("0.3, 0.1", "has 2 sizes for 3 axes"),
                           ("a, b, c", "is not 3 numbers")]:
        widget.voxel_size.value = typed
        assert widget.run() is None and message in errors[-1]


@pytest.fixture
def odd_tiffs(tmp_path):
    """Stacks whose files record no usable z step (issue 27 row 4), and one with rectangular pixels."""
    import tifffile

    volume = np.random.default_rng(0).integers(90, 200, (6, 24, 24)).astype(np.uint16)
    files = {
        "no-z.ome.tif": dict(ome=True, metadata={"axes": "ZYX", "PhysicalSizeX": 0.1, "PhysicalSizeY": 0.1}),
        "spacing-0.tif": dict(imagej=True, resolution=(10, 10), metadata={"spacing": 0.0, "unit": "micron", "axes": "ZYX"}),
        "spacing-nan.tif": dict(imagej=True, resolution=(10, 10), metadata={"spacing": float("nan"),
                                                                            "unit": "micron", "axes": "ZYX"}),
        "z-250um.tif": dict(imagej=True, resolution=(10, 10), metadata={"spacing": 250.0, "unit": "micron", "axes": "ZYX"}),
        "rectangular.tif": dict(imagej=True, resolution=(5, 10), metadata={"spacing": 0.3, "unit": "micron", "axes": "ZYX"}),
    }
    for name, keywords in files.items():
        tifffile.imwrite(tmp_path / name, volume, **keywords)
    return tmp_path


@pytest.mark.parametrize("name", ["no-z.ome.tif", "spacing-0.tif", "spacing-nan.tif", "z-250um.tif"])
def test_a_layer_without_a_usable_z_step_asks_for_it(make_napari_viewer, qtbot, errors, infos, odd_tiffs, name):
    """Issue 27 row 4: no EmitLoopError from a spin box, and no run on the previous layer's z step."""
    viewer = make_napari_viewer()
    widget = dock(viewer)
    widget.optics.z_step.value = 0.5  # the previous layer's
    widget.psf_source.value = "optics"
    [layer] = viewer.open(str(odd_tiffs / name), plugin=PLUGIN)
    widget.input.value = layer
    assert widget.psf_source.value == "optics" and widget.optics.z_step.value == 0.5
    # (a spacing of 0 or NaN: the reader keeps no size at all, and says so)
    assert any(f"{layer.name!r} records no usable" in info and "z step" in info for info in infos)
    assert widget.voxel_size.value == ""  # not the previous layer's either
    assert widget.run() is None and "does not record its" in errors[-1] and "z step" in errors[-1]
    widget.optics.z_step.value, widget.optics.pixel_size.value = 0.3, 0.1  # typed
    widget.n_iter.value = 1
    assert widget.run() is not None
    wait_until_done(qtbot, widget)
    assert len(errors) == 1


def test_rectangular_pixels_and_an_rgb_psf_layer_are_refused(make_napari_viewer, errors, odd_tiffs):
    """Issue 27 row 14."""
    viewer = make_napari_viewer()
    widget = dock(viewer)
    [layer] = viewer.open(str(odd_tiffs / "rectangular.tif"), plugin=PLUGIN)
    widget.input.value = layer
    assert widget.psf_source.value == "optics"
    assert widget.run() is None and "has pixels of 0.1 x 0.2 µm (y x): the optical models take square pixels" \
        in errors[-1]
    rgb = viewer.add_image(np.random.default_rng(1).random((5, 5, 3)).astype(np.float32), name="rgb", rgb=True)
    widget.input.value = layer
    widget.psf_source.value = "PSF layer"
    widget.psf_layer.value = rgb
    assert widget.run() is None and "PSF layer 'rgb' is an RGB image (5, 5, 3)" in errors[-1]


def test_the_bead_source_refuses_an_image_without_a_bead(make_napari_viewer, qtbot, errors):
    """Issue 27 row 11, in the widget: a 'bead' clicked in pure noise gives a message, not a PSF."""
    viewer = make_napari_viewer()
    noise = np.random.default_rng(2).normal(100.0, 3.0, (16, 48, 48)).astype(np.float32)
    beads = viewer.add_image(noise, name="no beads")
    viewer.add_points([[8, 24, 24]], name="click", ndim=3)
    source = viewer.add_image(noise.copy(), name="cells")
    widget = dock(viewer)
    widget.input.value = source
    widget.psf_source.value = "bead"
    widget.bead.image.value = beads
    widget.bead.points.value = viewer.layers["click"]
    widget.bead.size.value, widget.bead.depth.value = 15, 9
    worker = widget.add_psf_layer()
    qtbot.waitUntil(lambda: bool(errors), timeout=30_000)
    assert worker is not None and "has no bead: its brightest point is only" in errors[-1]
    assert [layer.name for layer in viewer.layers] == ["no beads", "click", "cells"]


def test_the_light_sheet_user_path_deskew_then_a_bead_layer_as_psf_with_the_defaults(make_napari_viewer, qtbot,
                                                                                     errors, infos):
    """Issue 25's user path: the raw stage-scan stack (no voxel size in its file) typed in and deskewed; a
    bead stack taken in the objective's frame at 0.1 µm planes (the deskewed stack: 0.15 µm), off-centre,
    on an offset, given its scale, chosen as the PSF layer; Run with the defaults. Within 0.5 dB of the
    same run with the true PSF on the deskewed grid; the bead used raw is measurably worse."""
    from _realistic_bead import recorded
    from _realistic_light_sheet import light_sheet_psf, make_light_sheet
    from test_widgets import dock as any_dock

    a = make_light_sheet(shape=(32, 40, 72))
    bead = recorded(light_sheet_psf((31, 39, 39), BEAD_VOXEL, centre=(0.23, -0.31, 0.17)), seed=4)
    viewer = make_napari_viewer()
    viewer.add_image(a.raw, name="raw")
    sheet = any_dock(viewer, "Light sheet")
    sheet.step.value, sheet.pixel_size.value = a.step, a.pixel_size  # typed: the file has no voxel size
    sheet.run()
    wait_until_done(qtbot, sheet)
    deskewed = viewer.layers["raw (deskewed)"]
    beads = viewer.add_image(bead, name="bead")
    beads.scale, beads.units = BEAD_VOXEL, UM  # its scale set by the user

    widget = dock(viewer)
    widget.input.value = deskewed
    widget.psf_source.value = "PSF layer"
    widget.psf_layer.value = beads
    assert widget.voxel_size.value == "0.15, 0.104, 0.104" and widget.psf_voxel_size.value == "0.1, 0.104, 0.104"
    widget.run()
    wait_until_done(qtbot, widget)
    result = viewer.layers[-1]
    meta = result.metadata
    assert not errors and meta["status"] == "finished" and meta["method"] == "admm-tv"
    assert any("resampled from its voxel size 0.1 x 0.104 x 0.104 to the data's 0.15 x 0.104 x 0.104" in info
               for info in infos)
    parameters = {k: v for k, v in meta["parameters"].items() if k != "psf_background"}
    data = np.asarray(deskewed.data)
    with_truth = deconvolve(data, light_sheet_psf((21, 15, 15), a.voxel_size), method=meta["method"], **parameters)
    raw_bead = deconvolve(data, bead, method=meta["method"], psf_background="none", **parameters)

    def score(x):
        return psnr(a.truth, x - a.offset, data_range=float(a.truth.max()))

    ours, best, raw = score(result.data), score(with_truth), score(raw_bead)
    print(f"light-sheet path, ADMM-TV defaults: true PSF {best:.2f} dB, prepared bead {ours:.2f} dB, "
          f"raw bead {raw:.2f} dB")
    assert ours > best - 0.5 and raw < best - 1.0

    viewer.layers["raw"].visible = viewer.layers["bead"].visible = deskewed.visible = False
    viewer.dims.set_point(0, result.data_to_world([16, 20, 50])[0])
    viewer.reset_view()
    SCREENSHOT_DIR.mkdir(parents=True, exist_ok=True)
    viewer.screenshot(path=str(SCREENSHOT_DIR / "light_sheet_measured_psf.png"), canvas_only=False)

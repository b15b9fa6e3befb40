"""The Deconvolution widget on fluorescence data: a camera offset under Poisson counts, voxel sizes from
the file, a PSF from the optics (issue 15). Data made with scipy, never with the operator under test."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import ndimage
from test_widgets import PLUGIN, SCREENSHOT_DIR, errors  # noqa: F401 - errors: a fixture
from test_widgets import dock as dock_named

from napari_invprob import psf as psf_models
from napari_invprob.deconvolution.background import estimate_background
from napari_invprob.napari.widgets import deconvolution as deconvolution_widget

pytestmark = pytest.mark.gui


@pytest.fixture
def infos(monkeypatch):
    shown: list[str] = []
    monkeypatch.setattr(deconvolution_widget, "show_info", shown.append)
    return shown


def dock(viewer):
    return dock_named(viewer, "Deconvolution")


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


# -- the optics PSF ----------------------------------------------------------------------------------------
#: The stack's sampling (µm, z y x), the optics, the camera.
VOXEL_UM = (0.2, 0.065, 0.065)
WAVELENGTHS_NM = (520, 610)
OFFSET = 100.0


def two_channel_stack(shape=(20, 64, 64), fine=2, seed=3):
    """Blobs and filaments on a twice finer grid, blurred there (scipy) by each channel's Born & Wolf PSF
    (NA 1.4, oil), binned to the camera's voxels; peak 200 counts on an offset of 100, Poisson noise.
    Returns the truths (in counts, binned) and the counts, per channel."""
    from scipy import signal

    rng = np.random.default_rng(seed)
    fine_shape = tuple(n * fine for n in shape)
    specimen = np.zeros(fine_shape)
    for _ in range(40):
        specimen[tuple(rng.integers(n // 4, n - n // 4) for n in fine_shape)] = rng.uniform(0.5, 1.0)
    t = np.linspace(0.0, 1.0, 600)
    for _ in range(3):
        z0, y0, x0 = (rng.integers(n // 3, 2 * n // 3) for n in fine_shape)
        a, b = rng.uniform(0, np.pi, 2)
        specimen[(z0 + 10 * t * np.cos(b)).astype(int), (y0 + 50 * t * np.cos(a)).astype(int),
                 (x0 + 50 * t * np.sin(a)).astype(int)] = 0.2
    specimen = ndimage.gaussian_filter(specimen, 4.0)

    def binned(a):
        return a.reshape(shape[0], fine, shape[1], fine, shape[2], fine).mean(axis=(1, 3, 5))

    truths, counts = [], []
    for wavelength in WAVELENGTHS_NM:
        kernel = psf_models.born_wolf(tuple(2 * n - 1 for n in fine_shape[:1]) + tuple(n - 1 for n in fine_shape[1:]),
                                      na=1.4, wavelength=wavelength / 1000, refractive_index=1.518,
                                      pixel_size=VOXEL_UM[1] / fine, z_spacing=VOXEL_UM[0] / fine)
        blurred = binned(signal.fftconvolve(specimen, kernel, mode="same"))
        gain = 200 / blurred.max()
        truths.append(binned(specimen) * gain)
        counts.append(rng.poisson(blurred * gain + OFFSET).astype(np.uint16))
    return truths, counts


def test_two_channel_tiff_deconvolved_with_the_optics_psf_and_the_files_voxel_size(
        make_napari_viewer, qtbot, tmp_path, errors):
    import tifffile

    from napari_invprob import deconvolve
    from napari_invprob.metrics import psnr

    truths, counts = two_channel_stack()
    path = tmp_path / "cells.ome.tif"
    tifffile.imwrite(path, np.stack(counts, axis=1), ome=True, metadata={
        "axes": "ZCYX", "PhysicalSizeX": VOXEL_UM[2], "PhysicalSizeY": VOXEL_UM[1], "PhysicalSizeZ": VOXEL_UM[0],
        "Channel": {"Name": ["GFP", "mCherry"], "EmissionWavelength": list(WAVELENGTHS_NM)},
    })
    viewer = make_napari_viewer()
    layers = viewer.open(str(path), plugin=PLUGIN)
    widget = dock(viewer)
    for layer, truth, wavelength in zip(layers, truths, WAVELENGTHS_NM):
        widget.input.value = layer
        # the file's voxel size and the channel's wavelength, the optics chosen for a file that sizes voxels
        assert widget.psf_source.value == "optics" and shown(widget.optics) and not shown(widget.psf_size)
        assert widget.optics.pixel_size.value == pytest.approx(0.065)
        assert widget.optics.z_step.value == pytest.approx(0.2)
        assert widget.optics.wavelength.value == wavelength
        widget.method.value = "richardson-lucy"
        widget.n_iter.value = 50
        widget.boundary.value = "zero"  # as the data were made: dark (but for the offset) outside
        scores = {}
        for background in ("auto", "none"):
            widget.background.value = background
            widget.run()
            wait_until_done(qtbot, widget)
            result = viewer.layers[-1]
            restored = result.data - (0 if background == "auto" else estimate_background(layer.data))
            scores[background] = psnr(truth, restored, data_range=truth.max())
        assert not errors
        meta = result.metadata  # the last run's: background none
        model = meta["psf_model"]
        assert model["model"] == "born-wolf" and model["wavelength"] == pytest.approx(wavelength / 1000)
        assert model["voxel_size"] == pytest.approx(VOXEL_UM) and model["image_shape"] == (20, 64, 64)
        np.testing.assert_array_equal(psf_models.optical_psf(**model), meta["psf"])  # the record reproduces it
        again = deconvolve(layer.data, meta["psf"], method=meta["method"], **meta["parameters"])
        np.testing.assert_allclose(result.data, again, rtol=1e-4, atol=1e-2)
        np.testing.assert_allclose(result.scale, layer.scale)
        observed = psnr(truth, counts[WAVELENGTHS_NM.index(wavelength)] - OFFSET, data_range=truth.max())
        # measured (PSNR, dB): 520 nm input 20.76, RL 50 iterations 23.76 with the background estimated,
        # 14.79 without (its result less the estimated offset: with the zero boundary the offset, which
        # the blur cannot make near the edges, piles up there); 610 nm 20.74, 23.62, 14.83
        assert scores["auto"] > observed + 2.0
        assert scores["auto"] > scores["none"] + 6.0


def test_add_psf_layer_shows_the_optics_psf_in_xz_at_the_images_scale(make_napari_viewer, qtbot, tmp_path, errors):
    import tifffile
    from qtpy.QtGui import QImage

    path = tmp_path / "stack.tif"
    stack = offset_counts((32, 96, 96)).astype(np.uint16)
    tifffile.imwrite(path, stack, imagej=True, resolution=(1 / 0.065, 1 / 0.065),
                     metadata={"spacing": 0.2, "unit": "micron", "axes": "ZYX"})
    viewer = make_napari_viewer()
    [image] = viewer.open(str(path), plugin=PLUGIN)
    widget = dock(viewer)
    widget.input.value = image
    assert widget.psf_source.value == "optics" and shown(widget.add_psf_button)
    worker = widget.add_psf_layer()
    assert worker is not None
    qtbot.waitUntil(lambda: viewer.layers[-1].name.startswith("PSF"), timeout=30_000)
    layer = viewer.layers[-1]
    assert not errors and widget.input.value is image  # the PSF layer does not become the input
    assert layer.name == "PSF (born-wolf, NA 1.4, 520 nm, n 1.518, voxel 0.2 x 0.065 x 0.065 µm)"
    np.testing.assert_allclose(layer.scale, image.scale)
    assert all(k % 2 == 1 and k <= n for k, n in zip(layer.data.shape, image.data.shape))
    assert layer.data.sum() == pytest.approx(1.0, abs=1e-5)
    np.testing.assert_array_equal(layer.data, psf_models.optical_psf(**layer.metadata["psf_model"]))
    assert widget.psf_layer.choices and layer in widget.psf_layer.choices

    # the PSF in XZ beside the widget, for a person to look at
    image.visible = False
    viewer.dims.order = (1, 0, 2)  # show z (rows) against x (columns), y at the PSF's centre
    viewer.dims.set_point(1, (layer.data.shape[1] // 2) * layer.scale[1])
    viewer.reset_view()
    SCREENSHOT_DIR.mkdir(parents=True, exist_ok=True)
    shot = SCREENSHOT_DIR / "optics_psf_xz.png"
    viewer.screenshot(path=str(shot), canvas_only=False)
    picture = QImage(str(shot))
    assert picture.width() > 400 and picture.height() > 300


# -- live preview on a crop ---------------------------------------------------------------------------------
def test_live_mode_previews_a_crop_around_the_view_that_matches_the_whole_run(make_napari_viewer, qtbot, errors):
    from napari_invprob import deconvolve

    rng = np.random.default_rng(0)
    beads = np.zeros((16, 192, 192))
    beads[tuple(rng.integers(0, 192, size=(3, 600)) % np.array([[16], [192], [192]]))] = 1.0
    stack = ndimage.gaussian_filter(ndimage.gaussian_filter(beads, 1.0) * 50, (1.2, 1.5, 1.5))
    stack = (stack + 0.01 * rng.standard_normal(stack.shape)).astype(np.float32)
    viewer = make_napari_viewer()
    layer = viewer.add_image(stack, name="stack", scale=(2000.0, 650.0, 650.0))
    widget = dock(viewer)
    widget.input.value = layer
    widget.psf_ndim.value, widget.psf_size.value, widget.psf_sigma.value = "3D", 9, 1.5
    widget.n_iter.value = 10
    widget.boundary.value = "periodic"
    widget.live.value = True

    def preview_after_lam(lam, view):
        viewer.dims.set_point(0, view[0][0] * 2000.0)
        layer.corner_pixels = np.array(view)  # what the canvas shows (set by napari when it draws)
        widget.lam.number = lam
        qtbot.waitUntil(lambda: "stack (preview)" in viewer.layers
                        and viewer.layers["stack (preview)"].metadata["parameters"]["lam"] == lam
                        and viewer.layers["stack (preview)"].metadata["status"] == "finished", timeout=30_000)
        return viewer.layers["stack (preview)"]

    preview = preview_after_lam(0.01, [[8, 80, 90], [8, 110, 120]])
    meta = preview.metadata
    assert not errors and "approximate near its edges" in meta["preview"]
    assert meta["crop"] == [[0, 16], [38, 153], [48, 163]] and preview.data.shape == (16, 115, 115)
    np.testing.assert_allclose(preview.translate, (0.0, 38 * 650.0, 48 * 650.0))
    whole = deconvolve(stack, meta["psf"], method=meta["method"], **meta["parameters"])
    view = (slice(0, 16), slice(80, 111), slice(90, 121))
    inside = (slice(0, 16), slice(80 - 38, 111 - 38), slice(90 - 48, 121 - 48))
    assert np.abs(preview.data[inside] - whole[view]).max() < 1e-3 * np.ptp(whole)
    assert "stack (admm-tv)" not in viewer.layers  # the whole stack is left to Run

    moved = preview_after_lam(0.02, [[3, 20, 150], [3, 60, 191]])  # elsewhere: the same layer, moved
    assert moved is preview and moved.metadata["crop"] == [[0, 16], [0, 103], [108, 192]]
    np.testing.assert_allclose(moved.translate, (0.0, 0.0, 108 * 650.0))
    widget.live.value = False


def test_live_mode_previews_the_time_point_in_view_of_a_time_series(make_napari_viewer, qtbot, errors):
    from napari_invprob import deconvolve

    rng = np.random.default_rng(1)
    series = np.zeros((3, 12, 96, 96))
    for t in range(3):  # different beads at each time point
        series[t][tuple(rng.integers(0, 96, size=(3, 150)) % np.array([[12], [96], [96]]))] = 1.0
    series = ndimage.gaussian_filter(series * 50, (0, 1.2, 1.5, 1.5)).astype(np.float32)
    viewer = make_napari_viewer()
    layer = viewer.add_image(series, name="timelapse", scale=(1.0, 2000.0, 650.0, 650.0))
    widget = dock(viewer)
    widget.input.value = layer
    widget.psf_ndim.value, widget.psf_size.value, widget.psf_sigma.value = "3D", 7, 1.5
    widget.n_iter.value = 5
    widget.live.value = True
    viewer.dims.set_point(0, 2.0)  # time point 2
    viewer.dims.set_point(1, 6 * 2000.0)
    layer.corner_pixels = np.array([[2, 6, 30, 40], [2, 6, 60, 70]])  # what the canvas shows
    widget.lam.number = 0.01
    qtbot.waitUntil(lambda: "timelapse (preview)" in viewer.layers
                    and viewer.layers["timelapse (preview)"].metadata["status"] == "finished", timeout=30_000)
    preview = viewer.layers["timelapse (preview)"]
    meta = preview.metadata
    assert not errors and "this is time point 2" in meta["preview"] and preview.data.ndim == 3
    assert "time_axis" not in meta["parameters"]
    crop = tuple(slice(*bounds) for bounds in meta["crop"])
    np.testing.assert_allclose(preview.scale, (2000.0, 650.0, 650.0))
    np.testing.assert_allclose(preview.translate, [s.start * d for s, d in zip(crop, (2000.0, 650.0, 650.0))])
    whole = deconvolve(series[2], meta["psf"], method=meta["method"], **meta["parameters"])
    view = (slice(0, 12), slice(30, 61), slice(40, 71))
    inside = tuple(slice(v.start - c.start, v.stop - c.start) for v, c in zip(view, crop))
    assert np.abs(preview.data[inside] - whole[view]).max() < 1e-3 * np.ptp(whole)
    other = deconvolve(series[0], meta["psf"], method=meta["method"], **meta["parameters"])
    assert np.abs(preview.data[inside] - other[view]).max() > 0.1 * np.ptp(whole)  # not another time point
    widget.live.value = False


# -- time points -----------------------------------------------------------------------------------------------
def test_a_time_series_layer_runs_per_time_point_the_one_in_view_first(make_napari_viewer, qtbot, errors):
    from napari_invprob import deconvolve

    frames = [offset_counts((10, 32, 32), seed=t) for t in range(3)]
    series = np.stack(frames)  # (t, z, y, x)
    viewer = make_napari_viewer()
    layer = viewer.add_image(series, name="timelapse")
    widget = dock(viewer)
    widget.input.value = layer
    widget.psf_ndim.value, widget.psf_size.value, widget.psf_sigma.value = "3D", 7, 1.5
    widget.method.value = "richardson-lucy"
    widget.n_iter.value = 4
    viewer.dims.set_point(0, 2)  # in view: time point 2
    shown_time_points = []
    widget.run()
    result = viewer.layers[-1]
    result.events.data.connect(lambda event: shown_time_points.append(
        [bool(np.any(result.data[t])) for t in range(3)]))
    wait_until_done(qtbot, widget)
    meta = result.metadata
    assert not errors and meta["status"] == "finished" and meta["iterations"] == 12
    assert widget.progress.max == 12 and widget.progress.value == 12
    assert meta["parameters"]["time_axis"] == 0 and meta["parameters"]["first_time_point"] == 2
    assert shown_time_points[0] == [False, False, True]  # the time point in view comes first
    again = deconvolve(series, meta["psf"], method=meta["method"], **meta["parameters"])
    np.testing.assert_allclose(result.data, again, rtol=1e-4, atol=1e-2)
    one = {k: v for k, v in meta["parameters"].items() if k not in ("time_axis", "first_time_point")}
    alone = deconvolve(series[0], meta["psf"], method=meta["method"], **one)  # background "auto" per time point
    np.testing.assert_allclose(result.data[0], alone, rtol=1e-4, atol=1e-2)


# -- a bead PSF -------------------------------------------------------------------------------------------
def test_a_bead_marked_by_a_point_gives_the_psf(make_napari_viewer, qtbot, errors):
    from scipy import signal

    from napari_invprob import deconvolve

    known = psf_models.born_wolf((9, 21, 21), na=1.4, wavelength=0.52, refractive_index=1.518,
                                 pixel_size=0.065, z_spacing=0.2)
    beads = np.zeros((24, 64, 64))
    beads[12, 20, 24] = beads[8, 44, 40] = 1000.0
    beads = signal.fftconvolve(beads, known, mode="same") + 20.0
    viewer = make_napari_viewer()
    scale = (2000.0, 650.0, 650.0)
    bead_layer = viewer.add_image(beads.astype(np.float32), name="beads", scale=scale)
    viewer.add_points([[8 * 2000.0, 45 * 650.0, 39 * 650.0]], name="bead", ndim=3)  # a click near a bead
    source = viewer.add_image(offset_counts((24, 64, 64)), name="cells", scale=scale)
    widget = dock(viewer)
    widget.input.value = source
    widget.psf_source.value = "bead"
    assert shown(widget.bead) and shown(widget.add_psf_button) and not shown(widget.optics)
    widget.bead.image.value = bead_layer
    widget.bead.points.value = viewer.layers["bead"]
    widget.bead.size.value, widget.bead.depth.value = 21, 9
    widget.add_psf_layer()
    qtbot.waitUntil(lambda: viewer.layers[-1].name.startswith("PSF"), timeout=30_000)
    added = viewer.layers[-1]
    assert added.name == "PSF (bead at (8.0, 45.0, 39.0) in 'beads', size 9x21x21)"
    np.testing.assert_allclose(added.data, known, atol=1e-6)  # noise-free: the known PSF
    widget.input.value = source
    widget.n_iter.value = 2
    widget.run()
    wait_until_done(qtbot, widget)
    meta = viewer.layers[-1].metadata
    assert not errors and meta["psf_bead"] == {"layer": "beads", "position": [8.0, 45.0, 39.0], "size": [9, 21, 21]}
    bead = {k: v for k, v in meta["psf_bead"].items() if k != "layer"}
    np.testing.assert_array_equal(meta["psf"], psf_models.from_bead_at(bead_layer.data, **bead))
    again = deconvolve(source.data, meta["psf"], method=meta["method"], **meta["parameters"])
    np.testing.assert_allclose(viewer.layers[-1].data, again, rtol=1e-4, atol=1e-3)

    viewer.layers["bead"].data = np.zeros((0, 3))
    assert widget.run() is None and "no bead marked" in errors[-1]

    widget.bead.points.value = None  # the bead under the cursor instead
    viewer.dims.set_point(0, 12 * 2000.0)
    viewer.cursor.position = (12 * 2000.0, 19 * 650.0, 25 * 650.0)  # near the other bead, at (12, 20, 24)
    widget.add_psf_layer()
    qtbot.waitUntil(lambda: viewer.layers[-1].name.startswith("PSF (bead at (12.0, 19.0, 25.0)"), timeout=30_000)
    np.testing.assert_allclose(viewer.layers[-1].data, known, atol=1e-6)
    viewer.cursor.position = (12 * 2000.0, -40 * 650.0, 25 * 650.0)  # off the image
    assert widget.add_psf_layer() is None and "the cursor is not on the bead image" in errors[-1]

"""The *Deconvolution* dock widget: pick an image and a PSF, run a method, watch it sharpen.

The PSF comes from the input's forward model (simulated data), a Gaussian, a PSF layer, the
microscope's optics (:func:`napari_invprob.psf.optical_psf` on the input's grid, its voxel size taken
from the layer where the file records it) or a bead marked by a point in a bead image
(:func:`napari_invprob.psf.from_bead_at`); those two are computed in the worker, and *Add PSF layer*
shows them (look at a 3D PSF in XZ).
"""

from __future__ import annotations

import warnings
from functools import partial

import numpy as np
from magicgui.widgets import CheckBox, ComboBox, FloatSpinBox, PushButton, SpinBox
from napari.layers import Image
from napari.qt.threading import create_worker
from napari.utils.notifications import show_info

from ... import psf as psf_models
from ...deconvolution.background import estimate_background
from ...deconvolution.deconvolve import deconvolve_iter
from ...deconvolution.measured_psf import PSF_BACKGROUNDS, prepare_psf
from ...deconvolution.methods import METHODS, POISSON_METHODS
from ...deconvolution.problem import BOUNDARIES
from ...distributed.tiles import default_overlap
from ...priors.denoisers import DENOISERS
from ...problems.preview import crop_around
from . import _estimate
from ._base import Plan, SolverWidget
from ._bead import BeadControls
from ._controls import layer_picker
from ._optics import OpticsControls, cached_optical_psf, describe
from ._voxels import VoxelSizeField

PSF_FROM_METADATA = "input's forward model"
PSF_GAUSSIAN = "Gaussian"
PSF_LAYER = "PSF layer"
PSF_OPTICS = "optics"
PSF_BEAD = "bead"

#: The background (camera offset) choices of the Poisson methods: estimated, none, or typed.
BACKGROUND_AUTO = "auto"
BACKGROUND_NONE = "none"
BACKGROUND_LEVEL = "level"


class DeconvolutionWidget(SolverWidget):
    """Deconvolve the selected image with a PSF from its forward model, a Gaussian, a PSF layer, the
    optics or a bead.

    Parameters
    ----------
    napari_viewer : napari.Viewer
    """

    title = "Deconvolution"
    command = "deconvolve"
    command_flags = "--psf PSF.tif "
    problem = "deconvolution"

    def __init__(self, napari_viewer):
        methods = METHODS
        super().__init__(napari_viewer, methods, "admm-tv" if "admm-tv" in methods else next(iter(methods)))
        self.psf_source = ComboBox(
            choices=[PSF_FROM_METADATA, PSF_GAUSSIAN, PSF_LAYER, PSF_OPTICS, PSF_BEAD], value=PSF_GAUSSIAN,
            label="PSF",
            tooltip="the input's forward model (set by Simulate measurement or the sample data), a "
                    "Gaussian, an image layer holding a measured PSF, a model of the microscope's optics "
                    "(NA, wavelength, refractive indices) on the image's grid, or a bead marked by a point",
        )
        self.psf_size = SpinBox(value=7, min=1, max=255, step=2, label="kernel size", tooltip="pixels per axis")
        self.psf_sigma = FloatSpinBox(value=2.0, min=0.1, max=100.0, step=0.1, label="kernel σ",
                                      tooltip="standard deviation of the Gaussian, in pixels")
        self.psf_ndim = ComboBox(choices=["2D", "3D"], value="2D", label="kernel axes",
                                 tooltip="3D for a z-stack with a 3D PSF")
        self.psf_layer = layer_picker(napari_viewer, Image, label="PSF layer",
                                      tooltip="a PSF image: a theoretical PSF, or a bead stack (prepared before use)")
        self.psf_background = ComboBox(
            choices=list(PSF_BACKGROUNDS), value="auto", label="PSF background",
            tooltip="auto: a bead stack's background (camera offset) is estimated and removed when above the "
                    "noise, the bead centred and its box cropped; none: the PSF is used as it is",
        )
        self.voxel_size = VoxelSizeField("data voxel (µm)", "the input's voxel size, z, y, x in µm: from its scale "
                                                            "where the file records it, else typed")
        self.psf_voxel_size = VoxelSizeField("PSF voxel (µm)", "the PSF's voxel size, z, y, x in µm: from its "
                                                               "scale where the file records it, else typed; with "
                                                               "both sizes the PSF is resampled onto the input's grid")
        self.optics = OpticsControls()
        self.bead = BeadControls(napari_viewer)
        self.add_psf_button = PushButton(text="Add PSF layer",
                                         tooltip="compute the PSF (optics or bead) and show it as a layer")
        self._psf_worker = None
        self.boundary = ComboBox(choices=list(BOUNDARIES), value="reflect", label="boundary",
                                 tooltip="periodic: fast, wraps around edges; zero: no wrap-around, slower; "
                                         "reflect: mirrors the edges out, no ringing where opposite edges differ")
        self.nonneg = CheckBox(value=True, text="non-negative", tooltip="keep the estimate ≥ 0")
        self.denoiser = ComboBox(choices=list(DENOISERS), value="tv", label="denoiser",
                                 tooltip="the prior of plug-and-play methods: total variation, Gaussian "
                                         "smoothing, or the shipped learned network")
        self.background = ComboBox(
            choices=[BACKGROUND_AUTO, BACKGROUND_NONE, BACKGROUND_LEVEL], value=BACKGROUND_AUTO, label="background",
            tooltip="the camera's offset under the Poisson counts, modelled as y ~ Poisson(Hx + b): auto "
                    "(estimated from the image's darkest regions), none, or a typed level",
        )
        self.background_level = FloatSpinBox(value=100.0, min=0.0, max=1e9, step=1.0, label="offset",
                                              tooltip="counts the camera adds to every pixel")
        self._add_controls(self.psf_source, self.psf_size, self.psf_sigma, self.psf_ndim, self.psf_layer,
                           self.optics, self.bead, self.psf_background, self.voxel_size, self.psf_voxel_size,
                           self.add_psf_button, *self._solver_controls(), self.denoiser,
                           self.background, self.background_level, self.boundary, self.nonneg)
        self._finish_layout()
        self.psf_source.changed.connect(self._show_psf_controls)
        self.add_psf_button.changed.connect(self.add_psf_layer)
        self.method.changed.connect(self._show_denoiser)
        self.method.changed.connect(self._show_background)
        self.background.changed.connect(self._show_background)
        self._show_denoiser(self.method.value)
        self._show_background()
        self._announced_background = self._announced_psf = None
        self.psf_layer.changed.connect(self._psf_layer_changed)
        self.bead.image.changed.connect(self._psf_layer_changed)
        self.psf_source.changed.connect(self._psf_layer_changed)
        self._psf_layer_changed()
        self.input.changed.connect(self._input_changed)
        self._input_changed(self.input.value)

    def _live_controls(self) -> list:
        return [self.lam, self.psf_sigma]

    # -- following the input ------------------------------------------------------------------------------
    def _input_changed(self, layer) -> None:
        """Adopt the input's forward model when it has one (else mirrored edges, as measured images
        rarely wrap around); match the kernel's axes to the image; take the voxel size and emission
        wavelength the layer records for the optics, and choose the optics for a file that sizes its
        voxels."""
        if layer is None:
            return
        model = layer.metadata.get("forward_model")
        if isinstance(model, dict) and "psf" in model:
            self.psf_source.value = PSF_FROM_METADATA
            self.boundary.value = model.get("boundary", self.boundary.value)
        elif self.psf_source.value == PSF_FROM_METADATA:
            self.psf_source.value = PSF_GAUSSIAN
            self.boundary.value = "reflect"
        unrecorded = self.optics.adopt(layer)
        self.voxel_size.show_layer(layer)
        if layer.metadata.get("voxel_size_source") and self.psf_source.value == PSF_GAUSSIAN:
            self.psf_source.value = PSF_OPTICS
        if unrecorded and self.psf_source.value == PSF_OPTICS:
            show_info(f"{self.title}: {unrecorded}")
        spatial_ndim = layer.data.ndim - (1 if layer.rgb else 0)
        self.psf_ndim.value = "3D" if spatial_ndim >= 3 else "2D"
        self._show_psf_controls(self.psf_source.value)
        self._reference_from_simulation(layer, layer.data.shape)

    def _psf_layer_changed(self, *_) -> None:
        """Show the voxel size of the PSF layer (or the bead image), or clear it where it records none."""
        source = self.psf_source.value
        self.psf_voxel_size.show_layer(self.bead.image.value if source == PSF_BEAD else
                                       self.psf_layer.value if source == PSF_LAYER else None)

    def _show_denoiser(self, method: str) -> None:
        self.denoiser.visible = METHODS[method].takes_denoiser

    def _show_background(self, *_) -> None:
        poisson = self.method.value in POISSON_METHODS
        self.background.visible = poisson
        self.background_level.visible = poisson and self.background.value == BACKGROUND_LEVEL

    def _show_psf_controls(self, source: str) -> None:
        for control in (self.psf_size, self.psf_sigma, self.psf_ndim):
            control.visible = source == PSF_GAUSSIAN
        self.psf_layer.visible = source == PSF_LAYER
        self.optics.visible = source == PSF_OPTICS
        self.bead.visible = source == PSF_BEAD
        self.psf_background.visible = source == PSF_LAYER
        self.voxel_size.visible = self.psf_voxel_size.visible = source in (PSF_LAYER, PSF_BEAD)
        self.add_psf_button.visible = source in (PSF_OPTICS, PSF_BEAD)

    # -- the run --------------------------------------------------------------------------------------------
    def _background(self) -> str | float | None:
        """The ``background`` argument of the Poisson methods that the controls describe."""
        choice = self.background.value
        if choice == BACKGROUND_AUTO:
            return "auto"
        return None if choice == BACKGROUND_NONE else float(self.background_level.value)

    def _psf(self, layer, spatial_shape: tuple[int, ...]):
        """The PSF (or, for the optics and a bead, a call that computes it in the worker), a description
        of where it came from, and what reproduces a computed one (for the metadata): ``psf_model``,
        the keyword arguments of :func:`~napari_invprob.psf.optical_psf`, or ``psf_bead``, the bead
        image's name and the keyword arguments of :func:`~napari_invprob.psf.from_bead_at`."""
        source = self.psf_source.value
        if source == PSF_OPTICS:
            optics = self.optics.parameters(spatial_shape)
            return (partial(cached_optical_psf, tuple(sorted(optics.items()))), describe(optics),
                    {"psf_model": optics})
        if source == PSF_BEAD:
            beads, bead = self.bead.parameters(len(spatial_shape))
            where = ", ".join(f"{v:.1f}" for v in bead["position"])
            return (partial(psf_models.from_bead_at, np.asarray(beads.data), **bead),
                    f"bead at ({where}) in {beads.name!r}, size {'x'.join(map(str, bead['size']))}",
                    {"psf_bead": {"layer": beads.name, **bead}})
        if source == PSF_FROM_METADATA:
            model = layer.metadata.get("forward_model")
            if not isinstance(model, dict) or "psf" not in model:
                raise ValueError(
                    f"layer {layer.name!r} has no forward model in its metadata: choose a Gaussian or a PSF layer"
                )
            return np.asarray(model["psf"], dtype=np.float32), f"forward model of {layer.name!r}", {}
        if source == PSF_LAYER:
            psf_layer = self.psf_layer.value
            if psf_layer is None:
                raise ValueError("no PSF layer: open a PSF image or choose a Gaussian")
            if psf_layer is layer:
                raise ValueError("the PSF layer is the input layer: pick the layer holding the PSF")
            if psf_layer.rgb:
                raise ValueError(f"PSF layer {psf_layer.name!r} is an RGB image {psf_layer.data.shape}: a PSF has one "
                                 "value per pixel (its last axis would be taken as x); pick a grey-level PSF")
            psf = np.asarray(psf_layer.data)
            if not np.issubdtype(psf.dtype, np.number) or not np.isfinite(psf).all() or psf.sum() <= 0:
                raise ValueError(f"PSF layer {psf_layer.name!r} must be finite with a positive sum")
            return psf, f"layer {psf_layer.name!r}", {"psf_layer": psf_layer.name}
        ndim = 3 if self.psf_ndim.value == "3D" else 2
        size, sigma = int(self.psf_size.value), float(self.psf_sigma.value)
        return psf_models.gaussian(size, sigma, ndim), f"Gaussian, size {size}, sigma {sigma:g}, {ndim}D", {}

    def _preparation(self, spatial_ndim: int) -> dict:
        """The keyword arguments of :func:`~napari_invprob.deconvolution.measured_psf.prepare_psf` for the
        chosen PSF: a PSF layer's background choice, and for a PSF layer or a bead the two voxel sizes as
        shown (typed where the layers record none); nothing for the others (theoretical PSFs)."""
        source = self.psf_source.value
        if source not in (PSF_LAYER, PSF_BEAD):
            return {}
        return {"background": self.psf_background.value if source == PSF_LAYER else "none",
                "voxel_size": self.voxel_size.sizes(spatial_ndim),
                "psf_voxel_size": self.psf_voxel_size.sizes(spatial_ndim)}

    def _live_plan(self) -> Plan:
        """A 3D stack previews a crop around the view (:meth:`_plan` with ``preview``); anything else
        restarts the whole run, warm-started."""
        return self._plan(warm_start=True, preview=True)

    def _plan(self, *, warm_start: bool, preview: bool = False) -> Plan:
        """The run of the whole input, or with ``preview`` (a 3D stack without channels) of a crop: the
        region in view (the visible pixels of the displayed axes, the current plane of the others)
        grown by a halo of the PSF's reach (:mod:`~napari_invprob.problems.preview`), solved alone
        into ``"<input> (preview)"`` and placed over that region; approximate near the crop's edges."""
        layer, image = self._input_image("deconvolution")
        channel_axis = -1 if layer.rgb else None
        model = layer.metadata.get("forward_model")
        if channel_axis is None and isinstance(model, dict) and self.psf_source.value == PSF_FROM_METADATA:
            channel_axis = model.get("channel_axis")
        spatial_shape = _spatial_shape(image.shape, channel_axis)
        time_axis = 0 if len(spatial_shape) == 4 and channel_axis is None else None  # (t, z, y, x)
        if time_axis is not None:
            spatial_shape = spatial_shape[1:]
        if len(spatial_shape) not in (2, 3):
            raise ValueError(f"{layer.name!r} has {image.ndim} axes; deconvolution takes a 2D image, a 3D stack "
                             "or a time series of stacks (t, z, y, x)")
        psf, psf_origin, psf_record = self._psf(layer, spatial_shape)
        spatial_ndim = len(spatial_shape)
        if not callable(psf) and psf.ndim != spatial_ndim:
            raise ValueError(
                f"the PSF has {psf.ndim} axes but {layer.name!r} has {spatial_ndim} spatial axes: "
                f"choose a {spatial_ndim}D kernel"
            )
        preparation = self._preparation(spatial_ndim)
        method = self.method.value
        name = f"{layer.name} ({method})"
        parameters = dict(
            method=method, lam=self._lam(), n_iter=self._n_iter(), channel_axis=channel_axis,
            boundary=self.boundary.value, nonneg=bool(self.nonneg.value),
        )
        if METHODS[method].takes_denoiser:
            parameters["denoiser"] = self.denoiser.value
        if method in POISSON_METHODS:
            parameters["background"] = self._background()
        if preparation:  # prepared in the worker, then used as it is
            parameters["psf_background"] = "none"
        layer_kwargs = {"scale": layer.scale, "translate": layer.translate, "units": layer.units}
        view = self._view(layer) if preview and len(spatial_shape) == 3 and channel_axis is None else None
        if view is not None and time_axis is not None:  # the time point in view, previewed as a stack
            time_point = self._current_index(layer, time_axis)
            image, view = image[time_point], (view[0][1:], view[1][1:])
            layer_kwargs = {key: tuple(value)[1:] for key, value in layer_kwargs.items()}
            time_axis = None
        elif time_axis is not None:  # the time point in view first
            parameters.update(time_axis=time_axis, first_time_point=self._current_index(layer, time_axis))
        if view is not None:
            name = f"{layer.name} (preview)"
        reference = None if view is not None else self._reference(image.shape, channel_axis)
        x0 = self._warm_start(name, image.shape) if warm_start and view is None else None
        metadata = {
            "method": method,
            "parameters": {k: v for k, v in parameters.items() if k != "method"},
            "source_layer": layer.name,
            "reference_layer": None if reference is None else self.reference.value.name,
            "psf": None if callable(psf) or preparation else psf,  # computed or prepared: recorded by the worker
            "psf_source": psf_origin,
            "warm_start": x0 is not None,
        }
        metadata.update(psf_record)
        if view is not None:
            metadata["preview"] = ("a crop around the view, deconvolved alone: approximate near its edges; Run "
                                   "does the whole stack" + ("" if image.ndim == layer.ndim else
                                                             f" and every time point (this is time point {time_point})"))
        count = 1 if time_axis is None else image.shape[time_axis]  # one time point at a time, into the result
        one = _estimate.deconvolution(image.size // count, parameters["n_iter"])
        estimate = _estimate.Estimate(one.memory + 4 * image.size * (count > 1), one.seconds * count)
        return Plan(
            iterates=partial(_deconvolution, image, psf, metadata, x0=x0, view=view, layer_kwargs=layer_kwargs,
                             preparation=preparation, **parameters),
            name=name, shape=None if view is not None else image.shape, metadata=metadata, estimate=estimate,
            n_iter=parameters["n_iter"] * count, rgb=bool(layer.rgb), reference=reference, layer_kwargs=layer_kwargs,
        )

    def _current_index(self, layer, axis: int) -> int:
        """The index along ``axis`` of ``layer`` at the viewer's current position."""
        point = layer.world_to_data(self._viewer.dims.point[-layer.ndim:])
        return int(np.clip(round(float(point[axis])), 0, layer.data.shape[axis] - 1))

    def _view(self, layer) -> tuple[tuple[int, ...], tuple[int, ...]]:
        """The first and last data index per axis of ``layer`` in view: its visible corner pixels on
        the displayed axes, the current plane on the others."""
        corners = np.asarray(layer.corner_pixels, dtype=float)
        if getattr(layer, "multiscale", False):  # the corners of the level on screen, in level 0's pixels
            corners = corners * np.asarray(layer.downsample_factors[layer.data_level])
        corners = np.minimum(corners, np.asarray(layer.data[0].shape if layer.multiscale else layer.data.shape) - 1)
        corners = corners.astype(int)
        point = np.round(layer.world_to_data(self._viewer.dims.point[-layer.ndim:])).astype(int)
        offset = self._viewer.dims.ndim - layer.ndim
        displayed = {axis - offset for axis in self._viewer.dims.displayed}
        lo = tuple(int(corners[0, a] if a in displayed else point[a]) for a in range(layer.ndim))
        hi = tuple(int(corners[1, a] if a in displayed else point[a]) for a in range(layer.ndim))
        return lo, hi

    def _show_frame(self, job, frame) -> None:
        """A preview of a new crop moves its (reused) layer over the crop before showing it."""
        layer, plan = job.context.layer, job.context.plan
        if layer is not None and job.context.frames == 0 and "crop" in plan.metadata:
            layer.translate = plan.layer_kwargs["translate"]
        super()._show_frame(job, frame)

    def _frame_shown(self, plan: Plan, frame) -> None:
        """Say what the PSF's preparation did and which background was estimated, once per new one (the
        worker records them before the first iterate)."""
        super()._frame_shown(plan, frame)
        prepared = plan.metadata.get("psf_preparation")
        if prepared and prepared["steps"] and prepared["summary"] != self._announced_psf:
            self._announced_psf = prepared["summary"]
            show_info(f"{self.title}: PSF {plan.metadata['psf_source']}: {prepared['summary']}")
        level = plan.metadata.get("background_level")
        if plan.metadata["parameters"].get("background") == "auto" and level != self._announced_background:
            self._announced_background = level
            levels = ", ".join(f"{v:.4g}" for v in np.atleast_1d(level))
            show_info(f"{self.title}: background (camera offset) estimated at {levels} counts and modelled in "
                      f"{plan.metadata['method']}: y ~ Poisson(Hx + b)")

    # -- a computed PSF as a layer ------------------------------------------------------------------------------
    def add_psf_layer(self):
        """Compute the PSF of the optics (on the input's grid) or of the marked bead in a worker, and add
        it as a layer at the scale of its grid (the input's, or the bead image's), to look at, e.g. in XZ.

        Returns
        -------
        GeneratorWorker or None
            The worker, or None when the controls are refused (a notification says why).
        """
        try:
            layer, image = self._input_image("a PSF")
            spatial_shape = _spatial_shape(image.shape, -1 if layer.rgb else None)
            make, origin, record = self._psf(layer, spatial_shape[-3:])
            if not callable(make):
                raise ValueError("Add PSF layer computes a PSF from the optics or a bead: choose one of those")
        except (ValueError, TypeError) as exc:
            self._notify_error(exc)
            return None
        # errors connected here, so that the worker does not raise them again in the GUI thread
        grid = self.bead.image.value if self.psf_source.value == PSF_BEAD else layer  # the PSF's own grid
        worker = create_worker(make, _start_thread=False, _connect={"returned": partial(self._add_psf, grid, origin, record),
                                                                    "errored": self._notify_error})
        self._psf_worker = worker
        worker.start()
        return worker

    def _add_psf(self, layer, origin: str, record: dict, kernel: np.ndarray) -> None:
        ndim = kernel.ndim
        self._viewer.add_image(
            np.array(kernel), name=f"PSF ({origin})", colormap="magma", gamma=0.5,
            scale=tuple(layer.scale)[-ndim:], units=tuple(layer.units)[-ndim:],
            metadata={"problem": "psf", "psf_source": origin, **record},
        )
        self.psf_layer.reset_choices()


def _spatial_shape(shape: tuple[int, ...], channel_axis: int | None) -> tuple[int, ...]:
    """The image's shape without its channel axis."""
    if channel_axis is None:
        return tuple(shape)
    axis = channel_axis % len(shape)
    return tuple(n for i, n in enumerate(shape) if i != axis)


def _deconvolution(image, psf, metadata: dict, *, view=None, layer_kwargs=None, preparation=None, **parameters):
    """Worker generator: compute the PSF of the optics or a bead (``psf`` a call) and record it in
    ``metadata``; estimate the background for ``background="auto"`` on the whole image (as
    ``deconvolve`` would; a time series leaves it to ``deconvolve``, per time point) and record the
    level the run models; for a preview (``view``: the first and last index in view per axis), crop
    the image around the view with a halo of the PSF's reach, scaled by the whole image's peak, and
    record the crop (``metadata``) and its place (``layer_kwargs["translate"]``); then stream
    :func:`~napari_invprob.deconvolution.deconvolve.deconvolve_iter`. A PSF layer or a bead's PSF is first
    prepared (``preparation``: the keyword arguments of
    :func:`~napari_invprob.deconvolution.measured_psf.prepare_psf`), what was done recorded in
    ``metadata["psf_preparation"]`` and what is unknown (a voxel size) warned about. A lazy image (a layer
    read from OME-Zarr, level 0) is read here: for a preview only the crop, whose background and peak then
    stand for the image's (said in ``metadata["preview"]``)."""
    if callable(psf):
        psf = metadata["psf"] = psf()
    if preparation:
        psf, report = prepare_psf(psf, **preparation)
        if not report.changed:  # a theoretical PSF, used as it is: recorded normalised, as it is used
            psf = (psf / psf.sum(dtype=np.float64)).astype(np.float32)
        metadata["psf"], metadata["psf_preparation"] = psf, report.as_dict()
        for message in report.warnings:
            warnings.warn(f"PSF: {message}", UserWarning, stacklevel=2)
    crop, cropped = None, False
    if view is not None:
        spec = METHODS[parameters["method"]]
        halo = default_overlap(np.shape(psf), parameters["n_iter"], iterative=spec.iterative)
        crop = crop_around(image.shape, *view, halo, np.shape(psf))
        if not isinstance(image, np.ndarray):
            image, cropped = image[crop], True
            metadata["preview"] += "; background and peak from the crop (the layer is read lazily)"
    image = np.asarray(image)  # a lazy layer's level 0 (or crop) is read here; Run refuses one that does not fit
    background = parameters.get("background")
    if isinstance(background, str) and parameters.get("time_axis") is None:
        background = parameters["background"] = estimate_background(image, channel_axis=parameters["channel_axis"])
    if background is not None and not isinstance(background, str):  # a series estimates it per time point
        metadata["background_level"] = background
    if view is not None:
        metadata["crop"] = [[s.start, s.stop] for s in crop]
        metadata["data_peak"] = parameters["data_peak"] = float(np.abs(image).max()) or 1.0
        corner = np.array([s.start for s in crop], dtype=float)
        layer_kwargs["translate"] = tuple(np.asarray(layer_kwargs["translate"]) + corner * layer_kwargs["scale"])
        image = image if cropped else image[crop]
    yield from deconvolve_iter(image, psf, **parameters)

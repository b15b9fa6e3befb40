"""The *Deconvolution* dock widget: pick an image and a PSF, run a method, watch it sharpen."""

from __future__ import annotations

from functools import partial

import numpy as np
from magicgui.widgets import CheckBox, ComboBox, FloatSpinBox, SpinBox
from napari.layers import Image
from napari.utils.notifications import show_info

from .. import psf as psf_models
from ..priors.denoisers import DENOISERS
from ..problems import deconvolution
from ..problems.background import estimate_background
from . import _estimate
from ._base import Plan, SolverWidget
from ._controls import layer_picker

PSF_FROM_METADATA = "input's forward model"
PSF_GAUSSIAN = "Gaussian"
PSF_LAYER = "PSF layer"

#: The background (camera offset) choices of the Poisson methods: estimated, none, or typed.
BACKGROUND_AUTO = "auto"
BACKGROUND_NONE = "none"
BACKGROUND_LEVEL = "level"


class DeconvolutionWidget(SolverWidget):
    """Deconvolve the selected image with a PSF from its forward model, a Gaussian, or a PSF layer.

    Parameters
    ----------
    napari_viewer : napari.Viewer
    """

    title = "Deconvolution"
    problem = "deconvolution"

    def __init__(self, napari_viewer):
        methods = deconvolution.METHODS
        super().__init__(napari_viewer, methods, "admm-tv" if "admm-tv" in methods else next(iter(methods)))
        self.psf_source = ComboBox(
            choices=[PSF_FROM_METADATA, PSF_GAUSSIAN, PSF_LAYER], value=PSF_GAUSSIAN, label="PSF",
            tooltip="the input's forward model (set by Simulate measurement or the sample data), a "
                    "Gaussian, or an image layer holding a measured PSF",
        )
        self.psf_size = SpinBox(value=7, min=1, max=255, step=2, label="kernel size", tooltip="pixels per axis")
        self.psf_sigma = FloatSpinBox(value=2.0, min=0.1, max=100.0, step=0.1, label="kernel σ",
                                      tooltip="standard deviation of the Gaussian, in pixels")
        self.psf_ndim = ComboBox(choices=["2D", "3D"], value="2D", label="kernel axes",
                                 tooltip="3D for a z-stack with a 3D PSF")
        self.psf_layer = layer_picker(napari_viewer, Image, label="PSF layer", tooltip="a centred PSF image")
        self.boundary = ComboBox(choices=list(deconvolution.BOUNDARIES), value="reflect", label="boundary",
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
                           *self._solver_controls(), self.denoiser, self.background, self.background_level,
                           self.boundary, self.nonneg)
        self._finish_layout()
        self.psf_source.changed.connect(self._show_psf_controls)
        self.method.changed.connect(self._show_denoiser)
        self.method.changed.connect(self._show_background)
        self.background.changed.connect(self._show_background)
        self._show_denoiser(self.method.value)
        self._show_background()
        self._announced_background = None
        self.input.changed.connect(self._input_changed)
        self._input_changed(self.input.value)

    def _live_controls(self) -> list:
        return [self.lam, self.psf_sigma]

    # -- following the input ------------------------------------------------------------------------------
    def _input_changed(self, layer) -> None:
        """Adopt the input's forward model when it has one (else mirrored edges, as measured images
        rarely wrap around); match the kernel's axes to the image."""
        if layer is None:
            return
        model = layer.metadata.get("forward_model")
        if isinstance(model, dict) and "psf" in model:
            self.psf_source.value = PSF_FROM_METADATA
            self.boundary.value = model.get("boundary", self.boundary.value)
        elif self.psf_source.value == PSF_FROM_METADATA:
            self.psf_source.value = PSF_GAUSSIAN
            self.boundary.value = "reflect"
        spatial_ndim = layer.data.ndim - (1 if layer.rgb else 0)
        self.psf_ndim.value = "3D" if spatial_ndim >= 3 else "2D"
        self._show_psf_controls(self.psf_source.value)
        self._reference_from_simulation(layer, layer.data.shape)

    def _show_denoiser(self, method: str) -> None:
        self.denoiser.visible = _takes_denoiser(method)

    def _show_background(self, *_) -> None:
        poisson = self.method.value in deconvolution.POISSON_METHODS
        self.background.visible = poisson
        self.background_level.visible = poisson and self.background.value == BACKGROUND_LEVEL

    def _show_psf_controls(self, source: str) -> None:
        for control in (self.psf_size, self.psf_sigma, self.psf_ndim):
            control.visible = source == PSF_GAUSSIAN
        self.psf_layer.visible = source == PSF_LAYER

    # -- the run --------------------------------------------------------------------------------------------
    def _background(self) -> str | float | None:
        """The ``background`` argument of the Poisson methods that the controls describe."""
        choice = self.background.value
        if choice == BACKGROUND_AUTO:
            return "auto"
        return None if choice == BACKGROUND_NONE else float(self.background_level.value)

    def _psf(self, layer) -> tuple[np.ndarray, str]:
        """The PSF and a description of where it came from."""
        source = self.psf_source.value
        if source == PSF_FROM_METADATA:
            model = layer.metadata.get("forward_model")
            if not isinstance(model, dict) or "psf" not in model:
                raise ValueError(
                    f"layer {layer.name!r} has no forward model in its metadata: choose a Gaussian or a PSF layer"
                )
            return np.asarray(model["psf"], dtype=np.float32), f"forward model of {layer.name!r}"
        if source == PSF_LAYER:
            psf_layer = self.psf_layer.value
            if psf_layer is None:
                raise ValueError("no PSF layer: open a PSF image or choose a Gaussian")
            if psf_layer is layer:
                raise ValueError("the PSF layer is the input layer: pick the layer holding the PSF")
            psf = np.asarray(psf_layer.data, dtype=np.float32)
            if not np.isfinite(psf).all() or psf.sum() <= 0:
                raise ValueError(f"PSF layer {psf_layer.name!r} must be finite with a positive sum")
            return psf / psf.sum(), f"layer {psf_layer.name!r} (normalised to sum 1)"
        ndim = 3 if self.psf_ndim.value == "3D" else 2
        size, sigma = int(self.psf_size.value), float(self.psf_sigma.value)
        return psf_models.gaussian(size, sigma, ndim), f"Gaussian, size {size}, sigma {sigma:g}, {ndim}D"

    def _plan(self, *, warm_start: bool) -> Plan:
        layer, image = self._input_image("deconvolution")
        channel_axis = -1 if layer.rgb else None
        model = layer.metadata.get("forward_model")
        if channel_axis is None and isinstance(model, dict) and self.psf_source.value == PSF_FROM_METADATA:
            channel_axis = model.get("channel_axis")
        psf, psf_origin = self._psf(layer)
        spatial_ndim = image.ndim - (channel_axis is not None)
        if psf.ndim != spatial_ndim:
            raise ValueError(
                f"the PSF has {psf.ndim} axes but {layer.name!r} has {spatial_ndim} spatial axes: "
                f"choose a {spatial_ndim}D kernel"
            )
        method = self.method.value
        name = f"{layer.name} ({method})"
        parameters = dict(
            method=method, lam=self._lam(), n_iter=self._n_iter(), channel_axis=channel_axis,
            boundary=self.boundary.value, nonneg=bool(self.nonneg.value),
        )
        if _takes_denoiser(method):
            parameters["denoiser"] = self.denoiser.value
        if method in deconvolution.POISSON_METHODS:
            parameters["background"] = self._background()
        reference = self._reference(image.shape, channel_axis)
        x0 = self._warm_start(name, image.shape) if warm_start else None
        metadata = {
            "method": method,
            "parameters": {k: v for k, v in parameters.items() if k != "method"},
            "source_layer": layer.name,
            "reference_layer": None if reference is None else self.reference.value.name,
            "psf": psf,
            "psf_source": psf_origin,
            "warm_start": x0 is not None,
        }
        estimate = _estimate.deconvolution(image.size, parameters["n_iter"])
        return Plan(
            iterates=partial(_deconvolution, image, psf, metadata, x0=x0, **parameters),
            name=name, shape=image.shape, metadata=metadata, estimate=estimate, n_iter=parameters["n_iter"],
            rgb=bool(layer.rgb), reference=reference,
            layer_kwargs={"scale": layer.scale, "translate": layer.translate},
        )

    def _frame_shown(self, plan: Plan, frame) -> None:
        """Say which background was estimated, once per new level (the worker records it before the
        first iterate)."""
        super()._frame_shown(plan, frame)
        level = plan.metadata.get("background_level")
        if plan.metadata["parameters"].get("background") == "auto" and level != self._announced_background:
            self._announced_background = level
            levels = ", ".join(f"{v:.4g}" for v in np.atleast_1d(level))
            show_info(f"{self.title}: background (camera offset) estimated at {levels} counts and modelled in "
                      f"{plan.metadata['method']}: y ~ Poisson(Hx + b)")


def _deconvolution(image, psf, metadata: dict, **parameters):
    """Worker generator: estimate the background for ``background="auto"`` (as ``deconvolve`` would) and
    record the level the run models in ``metadata``, then stream
    :func:`~napari_invprob.problems.deconvolution.deconvolve_iter` with it."""
    if isinstance(parameters.get("background"), str):
        parameters["background"] = estimate_background(image, channel_axis=parameters["channel_axis"])
    if parameters.get("background") is not None:
        metadata["background_level"] = parameters["background"]
    yield from deconvolution.deconvolve_iter(image, psf, **parameters)


def _takes_denoiser(method: str) -> bool:
    """Plug-and-play methods take a denoiser as their prior."""
    return method.startswith("pnp-")

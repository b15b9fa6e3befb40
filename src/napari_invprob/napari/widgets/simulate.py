"""The *Simulate measurement* dock widget: blur + noise, or projections, with the forward model kept.

The new layer's ``metadata`` carries the forward model (``forward_model`` with the PSF, boundary,
channel axis and noise; or ``angles`` and ``tilt_axis``), so the Deconvolution and Tomography widgets
pick it up without retyping.
"""

from __future__ import annotations

import numpy as np
from magicgui.widgets import ComboBox, FloatSpinBox, SpinBox

from ... import psf as psf_models
from ... import simulate
from . import _estimate
from ._base import Plan, ResultWidget, one_step

BLUR = "blur + noise"
PROJECT = "projections (sinogram / tilt series)"


class SimulateWidget(ResultWidget):
    """Make a blurred, noisy image or a sinogram / tilt series from an image or volume layer.

    Parameters
    ----------
    napari_viewer : napari.Viewer
    """

    title = "Simulate measurement"
    problem = "simulation"
    follows_results = frozenset()

    def __init__(self, napari_viewer):
        super().__init__(napari_viewer)
        self.kind = ComboBox(choices=[BLUR, PROJECT], value=BLUR, label="measurement")
        self.psf_size = SpinBox(value=7, min=1, max=255, step=2, label="kernel size", tooltip="pixels per axis")
        self.psf_sigma = FloatSpinBox(value=4.0, min=0.1, max=100.0, step=0.1, label="kernel σ",
                                      tooltip="standard deviation of the Gaussian PSF, in pixels")
        self.boundary = ComboBox(choices=["periodic", "zero"], value="periodic", label="boundary")
        self.blur_noise = FloatSpinBox(value=0.05, min=0.0, max=1e6, step=0.01, label="noise σ",
                                       tooltip="standard deviation of the Gaussian noise, in the image's units")
        self.angle_start = FloatSpinBox(value=-70.0, min=-180.0, max=180.0, step=1.0, label="first angle (°)")
        self.angle_stop = FloatSpinBox(value=70.0, min=-180.0, max=360.0, step=1.0, label="last angle (°)",
                                       tooltip="included in the angles")
        self.angle_count = SpinBox(value=50, min=2, max=10_000, label="angle count")
        self.tilt_axis = ComboBox(choices=["y", "x"], value="y", label="tilt axis", tooltip="volumes only")
        self.project_noise = FloatSpinBox(value=0.01, min=0.0, max=10.0, step=0.005, label="noise",
                                          tooltip="Gaussian noise std as a fraction of the projections' maximum")
        self.seed = SpinBox(value=0, min=0, max=2**31 - 1, label="seed", tooltip="seed of the noise")
        self._blur_controls = [self.psf_size, self.psf_sigma, self.boundary, self.blur_noise]
        self._project_controls = [self.angle_start, self.angle_stop, self.angle_count, self.tilt_axis,
                                  self.project_noise]
        self._add_controls(self.kind, *self._blur_controls, *self._project_controls, self.seed)
        self._finish_layout()
        self._run_button.text = "Simulate"
        self.kind.changed.connect(self._show_kind_controls)
        self._show_kind_controls(self.kind.value)

    def _live_controls(self) -> list:
        return [self.psf_sigma, self.blur_noise, self.project_noise]

    def _show_kind_controls(self, kind: str) -> None:
        for control in self._blur_controls:
            control.visible = kind == BLUR
        for control in self._project_controls:
            control.visible = kind == PROJECT

    def _plan(self, *, warm_start: bool) -> Plan:
        layer, image = self._input_image("simulation")
        seed = int(self.seed.value)
        if self.kind.value == BLUR:
            return self._blur_plan(layer, image, seed)
        return self._project_plan(layer, image, seed)

    def _blur_plan(self, layer, image: np.ndarray, seed: int) -> Plan:
        channel_axis = -1 if layer.rgb else None
        ndim = image.ndim - (channel_axis is not None)
        if ndim not in (2, 3):
            raise ValueError(f"layer {layer.name!r} has {ndim} spatial axes: blur needs a 2D image or a 3D volume")
        size, sigma = int(self.psf_size.value), float(self.psf_sigma.value)
        psf = psf_models.gaussian(size, sigma, ndim)
        noise, boundary = float(self.blur_noise.value), self.boundary.value
        model = {"psf": psf, "boundary": boundary, "channel_axis": channel_axis, "noise_sigma": noise, "seed": seed}
        metadata = {
            "method": "blur",
            "forward_model": model,
            "psf_source": f"Gaussian, size {size}, sigma {sigma:g}, {ndim}D",
            "source_layer": layer.name,
        }

        def make():
            return simulate.blur(image, psf, noise, seed, channel_axis=channel_axis, boundary=boundary)

        return Plan(
            iterates=lambda: one_step(make), name=f"{layer.name} (blurred)", shape=image.shape, metadata=metadata,
            estimate=_estimate.deconvolution(image.size, 1), rgb=bool(layer.rgb),
            layer_kwargs={"scale": layer.scale, "translate": layer.translate},
        )

    def _project_plan(self, layer, image: np.ndarray, seed: int) -> Plan:
        if layer.rgb or image.ndim not in (2, 3):
            raise ValueError(
                f"layer {layer.name!r} has shape {image.shape}: projections need a grey-level 2D image or 3D volume"
            )
        angles = np.linspace(float(self.angle_start.value), float(self.angle_stop.value), int(self.angle_count.value))
        noise, tilt_axis = float(self.project_noise.value), self.tilt_axis.value
        metadata = {
            "method": "projection",
            "angles": angles,
            "tilt_axis": tilt_axis,
            "noise": noise,
            "seed": seed,
            "source_layer": layer.name,
        }

        def make():
            return simulate.project(image, angles, noise, seed, tilt_axis=tilt_axis)

        slices = 1 if image.ndim == 2 else image.shape[1 if tilt_axis == "y" else 2]
        slice_pixels = image.shape[-2] * image.shape[-1] if image.ndim == 2 else image.size // slices
        return Plan(
            iterates=lambda: one_step(make), name=f"{layer.name} (projections)", shape=None, metadata=metadata,
            estimate=_estimate.tomography(len(angles), slice_pixels, slices, 1), layer_kwargs={"colormap": "gray"},
        )

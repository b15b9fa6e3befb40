"""The *Denoise* dock widget: one denoising of an image, volume or RGB layer into a new layer.

The learned denoiser (the default; volumes slice by slice), total variation or Gaussian smoothing, at
a noise level typed in or estimated from the image (:func:`napari_invprob.denoise`). The new layer's
metadata records how it was made: ``napari_invprob.denoise(data, method=metadata["method"],
**metadata["parameters"])`` reproduces it, and ``metadata["noise_sigma"]`` is the noise level used.
"""

from __future__ import annotations

from magicgui.widgets import CheckBox, ComboBox

from ...priors.denoisers import DENOISERS, denoise, noise_level
from . import _estimate
from ._base import Plan, ResultWidget, one_step
from ._controls import LogValue


class DenoiseWidget(ResultWidget):
    """Remove Gaussian noise from an image, volume or RGB layer with a chosen denoiser.

    Parameters
    ----------
    napari_viewer : napari.Viewer
    """

    title = "Denoise"
    command = "denoise"
    problem = "denoising"

    def __init__(self, napari_viewer):
        super().__init__(napari_viewer)
        self.method = ComboBox(choices=list(DENOISERS), value="learned", label="denoiser",
                               tooltip=DENOISERS["learned"].summary)
        self.estimate = CheckBox(value=True, text="estimate σ from the image",
                                 tooltip="wavelet median absolute deviation (skimage.restoration.estimate_sigma)")
        self.sigma = LogValue(value=0.05, min_exp=-4.0, max_exp=4.0, label="noise σ",
                              tooltip="standard deviation of the noise, in the image's units")
        self._add_controls(self.method, self.estimate, self.sigma)
        self._finish_layout()
        self.method.changed.connect(self._method_changed)
        self.estimate.changed.connect(self._estimate_changed)
        self._estimate_changed(self.estimate.value)

    def _live_controls(self) -> list:
        return [self.sigma]

    def _method_changed(self, name: str) -> None:
        self.method.tooltip = DENOISERS[name].summary

    def _estimate_changed(self, estimate: bool) -> None:
        self.sigma.enabled = not estimate

    def _plan(self, *, warm_start: bool) -> Plan:
        layer, image = self._input_image("denoising")
        channel_axis = -1 if layer.rgb else None
        ndim = image.ndim - (channel_axis is not None)
        if ndim not in (2, 3):
            raise ValueError(f"layer {layer.name!r} has {ndim} spatial axes: denoising needs a 2D image or a "
                             "3D volume (plus RGB channels)")
        sigma = None
        if not self.estimate.value:
            sigma = self.sigma.number
            if sigma < 0:
                raise ValueError(f"noise σ must be ≥ 0, got {sigma:g}")
        method = self.method.value
        parameters = {"sigma": sigma, "channel_axis": channel_axis}
        metadata = {"method": method, "parameters": parameters, "source_layer": layer.name}

        def make():
            used = sigma if sigma is not None else noise_level(image, channel_axis=channel_axis)
            metadata["noise_sigma"] = used  # read when the first (only) frame is shown
            return denoise(image, method=method, sigma=used, channel_axis=channel_axis)

        return Plan(
            iterates=lambda: one_step(make), name=f"{layer.name} (denoised)", shape=image.shape, metadata=metadata,
            estimate=_estimate.deconvolution(image.size, 1), rgb=bool(layer.rgb),
            layer_kwargs={"scale": layer.scale, "translate": layer.translate},
        )

"""The microscope's optics as controls: the PSF model, NA, wavelengths, refractive indices, voxel size.

The Deconvolution widget shows them when its PSF source is "optics"; they describe a call of
:func:`napari_invprob.psf.optical_psf` on the input image's grid. Wavelengths are typed in nanometres
and lengths in micrometres, as microscopes state them; the voxel size follows the input layer's
``scale`` where its units are physical (our TIFF reader) or where an MRC reader recorded the pixel size,
and must be typed where the layer records none (:mod:`._voxels`).
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np
from magicgui.widgets import ComboBox, Container, FloatSpinBox

from ... import psf as psf_models
from ._voxels import describe_sizes, layer_voxel_size_um


@lru_cache(maxsize=4)
def cached_optical_psf(parameters: tuple) -> np.ndarray:
    """:func:`~napari_invprob.psf.optical_psf` of ``dict(parameters)``, kept for the last few optics
    (a live restart or a second run reuses it); read-only."""
    kernel = psf_models.optical_psf(**dict(parameters))
    kernel.flags.writeable = False
    return kernel


class OpticsControls(Container):
    """Model, NA, wavelengths (nm), refractive indices, depth and voxel size (µm) of an optics PSF."""

    def __init__(self):
        self.model = ComboBox(choices=list(psf_models.OPTICAL_MODELS), value="born-wolf", label="PSF model",
                              tooltip="born-wolf: widefield, no aberration; gibson-lanni: widefield with the "
                                      "index mismatch at depth; confocal: excitation × emission (pinhole)")
        self.na = FloatSpinBox(value=1.4, min=0.05, max=1.7, step=0.05, label="NA", tooltip="numerical aperture")
        self.wavelength = FloatSpinBox(value=520.0, min=200.0, max=2000.0, step=5.0, label="emission (nm)",
                                       tooltip="emission wavelength in vacuum, nanometres")
        self.excitation = FloatSpinBox(value=488.0, min=200.0, max=2000.0, step=5.0, label="excitation (nm)",
                                       tooltip="the laser's wavelength in vacuum, nanometres")
        self.pinhole = FloatSpinBox(value=1.0, min=0.0, max=10.0, step=0.1, label="pinhole (AU)",
                                    tooltip="pinhole diameter in Airy units; 0: a point")
        self.ni = FloatSpinBox(value=1.518, min=1.0, max=2.0, step=0.001, label="immersion index",
                               tooltip="refractive index of the immersion medium (oil 1.518, water 1.333)")
        self.ns = FloatSpinBox(value=1.33, min=1.0, max=2.0, step=0.001, label="sample index",
                               tooltip="refractive index of the sample (water 1.33)")
        self.ng = FloatSpinBox(value=1.5, min=1.0, max=2.0, step=0.001, label="coverslip index",
                               tooltip="refractive index of the coverslip")
        self.depth = FloatSpinBox(value=0.0, min=0.0, max=500.0, step=0.5, label="depth (µm)",
                                  tooltip="depth of the imaged plane below the coverslip, micrometres")
        self.pixel_size = FloatSpinBox(value=0.065, min=0.001, max=100.0, step=0.005, label="pixel (µm)",
                                       tooltip="lateral pixel size in the sample (from the layer's scale when "
                                               "the file records it)")
        self.z_step = FloatSpinBox(value=0.2, min=0.001, max=100.0, step=0.01, label="z step (µm)",
                                   tooltip="distance between planes (from the layer's scale when the file "
                                           "records it)")
        for control in (self.na, self.ni, self.ns, self.ng, self.pixel_size, self.z_step):
            control.native.setDecimals(4 if control in (self.pixel_size, self.z_step) else 3)
        super().__init__(widgets=[self.model, self.na, self.wavelength, self.excitation, self.pinhole, self.ni,
                                  self.ns, self.ng, self.depth, self.pixel_size, self.z_step], labels=True)
        self.margins = (0, 0, 0, 0)
        self.model.changed.connect(self._show_model)
        self._show_model(self.model.value)
        self._adopting, self._missing, self._layer = False, set(), ("the input", (None, None))
        self.pixel_size.changed.connect(lambda *_: self._typed("pixel size"))
        self.z_step.changed.connect(lambda *_: self._typed("z step"))

    def _show_model(self, model: str) -> None:
        for control in (self.excitation, self.pinhole):
            control.visible = model == "confocal"
        for control in (self.ns, self.ng, self.depth):
            control.visible = model == "gibson-lanni"

    def adopt(self, layer) -> str | None:
        """Take the layer's voxel size where it records a plausible one, and its emission wavelength.

        Returns a note naming what the layer does not record (None when it records all): those controls
        keep their values, but :meth:`parameters` refuses them until they are typed, so that no layer
        runs silently on another's voxel size. A value a control cannot hold is never put into it.
        """
        voxel = layer_voxel_size_um(layer)
        self._layer = (layer.name, voxel)
        missing = []
        self._adopting = True
        try:
            for control, size, name in ((self.pixel_size, voxel[-1], "pixel size"),
                                        (self.z_step, voxel[-3] if len(voxel) >= 3 else 0.0, "z step")):
                if size is None or not control.min <= size <= control.max:
                    missing.append(name)
                elif size:
                    control.value = size
        finally:
            self._adopting = False
        self._missing = set(missing)
        wavelength = layer.metadata.get("emission_wavelength")
        if wavelength and self.wavelength.min <= float(wavelength) <= self.wavelength.max:
            self.wavelength.value = float(wavelength)
        if not missing:
            return None
        return (f"{layer.name!r} records no usable {' or '.join(missing)} ({describe_sizes(voxel)}): type "
                f"{'them' if len(missing) > 1 else 'it'} under the optics before using them")

    def _typed(self, name: str) -> None:
        if not self._adopting:
            self._missing.discard(name)

    def parameters(self, image_shape: tuple[int, ...]) -> dict:
        """The keyword arguments of :func:`~napari_invprob.psf.optical_psf` for an image of
        ``image_shape`` (its spatial axes): only the chosen model's, lengths in micrometres."""
        name, voxel = self._layer
        needed = {"pixel size"} | ({"z step"} if len(image_shape) == 3 else set())
        if self._missing & needed:
            missing = " and ".join(sorted(self._missing & needed))
            raise ValueError(f"{name!r} does not record its {missing} (the value shown is not its own): type "
                             f"{'them' if len(self._missing & needed) > 1 else 'it'} under the optics")
        lateral = voxel[-2:]
        if None not in lateral and not np.isclose(lateral[0], lateral[1], rtol=1e-6):
            raise ValueError(f"{name!r} has pixels of {lateral[0]:g} x {lateral[1]:g} µm (y x): the optical models "
                             "take square pixels; resample the image, or use a PSF layer or a bead")
        model = self.model.value
        pixel = float(self.pixel_size.value)
        voxel = (float(self.z_step.value), pixel, pixel) if len(image_shape) == 3 else (pixel, pixel)
        parameters = dict(model=model, image_shape=tuple(int(n) for n in image_shape), voxel_size=voxel,
                          na=float(self.na.value), wavelength=float(self.wavelength.value) / 1000.0,
                          ni=float(self.ni.value))
        if model == "gibson-lanni":
            parameters.update(ns=float(self.ns.value), ng=float(self.ng.value), depth=float(self.depth.value))
        elif model == "confocal":
            parameters["excitation_wavelength"] = float(self.excitation.value) / 1000.0
            if self.pinhole.value > 0:
                parameters["pinhole"] = float(self.pinhole.value)
        return parameters


def describe(parameters: dict) -> str:
    """One line naming an optics PSF: ``born-wolf, NA 1.4, 520 nm, n 1.518, voxel 0.2 x 0.065 x 0.065 µm``."""
    voxel = " x ".join(f"{v:g}" for v in parameters["voxel_size"])
    text = (f"{parameters['model']}, NA {parameters['na']:g}, {parameters['wavelength'] * 1000:g} nm, "
            f"n {parameters['ni']:g}")
    if "excitation_wavelength" in parameters:
        text += f", excitation {parameters['excitation_wavelength'] * 1000:g} nm"
    if "pinhole" in parameters:
        text += f", pinhole {parameters['pinhole']:g} AU"
    if "ns" in parameters:
        text += f", sample n {parameters['ns']:g}, coverslip n {parameters['ng']:g}, depth {parameters['depth']:g} µm"
    return f"{text}, voxel {voxel} µm"

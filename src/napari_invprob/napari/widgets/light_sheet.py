"""The *Light sheet* dock widget: deskew a stage-scanned light-sheet stack into a new layer.

The user picks the raw stack, types the sheet's angle to the coverslip, the stage step and the camera's
pixel size (the raw files of lattice light sheets carry none; a layer whose scale has length units fills
them in), and the direction of the shear, and presses *Deskew*. The result is a new float32 layer in the
objective's frame (:func:`napari_invprob.deskew`) with the deskewed voxel size as its ``scale``, so a
deconvolution with a bead PSF measured in the objective's frame finds the right ratio of voxel sizes; or,
with *frame* set to *coverslip*, the stack rotated into the coverslip's frame with Z up
(:func:`napari_invprob.deconvolution.rotate_to_coverslip`). Sizes are kept in ångström on the layer, with
napari ``units``, as every layer of this package.

``napari_invprob.deskew(data, **metadata["parameters"])`` (or ``rotate_to_coverslip``) reproduces the
result from the source layer's data.
"""

from __future__ import annotations

import math

from magicgui.widgets import ComboBox, FloatSpinBox

from ...deconvolution.deskew import (
    check_parameters,
    deskew,
    deskewed_shape,
    deskewed_voxel_size,
    rotate_to_coverslip,
    skew_background,
)
from ...files.tiff import ANGSTROM_PER_UNIT
from . import _estimate
from ._base import Plan, ResultWidget, one_step

#: The units the sizes can be typed in, as the TIFF reader names them.
UNITS = ("µm", "nm")
#: napari's names of the layer units the sizes are filled in from, and their size in ångström.
_LAYER_UNITS = {"angstrom": 1.0, "nanometer": 10.0, "micrometer": 1e4, "millimeter": 1e7}
#: Bytes per output voxel a run holds at its peak: the result and the frame's float32 copy.
_BYTES_PER_VOXEL = 8.0
#: Forecast seconds per output voxel (100 x 512 x 586 took 0.05 s).
_SECONDS_PER_VOXEL = 2e-9


class LightSheetWidget(ResultWidget):
    """Deskew a stage-scanned light-sheet stack (or rotate it onto the coverslip) into a new layer.

    Parameters
    ----------
    napari_viewer : napari.Viewer
    """

    title = "Light sheet"
    problem = "light sheet"

    def __init__(self, napari_viewer):
        super().__init__(napari_viewer)
        self.angle = FloatSpinBox(value=30.0, min=0.1, max=89.9, step=0.5, label="sheet angle (°)",
                                  tooltip="angle between the light sheet and the coverslip (about 30° for a "
                                          "lattice light sheet)")
        self.step = FloatSpinBox(value=0.0, min=0.0, max=1e5, step=0.01, label="stage step",
                                 tooltip="how far the stage moves between two planes")
        self.pixel_size = FloatSpinBox(value=0.0, min=0.0, max=1e5, step=0.001, label="pixel size",
                                       tooltip="the camera's pixel size in the specimen")
        for size in (self.step, self.pixel_size):
            size.native.setDecimals(4)
        self.unit = ComboBox(choices=list(UNITS), value="µm", label="unit",
                             tooltip="the unit of the stage step and the pixel size")
        self.direction = ComboBox(
            choices=[("+1: later planes shift to higher columns", 1), ("−1: later planes shift to lower columns", -1)],
            value=1, label="direction",
            tooltip="the sign of the shear; if structures come out as long parallelograms, try the other one",
        )
        self.frame = ComboBox(
            choices=[("objective (deskew)", "objective"), ("coverslip (rotate, Z up)", "coverslip")],
            value="objective", label="frame",
            tooltip="objective: deskewed planes along the detection axis (for deconvolution with a bead PSF); "
                    "coverslip: rotated so that Z is the height above the coverslip",
        )
        self._add_controls(self.angle, self.step, self.pixel_size, self.unit, self.direction, self.frame)
        self._finish_layout()
        self.live.visible = False
        self._run_button.text = "Deskew"
        self.input.changed.connect(self._adopt_sizes)
        self._adopt_sizes(self.input.value)

    def _adopt_sizes(self, layer) -> None:
        """Fill the step and pixel size from a layer whose scale has length units (a raw TIFF with a
        voxel size); a layer in pixels leaves the fields as they are."""
        if layer is None:
            return
        units = [str(unit) for unit in getattr(layer, "units", ())]
        if len(units) != 3 or any(unit not in _LAYER_UNITS for unit in units):
            return
        per_unit = ANGSTROM_PER_UNIT[self.unit.value]
        self.step.value = float(layer.scale[0]) * _LAYER_UNITS[units[0]] / per_unit
        self.pixel_size.value = float(layer.scale[2]) * _LAYER_UNITS[units[2]] / per_unit

    def _add_result(self, plan: Plan, data):
        """Add the result layer, then show its middle plane and fit it in view (its scale is in ångström,
        the raw stack's often in pixels: the view of the raw stack would show a corner of it)."""
        layer = super()._add_result(plan, data)
        middle = layer.data_to_world([(n - 1) / 2 for n in layer.data.shape])
        dims = self._viewer.dims
        offset = dims.ndim - layer.ndim
        for axis in dims.not_displayed:
            if axis >= offset:
                dims.set_point(axis, middle[axis - offset])
        self._viewer.reset_view()
        return layer

    def _plan(self, *, warm_start: bool) -> Plan:
        layer, stack = self._input_image("a deskew")
        if stack.ndim != 3 or layer.rgb:
            raise ValueError(f"layer {layer.name!r} has shape {stack.shape}: a deskew needs a 3D stack (planes, "
                             "rows, columns) of one channel")
        if self.step.value <= 0:
            raise ValueError("type the stage step (> 0): how far the stage moved between two planes")
        if self.pixel_size.value <= 0:
            raise ValueError("type the camera's pixel size (> 0), in the unit of the stage step")
        angle, step, pixel_size, direction, _ = check_parameters(
            angle=self.angle.value, step=self.step.value, pixel_size=self.pixel_size.value,
            direction=self.direction.value)
        geometry = {"angle": angle, "step": step, "pixel_size": pixel_size}
        unit = self.unit.value
        if self.frame.value == "objective":
            function, shape = deskew, deskewed_shape(stack.shape, **geometry)
            voxel_size = deskewed_voxel_size(**geometry)
            name = f"{layer.name} (deskewed)"
        else:
            function, shape = rotate_to_coverslip, None
            voxel_size = (pixel_size,) * 3
            name = f"{layer.name} (coverslip frame)"
        parameters = {**geometry, "direction": direction, "fill": "auto"}
        metadata = {"method": function.__name__, "parameters": parameters, "source_layer": layer.name,
                    "voxel_size": list(voxel_size), "unit": unit}

        def make():
            parameters["fill"] = skew_background(stack)  # recorded: read when the frame is shown
            return function(stack, **parameters)

        out_voxels = math.prod(shape) if shape is not None else stack.size * 4
        return Plan(
            iterates=lambda: one_step(make), name=name, shape=shape, metadata=metadata,
            estimate=_estimate.Estimate(_BYTES_PER_VOXEL * out_voxels, _SECONDS_PER_VOXEL * out_voxels),
            layer_kwargs={"scale": tuple(size * ANGSTROM_PER_UNIT[unit] for size in voxel_size),
                          "units": ("angstrom",) * 3, "colormap": layer.colormap.name},
        )

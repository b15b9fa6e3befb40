"""The *Tomography* dock widget: reconstruct a sinogram or tilt series, watch it converge, view its spectrum.

Real tilt series come with conventions (tilt axis, storage offset) that the reader records in the layer's
metadata; the widget adopts them and shows them. The input is made into line integrals once per layer data
(:func:`~napari_invprob.preparation.prepare`: storage offset, contrast, background), and the run, the live
preview and the choice of λ all solve that prepared series, so a preview slice equals the same slice of
the full run.

*Run* streams every iterate of the whole volume (all chunks in lockstep, the slab of the slice in view
solved ahead of them) when that fits and iterates quickly enough to watch; otherwise
(``widgets._estimate.tomography_forecast`` decides) it solves the series slab by slab as ``reconstruct``
does, the slab of the slice in view first, and the result layer fills in as slabs finish.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterator
from contextlib import closing
from dataclasses import replace
from functools import partial

import numpy as np
import torch
from magicgui.widgets import ComboBox, Container, FileEdit, FloatSpinBox, Label, PushButton, SpinBox
from napari.layers import Image
from napari.utils.notifications import show_info

from ... import fourier
from ..._shared.provenance import provenance
from ...files.angles import read_angle_file
from ...solvers.base import Iterate
from ...tomography import chunks
from ...tomography import reconstruct as tomography
from ...tomography.alignment import METHODS as ALIGNMENT_METHODS
from ...tomography.alignment import align_iter, apply_alignment
from ...tomography.cross_validation import cross_validate_iter
from ...tomography.files import MIN_ESTIMATION_SIZE, estimate_stack_tilt_axis
from ...tomography.methods import run_cost
from ...tomography.preparation import CONTRASTS, Preparation, resolve_preparation
from ...tomography.tilt_axis import TiltAxisEstimate
from . import _estimate
from ._base import Plan, SolverWidget, check_fits, is_lazy, level0
from ._controls import layer_picker
from ._runner import Task
from ._view import middle_projection, show_at

ANGLES_FROM_METADATA = "input's metadata"
ANGLES_FROM_FILE = "angle file (.tlt, .rawtlt)"
ANGLES_TYPED = "range and count"
#: The background handling offered (``preparation.prepare`` also takes given levels, from a script).
BACKGROUNDS = ("auto", "none")

#: A tilt series' default method and iterations, chosen so that the default run of a 77x256x256 series
#: ends within about a minute on 2 cores: SIRT-50, streamed on the worker's one torch thread, took ~34 s
#: (TV-150 ~140 s). A 2D sinogram keeps the widget's default (TV).
SERIES_METHOD, SERIES_N_ITER = "sirt", 50
#: Tells the backend that its input is prepared already (line integrals): nothing more is done to it.
_AS_PREPARED = {"background": "none", "contrast": "dark-field"}


class TomographyWidget(SolverWidget):
    """Reconstruct a 2D sinogram ``(angles, detector)`` or a tilt series ``(angles, rows, cols)``.

    Parameters
    ----------
    napari_viewer : napari.Viewer
    """

    title = "Tomography"
    command = "reconstruct"
    command_flags = "--angles ANGLES.tlt "
    problem = "tomography"
    follows_results = frozenset({"simulation", "alignment"})

    def __init__(self, napari_viewer):
        methods = tomography.METHODS
        super().__init__(napari_viewer, methods, "tv" if "tv" in methods else next(iter(methods)))
        self.angle_source = ComboBox(
            choices=[ANGLES_FROM_METADATA, ANGLES_FROM_FILE, ANGLES_TYPED], value=ANGLES_TYPED, label="angles",
            tooltip="tilt angles in degrees: from the layer (set by the MRC reader or Simulate "
                    "measurement), from an IMOD angle file, or typed as a range",
        )
        self.angle_file = FileEdit(mode="r", filter="*.tlt *.rawtlt *.txt", label="angle file")
        self.angle_start = FloatSpinBox(value=-70.0, min=-180.0, max=180.0, step=1.0, label="first angle (°)")
        self.angle_stop = FloatSpinBox(value=70.0, min=-180.0, max=360.0, step=1.0, label="last angle (°)",
                                       tooltip="included: -70..70 with 50 angles spaces 50 angles evenly, both ends")
        self.angle_count = SpinBox(value=50, min=2, max=10_000, label="angle count")
        self.tilt_axis = ComboBox(choices=["y", "x"], value="y", label="tilt axis",
                                  tooltip="image axis the specimen is tilted about (tilt series only)")
        self.conventions = Label(value="", label="file",
                                 tooltip="the input's conventions as its reader resolved them: tilt axis, its "
                                         "in-plane angle and where it came from, storage offset")
        self.conventions.native.setWordWrap(True)
        self.contrast = ComboBox(choices=list(CONTRASTS), value="auto", label="contrast",
                                 tooltip="dark-field (STEM HAADF): the values are line integrals; bright-field "
                                         "(TEM): −log(I/I0) is taken; auto: detected from the histogram")
        self.background = ComboBox(choices=list(BACKGROUNDS), value="auto", label="background",
                                   tooltip="auto: each projection's constant level (its empty area) is removed "
                                           "when significant; none: the values are used as they are")
        self.preview_slice = SpinBox(value=0, min=0, max=0, label="preview slice",
                                     tooltip="live mode on a tilt series reconstructs only this slice, "
                                             "perpendicular to the tilt axis (it follows the viewer's position "
                                             "along the tilt axis when that axis is not displayed)")
        self.thickness = SpinBox(value=0, min=0, max=100_000, label="thickness (z)",
                                 tooltip="slices of the reconstructed volume along z; 0: as wide as the detector")
        self.align_method = ComboBox(choices=list(ALIGNMENT_METHODS), value=ALIGNMENT_METHODS[0], label="align by",
                                     tooltip="cross-correlation: fast; projection-matching: refines it by "
                                             "reconstructing and reprojecting (slower, more accurate)")
        self._align_button = PushButton(text="Align")
        self._align_button.changed.connect(self.align)
        self._choose_lam_button = PushButton(text="Choose λ")
        self._choose_lam_button.changed.connect(self.choose_lam)
        self._choose_lam_button.tooltip = (
            "cross-validation: hold out every 4th projection, reconstruct from the rest with 7 values of λ "
            "around the current one and keep the λ whose reconstruction predicts the held-out projections best"
        )
        self.fourier_layer = layer_picker(napari_viewer, Image, label="spectrum of",
                                          tooltip="any image or volume: its centred log power spectrum")
        self._fourier_button = PushButton(text="Fourier view")
        self._fourier_button.changed.connect(self.fourier_view)
        fourier_row = Container(widgets=[self.fourier_layer, self._fourier_button], layout="horizontal")
        fourier_row.margins = (0, 0, 0, 0)
        align_row = Container(widgets=[self.align_method, self._align_button], layout="horizontal")
        align_row.margins = (0, 0, 0, 0)
        self._align_row = align_row
        self._add_controls(self.angle_source, self.angle_file, self.angle_start, self.angle_stop,
                           self.angle_count, self.tilt_axis, self.conventions, self.contrast, self.background,
                           align_row, self.thickness, *self._solver_controls(), self.preview_slice,
                           self._choose_lam_button)
        self._finish_layout()
        self.append(fourier_row)
        self._task: Task | None = None
        self._prepared = _PreparedSeries()
        self._announced_preparation: dict | None = None
        self._sinogram_method = self.method.value
        self._default_method = self.method.value  # the default in force; a different method is the user's choice
        self.angle_source.changed.connect(self._show_angle_controls)
        self.input.changed.connect(self._input_changed)
        self.tilt_axis.changed.connect(self._centre_preview_slice)
        for event in (napari_viewer.dims.events.point, napari_viewer.dims.events.order):
            event.connect(self._follow_dims)
        self._input_changed(self.input.value)

    # -- following the input ------------------------------------------------------------------------------
    def _input_changed(self, layer) -> None:
        """Adopt the layer's angles and tilt axis when it carries them and show the file's conventions;
        match the angle count; default the method to the input's kind."""
        if layer is None:
            return
        if "angles" in layer.metadata:
            self.angle_source.value = ANGLES_FROM_METADATA
        elif self.angle_source.value == ANGLES_FROM_METADATA:
            self.angle_source.value = ANGLES_TYPED
        if layer.metadata.get("tilt_axis") in ("y", "x"):
            self.tilt_axis.value = layer.metadata["tilt_axis"]
        self.conventions.value = layer.metadata.get("conventions", "")
        self.conventions.visible = bool(self.conventions.value)
        series = layer.data.ndim == 3
        if layer.data.ndim in (2, 3):
            self.angle_count.value = int(layer.data.shape[0])
            self._adopt_default_method(series)
        self._align_row.visible = series  # alignment is for tilt series
        self.preview_slice.visible = series
        if layer.data.ndim in (2, 3):
            thickness = int(self.thickness.value) or None
            self._reference_from_simulation(layer, self._output_shape(layer.data.shape, self.tilt_axis.value, thickness))
        self._centre_preview_slice()
        self._show_angle_controls(self.angle_source.value)

    def _adopt_default_method(self, series: bool) -> None:
        """SIRT with :data:`SERIES_N_ITER` iterations for a tilt series, the widget's default for a
        sinogram; a method the user picked is kept."""
        if self.method.value != self._default_method:
            return
        default = SERIES_METHOD if series else self._sinogram_method
        if default != self.method.value:
            self.method.value = default
            if series:
                self.n_iter.value = SERIES_N_ITER
        self._default_method = default

    def _centre_preview_slice(self, *_) -> None:
        """The preview slice's range for the input and tilt axis, at the central slice."""
        layer = self.input.value
        if layer is None or layer.data.ndim != 3:
            return
        size = layer.data.shape[_series_axis(self.tilt_axis.value)]
        self.preview_slice.max = size - 1
        self.preview_slice.value = size // 2
        self._follow_dims()

    def _follow_dims(self, *_) -> None:
        """Preview the slice at the viewer's position along the tilt axis, when that axis is a slider
        (not displayed)."""
        layer = self.input.value
        if layer is None or layer.data.ndim != 3 or layer not in self._viewer.layers:
            return
        dims = self._viewer.dims
        axis = _series_axis(self.tilt_axis.value)
        if dims.ndim - 3 + axis in dims.displayed:
            return
        index = int(round(float(layer.world_to_data(dims.point)[axis])))
        if 0 <= index < layer.data.shape[axis]:
            self.preview_slice.value = index

    def _show_angle_controls(self, source: str) -> None:
        self.angle_file.visible = source == ANGLES_FROM_FILE
        for control in (self.angle_start, self.angle_stop, self.angle_count):
            control.visible = source == ANGLES_TYPED

    # -- the run --------------------------------------------------------------------------------------------
    def _angles(self, layer) -> tuple[np.ndarray, str]:
        source = self.angle_source.value
        if source == ANGLES_FROM_METADATA:
            if "angles" not in layer.metadata:
                raise ValueError(f"layer {layer.name!r} has no angles in its metadata: type a range or pick a file")
            return np.asarray(layer.metadata["angles"], dtype=np.float64), f"metadata of {layer.name!r}"
        if source == ANGLES_FROM_FILE:
            path = self.angle_file.value
            if path is None or not path.is_file():
                raise ValueError(f"angle file {str(path)!r} does not exist: pick a .tlt or .rawtlt file")
            return read_angle_file(path), f"file {str(path)!r}"
        start, stop, count = float(self.angle_start.value), float(self.angle_stop.value), int(self.angle_count.value)
        return np.linspace(start, stop, count), f"{count} angles from {start:g} to {stop:g} degrees"

    def _output_shape(self, data_shape: tuple[int, ...], tilt_axis: str, thickness: int | None) -> tuple[int, ...]:
        if len(data_shape) == 2:
            return (data_shape[1], data_shape[1])
        _, rows, cols = data_shape
        detector = cols if tilt_axis == "y" else rows
        return (thickness or detector, rows, cols)

    def _measurement(self):
        """The input layer, its data and angles (with their origin), checked against each other."""
        layer = self.input.value
        if not isinstance(layer, Image) or layer.rgb:
            raise TypeError("pick a grey-level sinogram (angles, detector) or tilt series (angles, rows, cols) layer")
        data = level0(layer)  # an OME-Zarr layer's level 0, read in the worker: refused, naming the command line,
        check_fits(layer, data, self._too_big)  # when too big to be read whole
        if not is_lazy(data):
            data = np.asarray(data)
        if data.ndim not in (2, 3):
            raise ValueError(
                f"layer {layer.name!r} has shape {data.shape}: a sinogram is (angles, detector) and a tilt "
                "series (angles, rows, cols)"
            )
        angles, angles_origin = self._angles(layer)
        if angles.ndim != 1 or len(angles) != data.shape[0]:
            raise ValueError(
                f"{len(angles)} angles for {data.shape[0]} projections (the first axis of {layer.name!r}): "
                "give one angle per projection"
            )
        return layer, data, angles, angles_origin

    def _live_controls(self) -> list:
        return [*super()._live_controls(), self.preview_slice]

    def _handling(self) -> dict[str, str]:
        """How the input is made into line integrals: ``contrast`` and ``background`` as chosen."""
        return {"contrast": self.contrast.value, "background": self.background.value}

    def _plan(self, *, warm_start: bool) -> Plan:
        return self._reconstruction_plan(warm_start=warm_start, preview=False)

    def _live_plan(self) -> Plan:
        """A tilt series previews one slice (:meth:`_reconstruction_plan`); a sinogram is solved whole."""
        return self._reconstruction_plan(warm_start=True, preview=True)

    def _reconstruction_plan(self, *, warm_start: bool, preview: bool) -> Plan:
        """The run of the whole input, or with ``preview`` (tilt series only) of the preview slice.

        The preview solves the slice perpendicular to the tilt axis at :attr:`preview_slice` of the
        same prepared series as the run into ``"<input> (preview)"``, warm-started from the previous
        preview of the same slice: slices are independent in parallel beam, so it equals that slice of a
        run with the same λ, iterations and start.
        """
        layer, data, angles, angles_origin = self._measurement()
        method = self.method.value
        tilt_axis = self.tilt_axis.value
        thickness = int(self.thickness.value) or None
        parameters = dict(method=method, lam=self._lam(), n_iter=self._n_iter(), tilt_axis=tilt_axis,
                          thickness=thickness)
        shape = self._output_shape(data.shape, tilt_axis, thickness)
        metadata = {
            "method": method,
            "parameters": {k: v for k, v in parameters.items() if k != "method"},
            "source_layer": layer.name,
            "angles": angles,
            "angles_source": angles_origin,
        }
        if "preparation" in layer.metadata:  # the input was prepared already (e.g. aligned)
            metadata["input_preparation"] = layer.metadata["preparation"]
        check_axis = data.ndim == 3 and "tilt_axis" not in layer.metadata  # not from a reader, Align or Simulate
        axis = _series_axis(tilt_axis)
        slice_pixels = shape[-1] * shape[-1] if data.ndim == 2 else shape[0] * data.shape[3 - axis]
        n_slices = 1 if data.ndim == 2 else data.shape[axis]
        index, matching = None, None
        name = f"{layer.name} ({method})"
        if preview and data.ndim == 3:
            index = int(self.preview_slice.value)
            if index >= data.shape[axis]:
                raise ValueError(f"preview slice {index} is outside the {data.shape[axis]} slices along the tilt "
                                 f"axis {tilt_axis}: pick one from 0 to {data.shape[axis] - 1}")
            n_slices = 1
            shape = shape[:axis] + shape[axis + 1:]
            name = f"{layer.name} (preview)"
            matching = {"preview_slice": index, "tilt_axis": tilt_axis}
            metadata.update(preview=True, **matching)
        # the result's pixels are the detector's (z too): it overlays the projections at the file's pixel size
        detector = float(layer.scale[-1] if data.ndim == 2 or tilt_axis == "y" else layer.scale[-2])
        scale = (detector, *map(float, layer.scale[1:])) if len(shape) == 3 else (detector, detector)
        along = layer.units[-1] if data.ndim == 2 or tilt_axis == "y" else layer.units[-2]
        units = (along, *layer.units[1:]) if len(shape) == 3 else (along, along)  # as the scale: no napari warning
        reference = None if index is not None else self._reference(shape, None)
        metadata["reference_layer"] = None if reference is None else self.reference.value.name
        x0 = self._warm_start(name, shape, matching) if warm_start else None
        metadata["warm_start"] = x0 is not None
        if x0 is not None and index is not None:
            x0 = x0[:, None]  # the preview's layout, (z, 1, detector)
        layer_kwargs = {"colormap": "gray", "scale": scale, "units": units}
        if data.ndim == 3 and index is None:
            forecast = _estimate.tomography_forecast(len(angles), *data.shape[1:], method, parameters["n_iter"],
                                                     tilt_axis=tilt_axis, thickness=thickness,
                                                     warm_start=x0 is not None)
            if forecast.by_slabs:
                metadata.update(engine="slabs", slabs=forecast.n_slabs, slab_slices=forecast.slab_slices)
                return Plan(
                    iterates=partial(_slab_reconstruction, self._prepared, data, self._handling(), metadata, angles,
                                     workers=forecast.workers, first=int(self.preview_slice.value),
                                     check_axis=check_axis, x0=x0, **parameters),
                    name=name, shape=shape, metadata=metadata, estimate=forecast.slabs, n_iter=forecast.n_slabs,
                    reference=reference, layer_kwargs=layer_kwargs, unit="slab", in_place=True,
                )
            estimate = forecast.lockstep
        else:
            work = run_cost(method, parameters["n_iter"], series=False,
                            n_detector=data.shape[-1] if data.ndim == 2 else data.shape[3 - axis],
                            warm_start=x0 is not None)
            estimate = _estimate.tomography(len(angles), slice_pixels, n_slices, work, method=self.spec.name)
        in_view = int(self.preview_slice.value) if data.ndim == 3 and index is None else None
        return Plan(
            iterates=partial(_reconstruction, self._prepared, data, self._handling(), metadata, angles,
                             preview_slice=index, first=in_view, check_axis=check_axis, x0=x0, **parameters),
            name=name, shape=shape, metadata=metadata, estimate=estimate, n_iter=parameters["n_iter"],
            reference=reference, layer_kwargs=layer_kwargs,
        )

    def _add_result(self, plan: Plan, data: np.ndarray):
        """Also show a new volume at a slice through the specimen: the preview slice along the tilt axis,
        the middle of the others (never the index the projections' slider held)."""
        layer = super()._add_result(plan, data)
        if data.ndim == 3 and not plan.metadata.get("preview"):
            index = [None, None, None]
            index[_series_axis(plan.metadata["parameters"]["tilt_axis"])] = int(self.preview_slice.value)
            show_at(self._viewer, layer, index)
        return layer

    def _before_start(self, plan: Plan) -> None:
        """Also show the convergence plot only for runs that have one (not slab by slab)."""
        super()._before_start(plan)
        self.plot.setVisible(plan.unit == "iteration")

    def _frame_shown(self, plan: Plan, frame) -> None:
        """Say once how the input was prepared (the worker records it before the first iterate); say
        how far a run slab by slab is."""
        super()._frame_shown(plan, frame)
        record = plan.metadata.get("preparation")
        if record is not None and record != self._announced_preparation:
            self._announced_preparation = record
            show_info(f"{self.title}: {plan.metadata['source_layer']!r} prepared: {record['summary']}")
        if plan.unit == "slab":
            self._status.value = f"{plan.metadata['method']}: {_slab_progress(plan, frame.iteration)}"

    def _done(self, job, stopped: bool) -> None:
        """Also say, of a run slab by slab that ended early, that the slabs not done are zero."""
        super()._done(job, stopped)
        plan, layer = job.context.plan, job.context.layer
        if plan.unit != "slab" or job.context.frames == 0 or layer not in self._viewer.layers:
            return
        done = layer.metadata.get(plan.progress_key, 0)
        if done < plan.n_iter:
            note = f"{_slab_progress(plan, done)}; the slices of the other slabs are zero"
            layer.metadata["status"] = f"{layer.metadata['status']}: {note}"
            self._status.value = f"{self._status.value} ({note})"

    # -- alignment and the choice of λ (one auxiliary task at a time, stopped by Stop) -------------------------
    def align(self):
        """Align the input tilt series (drift of every projection) and add the aligned series as a layer.

        Returns
        -------
        GeneratorWorker or None
            The worker, or None when the input cannot be aligned (a notification says why).
        """
        try:
            layer, data, angles, _ = self._measurement()
            if data.ndim != 3:
                raise ValueError(f"layer {layer.name!r} is a sinogram: alignment needs a tilt series (angles, rows, cols)")
        except (ValueError, TypeError) as exc:
            self._notify_error(exc)
            return None
        tilt_axis, method = self.tilt_axis.value, self.align_method.value
        # an angle the file records applies to the axis it was found for; an estimated one is estimated
        # again (on the prepared series, before and after the drift is removed)
        from_file = layer.metadata.get("tilt_axis") == tilt_axis and layer.metadata.get("tilt_axis_source") == "file"
        file_angle = layer.metadata.get("tilt_axis_angle") if from_file else None
        options = dict(tilt_axis=tilt_axis, method=method, tilt_axis_angle="auto" if file_angle is None
                       else float(file_angle), **self._handling())

        def add_aligned(result):
            aligned, step = result
            axis = step.describe_axis()
            metadata = provenance(
                "alignment", source_layer=layer.name, angles=angles, tilt_axis=tilt_axis, method=method,
                shifts=step.shifts, rotation=step.rotation, preparation=step.preparation.record(),
                tilt_axis_estimates=[e.summary() for e in step.axis_estimates],
            )
            metadata["conventions"] = f"tilt axis {tilt_axis}, put on the grid by Align ({axis})"
            if file_angle is not None:
                metadata.update(tilt_axis_angle=float(file_angle) - step.rotation,
                                tilt_axis_source=layer.metadata.get("tilt_axis_source"))
            added = self._viewer.add_image(aligned, name=f"{layer.name} (aligned)", metadata=metadata,
                                           scale=layer.scale, units=layer.units, colormap="gray")
            show_at(self._viewer, added, (middle_projection(angles), None, None))
            show_info(f"{self.title}: aligned {layer.name!r}: {step.preparation.describe()}; {axis}; "
                      f"drift up to {np.abs(step.shifts).max():.1f} pixels")

        return self._start_task(_alignment, (data, angles, options), add_aligned, "aligning")

    def choose_lam(self):
        """Choose λ by cross-validation on the input's projections and set it in the λ field.

        Returns
        -------
        GeneratorWorker or None
            The worker, or None when λ cannot be chosen (a notification says why).
        """
        try:
            _, data, angles, _ = self._measurement()
            if not self.spec.uses_lam:
                raise ValueError(f"method {self.method.value!r} has no λ: pick a method that uses λ")
            lam = self._lam()
        except (ValueError, TypeError) as exc:
            self._notify_error(exc)
            return None
        lams = (lam or self.spec.default_lam) * np.logspace(-1.5, 1.5, 7)
        method, n_iter, tilt_axis = self.method.value, self._n_iter(), self.tilt_axis.value

        def adopt(result):
            self.lam.number = result.best_lam
            scores = ", ".join(f"{lam:.3g}: {score:.4f}" for lam, score in zip(result.lams, result.scores))
            show_info(f"{self.title}: cross-validation chose λ = {result.best_lam:.3g} (scores {scores})")

        return self._start_task(_lambda_choice, (self._prepared, data, self._handling(), angles, method, lams, n_iter,
                                                 tilt_axis), adopt, "choosing λ")

    def _start_task(self, steps, args: tuple, on_result, doing: str):
        """Run the generator function ``steps(*args)`` through the widget's runner, as solves run: its
        yields are progress messages, its return value goes to ``on_result``."""
        if self.runner.running:
            self._notify_error("a run is in progress: wait for it to end or press Stop")
            return None
        self._task = Task(steps, args, on_message=lambda message: setattr(self._status, "value", f"{doing}: {message}"),
                          on_result=on_result, on_error=self._notify_error, on_done=self._task_finished)
        self._stop_button.enabled = True
        return self.runner.start(self._task)

    def _task_finished(self):
        self._task = None
        if not self.runner.running:
            self._stop_button.enabled = False

    def _start(self, *, live: bool = False):
        if self._task is not None:
            self._notify_error("alignment or the choice of λ is in progress: wait for it to end or press Stop")
            return None
        return super()._start(live=live)

    def stop(self) -> None:
        """Stop the reconstruction, alignment, choice of λ or Fourier view in progress."""
        super().stop()

    # -- Fourier view ---------------------------------------------------------------------------------------
    def fourier_view(self):
        """Add the centred log power spectrum of the chosen layer (computed in a worker thread).

        Returns
        -------
        GeneratorWorker or None
            The worker computing it (through the widget's runner), or None when no layer is chosen or a
            run is in progress.
        """
        layer = self.fourier_layer.value
        if layer is None:
            self._notify_error("pick a layer to show the power spectrum of")
            return None
        name = f"{layer.name} (power spectrum)"
        metadata = provenance("fourier", source_layer=layer.name)

        def add_spectrum(spectrum):
            self._viewer.add_image(spectrum, name=name, colormap="magma", metadata=metadata)

        data = level0(layer)  # an OME-Zarr layer's level 0, read in the worker
        try:
            check_fits(layer, data, lambda message: f"{message}: no power spectrum of it here")
        except ValueError as exc:
            self._notify_error(exc)
            return None
        return self._start_task(_power_spectrum, (data, bool(layer.rgb)), add_spectrum, "power spectrum")


def _power_spectrum(data, rgb: bool) -> Iterator[str]:
    """Worker generator: the power spectrum of an image or volume (of the channel mean for RGB; a lazy
    one read here), returned after one progress message."""
    yield "computing"
    data = np.asarray(data)
    return fourier.power_spectrum(data.mean(axis=-1) if rgb else data)


def _series_axis(tilt_axis: str) -> int:
    """The axis of a tilt series ``(angles, rows, cols)``, and of a volume ``(z, y, x)``, along the tilt axis."""
    return 1 if tilt_axis == "y" else 2


class _PreparedSeries:
    """The input made into line integrals (:mod:`~napari_invprob.preparation`) once, and kept while the
    input's data and the chosen handling stay the same: the run, the preview and the choice of λ then
    solve the same numbers. Called in workers, one at a time (the widget runs one job or task at a time).

    A lazy input (an OME-Zarr layer's level 0) is resolved in passes over its chunks, never held whole
    for that; a preview then reads and prepares its slice alone, and a run reads the whole series once.
    """

    def __init__(self):
        self._source = None
        self._handling: dict | None = None
        self._preparation: Preparation | None = None
        self._prepared: np.ndarray | None = None
        self._axis: tuple | None = None  # (data, angles, TiltAxisEstimate)

    def axis_estimate(self, data, angles) -> tuple[TiltAxisEstimate, bool]:
        """The tilt axis of ``data`` as the readers estimate it (:func:`~napari_invprob.tomography.files.
        estimate_stack_tilt_axis`), and whether it was estimated now (not kept from an earlier call)."""
        angles = np.asarray(angles, dtype=np.float64)
        if self._axis is not None and self._axis[0] is data and np.array_equal(self._axis[1], angles):
            return self._axis[2], False
        self._axis = (data, angles, estimate_stack_tilt_axis(data, angles))
        return self._axis[2], True

    def _resolved(self, data, handling: dict) -> Preparation:
        if self._source is not data or self._handling != handling:
            self._source, self._handling, self._preparation, self._prepared = None, None, None, None  # free first
            self._preparation = resolve_preparation(data, **handling)
            self._source, self._handling = data, dict(handling)
        return self._preparation

    def __call__(self, data, handling: dict) -> tuple[np.ndarray, Preparation]:
        """``(prepared, preparation)`` of ``data`` with ``handling`` (contrast and background)."""
        preparation = self._resolved(data, handling)
        if self._prepared is None:
            self._prepared = preparation.apply(np.asarray(data) if is_lazy(data) else data)
        return self._prepared, preparation

    def sinogram(self, data, handling: dict, tilt_axis: str, index: int) -> tuple[np.ndarray, Preparation]:
        """The prepared sinogram of slice ``index`` along the tilt axis, as a one-row series tilted about y
        ``(n_angles, 1, detector)``: of the whole prepared series, or of a lazy input not prepared whole yet
        the slice alone (the same numbers: the preparation acts on each value alone)."""
        axis = _series_axis(tilt_axis)
        preparation = self._resolved(data, handling)
        if self._prepared is None and is_lazy(data):
            return preparation.apply(np.asarray(np.moveaxis(data, axis, 1)[:, index:index + 1])), preparation
        series, _ = self(data, handling)
        return np.moveaxis(series, axis, 1)[:, index:index + 1], preparation


def _reconstruction(prepared: _PreparedSeries, data, handling: dict, metadata: dict, angles, *,
                    preview_slice: int | None = None, first: int | None = None, check_axis: bool = False,
                    **parameters):
    """Worker generator: prepare ``data`` (once), record the preparation in ``metadata``, then stream the
    reconstruction of the prepared series (the slab of slice ``first`` along the tilt axis, the one in
    view, solved ahead of the others), or with ``preview_slice`` of that slice along the tilt axis only
    (iterates ``(z, detector)``); with ``check_axis``, :func:`_check_tilt_axis` first."""
    if check_axis:
        _check_tilt_axis(prepared, data, angles, parameters["tilt_axis"], metadata)
    if preview_slice is None:  # as reconstruct_iter, its chunks advanced side by side on every core
        series, preparation = prepared(data, handling)
        metadata["preparation"] = preparation.record()
        plan = chunks.make_plan(series, angles, **_AS_PREPARED, **parameters)
        workers = _estimate.chunk_workers() if plan.projector.device.type == "cpu" else 1
        yield from chunks.stream(plan, workers=workers, first=first)
        return
    # the slice's sinogram as a one-row series tilted about y: its reconstruction is the slice (z, 1, detector)
    sinogram, preparation = prepared.sinogram(data, handling, parameters.pop("tilt_axis"), preview_slice)
    metadata["preparation"] = preparation.record()
    for iterate in tomography.reconstruct_iter(sinogram, angles, tilt_axis="y", **_AS_PREPARED, **parameters):
        yield replace(iterate, x=iterate.x[:, 0])


def _slab_progress(plan: Plan, done: int) -> str:
    """``"slab 12 of 128 done (96 of 1024 slices along x)"``."""
    tilt_axis = plan.metadata["parameters"]["tilt_axis"]
    n_slices = plan.shape[_series_axis(tilt_axis)]
    slices = min(done * plan.metadata["slab_slices"], n_slices)
    return f"slab {done} of {plan.n_iter} done ({slices} of {n_slices} slices along {tilt_axis})"


def _slab_reconstruction(prepared: _PreparedSeries, data, handling: dict, metadata: dict, angles, *, workers: int,
                         first: int, check_axis: bool = False, **parameters) -> Iterator[Iterate]:
    """Worker generator: prepare ``data`` (once), record the preparation in ``metadata``, then solve
    the prepared series slab by slab as :func:`~napari_invprob.reconstruct` does
    (:func:`~napari_invprob.tomography.chunks.solve_in_chunks_iter`, ``workers`` slabs at once on a
    CPU), the slab of slice ``first`` (the one in view) first: iterates whose ``iteration`` counts
    the slabs done and whose ``x`` is the volume, filled in place. Closing it stops the running slabs
    after their current iteration. With ``check_axis``, :func:`_check_tilt_axis` first."""
    if check_axis:
        _check_tilt_axis(prepared, data, angles, parameters["tilt_axis"], metadata)
    series, preparation = prepared(data, handling)
    metadata["preparation"] = preparation.record()
    plan = chunks.make_plan(series, angles, **_AS_PREPARED, **parameters)
    workers = workers if plan.projector.device.type == "cpu" else None
    with closing(chunks.solve_in_chunks_iter(plan, workers=workers, first=first)) as progress:
        for step in progress:
            yield Iterate(step.chunks_done, torch.from_numpy(step.output), None, None, step.elapsed)


def _check_tilt_axis(prepared: _PreparedSeries, data, angles, tilt_axis: str, metadata: dict) -> None:
    """For an input that records no tilt axis: estimate it from the projections (once per input, as the
    readers do), record it in ``metadata`` and warn when it is not the chosen axis, or lies off the grid."""
    if data.shape[0] < 3 or min(data.shape[1:]) < MIN_ESTIMATION_SIZE:
        return  # too small to tell, as for the readers
    estimate, new = prepared.axis_estimate(data, angles)
    metadata["tilt_axis_estimate"] = estimate.summary()
    if not new:
        return
    name = metadata["source_layer"]
    if estimate.grid_axis != tilt_axis:
        warnings.warn(f"{name!r} records no tilt axis, and its projections' lies along {estimate.grid_axis} "
                      f"({estimate.summary()}), not {tilt_axis} as chosen: a reconstruction about the wrong axis "
                      f"smears every feature into arcs. Pick tilt axis {estimate.grid_axis}", stacklevel=2)
    elif not estimate.on_grid:
        warnings.warn(f"{name!r} records no tilt axis, and its projections' is {abs(estimate.off_grid):.1f}° off "
                      f"the grid ({estimate.summary()}): Align rotates the projections onto it", stacklevel=2)


def _alignment(series, angles, options: dict):
    """Worker generator: progress messages of :func:`~napari_invprob.tomography.alignment.align_iter`, then
    returns ``(aligned, last step)``: the series prepared, rotated and shifted by the last step."""
    step = None
    series = np.asarray(series)  # a lazy input read here, in the worker
    for step in align_iter(series, angles, **options):
        yield f"{step.stage} {step.iteration}, shifts changed by {step.change:.2f} px RMS"
    return apply_alignment(series, step), step


def _lambda_choice(prepared: _PreparedSeries, data, handling: dict, angles, method: str, lams, n_iter: int,
                   tilt_axis: str):
    """Worker generator: progress messages of the cross-validation on the prepared series, then
    returns its result."""
    series, _ = prepared(data, handling)
    result = None
    for result in cross_validate_iter(series, angles, method=method, lams=lams, n_iter=n_iter, tilt_axis=tilt_axis,
                                      **_AS_PREPARED):
        yield f"λ {result.lams[-1]:.3g} scores {result.scores[-1]:.4f} ({len(result.lams)} of {len(lams)})"
    return result

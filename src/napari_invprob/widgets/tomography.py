"""The *Tomography* dock widget: reconstruct a sinogram or tilt series, watch it converge, view its spectrum."""

from __future__ import annotations

from functools import partial

import numpy as np
from magicgui.widgets import ComboBox, Container, FileEdit, FloatSpinBox, PushButton, SpinBox
from napari.layers import Image
from napari.utils.notifications import show_info
from superqt.utils import FunctionWorker

from .. import fourier
from .._version import __version__
from ..alignment import METHODS as ALIGNMENT_METHODS
from ..alignment import align_iter, apply_shifts
from ..io.angles import read_angle_file
from ..problems import tomography
from ..tomo import cross_validate_iter
from . import _estimate
from ._base import Plan, SolverWidget
from ._controls import RESULT_MARK, layer_picker
from ._runner import ClosingWorker

ANGLES_FROM_METADATA = "input's metadata"
ANGLES_FROM_FILE = "angle file (.tlt, .rawtlt)"
ANGLES_TYPED = "range and count"


class TomographyWidget(SolverWidget):
    """Reconstruct a 2D sinogram ``(angles, detector)`` or a tilt series ``(angles, rows, cols)``.

    Parameters
    ----------
    napari_viewer : napari.Viewer
    """

    title = "Tomography"
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
                           self.angle_count, self.tilt_axis, align_row, self.thickness, *self._solver_controls(),
                           self._choose_lam_button)
        self._finish_layout()
        self.append(fourier_row)
        self._fourier_worker: FunctionWorker | None = None
        self._task: ClosingWorker | None = None
        self.angle_source.changed.connect(self._show_angle_controls)
        self.input.changed.connect(self._input_changed)
        self._input_changed(self.input.value)

    # -- following the input ------------------------------------------------------------------------------
    def _input_changed(self, layer) -> None:
        """Adopt the layer's angles and tilt axis when it carries them; match the angle count."""
        if layer is None:
            return
        if "angles" in layer.metadata:
            self.angle_source.value = ANGLES_FROM_METADATA
        elif self.angle_source.value == ANGLES_FROM_METADATA:
            self.angle_source.value = ANGLES_TYPED
        if layer.metadata.get("tilt_axis") in ("y", "x"):
            self.tilt_axis.value = layer.metadata["tilt_axis"]
        if layer.data.ndim in (2, 3):
            self.angle_count.value = int(layer.data.shape[0])
        self._align_row.visible = layer.data.ndim == 3  # alignment is for tilt series
        if layer.data.ndim in (2, 3):
            thickness = int(self.thickness.value) or None
            self._reference_from_simulation(layer, self._output_shape(layer.data.shape, self.tilt_axis.value, thickness))
        self._show_angle_controls(self.angle_source.value)

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
        data = np.asarray(layer.data)
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

    def _plan(self, *, warm_start: bool) -> Plan:
        layer, data, angles, angles_origin = self._measurement()
        method = self.method.value
        tilt_axis = self.tilt_axis.value
        thickness = int(self.thickness.value) or None
        parameters = dict(method=method, lam=self._lam(), n_iter=self._n_iter(), tilt_axis=tilt_axis,
                          thickness=thickness)
        shape = self._output_shape(data.shape, tilt_axis, thickness)
        reference = self._reference(shape, None)
        name = f"{layer.name} ({method})"
        x0 = self._warm_start(name, shape) if warm_start else None
        metadata = {
            "method": method,
            "parameters": {k: v for k, v in parameters.items() if k != "method"},
            "source_layer": layer.name,
            "reference_layer": None if reference is None else self.reference.value.name,
            "angles": angles,
            "angles_source": angles_origin,
            "warm_start": x0 is not None,
        }
        slice_pixels = shape[-1] * shape[-1] if data.ndim == 2 else shape[0] * (shape[2] if tilt_axis == "y" else shape[1])
        n_slices = 1 if data.ndim == 2 else (shape[1] if tilt_axis == "y" else shape[2])
        estimate = _estimate.tomography(len(angles), slice_pixels, n_slices, parameters["n_iter"])
        return Plan(
            iterates=partial(tomography.reconstruct_iter, data, angles, x0=x0, **parameters),
            name=name, shape=shape, metadata=metadata, estimate=estimate, n_iter=parameters["n_iter"],
            reference=reference, layer_kwargs={"colormap": "gray"},
        )

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

        def add_aligned(result):
            aligned, shifts = result
            metadata = {RESULT_MARK: __version__, "problem": "alignment", "source_layer": layer.name,
                        "angles": angles, "tilt_axis": tilt_axis, "method": method, "shifts": shifts}
            self._viewer.add_image(aligned, name=f"{layer.name} (aligned)", metadata=metadata,
                                   scale=layer.scale, colormap="gray")
            show_info(f"{self.title}: aligned {layer.name!r}; drift up to {np.abs(shifts).max():.1f} pixels")

        return self._start_task(_alignment, (data, angles, tilt_axis, method), add_aligned, "aligning")

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

        return self._start_task(_lambda_choice, (data, angles, method, lams, n_iter, tilt_axis), adopt, "choosing λ")

    def _start_task(self, steps, args: tuple, on_result, doing: str):
        """Run the generator function ``steps(*args)`` in a worker: its yields are progress messages,
        its return value goes to ``on_result``."""
        if self._task is not None or self.runner.running:
            self._notify_error("a run is in progress: wait for it to end or press Stop")
            return None
        worker = ClosingWorker(steps, *args)
        worker.yielded.connect(lambda message: setattr(self._status, "value", f"{doing}: {message}"))
        worker.returned.connect(on_result)
        worker.errored.connect(self._notify_error)
        worker.finished.connect(self._task_finished)
        self._task = worker
        self._stop_button.enabled = True
        worker.start()
        return worker

    def _task_finished(self):
        self._task = None
        if not self.runner.running:
            self._stop_button.enabled = False

    def _start(self, *, warm_start: bool):
        if self._task is not None:
            self._notify_error("alignment or the choice of λ is in progress: wait for it to end or press Stop")
            return None
        return super()._start(warm_start=warm_start)

    def stop(self) -> None:
        """Stop the reconstruction, alignment or choice of λ in progress."""
        if self._task is not None:
            self._task.quit()
        super().stop()

    # -- Fourier view ---------------------------------------------------------------------------------------
    def fourier_view(self):
        """Add the centred log power spectrum of the chosen layer (computed in a worker thread).

        Returns
        -------
        FunctionWorker or None
            The worker computing it, or None when no layer is chosen.
        """
        layer = self.fourier_layer.value
        if layer is None:
            self._notify_error("pick a layer to show the power spectrum of")
            return None
        worker = FunctionWorker(_power_spectrum, np.asarray(layer.data), rgb=bool(layer.rgb))
        name = f"{layer.name} (power spectrum)"
        metadata = {RESULT_MARK: __version__, "problem": "fourier", "source_layer": layer.name}
        worker.returned.connect(
            lambda spectrum: self._viewer.add_image(spectrum, name=name, colormap="magma", metadata=metadata)
        )
        worker.errored.connect(self._notify_error)
        self._fourier_worker = worker
        worker.start()
        return worker


def _power_spectrum(data: np.ndarray, *, rgb: bool) -> np.ndarray:
    """The power spectrum of an image or volume (of the channel mean for RGB); runs in a worker."""
    return fourier.power_spectrum(data.mean(axis=-1) if rgb else data)


def _alignment(series, angles, tilt_axis: str, method: str):
    """Worker generator: progress messages of :func:`~napari_invprob.alignment.align_iter`, then
    returns ``(aligned, shifts)``."""
    shifts = None
    for step in align_iter(series, angles, tilt_axis=tilt_axis, method=method):
        shifts = step.shifts
        yield f"{step.stage} {step.iteration}, shifts changed by {step.change:.2f} px RMS"
    return apply_shifts(series, shifts), shifts


def _lambda_choice(data, angles, method: str, lams, n_iter: int, tilt_axis: str):
    """Worker generator: progress messages of the cross-validation, then returns its result."""
    result = None
    for result in cross_validate_iter(data, angles, method=method, lams=lams, n_iter=n_iter, tilt_axis=tilt_axis):
        yield f"λ {result.lams[-1]:.3g} scores {result.scores[-1]:.4f} ({len(result.lams)} of {len(lams)})"
    return result

"""What the plugin's dock widgets share: run/stop/live controls and routing frames into a layer.

A widget subclass only collects parameters: its :meth:`ResultWidget._plan` validates the controls
(raising ``ValueError``/``TypeError`` with a message that says what to fix) and returns a
:class:`Plan`; this module starts the solve in a worker (:class:`~._runner.SolveRunner`), shows the
result layer at once and updates it with every frame, and reports errors as napari notifications
without touching any other layer.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
from magicgui.widgets import CheckBox, ComboBox, Container, Label, ProgressBar, PushButton, SpinBox
from napari.layers import Image
from napari.utils.notifications import show_error, show_warning
from qtpy.QtCore import Qt, QTimer

from ..._shared.provenance import RESULT_MARK, provenance
from ...problems.methods import MethodSpec
from ...solvers.base import Clock, Iterate
from . import _estimate
from ._controls import LogValue, layer_picker
from ._frames import Frame, Reference
from ._plot import ConvergencePlot
from ._runner import Job, SolveRunner

#: Milliseconds of quiet after the last change of a live control before the solve restarts.
LIVE_DEBOUNCE_MS = 300


def level0(layer):
    """A layer's full-resolution data: level 0 of a multiscale layer, else its data."""
    return layer.data[0] if getattr(layer, "multiscale", False) else layer.data


def is_lazy(data) -> bool:
    """Whether ``data`` is read on demand (a dask or zarr array) rather than held (a NumPy array)."""
    return not isinstance(data, np.ndarray) and hasattr(data, "shape") and hasattr(data, "dtype")


def check_fits(layer, data, message_for) -> None:
    """Refuse (``ValueError``) to read a lazy layer's level 0 that would not fit in memory, with
    ``message_for(text)``'s wording (which names the command line for it)."""
    if not is_lazy(data):
        return
    needed = 4 * int(np.prod(data.shape))
    available = _estimate.available_memory()
    if needed > _estimate.MEMORY_SHARE * available:
        raise ValueError(message_for(f"{layer.name!r} holds {needed / 2**30:.1f} GiB (float32) but only "
                                     f"{available / 2**30:.1f} GiB of memory is free"))


@dataclass
class Plan:
    """A validated run, ready to start.

    Attributes
    ----------
    iterates : callable
        Returns the generator of iterates; called in the worker thread.
    name : str
        The result layer's name (a layer of that name made by the same widget is reused).
    shape : tuple of int or None
        The result's shape; None when it is only known from the first frame (the result layer then
        appears with it).
    metadata : dict
        How the result is made (method, parameters, source layer, forward model); the run adds
        iterations, elapsed time and status.
    estimate : Estimate
        Forecast memory and time.
    n_iter : int
        Iterations (or other :attr:`unit`) the run will do: the progress bar's end.
    rgb : bool
        Whether the result is an RGB image.
    reference : Reference, optional
        Ground truth for PSNR/SSIM.
    layer_kwargs : dict
        Extra keyword arguments for a new result layer (colormap, scale, ...).
    unit : str
        What an iterate's ``iteration`` counts: ``"iteration"``, or e.g. ``"slab"`` for a volume solved
        slab by slab (its iterates then count the slabs done; the result's metadata records them as
        ``slabs_done``).
    in_place : bool
        The iterates fill one array in place, which the result layer then shows as it fills (see
        :func:`~napari_invprob.napari.widgets._frames.frames`).
    """

    iterates: Callable[[], Iterator[Iterate]]
    name: str
    shape: tuple[int, ...] | None
    metadata: dict[str, Any]
    estimate: _estimate.Estimate
    n_iter: int = 1
    rgb: bool = False
    reference: Reference | None = None
    layer_kwargs: dict[str, Any] = field(default_factory=dict)
    unit: str = "iteration"
    in_place: bool = False

    @property
    def progress_key(self) -> str:
        """The result metadata's entry for the progress: ``"iterations"``, or e.g. ``"slabs_done"``."""
        return "iterations" if self.unit == "iteration" else f"{self.unit}s_done"


@dataclass
class Run:
    """What a widget keeps of one run while its frames arrive (the :class:`Job`'s ``context``).

    Attributes
    ----------
    plan : Plan
        The run.
    layer : napari.layers.Image or None
        The result layer (None until the first frame when the shape is only known then).
    created : bool
        Whether the run made the layer (rather than reusing one), so a run with no frame removes it.
    frames : int
        Frames shown so far.
    error : Exception or None
        What ended the run, if it failed.
    contrast : (float, float) or None
        The contrast limits last set for the run (a user who moves them takes over).
    """

    plan: Plan
    layer: Image | None
    created: bool
    frames: int = 0
    error: Exception | None = None
    contrast: tuple[float, float] | None = None


def one_step(make: Callable[[], np.ndarray]) -> Iterator[Iterate]:
    """A one-step stream of ``make()``'s array, so a one-shot computation (a simulation, a denoising)
    runs in the same worker machinery as a solver."""
    clock = Clock()
    result = make()
    yield Iterate(1, torch.from_numpy(np.asarray(result, dtype=np.float32)), None, None, clock())


class ResultWidget(Container):
    """Base of the dock widgets: an input layer, Run / Stop / Live, and a result layer fed by a worker.

    Subclasses add their controls with :meth:`_add_controls`, list the controls that restart a live
    run in :meth:`_live_controls`, and implement :meth:`_plan`.

    Parameters
    ----------
    napari_viewer : napari.Viewer
        The viewer whose layers the widget reads and writes.
    """

    #: Shown before every notification ("Deconvolution: λ must be ≥ 0").
    title = ""
    #: Written to result layers' ``metadata["problem"]``.
    problem = ""
    #: The command line's subcommand for the same job, named when an input read lazily is too big here.
    command: str | None = None
    #: The flags that command needs beyond its input and output (e.g. ``"--psf PSF "``).
    command_flags = ""
    #: Layers made by the plugin that the input follows when selected (other results of the plugin
    #: are picked by hand only, so a new result layer never becomes the next run's input).
    follows_results = frozenset({"simulation"})

    def __init__(self, napari_viewer):
        super().__init__(labels=True)
        self._viewer = napari_viewer
        self.input = layer_picker(napari_viewer, Image, label="input", tooltip="the measured image or data")
        self.live = CheckBox(value=False, text="live (restart when a marked control changes)")
        self._run_button = PushButton(text="Run")
        self._stop_button = PushButton(text="Stop", enabled=False)
        self._status = Label(value="")
        self._runner = SolveRunner(
            self._show_frame, self._done, self._failed, lambda job, message: show_warning(f"{self.title}: {message}")
        )
        self._seconds_per_iteration: dict[tuple, float] = {}
        self._live_timer = QTimer()
        self._live_timer.setSingleShot(True)
        self._live_timer.setInterval(LIVE_DEBOUNCE_MS)
        self._live_timer.timeout.connect(self._live_restart)
        self._run_button.changed.connect(self.run)
        self._stop_button.changed.connect(self.stop)
        self.native.destroyed.connect(self._runner.detach)
        self.append(self.input)
        napari_viewer.layers.selection.events.active.connect(self._follow_selection)
        self._follow_selection()

    # -- what subclasses provide -------------------------------------------------------------------
    def _plan(self, *, warm_start: bool) -> Plan:
        """Validate the controls and describe the run (raise ``ValueError``/``TypeError`` to refuse)."""
        raise NotImplementedError

    def _live_controls(self) -> list:
        """Controls whose change restarts the run in live mode."""
        return []

    def _live_plan(self) -> Plan:
        """The plan of a live restart: the run, warm-started from its last result (a widget may
        preview a part of the problem instead)."""
        return self._plan(warm_start=True)

    def _input_image(self, task: str) -> tuple[Image, np.ndarray]:
        """The input layer and its data; ``TypeError`` saying what ``task`` (e.g. "deconvolution") needs
        when it is not an image layer of real numbers. A dask-backed or multiscale layer (OME-Zarr) gives
        its level 0 unread (a dask array): the worker reads what the run needs."""
        layer = self.input.value
        if not isinstance(layer, Image):
            raise TypeError(f"{task} needs an image layer as input: open an image or load the sample data")
        image = level0(layer)
        if not is_lazy(image):
            image = np.asarray(image)
        if np.dtype(image.dtype).kind not in "biuf":
            raise TypeError(f"layer {layer.name!r} has dtype {image.dtype}; {task} needs real numbers")
        return layer, image

    def _too_big(self, message: str) -> str:
        """A refusal for lack of memory, with the command line that runs the job tile by tile on zarr
        when the input is read lazily (OME-Zarr), its path filled in when the layer came from a file."""
        layer = self.input.value
        if self.command is None or not isinstance(layer, Image) or not is_lazy(level0(layer)):
            return message
        path = getattr(getattr(layer, "source", None), "path", None) or "INPUT.zarr"
        return (f"{message}. {layer.name!r} is read lazily; run it tile by tile on zarr from the command line: "
                f"napari-invprob {self.command} {path} {self.command_flags}--out OUT.zarr --scheduler local:2")

    def _add_controls(self, *widgets) -> None:
        self.extend(widgets)

    def _finish_layout(self) -> None:
        """Append Live, Run/Stop and the status line, after the subclass's controls."""
        buttons = Container(widgets=[self._run_button, self._stop_button], layout="horizontal", labels=False)
        buttons.margins = (0, 0, 0, 0)
        self.extend([self.live, buttons, self._status])
        for control in self._live_controls():
            control.changed.connect(self._live_changed)
            control.label = f"{control.label} ⟳"
            control.tooltip = f"{control.tooltip or ''} (⟳ restarts the run in live mode)".strip()

    # -- public ------------------------------------------------------------------------------------
    @property
    def worker(self):
        """The worker of the newest run, or None."""
        return self._runner.worker

    @property
    def runner(self) -> SolveRunner:
        """The runner (one worker at a time), for scripts and benchmarks."""
        return self._runner

    def run(self):
        """Start a run with the current controls.

        A run in progress is stopped first (runs never pile up). Problems with the controls or the
        data are shown as a notification and nothing starts.

        Returns
        -------
        GeneratorWorker or None
            The run's worker, or None when the run was refused.
        """
        return self._start()

    def stop(self) -> None:
        """Stop the run after its current iteration; the result layer keeps the last iterate."""
        self._live_timer.stop()
        self._runner.stop()

    # -- starting ------------------------------------------------------------------------------------
    def _start(self, *, live: bool = False):
        try:
            plan = self._live_plan() if live else self._plan(warm_start=False)
        except (ValueError, TypeError) as exc:
            self._notify_error(exc)
            return None
        seconds = self._seconds_per_iteration.get(self._cost_key(plan))
        estimate = plan.estimate if seconds is None else _estimate.Estimate(plan.estimate.memory, seconds * plan.n_iter)
        verdict = _estimate.verdict(estimate)
        if verdict is not None and verdict[0] == "error":
            self._notify_error(self._too_big(verdict[1]))
            return None
        if verdict is not None:
            show_warning(f"{self.title}: {verdict[1]}")
        layer, created = self._target_layer(plan)
        job = Job(plan.iterates, plan.reference, context=Run(plan, layer, created), in_place=plan.in_place)
        self._before_start(plan)
        worker = self._runner.start(job)
        self._stop_button.enabled = True
        self._status.value = f"running {plan.metadata.get('method', '')}…"
        return worker

    def _before_start(self, plan: Plan) -> None:
        """Hook: reset progress displays for a new run."""

    def _cost_key(self, plan: Plan) -> tuple:
        return (plan.metadata.get("method"), plan.shape, plan.unit)

    def _target_layer(self, plan: Plan) -> tuple[Image | None, bool]:
        """The layer the run writes: this widget's earlier result of the same name (and shape, when
        known), else a new one shown at once; None when the shape is known only from the first frame."""
        existing = self._own_result(plan.name)
        if existing is not None and (plan.shape is None or existing.data.shape == plan.shape):
            return existing, False
        if plan.shape is None:
            return None, True
        return self._add_result(plan, np.zeros(plan.shape, dtype=np.float32)), True

    def _add_result(self, plan: Plan, data: np.ndarray) -> Image:
        kwargs = dict(plan.layer_kwargs)
        if plan.rgb:
            kwargs.setdefault("contrast_limits", (0.0, 1.0))
        metadata = {**self._provenance(plan), "status": "starting", plan.progress_key: 0, "elapsed_s": 0.0}
        return self._viewer.add_image(data, name=plan.name, rgb=plan.rgb, metadata=metadata, **kwargs)

    def _own_result(self, name: str) -> Image | None:
        for layer in self._viewer.layers:
            if layer.name == name and layer.metadata.get("problem") == self.problem and RESULT_MARK in layer.metadata:
                return layer
        return None

    def _provenance(self, plan: Plan) -> dict[str, Any]:
        return provenance(self.problem, **plan.metadata)

    # -- live mode -----------------------------------------------------------------------------------
    def _live_changed(self, *_):
        if self.live.value:
            self._live_timer.start()

    def _live_restart(self):
        self._start(live=True)

    def _warm_start(self, name: str, shape: tuple[int, ...], matching: dict | None = None) -> np.ndarray | None:
        """The last result of the same name and shape, to start a live restart from; with ``matching``,
        only when its metadata holds those entries too (e.g. the slice a preview shows)."""
        layer = self._own_result(name)
        if layer is None or layer.data.shape != shape or layer.metadata.get("iterations", 0) == 0:
            return None
        if any(layer.metadata.get(key) != value for key, value in (matching or {}).items()):
            return None
        return np.asarray(layer.data)

    # -- frames from the worker (GUI thread: assignments only) ------------------------------------------
    def _show_frame(self, job: Job, frame: Frame) -> None:
        plan = job.context.plan
        if job.context.layer is None:
            job.context.layer = self._add_result(plan, frame.image)
        layer = job.context.layer
        if layer not in self._viewer.layers:  # the user deleted the result layer: nothing to show
            self._runner.stop()
            return
        if job.context.frames == 0:  # the layer now shows this run: describe this run only
            layer.metadata = self._provenance(plan)
        job.context.frames += 1
        layer.metadata.update(status="running", elapsed_s=round(frame.elapsed, 3))
        layer.metadata[plan.progress_key] = frame.iteration
        if frame.objectives:
            layer.metadata["objective"] = frame.objectives[-1][1]
        if frame.residuals:
            layer.metadata["residual"] = frame.residuals[-1][1]
        if frame.psnr is not None:
            layer.metadata.update(psnr_db=frame.psnr, scored_iteration=frame.iteration)
        if frame.ssim is not None:
            layer.metadata.update(ssim=frame.ssim, ssim_iteration=frame.iteration)
        layer.data = frame.image
        if not plan.rgb:
            _follow_contrast(layer, frame, job.context)
        self._frame_shown(plan, frame)

    def _frame_shown(self, plan: Plan, frame: Frame) -> None:
        """Hook: update progress displays."""

    def _failed(self, job: Job, exc: Exception) -> None:
        job.context.error = exc
        self._notify_error(exc)

    def _done(self, job: Job, stopped: bool) -> None:
        layer, plan = job.context.layer, job.context.plan
        error = job.context.error
        if job.context.frames == 0:
            if job.context.created and layer is not None and layer in self._viewer.layers:
                self._viewer.layers.remove(layer)  # nothing computed: leave no empty layer behind
            self._status.value = f"{plan.metadata.get('method', '')}: {'failed' if error else 'stopped'}"
        else:
            layer.metadata["status"] = f"failed: {error}" if error else ("stopped" if stopped else "finished")
            done = layer.metadata.get(plan.progress_key, 0)
            if done and error is None:
                self._seconds_per_iteration[self._cost_key(plan)] = layer.metadata["elapsed_s"] / done
            of = "" if plan.unit == "iteration" else f" of {plan.n_iter}"
            self._status.value = (
                f"{plan.metadata.get('method', '')}: {layer.metadata['status']} after {done}{of} "
                f"{plan.unit}{'' if done == 1 and not of else 's'}, {layer.metadata.get('elapsed_s', 0):.1f} s"
            )
        if not self._runner.running:
            self._stop_button.enabled = False

    # -- input selection -------------------------------------------------------------------------------
    def _follow_selection(self, *_):
        """Make the selected image layer the input, unless it is a result of the plugin (see
        :attr:`follows_results`)."""
        active = self._viewer.layers.selection.active
        made_by = active.metadata.get("problem") if active is not None else None
        if isinstance(active, Image) and (made_by is None or made_by in self.follows_results):
            self.input.reset_choices()
            self.input.value = active

    def _notify_error(self, exc) -> None:
        show_error(f"{self.title}: {exc}")


class SolverWidget(ResultWidget):
    """A :class:`ResultWidget` for iterative solvers: method, λ, iterations, reference, progress, plot.

    Parameters
    ----------
    napari_viewer : napari.Viewer
    methods : dict of str to MethodSpec
        The problem's method table (menu entries; ``summary`` is the tooltip).
    default_method : str
    """

    def __init__(self, napari_viewer, methods: dict[str, MethodSpec], default_method: str):
        super().__init__(napari_viewer)
        self._methods = methods
        spec = methods[default_method]
        self.method = ComboBox(choices=list(methods), value=default_method, label="method")
        for index, spec_ in enumerate(methods.values()):
            self.method.native.setItemData(index, spec_.summary, Qt.ItemDataRole.ToolTipRole)
        self.lam = LogValue(value=spec.default_lam or 1e-2, label="λ",
                            tooltip="regularisation weight: larger is smoother, smaller is sharper and noisier")
        self.n_iter = SpinBox(value=spec.default_n_iter, min=1, max=100_000, label="iterations")
        self.reference = layer_picker(napari_viewer, Image, label="reference", optional=True,
                                      tooltip="a ground truth: the plot then shows PSNR and SSIM")
        self.progress = ProgressBar(value=0, min=0, max=1, label="progress")
        self.progress.native.setFormat("%v / %m")
        self.plot = ConvergencePlot()
        self.method.changed.connect(self._method_changed)
        self._method_changed(default_method)

    def _solver_controls(self) -> list:
        """Method, λ and iterations, in that order, for the subclass to place."""
        return [self.method, self.lam, self.n_iter]

    def _finish_layout(self) -> None:
        self.append(self.reference)
        super()._finish_layout()
        self.append(self.progress)
        self.native.layout().addWidget(self.plot)

    def _live_controls(self) -> list:
        return [self.lam]

    @property
    def spec(self) -> MethodSpec:
        """The selected method's table entry."""
        return self._methods[self.method.value]

    def _method_changed(self, name: str) -> None:
        spec = self._methods[name]
        self.method.tooltip = spec.summary
        self.lam.enabled = spec.uses_lam
        self.n_iter.enabled = spec.iterative
        if spec.default_lam is not None:
            self.lam.number = spec.default_lam
        self.n_iter.value = spec.default_n_iter

    def _lam(self) -> float | None:
        """λ from the typed field (None when the method has no λ); ``ValueError`` for λ < 0."""
        if not self.spec.uses_lam:
            return None
        lam = self.lam.number
        if lam < 0:
            raise ValueError(f"λ must be ≥ 0, got {lam:g}: type a non-negative value or move the slider")
        return lam

    def _n_iter(self) -> int:
        return int(self.n_iter.value) if self.spec.iterative else 1

    def _reference(self, shape: tuple[int, ...], channel_axis: int | None) -> Reference | None:
        layer = self.reference.value
        if layer is None:
            return None
        if layer.data.shape != shape:
            raise ValueError(
                f"reference layer {layer.name!r} has shape {layer.data.shape} but the result will have "
                f"shape {shape}: pick a reference of the result's shape, or none"
            )
        return Reference(np.asarray(layer.data), None, channel_axis)

    def _reference_from_simulation(self, layer, result_shape: tuple[int, ...]) -> None:
        """When ``layer`` was simulated from a layer still open with the result's shape, make that
        layer the reference (the plot then shows PSNR and SSIM without a click); a chosen reference
        is kept."""
        if self.reference.value is not None or layer.metadata.get("problem") != "simulation":
            return
        source = layer.metadata.get("source_layer")
        if source in self._viewer.layers and self._viewer.layers[source].data.shape == tuple(result_shape):
            self.reference.reset_choices()
            self.reference.value = self._viewer.layers[source]

    def _before_start(self, plan: Plan) -> None:
        self.progress.max = plan.n_iter
        self.progress.value = 0
        self.plot.reset(with_quality=plan.reference is not None)

    def _frame_shown(self, plan: Plan, frame: Frame) -> None:
        # QProgressBar.setValue repaints synchronously, which paints the whole window (canvas
        # included) inside this slot; with updates off it only schedules a paint like any widget.
        bar = self.progress.native
        bar.setUpdatesEnabled(False)
        self.progress.value = min(frame.iteration, self.progress.max)
        bar.setUpdatesEnabled(True)
        self.plot.add(frame)


def _follow_contrast(layer: Image, frame: Frame, run: Run) -> None:
    """Set contrast limits from the first frame; later, follow large changes unless the user took over."""
    low, high = frame.display_range
    ours = run.contrast
    if ours is not None:
        if tuple(layer.contrast_limits) != ours:
            return  # the user moved the contrast slider: leave it
        span = ours[1] - ours[0]
        if abs(low - ours[0]) < 0.1 * span and abs(high - ours[1]) < 0.1 * span:
            return
    vmin, vmax = frame.value_range
    layer.contrast_limits_range = (min(vmin, low), max(vmax, high, low + 1e-6))
    layer.contrast_limits = (low, high)
    run.contrast = tuple(layer.contrast_limits)

"""The live convergence plot docked under a solver widget.

pyqtgraph draws it: it is made for live data (``setData`` on a curve redraws in well under a
millisecond, against tens of milliseconds for a Matplotlib canvas redraw), lives natively in the Qt
widget tree napari already runs, has log axes, and costs one pure-Python dependency on NumPy.
"""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from qtpy.QtGui import QFont
from qtpy.QtWidgets import QSizePolicy, QVBoxLayout, QWidget

from ._frames import Frame

_OBJECTIVE_PEN = pg.mkPen("#4fc3f7", width=2)
_PSNR_PEN = pg.mkPen("#ffb74d", width=2)
_SSIM_PEN = pg.mkPen("#81c784", width=2)
_AXIS_WIDTH = 48
_TICK_FONT = QFont()
_TICK_FONT.setPointSize(8)


#: What the upper plot can show, in order of preference: the Frame field and the axis label.
MEASURES = {
    "objective": ("objectives", "objective"),
    "residual": ("residuals", "‖Hx − y‖"),
    "algorithm residual": ("algorithm_residuals", "primal residual"),
}


class ConvergencePlot(QWidget):
    """Objective per iteration (log scale; the data residual ‖Hx − y‖ for methods that report no
    objective, else the method's own residual, e.g. ADMM's primal residual ‖Kz − x‖), labelled as
    what it is, and, with a reference, PSNR and SSIM."""

    def __init__(self, parent=None):
        super().__init__(parent)
        self._graphics = pg.GraphicsLayoutWidget()
        self._graphics.setBackground("#262930")
        self._objective_plot = self._graphics.addPlot(row=0, col=0)
        self._objective_plot.setLogMode(y=True)
        self._objective_plot.setLabel("left", "objective", color="#4fc3f7")
        self._objective_curve = self._objective_plot.plot(pen=_OBJECTIVE_PEN)
        self._quality_plot = self._graphics.addPlot(row=1, col=0)
        self._quality_plot.setLabel("left", "PSNR (dB)", color="#ffb74d")
        self._quality_plot.setLabel("bottom", "iteration")
        self._quality_plot.setXLink(self._objective_plot)
        self._psnr_curve = self._quality_plot.plot(pen=_PSNR_PEN)
        # SSIM on its own right-hand axis: a second view box sharing the x axis.
        self._ssim_view = pg.ViewBox()
        self._quality_plot.showAxis("right")
        self._quality_plot.scene().addItem(self._ssim_view)
        self._quality_plot.getAxis("right").linkToView(self._ssim_view)
        self._quality_plot.getAxis("right").setLabel("SSIM", color="#81c784")
        self._ssim_view.setXLink(self._quality_plot)
        self._ssim_curve = pg.PlotDataItem(pen=_SSIM_PEN, symbol="s", symbolSize=5, symbolBrush="#81c784")
        self._ssim_view.addItem(self._ssim_curve)
        self._objective_plot.showAxis("right")
        self._objective_plot.getAxis("right").setTicks([[], []])  # only there to match the widths below
        for plot in (self._objective_plot, self._quality_plot):
            for side in ("left", "bottom", "right"):
                axis = plot.getAxis(side)
                axis.enableAutoSIPrefix(False)
                axis.setStyle(maxTickLevel=0, tickFont=_TICK_FONT)
            # equal axis widths line the two plots' iteration axes up
            plot.getAxis("left").setWidth(_AXIS_WIDTH)
            plot.getAxis("right").setWidth(_AXIS_WIDTH)
        self._quality_plot.vb.sigResized.connect(
            lambda: self._ssim_view.setGeometry(self._quality_plot.vb.sceneBoundingRect())
        )
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self._graphics)
        self.setMinimumHeight(220)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)
        self.reset(with_quality=False)

    def reset(self, *, with_quality: bool) -> None:
        """Clear the curves for a new run; show the PSNR/SSIM panel only ``with_quality``."""
        self._convergence = ([], [])
        self._measure: str | None = None
        self._quality = (([], []), ([], []))
        for curve in (self._objective_curve, self._psnr_curve, self._ssim_curve):
            curve.setData([], [])
        self._objective_plot.setTitle("")
        self._quality_plot.setTitle("")
        self._quality_plot.setVisible(with_quality)
        self._objective_plot.showAxis("bottom")
        self._objective_plot.setLabel("bottom", "" if with_quality else "iteration")

    def add(self, frame: Frame) -> None:
        """Append a frame's objectives (or residuals) and scores and redraw."""
        if self._measure is None:
            self._measure = next((name for name, (field, _) in MEASURES.items() if getattr(frame, field)), None)
            if self._measure is not None:
                self._objective_plot.setLabel("left", MEASURES[self._measure][1], color="#4fc3f7")
        iterations, values = self._convergence
        points = getattr(frame, MEASURES[self._measure][0]) if self._measure is not None else ()
        for iteration, value in points:
            if value > 0:  # a log axis cannot show zero or negative values
                iterations.append(iteration)
                values.append(value)
        if values:
            self._objective_curve.setData(np.asarray(iterations), np.asarray(values))
            self._objective_plot.getAxis("left").setTicks([log_ticks(min(values), max(values))])
            self._objective_plot.setTitle(f"{MEASURES[self._measure][1]} {values[-1]:.4g} (iteration {iterations[-1]})")
        (psnr_its, psnrs), (ssim_its, ssims) = self._quality
        if frame.psnr is not None:
            psnr_its.append(frame.iteration)
            psnrs.append(frame.psnr)
            self._psnr_curve.setData(np.asarray(psnr_its), np.asarray(psnrs))
            self._quality_plot.setYRange(*_padded(psnrs, min_span=0.5), padding=0)
        if frame.ssim is not None:
            ssim_its.append(frame.iteration)
            ssims.append(frame.ssim)
            self._ssim_curve.setData(np.asarray(ssim_its), np.asarray(ssims))
            self._ssim_view.setYRange(*_padded(ssims, min_span=0.02), padding=0)
        if psnrs:
            ssim_text = f"   SSIM {ssims[-1]:.3f} (iteration {ssim_its[-1]})" if ssims else ""
            self._quality_plot.setTitle(f"PSNR {psnrs[-1]:.2f} dB{ssim_text}")

    def curves(self) -> dict[str, np.ndarray]:
        """The plotted data as ``(2, n)`` arrays of iterations and values: one of :data:`MEASURES`
        (the first the method reports), ``"psnr"``, ``"ssim"``."""
        psnr, ssim = self._quality
        return {
            self._measure or "objective": np.asarray(self._convergence, dtype=float).reshape(2, -1),
            "psnr": np.asarray(psnr, dtype=float).reshape(2, -1),
            "ssim": np.asarray(ssim, dtype=float).reshape(2, -1),
        }


def _padded(values: list[float], *, min_span: float) -> tuple[float, float]:
    """A y range showing ``values`` with 10 % margins, at least ``min_span`` tall (so that nearly
    equal scores do not fill the plot with rounding noise)."""
    low, high = min(values), max(values)
    span = max(high - low, min_span)
    middle = 0.5 * (low + high)
    return middle - 0.6 * span, middle + 0.6 * span


def log_ticks(low: float, high: float) -> list[tuple[float, str]]:
    """Ticks for a log axis from ``low`` to ``high`` (positive): 1-2-5 steps, at most ~6 labels.

    Returns ``(log10(value), label)`` pairs, the positions pyqtgraph's log mode expects.
    """
    first, last = int(np.floor(np.log10(low))), int(np.ceil(np.log10(high)))
    for mantissas in ((1, 2, 5), (1,), None):
        if mantissas is None:  # many decades: every k-th decade
            step = int(np.ceil((last - first + 1) / 6))
            values = [10.0**e for e in range(first, last + 1, step)]
            break
        values = [m * 10.0**e for e in range(first, last + 1) for m in mantissas]
        values = [v for v in values if low / 1.5 <= v <= high * 1.5]
        if len(values) <= 6:
            break
    return [(float(np.log10(v)), f"{v:.3g}") for v in values]

"""``make demo``: napari with the lecture's blurred astronaut and the Deconvolution widget docked.

Run ``python -m napari_invprob.napari.demo`` for an interactive window (press *Run*, tick *live* and move
λ), or with ``--screenshot PATH`` (what ``make demo`` does when there is no display, under Xvfb) to
run the solve to its end, save a screenshot of the whole window and exit.
"""

from __future__ import annotations

import argparse
import time

#: Window size of the screenshot, in pixels.
WINDOW_SIZE = (1500, 950)
#: Longest wait for the solve in screenshot mode, in seconds.
SOLVE_TIMEOUT = 300.0


def open_demo(*, show: bool):
    """A viewer with the astronaut sample, side by side with its result, and the Deconvolution widget.

    Returns
    -------
    (napari.Viewer, DeconvolutionWidget)
    """
    import napari

    viewer = napari.Viewer(title="napari-invprob demo: deconvolution of the lecture's astronaut", show=show)
    viewer.open_sample("napari-invprob", "astronaut")
    _, widget = viewer.window.add_plugin_dock_widget("napari-invprob", "Deconvolution")
    widget.reference.value = viewer.layers["astronaut (reference)"]
    # the blurred input and the result side by side (viewer.canvas.grid since napari 0.9, viewer.grid before)
    getattr(viewer, "canvas", viewer).grid.enabled = True
    return viewer, widget


def _arrange(viewer, widget) -> None:
    """A window of :data:`WINDOW_SIZE` with the widget's dock a third of it wide (after ``show()``,
    which restores napari's saved geometry)."""
    from qtpy.QtCore import Qt

    window = viewer.window._qt_window
    window.resize(*WINDOW_SIZE)
    dock = widget.native.parent()
    while dock is not None and not hasattr(dock, "setFloating"):
        dock = dock.parent()
    if dock is not None:
        window.resizeDocks([dock], [WINDOW_SIZE[0] // 3], Qt.Orientation.Horizontal)


def _wait_for(widget, timeout: float) -> None:
    """Process GUI events until the widget's run has ended (the frames arrive as events)."""
    from qtpy.QtWidgets import QApplication

    app = QApplication.instance()
    deadline = time.monotonic() + timeout
    while widget.runner.running and time.monotonic() < deadline:
        app.processEvents()
        time.sleep(0.01)
    app.processEvents()
    if widget.runner.running:
        widget.stop()
        raise TimeoutError(f"the deconvolution did not finish within {timeout:.0f} s")


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m napari_invprob.napari.demo", description=__doc__)
    parser.add_argument("--screenshot", metavar="PATH", help="run the solve, save a screenshot of the window and exit")
    args = parser.parse_args(argv)

    import napari

    viewer, widget = open_demo(show=args.screenshot is None)
    if args.screenshot is None:
        napari.run()
        return 0
    viewer.window.show()
    _arrange(viewer, widget)
    if widget.run() is None:
        raise RuntimeError("the Deconvolution widget refused to run; see the notification above")
    _wait_for(widget, SOLVE_TIMEOUT)
    viewer.reset_view()
    result = viewer.layers[-1]
    image = viewer.screenshot(args.screenshot, canvas_only=False, flash=False)
    print(
        f"demo: {result.metadata['method']} ran {result.metadata['iterations']} iterations in "
        f"{result.metadata['elapsed_s']:.1f} s, PSNR {result.metadata.get('psnr_db', float('nan')):.2f} dB; "
        f"saved a {image.shape[1]}x{image.shape[0]} screenshot of the napari window to {args.screenshot}"
    )
    viewer.close()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

"""Hostile input through the dock widgets (issue 18 row 8): angles typed in radians are warned about in
the GUI too, as a notification, by the same check the Python call and the command line pass through."""

from __future__ import annotations

import numpy as np
import pytest

from napari_invprob import project
from napari_invprob.napari.widgets import _base
from napari_invprob.napari.widgets import tomography as tomography_widget

pytestmark = pytest.mark.gui

PLUGIN = "napari-invprob"


def test_tomography_warns_about_angles_typed_in_radians(make_napari_viewer, qtbot, monkeypatch):
    shown: list[str] = []
    monkeypatch.setattr(_base, "show_warning", shown.append)  # solves and side tasks warn through the runner
    viewer = make_napari_viewer()
    sinogram = project(np.pad(np.ones((8, 8), np.float32), 12), np.linspace(-60, 60, 9))
    viewer.add_image(sinogram, name="sinogram")
    _, widget = viewer.window.add_plugin_dock_widget(PLUGIN, "Tomography")
    widget.angle_source.value = tomography_widget.ANGLES_TYPED
    widget.angle_start.value, widget.angle_stop.value, widget.angle_count.value = -1.05, 1.05, 9
    widget.method.value = "fbp"
    widget.run()
    qtbot.waitUntil(lambda: not widget.runner.running, timeout=30_000)
    assert any("as angles in radians would" in message for message in shown), shown

"""Without napari (``pip install napari-invprob`` without the ``all`` extra) the backend's and the
command line's tests run; those of the widgets, the demo and the plugin manifest are skipped."""

import importlib.util

import pytest

HAVE_NAPARI = importlib.util.find_spec("napari") is not None

#: Test modules that import the widgets, the demo or npe2 at the top: not even collected without napari.
GUI_MODULES = [
    "test_demo.py",
    "test_hostile_widgets.py",
    "test_sample_data.py",
    "test_widget_fluorescence.py",
    "test_widget_light_sheet.py",
    "test_widget_slabs.py",
    "test_widget_tomography_real.py",
    "test_widgets.py",
    "test_widgets_runner.py",
]

collect_ignore = [] if HAVE_NAPARI else GUI_MODULES


def pytest_collection_modifyitems(config, items):
    """Skip, without napari, the tests that take a napari viewer or Qt (in modules of backend tests)."""
    if HAVE_NAPARI:
        return
    skip = pytest.mark.skip(reason="needs napari: pip install 'napari-invprob[all]'")
    for item in items:
        if {"make_napari_viewer", "qtbot"} & set(getattr(item, "fixturenames", ())) or item.get_closest_marker("gui"):
            item.add_marker(skip)

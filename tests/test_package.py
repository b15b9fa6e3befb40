"""The package installs as a napari plugin and its backend stays free of Qt and napari."""

import subprocess
import sys
import textwrap

import pytest

import napari_invprob

FACES = ("napari_invprob.napari.widgets",)
FORBIDDEN = ("qtpy", "PyQt5", "PyQt6", "PySide2", "PySide6", "napari", "magicgui", "superqt", "vispy")


def test_backend_imports_no_qt_and_no_napari():
    """Import every backend module in a fresh interpreter; none may pull in Qt or napari."""
    code = textwrap.dedent(
        f"""
        import importlib, pkgutil, sys
        import napari_invprob
        faces = {FACES!r}
        forbidden = {FORBIDDEN!r}
        names = [m.name for m in pkgutil.walk_packages(napari_invprob.__path__, "napari_invprob.")]
        backend = [n for n in names if not n.startswith(faces)]
        for name in backend:
            importlib.import_module(name)
        bad = sorted({{m.split(".")[0] for m in sys.modules}} & set(forbidden))
        print(len(backend), "modules")
        assert not bad, f"backend imported {{bad}}"
        """
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr + result.stdout
    assert int(result.stdout.split()[0]) >= 5


def test_the_no_qt_check_can_fail():
    """The check above must be able to fail: importing napari is caught."""
    pytest.importorskip("napari")
    code = "import sys, napari; print(sorted({m.split('.')[0] for m in sys.modules} & {'napari'}))"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert "napari" in result.stdout


def test_manifest_validates_and_is_found_through_the_entry_point():
    PluginManager = pytest.importorskip("npe2").PluginManager  # napari's plugin engine

    pm = PluginManager()
    pm.discover(include_npe1=False)
    manifest = pm.get_manifest("napari-invprob")
    assert manifest.name == "napari-invprob"
    assert {s.key for s in manifest.contributions.sample_data} >= {"astronaut"}


def test_version_and_lazy_public_names():
    assert napari_invprob.__version__
    assert "deconvolve" in dir(napari_invprob)
    try:
        napari_invprob.not_a_name  # noqa: B018
    except AttributeError as err:
        assert "not_a_name" in str(err)
    else:  # pragma: no cover
        raise AssertionError("unknown attributes must raise AttributeError")

"""The lecture examples run (with ``--small``) and save figures that are not blank, so they never rot."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import numpy as np
import pytest

matplotlib = pytest.importorskip("matplotlib")

EXAMPLES_DIR = Path(__file__).resolve().parent.parent / "examples"
EXAMPLES = sorted(EXAMPLES_DIR.glob("[0-9][0-9]_*.py"))


def _load(path: Path):
    """Import an example file as a module (its name starts with a digit, so not by ``import``)."""
    sys.path.insert(0, str(EXAMPLES_DIR))  # the examples import their shared ``_common``
    try:
        spec = importlib.util.spec_from_file_location(f"example_{path.stem}", path)
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
    finally:
        sys.path.remove(str(EXAMPLES_DIR))
    return module


def test_every_lecture_part_has_an_example():
    names = {path.stem for path in EXAMPLES}
    for part in ("blur_and_noise", "fourier_inversion", "tikhonov", "fista_admm", "pnp", "radon_sinogram",
                 "missing_wedge", "adam_l1"):
        assert any(name.endswith(part) for name in names), part


@pytest.mark.parametrize("path", EXAMPLES, ids=[path.stem for path in EXAMPLES])
def test_example_saves_figures(path, tmp_path, capsys):
    module = _load(path)
    module.main(["--small", "--out", str(tmp_path)])

    printed = capsys.readouterr().out
    assert "PSNR" in printed and "SSIM" in printed  # every example reports its scores
    figures = sorted(tmp_path.glob("*.png"))
    assert figures, f"{path.name} saved no PNG"
    for figure in figures:
        assert str(figure) in printed  # and says where it saved them
        pixels = matplotlib.image.imread(figure)[..., :3]
        assert pixels.shape[0] > 100 and pixels.shape[1] > 100, figure.name
        assert float(np.std(pixels)) > 0.05, f"{figure.name} is blank"

"""``make demo``: the screenshot mode runs the solve to its end and saves the whole window."""

from __future__ import annotations

import os
import re
import warnings

import numpy as np
import pytest
from PIL import Image

from napari_invprob.napari import demo as _demo

pytestmark = pytest.mark.gui


def test_demo_screenshot_shows_the_finished_result_and_the_plot(tmp_path, capsys):
    path = tmp_path / "demo.png"
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        assert _demo.main(["--screenshot", str(path)]) == 0
    # ours: raised in our files, or not placed in any library file (napari's deprecation helper names the
    # caller "sys", as for viewer.grid since napari 0.9)
    ours = [w for w in caught if issubclass(w.category, (DeprecationWarning, FutureWarning))
            and (f"{os.sep}napari_invprob{os.sep}" in w.filename or not os.path.isfile(w.filename))]
    assert not ours, [f"{w.filename}:{w.lineno}: {w.message}" for w in ours]
    printed = capsys.readouterr().out
    match = re.search(r"admm-tv ran (\d+) iterations .* PSNR ([\d.]+) dB", printed)
    assert match and int(match[1]) >= 1 and float(match[2]) > 25.5  # the lecture's input: 21.96 dB
    image = np.asarray(Image.open(path).convert("RGB"), dtype=float)
    assert image.shape[:2] == (_demo.WINDOW_SIZE[1], _demo.WINDOW_SIZE[0])
    width = image.shape[1]
    canvas = image[:, int(0.25 * width) : int(0.6 * width)]  # the two astronauts side by side
    dock = image[int(0.45 * image.shape[0]) :, int(0.7 * width) :]  # the convergence plot
    assert canvas.std() > 30 and dock.std() > 5

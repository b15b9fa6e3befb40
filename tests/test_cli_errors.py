"""Bad arguments and bad input: one line on stderr naming the problem, exit status 2, nothing written.

These call ``napari_invprob.cli.main`` in this process (fast); ``test_cli.py`` checks the same through the
installed console script.
"""

from __future__ import annotations

import numpy as np
import pytest

from napari_invprob.cli import main
from napari_invprob.io import write_volume


@pytest.fixture
def files(tmp_path):
    image = np.random.default_rng(0).random((32, 32), dtype=np.float32)
    write_volume(tmp_path / "image.tif", image, 2.0)
    write_volume(tmp_path / "series.mrc", np.random.default_rng(1).random((5, 4, 16), dtype=np.float32), 2.0)
    (tmp_path / "series.rawtlt").write_text("-40\n-20\n0\n20\n40\n")
    (tmp_path / "series.tlt").write_text("-40\n-20\n0\n20\n40\n")
    (tmp_path / "four.tlt").write_text("-40\n-20\n0\n20\n")
    (tmp_path / "existing.tif").write_bytes(b"keep")
    return tmp_path


CASES = {
    "missing input": (["deconvolve", "{d}/nothere.tif", "--psf-sigma", "1", "--out", "{d}/o.tif"], "no such file"),
    "existing output": (["deconvolve", "{d}/image.tif", "--psf-sigma", "1", "--out", "{d}/existing.tif"],
                        "--overwrite"),
    "output is input": (["deconvolve", "{d}/image.tif", "--psf-sigma", "1", "--out", "{d}/image.tif",
                         "--overwrite"], "also an input"),
    "output is an angle file": (["align", "{d}/series.mrc", "--out", "{d}/series.tif", "--overwrite"],
                                "also an input"),
    "unknown output format": (["deconvolve", "{d}/image.tif", "--psf-sigma", "1", "--out", "{d}/o.png"],
                              "must end in"),
    "missing output directory": (["deconvolve", "{d}/image.tif", "--psf-sigma", "1", "--out", "{d}/no/o.tif"],
                                 "does not exist"),
    "no psf": (["deconvolve", "{d}/image.tif", "--out", "{d}/o.tif"], "--psf"),
    "negative sigma": (["deconvolve", "{d}/image.tif", "--psf-sigma", "-1", "--out", "{d}/o.tif"], "positive"),
    "psf axes": (["deconvolve", "{d}/image.tif", "--psf-sigma", "1", "1", "1", "--out", "{d}/o.tif"],
                 "one per axis"),
    "negative lam": (["deconvolve", "{d}/image.tif", "--psf-sigma", "1", "--lam", "-1", "--out", "{d}/o.tif"],
                     "λ must be >= 0"),
    "zero iterations": (["deconvolve", "{d}/image.tif", "--psf-sigma", "1", "--n-iter", "0", "--out",
                         "{d}/o.tif"], "positive integer"),
    "unknown method": (["reconstruct", "{d}/series.mrc", "--method", "magic", "--out", "{d}/o.mrc"],
                       "invalid choice"),
    "bad option": (["reconstruct", "{d}/series.mrc", "--option", "novalue", "--out", "{d}/o.mrc"], "KEY=VALUE"),
    "bad scheduler": (["reconstruct", "{d}/series.mrc", "--scheduler", "local:0", "--out", "{d}/o.mrc"],
                      "no workers"),
    "chunks without scheduler": (["reconstruct", "{d}/series.mrc", "--chunk-slices", "2", "--out", "{d}/o.mrc"],
                                 "--scheduler"),
    "angle count": (["reconstruct", "{d}/series.mrc", "--angles", "{d}/four.tlt", "--out", "{d}/o.mrc"],
                    "4 angles"),
    "range without count": (["reconstruct", "{d}/series.mrc", "--angle-range", "-60", "60", "--out",
                             "{d}/o.mrc"], "--n-angles"),
    "reference shape": (["deconvolve", "{d}/image.tif", "--psf-sigma", "1", "--reference", "{d}/series.mrc",
                         "--out", "{d}/o.tif"], "shape"),
    "negative noise level": (["denoise", "{d}/image.tif", "--sigma", "-0.1", "--out", "{d}/o.tif"],
                             "sigma must be non-negative"),
    "unknown denoiser": (["denoise", "{d}/image.tif", "--method", "magic", "--out", "{d}/o.tif"], "invalid choice"),
    "unknown command": (["frobnicate"], "invalid choice"),
}


@pytest.mark.parametrize("case", list(CASES))
def test_bad_input_is_one_line_with_status_2_and_writes_nothing(files, capsys, case):
    argv, expected = CASES[case]
    before = sorted(p.name for p in files.iterdir())
    status = main([a.format(d=files) for a in argv])
    err = capsys.readouterr().err
    assert status == 2
    lines = err.strip().splitlines()
    assert len(lines) == 1 and "error:" in lines[0], err
    assert expected in lines[0]
    assert sorted(p.name for p in files.iterdir()) == before
    assert (files / "existing.tif").read_bytes() == b"keep"


def test_debug_shows_the_exception(files):
    with pytest.raises(FileNotFoundError):
        main(["deconvolve", str(files / "nothere.tif"), "--psf-sigma", "1", "--out", str(files / "o.tif"),
              "--debug"])


def test_help_lists_the_subcommands_and_each_has_examples(capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["--help"])
    assert exit_info.value.code == 0
    top = capsys.readouterr().out
    for command in ("deconvolve", "reconstruct", "align", "simulate", "demo"):
        assert command in top
        with pytest.raises(SystemExit):
            main([command, "--help"] if command != "simulate" else ["simulate", "blur", "--help"])
        assert "examples:" in capsys.readouterr().out
    with pytest.raises(SystemExit):
        main(["deconvolve", "--help"])
    assert "admm-tv" in capsys.readouterr().out

"""Hostile input through the command line (issue 18): exit 2 with one line before any work, never a hang,
a late failure, an ``internal error``, a file only its owner can read, or JSON a reader refuses.

These call ``napari_invprob.cli.main`` in this process (fast), as ``test_cli_errors.py`` does.
"""

from __future__ import annotations

import json
import os
import re
import signal
import stat
import subprocess
import time

import numpy as np
import pytest
import torch
from _servers import DEADLINE_S, PlainServer

from napari_invprob.cli import main
from napari_invprob.cli._output import OutputPlan
from napari_invprob.cli.errors import CliError
from napari_invprob.io import write_volume


@pytest.fixture
def files(tmp_path):
    write_volume(tmp_path / "image.tif", np.random.default_rng(0).random((32, 32), dtype=np.float32), 2.0)
    write_volume(tmp_path / "const.tif", np.full((32, 32), 0.5, np.float32), 2.0)
    return tmp_path


@pytest.fixture
def silent_server():
    server = PlainServer()
    yield f"tcp://127.0.0.1:{server.port}"
    server.close()


def _unwritable_directory(path):
    """Make ``path`` a directory no file can be created in (chmod, or chattr +i as root); None if impossible."""
    path.mkdir()
    path.chmod(0o555)
    if not os.access(path, os.W_OK):
        return path
    if subprocess.run(["chattr", "+i", str(path)], capture_output=True).returncode == 0:
        return path
    return None


@pytest.fixture
def read_only(tmp_path):
    directory = _unwritable_directory(tmp_path / "read_only")
    if directory is None:
        pytest.skip("cannot make a directory unwritable here")
    yield directory
    subprocess.run(["chattr", "-i", str(directory)], capture_output=True)
    directory.chmod(0o755)


LONG = "x" * 300 + ".tif"

#: row -> (argv, words in the one error line); {d} is the input folder
REFUSED = {
    # row 3: port 99999 was accepted (and the connection tried)
    "port 99999": (["deconvolve", "{d}/image.tif", "--psf-sigma", "1", "--scheduler", "tcp://127.0.0.1:99999",
                    "--out", "{d}/o.tif"], "a port is a number from 1 to 65535"),
    # row 17: hundreds of worker processes on 2 cores
    "local:1000": (["deconvolve", "{d}/image.tif", "--psf-sigma", "1", "--scheduler", "local:1000", "--out",
                    "{d}/o.tif"], "asks for 1000 worker processes"),
    # row 4: λ beyond float32, refused only after the solve
    "lam 1e39": (["deconvolve", "{d}/image.tif", "--psf-sigma", "1", "--lam", "1e39", "--out", "{d}/o.tif"],
                 "float32"),
    # row 6: exit 0 with values of ±4e37
    "denoise sigma 1e39": (["denoise", "{d}/image.tif", "--sigma", "1e39", "--out", "{d}/o.tif"], "float32"),
    # row 12: "internal error" (RuntimeError, AssertionError, OSError)
    "device bogus": (["deconvolve", "{d}/image.tif", "--psf-sigma", "1", "--device", "bogus", "--out", "{d}/o.tif"],
                     "unknown device 'bogus'"),
    "device cuda:99": (["denoise", "{d}/image.tif", "--device", "cuda:99", "--out", "{d}/o.tif"], "not available"),
    "long output name": (["deconvolve", "{d}/image.tif", "--psf-sigma", "1", "--out", "{d}/" + LONG], "too long"),
    "long input name": (["deconvolve", "{d}/" + LONG, "--psf-sigma", "1", "--out", "{d}/o.tif"], "too long"),
    # row 13: "'>' not supported between instances of 'str' and 'int'"
    "option rho=abc": (["deconvolve", "{d}/image.tif", "--psf-sigma", "1", "--option", "rho=abc", "--out",
                        "{d}/o.tif"], "option rho must be a number, got str 'abc'"),
    "option nonneg=maybe": (["deconvolve", "{d}/image.tif", "--psf-sigma", "1", "--option", "nonneg=maybe",
                             "--out", "{d}/o.tif"], "set by its own flag here (--allow-negative)"),
    # row 14: "sigma must be non-negative, got nan", with numpy RuntimeWarnings on stderr
    "denoise constant image": (["denoise", "{d}/const.tif", "--out", "{d}/o.tif"],
                               "cannot estimate the noise of a constant image"),
    # row 18: an input named "good.mrc/" was read as good.mrc
    "input with a trailing slash": (["deconvolve", "{d}/image.tif/", "--psf-sigma", "1", "--out", "{d}/o.tif"],
                                    "ends in '/' but is not a directory"),
    "psf with a trailing slash": (["deconvolve", "{d}/image.tif", "--psf", "{d}/image.tif/", "--out", "{d}/o.tif"],
                                  "--psf"),
}


@pytest.mark.parametrize("row", list(REFUSED))
def test_hostile_arguments_are_one_line_with_status_2_and_write_nothing(files, capsys, row):
    argv, words = REFUSED[row]
    before = sorted(p.name for p in files.iterdir())
    status = main([a.format(d=files) for a in argv])
    err = capsys.readouterr().err
    assert status == 2, err
    lines = err.strip().splitlines()
    assert len(lines) == 1 and "error:" in lines[0], err
    assert words in lines[0]
    assert sorted(p.name for p in files.iterdir()) == before


def test_cuda_without_a_gpu_is_one_line_with_status_2(files, capsys):
    if torch.cuda.is_available():
        pytest.skip("this machine has CUDA")
    status = main(["deconvolve", str(files / "image.tif"), "--psf-sigma", "1", "--device", "cuda",
                   "--out", str(files / "o.tif")])
    assert status == 2 and "no CUDA GPU" in capsys.readouterr().err


# rows 1-2: a plain HTTP server as --scheduler hung the command (stopped at 120 s)
def test_a_scheduler_address_that_never_answers_fails_in_seconds(files, capsys, silent_server):
    start = time.monotonic()
    status = main(["deconvolve", str(files / "image.tif"), "--psf-sigma", "1", "--scheduler", silent_server,
                   "--out", str(files / "o.tif")])
    assert time.monotonic() - start < DEADLINE_S
    err = capsys.readouterr().err
    assert status == 2 and len(err.strip().splitlines()) == 1 and "cannot reach the dask scheduler" in err
    assert not (files / "o.tif").exists()


# row 11: a read-only output directory failed after all the iterations
def test_an_unwritable_output_directory_is_refused_before_work(files, capsys, read_only):
    status = main(["deconvolve", str(files / "image.tif"), "--psf-sigma", "1", "--n-iter", "100000",
                   "--method", "landweber", "--out", str(read_only / "x.tif")])
    err = capsys.readouterr().err
    assert status == 2 and "cannot write to the output directory" in err


# row 9: outputs were created 0600, and --overwrite turned a 0644 file into 0600
@pytest.fixture
def umask_022():
    previous = os.umask(0o022)
    yield
    os.umask(previous)


def test_outputs_get_the_umask_mode_and_a_replaced_file_keeps_its_own(files, capsys, umask_022):
    out = files / "o.tif"
    argv = ["denoise", str(files / "image.tif"), "--method", "gaussian", "--sigma", "0.1", "--out", str(out), "-q"]
    assert main(argv) == 0
    assert stat.S_IMODE(out.stat().st_mode) == 0o644
    assert stat.S_IMODE((files / "o.tif.json").stat().st_mode) == 0o644
    out.chmod(0o664)
    assert main([*argv, "--overwrite"]) == 0
    assert stat.S_IMODE(out.stat().st_mode) == 0o664


# row 10: a result equal to its reference printed "psnr_db": Infinity, which is not JSON
def test_json_is_strict_when_the_psnr_is_infinite(files, capsys):
    status = main(["denoise", str(files / "const.tif"), "--method", "gaussian", "--sigma", "0.1", "--reference",
                   str(files / "const.tif"), "--json", "--out", str(files / "o.tif")])
    out = capsys.readouterr().out
    assert status == 0

    def strict(text):
        return json.loads(text, parse_constant=lambda name: pytest.fail(f"{name} is not JSON"))

    assert strict(out)["psnr_db"] is None
    assert strict((files / "o.tif.json").read_text())["psnr_db"] is None


# row 18: options a method does not use are reported
def test_an_option_the_method_does_not_use_is_reported(files, capsys):
    status = main(["deconvolve", str(files / "image.tif"), "--psf-sigma", "1", "--method", "wiener", "--lam", "1",
                   "--out", str(files / "o.tif"), "-q"])
    err = capsys.readouterr().err
    assert status == 0
    assert "warning: method 'wiener' has no λ; lam=1.0 is ignored" in err


# row 8: angles in radians by mistake (a range, or a .rawtlt) ran with no warning
@pytest.mark.parametrize("angles", ["range", "rawtlt"])
def test_angles_in_radians_are_warned_about(tmp_path, capsys, angles):
    from napari_invprob import project

    radians = np.deg2rad(np.linspace(-60, 60, 9))
    write_volume(tmp_path / "series.mrc", project(np.pad(np.ones((4, 8, 8), np.float32), ((0, 0), (8, 8), (8, 8))),
                                                  np.linspace(-60, 60, 9)))
    flags = ["--angle-range", f"{radians[0]:.4f}", f"{radians[-1]:.4f}", "--n-angles", "9"]
    if angles == "rawtlt":
        (tmp_path / "series.rawtlt").write_text("".join(f"{a:.4f}\n" for a in radians))
        flags = []
    status = main(["reconstruct", str(tmp_path / "series.mrc"), *flags, "--out", str(tmp_path / "v.mrc"), "-q"])
    err = capsys.readouterr().err
    assert status == 0, err
    assert "warning: all 9 angles lie within ±1.05°, as angles in radians would" in err


# row 18: fbp with --n-iter 5 or --lam 1 ran as if they meant something
@pytest.mark.parametrize("flags, words", [(["--n-iter", "5"], "n_iter=5 is ignored"), (["--lam", "1"], "has no λ")])
def test_reconstruct_reports_flags_fbp_ignores(tmp_path, capsys, flags, words):
    from napari_invprob import project

    angles = np.linspace(-60, 60, 9)
    write_volume(tmp_path / "series.mrc", project(np.pad(np.ones((4, 8, 8), np.float32), ((0, 0), (8, 8), (8, 8))),
                                                  angles))
    (tmp_path / "series.rawtlt").write_text("".join(f"{a:.2f}\n" for a in angles))
    status = main(["reconstruct", str(tmp_path / "series.mrc"), "--method", "fbp", *flags, "--out",
                   str(tmp_path / "v.mrc"), "-q"])
    err = capsys.readouterr().err
    assert status == 0, err
    assert "warning: method 'fbp' " in err and words in err


# row 20: the loser of two runs writing one output was told "pass overwrite=True" (the API's words)
def test_an_output_written_meanwhile_is_reported_in_the_command_line_words(tmp_path):
    out = tmp_path / "o.tif"
    plan = OutputPlan.check([out], [], overwrite=False)
    write_volume(out, np.zeros((4, 4), np.float32))  # the other run finishes first
    with pytest.raises(CliError, match="written by another run meanwhile; pass --overwrite"):
        plan.write_volume(out, np.ones((4, 4), np.float32), None)
    assert not np.any(np.asarray(__import__("tifffile").imread(out)))


# the lost SIGINT: raised while Python ran a finaliser, the KeyboardInterrupt was swallowed ("Exception
# ignored in ...") and the solve went on
def test_a_signal_swallowed_by_a_finaliser_still_ends_the_run():
    from napari_invprob.cli import _terminate
    from napari_invprob.cli._progress import follow
    from napari_invprob.cli.errors import Interrupted, forget_signals
    from napari_invprob.solvers.base import Iterate

    class SignalledWhileFinalised:
        def __del__(self):
            os.kill(os.getpid(), signal.SIGINT)
            for _ in range(10000):  # the handler runs here, inside the finaliser
                pass

    consumed = []

    def iterates():
        for k in range(1, 1001):
            consumed.append(k)
            if k == 3:
                SignalledWhileFinalised()  # dropped at once: its __del__ runs now
            yield Iterate(k, torch.zeros(1), None, None, 0.0)

    forget_signals()
    previous = signal.signal(signal.SIGINT, _terminate)
    try:
        with pytest.raises(Interrupted):
            follow(iterates(), total=1000, desc="test", quiet=True)
    finally:
        signal.signal(signal.SIGINT, previous)
        forget_signals()
    assert len(consumed) <= 4


# row 19: SIGINT early in a run printed a KeyboardInterrupt traceback (1 in ~10)
@pytest.mark.parametrize("delay", [0.1, 0.4, 1.0])
def test_sigint_at_any_moment_is_exit_130_and_one_line(files, delay):
    import sys
    from pathlib import Path

    script = Path(sys.executable).with_name("napari-invprob")
    process = subprocess.Popen(
        [str(script), "deconvolve", str(files / "image.tif"), "--psf-sigma", "1", "--method", "landweber",
         "--n-iter", "1000000", "--out", str(files / "o.tif")],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    time.sleep(delay)
    process.send_signal(signal.SIGINT)
    _, err = process.communicate(timeout=60)
    # the progress bar redraws with carriage returns; what is left besides it is the one line
    lines = [line.strip() for line in re.split(r"[\r\n]+", err) if line.strip() and "%|" not in line]
    assert process.returncode == 130, err
    assert len(lines) == 1 and lines[0].endswith("interrupted; no output was written or replaced"), err
    assert not (files / "o.tif").exists()

"""``pip install napari-invprob`` without napari: the backend and the command line, in a fresh virtual
environment that sees none of this one's packages (issue 17: napari is an extra, as in the napari
plugin template). Runs where the CPU build of torch is on disk (pip never fetches a CUDA build here)."""

import glob
import os
import subprocess
import sys
import venv
from pathlib import Path

import numpy as np
import pytest
import tifffile

ROOT = Path(__file__).resolve().parents[1]
TORCH = "2.13.0"


def _torch_wheel() -> str | None:
    """The CPU wheel of torch on disk: in pip's find-links folder(s) or $NAPARI_INVPROB_TORCH_WHEEL."""
    if os.environ.get("NAPARI_INVPROB_TORCH_WHEEL"):
        return os.environ["NAPARI_INVPROB_TORCH_WHEEL"]
    folders = os.environ.get("PIP_FIND_LINKS", "/opt/wheels").split()
    tag = f"cp{sys.version_info.major}{sys.version_info.minor}"
    found = [w for folder in folders for w in glob.glob(f"{folder}/torch-{TORCH}+cpu-{tag}-*.whl")]
    return found[0] if found else None


def _run(*command, **kwargs) -> subprocess.CompletedProcess:
    result = subprocess.run([str(c) for c in command], capture_output=True, text=True, timeout=900, **kwargs)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    return result


@pytest.mark.slow
def test_a_fresh_venv_without_napari_runs_the_backend_and_the_command_line(tmp_path):
    wheel = _torch_wheel()
    if wheel is None:
        pytest.skip(f"the CPU wheel of torch {TORCH} is not on disk (set NAPARI_INVPROB_TORCH_WHEEL)")
    env_dir = tmp_path / "venv"
    venv.EnvBuilder(with_pip=True, system_site_packages=False).create(env_dir)
    python = env_dir / "bin" / "python"
    pip = [python, "-m", "pip", "install", "--quiet", "--no-compile", "--disable-pip-version-check"]
    _run(*pip, wheel)  # torch first, from the file: the resolver below then keeps it (no CUDA build)
    constraints = tmp_path / "constraints.txt"
    constraints.write_text(f"torch=={TORCH}\n")
    _run(*pip, "--constraint", constraints, ROOT)
    image = np.random.default_rng(0).random((48, 48)).astype(np.float32)
    tifffile.imwrite(tmp_path / "image.tif", image)
    script = (
        "import importlib.util, sys\n"
        "import napari_invprob as nip, torch\n"
        "assert importlib.util.find_spec('napari') is None, 'napari was installed'\n"
        f"assert torch.__version__.startswith('{TORCH}') and not torch.version.cuda, torch.__version__\n"
        "import numpy as np\n"
        "x = nip.deconvolve(np.ones((16, 16), np.float32), np.ones((3, 3)), method='tikhonov')\n"
        "y = nip.reconstruct(np.ones((5, 8), np.float32), np.linspace(0, 120, 5), method='fbp')\n"
        "print(x.shape, y.shape)\n"
    )
    assert _run(python, "-c", script, cwd=tmp_path).stdout.split() == ["(16,", "16)", "(8,", "8)"]
    _run(env_dir / "bin" / "napari-invprob", "deconvolve", tmp_path / "image.tif", "--psf-sigma", "1.5",
         "--method", "tikhonov", "--out", tmp_path / "out.tif", "--quiet")
    assert tifffile.imread(tmp_path / "out.tif").shape == image.shape

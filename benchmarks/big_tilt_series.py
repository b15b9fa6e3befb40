"""A 1024 × 1024 tilt series of 120 projections reconstructed as a 1024³ volume on this machine (issue 16,
item 4): SIRT 20 and TV with its defaults (coarse to fine), each in a fresh process, with wall time, CPU
time, peak memory and quality, beside the widget's forecast for the same run.

The series are the exact line integrals of the specimen of ``tests/_realistic_tilt_series.py`` (a porous
support with 40 nanoparticles: the blobs integrated exactly, the ellipsoids sampled at one point per
pixel), 120 tilts over ±60° about the x axis, plus Gaussian noise of 1 % of the largest value (seed 0).
No run uses our projector to make its data. The truth is rendered on every 16th z plane only (the whole
1024³ volume in float64 would not fit beside the runs), at one point per voxel as the projections; the
PSNR is taken over those 64 planes.

Peak memory is measured as in ``benchmarks/tilt_series.py`` (``measured_reconstruct``: the high-water
mark at the end of ``reconstruct`` less the resident set just before, the series loaded), as a multiple
of the volume's 4 GiB: output, projector and solver state included.

Run: ``.venv/bin/python benchmarks/big_tilt_series.py [--methods sirt tv]`` (2 threads, as on the CI
machines). About 15 minutes for the data and SIRT and 40 for TV on two quiet cores; 24 GiB suffice.
"""

from __future__ import annotations

import argparse
import multiprocessing
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))
sys.path.insert(0, str(Path(__file__).resolve().parent))
from _realistic_tilt_series import make_specimen, project_exact, render_volume  # noqa: E402
from tilt_series import measured_reconstruct  # noqa: E402

N = 1024
ANGLES = np.linspace(-60.0, 60.0, 120)
TILT_AXIS = "x"
NOISE = 0.01
THREADS = 2
#: The z planes of the volume the quality is measured on.
TRUTH_PLANES = range(0, N, 16)
GOAL_FORECAST = 0.3

#: The runs: name -> reconstruct keywords.
RUNS = {
    "sirt": {"method": "sirt", "n_iter": 20},
    "tv": {"method": "tv"},
}


def make_case(folder: Path) -> tuple[Path, Path]:
    """Write the noisy series ``(120, 1024, 1024)`` float32 and the truth planes; return their paths."""
    specimen = make_specimen(N)
    start = time.perf_counter()
    series = project_exact(specimen, N, ANGLES, supersample=1)
    series += np.random.default_rng(0).normal(0.0, NOISE * series.max(), series.shape)
    np.save(folder / "series.npy", series.astype(np.float32))
    del series
    truth = render_volume(specimen, N, supersample=1, planes=TRUTH_PLANES)
    np.save(folder / "truth.npy", truth)
    print(f"data: series {(len(ANGLES), N, N)} and {len(TRUTH_PLANES)} truth planes made in "
          f"{time.perf_counter() - start:.0f} s", flush=True)
    return folder / "series.npy", folder / "truth.npy"


def _run(series_path: str, truth_path: str, keywords: dict, answer) -> None:
    """Child process: one reconstruction; sends (seconds, CPU seconds, peak growth in bytes, PSNR)."""
    torch.set_num_threads(THREADS)
    from napari_invprob.metrics import psnr

    volume, seconds, cpu, peak = measured_reconstruct(np.load(series_path), ANGLES, TILT_AXIS, keywords)
    truth = np.load(truth_path)
    quality = psnr(truth, volume[TRUTH_PLANES.start:TRUTH_PLANES.stop:TRUTH_PLANES.step],
                   data_range=float(truth.max() - truth.min()))
    answer.put((seconds, cpu, peak, quality))


def fresh_run(series_path: Path, truth_path: Path, keywords: dict) -> tuple[float, float, float, float]:
    """``reconstruct(series, **keywords)`` in a fresh process: seconds, CPU seconds, peak bytes, PSNR."""
    context = multiprocessing.get_context("spawn")
    answer = context.Queue()
    process = context.Process(target=_run, args=(str(series_path), str(truth_path), keywords, answer))
    process.start()
    result = answer.get()
    process.join()
    return result


def widget_forecast(keywords: dict):
    """The Tomography widget's forecast (``widgets._estimate.tomography_forecast``) of the run: slab by
    slab at this size, its memory counting the widget's own prepared copy of the series."""
    from napari_invprob.napari.widgets._estimate import tomography_forecast
    from napari_invprob.tomography.reconstruct import METHODS

    method = keywords["method"]
    n_iter = keywords.get("n_iter", METHODS[method].default_n_iter)
    return tomography_forecast(len(ANGLES), N, N, method, n_iter, tilt_axis=TILT_AXIS, workers=THREADS).estimate


def met(ok: bool) -> str:
    return "met" if ok else "NOT met"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--methods", nargs="+", choices=list(RUNS), default=list(RUNS))
    args = parser.parse_args()
    volume_bytes = 4.0 * N**3
    print(f"tilt series ({len(ANGLES)}, {N}, {N}), 120 tilts over ±60° about x, exact projections, 1 % noise; "
          f"volume {N}³ ({volume_bytes / 2**30:.0f} GiB); {THREADS} threads\n", flush=True)
    with tempfile.TemporaryDirectory() as folder:
        series_path, truth_path = make_case(Path(folder))
        print(f"\n{'run':28s} {'seconds':>8s} {'CPU s':>8s} {'memory':>8s} {'PSNR':>7s}  the widget's forecast",
              flush=True)
        for name in args.methods:
            keywords = RUNS[name]
            seconds, cpu, peak, quality = fresh_run(series_path, truth_path, keywords)
            label = f"{name} ({keywords.get('n_iter', 'default')} iterations)"
            forecast = widget_forecast(keywords)
            print(f"{label:28s} {seconds:8.0f} {cpu:8.0f} {peak / volume_bytes:7.2f}x {quality:7.2f}  "
                  f"peak +{peak / 2**30:.2f} GiB; forecast {forecast.seconds:.0f} s ({forecast.seconds / seconds:.2f}x), "
                  f"{forecast.memory / 2**30:.2f} GiB ({forecast.memory / peak:.2f}x) -> "
                  f"{met(abs(forecast.seconds / seconds - 1) <= GOAL_FORECAST)} for the time", flush=True)


if __name__ == "__main__":
    main()

"""Issue 14's misfit table for a file made like the real one, and the time of the default path.

The file: 77 projections of 256x256 over ±76°, from exact projections of a porous support with
nanoparticles (``tests/_realistic_tilt_series.py``), STEM HAADF counts (dark level 870, Poisson) stored
as int16 minus 32768, the tilt axis along x turned 2° in-plane (ψ = 88), drifts of 14 px RMS, a
``.rawtlt`` beside it.

The score is the held-out projection misfit on the 32 central slices across the tilt axis
(:func:`napari_invprob.tomography.cross_validation.held_out_misfit`: every 4th projection held out, SIRT 50 from the rest,
reprojected, 1 − NCC, x 1e-3). Rows:

- the default preparation (offset undone, each projection's background removed), tilt axis x with
  the rotation onto the grid, then cross-correlation alignment; the same with projection matching
  (``align``'s default);
- the exact, undrifted projections with the axis on the grid (same counts model), prepared the same way;
- for comparison: cross-correlation alignment of the prepared series without the rotation, and about
  the wrong tilt axis (y); the prepared series not aligned; cross-correlation alignment of the counts
  with their background (axis y), and of the file as the reader gave it before issue 14 (the stored
  int16 values as signal, axis y: SIRT, which keeps x ≥ 0, returns a zero volume from data near
  −31,900, so the reprojections correlate with nothing and the misfit is 1000).

Then the default path's time: ``read_tilt_series`` → ``align(ts.data, ts.angles,
tilt_axis=ts.tilt_axis)`` → ``reconstruct(aligned, ts.angles, method="sirt", n_iter=50, ...)`` on the
whole series (the Tomography widget's default for a 3D series).

Run: ``.venv/bin/python benchmarks/real_tilt_series.py`` (2 threads, as on the CI machines; a few
minutes).
"""

from __future__ import annotations

import sys
import tempfile
import time
import warnings
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))
from _realistic_tilt_series import BENCHMARK, write_tilt_series  # noqa: E402

THREADS = 2
SLICES = 32  # central slices across the tilt axis that the misfit is computed on
SIRT_ITERATIONS = 50


def central(series: np.ndarray, tilt_axis: str) -> np.ndarray:
    """The ``SLICES`` central slices across the tilt axis: columns for ``"x"``, rows for ``"y"``."""
    axis = 2 if tilt_axis == "x" else 1
    start = (series.shape[axis] - SLICES) // 2
    return np.take(series, np.arange(start, start + SLICES), axis=axis)


def misfit(series: np.ndarray, angles: np.ndarray, tilt_axis: str) -> float:
    """Held-out misfit x 1e-3 of a series taken as it is (no further preparation)."""
    from napari_invprob.tomography.cross_validation import held_out_misfit

    score = held_out_misfit(
        central(series, tilt_axis), angles, n_iter=SIRT_ITERATIONS, tilt_axis=tilt_axis,
        background="none", contrast="dark-field",
    )
    return 1e3 * score


def main() -> None:
    from napari_invprob import align, reconstruct
    from napari_invprob.io import read_tilt_series
    from napari_invprob.preparation import PreparationWarning, prepare

    torch.set_num_threads(THREADS)
    folder = Path(tempfile.mkdtemp())
    start = time.perf_counter()
    made = write_tilt_series(folder, **BENCHMARK)
    rms = np.sqrt(np.mean(np.sum(made.drifts**2, axis=1)))
    print(f"file {made.path.name}: {made.counts.shape}, ±{BENCHMARK['max_tilt']:g}°, int16 - 32768, ψ = {made.psi:g}, "
          f"drift {rms:.1f} px RMS (max {np.abs(made.drifts).max():.1f}); made in {time.perf_counter() - start:.0f} s; "
          f"{THREADS} threads\n", flush=True)

    start = time.perf_counter()
    ts = read_tilt_series(made.path)
    print(f"read in {time.perf_counter() - start:.1f} s: {ts.conventions()}", flush=True)
    angles = ts.angles

    def row(what: str, series: np.ndarray, tilt_axis: str, seconds: float | None = None) -> None:
        note = "" if seconds is None else f"   (alignment {seconds:.1f} s)"
        print(f"  {what:72s} {misfit(series, angles, tilt_axis):8.2f}{note}", flush=True)

    print(f"\n  {'what was done (misfit on the 32 central slices, SIRT 50)':72s} {'x 1e-3':>8s}")
    start = time.perf_counter()
    aligned, _ = align(ts.data, angles, tilt_axis=ts.tilt_axis, method="cross-correlation")
    row("background removed, tilt axis x rotated onto the grid, cross-correlation", aligned,
        ts.tilt_axis, time.perf_counter() - start)
    start = time.perf_counter()
    aligned, _ = align(ts.data, angles, tilt_axis=ts.tilt_axis)
    align_seconds = time.perf_counter() - start
    row("same, projection matching (align's default)", aligned, ts.tilt_axis, align_seconds)
    row("exact undrifted data, axis on the grid, prepared the same way", prepare(made.reference)[0], "x")
    start = time.perf_counter()
    unrotated, _ = align(ts.data, angles, tilt_axis=ts.tilt_axis, tilt_axis_angle=None, method="cross-correlation")
    row("background removed, tilt axis x not rotated, cross-correlation", unrotated, ts.tilt_axis,
        time.perf_counter() - start)
    start = time.perf_counter()
    wrong_axis, _ = align(ts.data, angles, tilt_axis="y", tilt_axis_angle=None, method="cross-correlation")
    row("background removed, tilt axis y (wrong), cross-correlation", wrong_axis, "y", time.perf_counter() - start)
    row("background removed, tilt axis x, not aligned", prepare(ts.data)[0], "x")
    counts = made.counts.astype(np.float32)
    stored = counts - 32768.0  # the int16 values as the reader gave them before issue 14
    with warnings.catch_warnings():  # these rows skip the preparation on purpose; the warnings say so
        warnings.simplefilter("ignore", PreparationWarning)
        start = time.perf_counter()
        kept, _ = align(counts, angles, tilt_axis="y", tilt_axis_angle=None, background="none",
                        contrast="dark-field", method="cross-correlation")
        row("counts with their background, tilt axis y, cross-correlation", kept, "y", time.perf_counter() - start)
        start = time.perf_counter()
        before, _ = align(stored, angles, tilt_axis="y", tilt_axis_angle=None, background="none",
                          contrast="dark-field", method="cross-correlation")
        row("before issue 14: stored int16 values, tilt axis y, cross-correlation", before, "y",
            time.perf_counter() - start)

    start = time.perf_counter()
    volume = reconstruct(aligned, angles, method="sirt", n_iter=SIRT_ITERATIONS, tilt_axis=ts.tilt_axis)
    reconstruct_seconds = time.perf_counter() - start
    print(f"\ndefault path on {made.counts.shape}: align (projection matching) {align_seconds:.1f} s + "
          f"reconstruct (SIRT {SIRT_ITERATIONS}, volume {volume.shape}) {reconstruct_seconds:.1f} s = "
          f"{align_seconds + reconstruct_seconds:.1f} s", flush=True)


if __name__ == "__main__":
    main()

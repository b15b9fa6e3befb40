"""Light-sheet deskew against ``scipy.ndimage.affine_transform(order=1)``, in one run and one table.

A stage-scanned stack of 100 x 512 x 256 (planes, rows, columns; sheet at 30°, step 0.4, pixel 0.104,
so 3.33 columns of shear per plane and 586 columns out) is sampled from an analytic volume (Gaussian
ridges plus a ramp along the columns, a background of 100) in closed form, and deskewed by

- ``deskew`` (linear interpolation along the columns, plane by plane) with ``fill`` given, with
  ``fill="auto"`` (the background estimated from the stack as well), and on the camera's uint16;
- ``scipy.ndimage.affine_transform(order=1, mode="grid-constant")`` with the same shear matrix (the
  same linear interpolation; ``grid-constant`` blends a plane's edge with ``cval`` as ``deskew`` does).

Accuracy is the error against the analytic volume sampled on the output grid, where a plane covers the
output (max and RMS, relative to the ridges' height). Times are the best of a few rounds, contenders
taking turns within a round (``time.perf_counter``), in seconds. Both run on one thread (NumPy's
vectorised plane shifts; SciPy's C loop); ``fill="auto"`` adds the background estimate on one torch
thread.

Run: ``.venv/bin/python benchmarks/deskew.py``
"""

from __future__ import annotations

import math
import os
import time

import numpy as np
from scipy import ndimage

from napari_invprob import deskew
from napari_invprob.deconvolution.deskew import deskewed_shape, plane_offsets

SHAPE = (100, 512, 256)
GEOMETRY = {"angle": 30.0, "step": 0.4, "pixel_size": 0.104}
HEIGHT = 1000.0


def volume(k, r, u):
    """The specimen in the deskewed frame (plane, row, column in pixels)."""
    centre = 40.0 + 2.0 * k + 0.1 * r
    return (100.0 + HEIGHT * np.exp(-((u - centre) ** 2) / (2 * 3.0**2)) + 0.2 * u).astype(np.float32)


def best_times(contenders: dict, repeats: int) -> tuple[dict, dict]:
    """Best wall-clock time of each callable over ``repeats`` rounds (after a warm-up round), and its
    last result."""
    best, results = {name: math.inf for name in contenders}, {}
    for round_ in range(repeats + 1):
        for name, fn in contenders.items():
            start = time.perf_counter()
            results[name] = fn()
            if round_:
                best[name] = min(best[name], time.perf_counter() - start)
            if round_ < repeats:
                results[name] = None
    return best, results


def accuracy(out: np.ndarray, offsets: np.ndarray, columns: int) -> tuple[float, float]:
    """Max and RMS error against the analytic volume where a plane covers the output, over HEIGHT."""
    errors = []
    for k in range(out.shape[0]):
        j = np.arange(out.shape[2])
        inside = (j >= offsets[k]) & (j <= offsets[k] + columns - 1)
        r = np.arange(out.shape[1])[:, None]
        errors.append((out[k][:, inside] - volume(k, r, j[inside][None, :])).ravel())
    error = np.concatenate(errors)
    return float(np.abs(error).max() / HEIGHT), float(np.sqrt(np.mean(error.astype(np.float64) ** 2)) / HEIGHT)


def main() -> None:
    planes, rows, columns = SHAPE
    offsets = plane_offsets(planes, **GEOMETRY)
    k, r, c = np.ogrid[:planes, :rows, :columns]
    raw = volume(k, r, c + offsets[:, None, None])
    camera = np.rint(raw).astype(np.uint16)
    width = deskewed_shape(SHAPE, **GEOMETRY)[2]
    shear = np.eye(3)
    shear[2, 0] = -offsets[1]  # input column = output column - k · shift

    def scipy_deskew():
        return ndimage.affine_transform(raw, shear, output_shape=(planes, rows, width), order=1,
                                        mode="grid-constant", cval=100.0)

    contenders = {
        "deskew, fill=100": lambda: deskew(raw, **GEOMETRY, fill=100.0),
        'deskew, fill="auto"': lambda: deskew(raw, **GEOMETRY),
        'deskew, uint16, fill="auto"': lambda: deskew(camera, **GEOMETRY),
        "scipy affine_transform(order=1)": scipy_deskew,
    }
    times, results = best_times(contenders, repeats=3)

    load = ", ".join(f"{v:.1f}" for v in os.getloadavg())
    print(f"{planes}x{rows}x{columns} -> {planes}x{rows}x{width}, angle 30°, step 0.4, pixel 0.104; "
          f"{os.cpu_count()} cores, load average {load}")
    header = ("method", "time [s]", "vs scipy", "max error", "RMS error")
    cells = [header]
    for name, seconds in times.items():
        out = results[name]
        worst, rms = accuracy(out, offsets, columns) if "uint16" not in name else (math.nan, math.nan)
        cells.append((name, f"{seconds:.3f}", f"{times['scipy affine_transform(order=1)'] / seconds:.1f}x",
                      f"{worst:.2e}", f"{rms:.2e}"))
    widths = [max(len(row[i]) for row in cells) for i in range(len(header))]
    for n, row in enumerate(cells):
        print(" | ".join(cell.ljust(w) for cell, w in zip(row, widths)))
        if n == 0:
            print("-+-".join("-" * w for w in widths))
    print("errors relative to the ridges' height, where a plane covers the output (uint16: rounded input, "
          "not compared)")


if __name__ == "__main__":
    main()

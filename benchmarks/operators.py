"""Forward/adjoint timings of our operators beside their usual peers, in one run and one table.

Convolution (periodic and zero boundary) against ``scipy.signal.fftconvolve(mode="same")`` (its
adjoint: the same call with the flipped PSF) on a 256x256 image, the lecture's 512x512x3 RGB case and
a 128³ volume with a 15³ PSF; the parallel-beam projector (256x256, 180 angles; one slice and a batch
of 16) against ``skimage.transform.radon`` and ``iradon(filter_name=None)`` (slice by slice). Times are
the best of a few rounds (``time.perf_counter``; contenders take turns within a round, so a busy
machine slows all alike), in seconds, on the CPU.

Run: ``.venv/bin/python benchmarks/operators.py``
"""

from __future__ import annotations

import os
import time

import numpy as np
import scipy.signal
import torch
from skimage.transform import iradon, radon

from napari_invprob.operators import Convolution, ParallelBeamProjector
from napari_invprob.psf import gaussian


def best_times(contenders: dict, repeats: int) -> dict:
    """Best wall-clock time of each callable over ``repeats`` rounds, after one warm-up round.

    The contenders run in turns within each round, so a busy machine slows all of them alike.
    """
    best = {name: float("inf") for name in contenders}
    for round_ in range(repeats + 1):
        for name, fn in contenders.items():
            start = time.perf_counter()
            fn()
            if round_:
                best[name] = min(best[name], time.perf_counter() - start)
    return best


def convolution_rows(rng) -> list[tuple]:
    cases = [
        ("256x256, 15x15 PSF", (256, 256), gaussian(15, 3.0), None, 20),
        ("512x512x3 RGB, 7x7 PSF", (512, 512, 3), gaussian(7, 4.0), -1, 10),
        ("128^3, 15^3 PSF", (128, 128, 128), gaussian(15, 3.0, ndim=3), None, 5),
    ]
    rows = []
    for label, shape, psf, channel_axis, repeats in cases:
        image = rng.random(shape, dtype=np.float32)
        kernel = psf if channel_axis is None else psf[..., None]
        axes = tuple(range(psf.ndim))
        flipped = kernel[tuple(slice(None, None, -1) if a in axes else slice(None) for a in range(kernel.ndim))]
        x = torch.from_numpy(image)
        contenders = {
            "peer forward": lambda: scipy.signal.fftconvolve(image, kernel, mode="same", axes=axes),
            "peer adjoint": lambda: scipy.signal.fftconvolve(image, flipped, mode="same", axes=axes),
        }
        for boundary in ("periodic", "zero"):
            op = Convolution(psf, shape, boundary=boundary, channel_axis=channel_axis, device="cpu")
            contenders[f"{boundary} forward"] = lambda op=op: op.forward(x)
            contenders[f"{boundary} adjoint"] = lambda op=op: op.adjoint(x)
        t = best_times(contenders, repeats)
        for boundary in ("periodic", "zero"):
            rows.append(
                (
                    f"Convolution {boundary}",
                    label,
                    t[f"{boundary} forward"],
                    t[f"{boundary} adjoint"],
                    "scipy fftconvolve same",
                    t["peer forward"],
                    t["peer adjoint"],
                )
            )
    return rows


def projector_rows(rng) -> tuple[list[tuple], float]:
    n, angles = 256, np.linspace(0.0, 180.0, 180, endpoint=False)
    start = time.perf_counter()
    op = ParallelBeamProjector((n, n), angles, device="cpu")
    build = time.perf_counter() - start
    rows = []
    inside = np.hypot(*np.meshgrid(np.arange(n) - n // 2, np.arange(n) - n // 2)) < n // 2 - 1
    for n_slices, repeats in ((1, 10), (16, 3)):
        slices = rng.random((n_slices, n, n), dtype=np.float32) * inside  # radon wants 0 outside the circle
        x = torch.from_numpy(slices)
        sinograms = op.forward(x)
        skimage_sinograms = [s.numpy().T.astype(np.float64) for s in sinograms]
        contenders = {
            "forward": lambda: op.forward(x),
            "adjoint": lambda: op.adjoint(sinograms),
            "radon": lambda: [radon(s, angles) for s in slices],
            "iradon": lambda: [iradon(s, angles, filter_name=None, output_size=n) for s in skimage_sinograms],
        }
        t = best_times(contenders, repeats)
        label = f"{n}x{n}, 180 angles, {n_slices} slice{'s' if n_slices > 1 else ''}"
        peer = "skimage radon / iradon(filter_name=None)"
        rows.append(("ParallelBeamProjector", label, t["forward"], t["adjoint"], peer, t["radon"], t["iradon"]))
    return rows, build


def print_table(rows: list[tuple]) -> None:
    header = ("operation", "size", "ours fwd [s]", "ours adj [s]", "peer", "peer fwd [s]", "peer adj [s]")
    cells = [header] + [(*r[:2], f"{r[2]:.4f}", f"{r[3]:.4f}", r[4], f"{r[5]:.4f}", f"{r[6]:.4f}") for r in rows]
    widths = [max(len(str(row[i])) for row in cells) for i in range(len(header))]
    for k, row in enumerate(cells):
        print(" | ".join(str(c).ljust(w) for c, w in zip(row, widths)))
        if k == 0:
            print("-+-".join("-" * w for w in widths))


def main() -> None:
    rng = np.random.default_rng(0)
    load = ", ".join(f"{v:.1f}" for v in os.getloadavg())
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, device cpu, load average {load}")
    rows = convolution_rows(rng)
    projector, build = projector_rows(rng)
    print_table(rows + projector)
    print(f"\nParallelBeamProjector first build (256x256, 180 angles): {build:.2f} s, cached per geometry after")


if __name__ == "__main__":
    main()

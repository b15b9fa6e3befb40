"""Scale-out on dask.distributed: one process against ``local:2``, and a paper estimate for 100 nodes.

Three parts, one run:

1. a tilt series (61 angles, 64 slices of 192 pixels; SIRT, 20 iterations) reconstructed in one process
   (one torch thread, then two) and on a ``LocalCluster`` of 2 worker processes of one thread each
   (chunks of slices), the largest difference reported;
2. a large deconvolution (2048x2048, 15x15 Gaussian PSF, ADMM-TV, 20 iterations) the same three ways,
   in overlapping tiles on the cluster, with the stitching error against the one-process result;
3. the per-slice cost of a SIRT iteration and the projector's size measured at a few widths, then
   extrapolated to a 4096x4096x120 series on 100 nodes (the assumptions are printed with the numbers).

Times are wall-clock seconds (``time.perf_counter``), best of ``--repeats`` warm runs; the cluster's
start-up is reported apart. This machine has 2 cores shared with other work, so ``local:2`` can gain at
most 2x and a busy machine shrinks the gain.

Run: ``.venv/bin/python benchmarks/scaling.py`` (``--quick`` for smaller cases)
"""

from __future__ import annotations

import argparse
import math
import time

import numpy as np
import torch

from napari_invprob import deconvolve, project, reconstruct
from napari_invprob.distributed import deconvolve_distributed, open_client, reconstruct_distributed
from napari_invprob.operators import ParallelBeamProjector
from napari_invprob.phantom import rods_and_spheres
from napari_invprob.psf import gaussian


def with_threads(n: int, fn):
    """``fn`` run with ``n`` torch threads in this process."""

    def run():
        previous = torch.get_num_threads()
        torch.set_num_threads(n)
        try:
            return fn()
        finally:
            torch.set_num_threads(previous)

    return run


def best_of(fn, repeats: int) -> tuple[float, object]:
    """Best wall-clock time of ``fn()`` over ``repeats`` runs, and its last result."""
    best, result = math.inf, None
    for _ in range(repeats):
        start = time.perf_counter()
        result = fn()
        best = min(best, time.perf_counter() - start)
    return best, result


def tilt_series_rows(client, *, width: int, n_slices: int, repeats: int) -> list[tuple]:
    angles = np.linspace(-60, 60, 61)
    volume = rods_and_spheres((width, n_slices, width), seed=0)
    series = project(volume, angles, tilt_axis="y")
    options = dict(method="sirt", n_iter=20, tilt_axis="y")
    reconstruct(series, angles, **options)  # builds and caches the projector in this process
    t_single, single = best_of(with_threads(1, lambda: reconstruct(series, angles, **options)), repeats)
    t_threads, _ = best_of(with_threads(2, lambda: reconstruct(series, angles, **options)), repeats)
    start = time.perf_counter()
    reconstruct_distributed(series, angles, scheduler=client, **options)  # workers build their projector
    t_first = time.perf_counter() - start
    t_cluster, many = best_of(lambda: reconstruct_distributed(series, angles, scheduler=client, **options), repeats)
    error = float(np.abs(many - single).max() / np.abs(single).max())
    label = f"tilt series {series.shape[0]}x{n_slices}x{width}, SIRT 20"
    return [
        (label, "1 process, 1 thread", t_single, "1", "-"),
        (label, "1 process, 2 threads", t_threads, f"{t_single / t_threads:.2f}x", "-"),
        (label, "local:2, chunks of slices", t_cluster, f"{t_single / t_cluster:.2f}x",
         f"max |diff| / max = {error:.1e}; first run {t_first:.2f} s"),
    ]


def deconvolution_rows(client, *, size: int, tile: int, repeats: int) -> list[tuple]:
    rng = np.random.default_rng(0)
    yy, xx = np.mgrid[:size, :size] / size
    clean = (0.5 + 0.25 * np.sin(40 * xx) * np.cos(31 * yy) + 0.25 * (rng.random((size, size)) > 0.999))
    psf = gaussian(15, 2.0)
    blurred = np.fft.irfft2(np.fft.rfft2(clean) * np.fft.rfft2(_centred(psf, size)), s=(size, size))
    blurred = (blurred + 0.01 * rng.standard_normal(blurred.shape)).astype(np.float32)
    options = dict(method="admm-tv", lam=0.005, n_iter=20)
    t_single, single = best_of(with_threads(1, lambda: deconvolve(blurred, psf, **options)), repeats)
    t_threads, _ = best_of(with_threads(2, lambda: deconvolve(blurred, psf, **options)), repeats)
    t_cluster, tiled = best_of(
        lambda: deconvolve_distributed(blurred, psf, scheduler=client, tile_shape=tile, **options), repeats)
    error = float(np.abs(tiled - single).max() / np.ptp(single))
    label = f"deconvolution {size}x{size}, 15x15 PSF, ADMM-TV 20"
    return [
        (label, "1 process, 1 thread", t_single, "1", "-"),
        (label, "1 process, 2 threads", t_threads, f"{t_single / t_threads:.2f}x", "-"),
        (label, f"local:2, tiles {tile}^2 + halo", t_cluster, f"{t_single / t_cluster:.2f}x",
         f"max |diff| / range = {error:.1e}"),
    ]


def _centred(psf: np.ndarray, size: int) -> np.ndarray:
    """The PSF on a ``size x size`` grid with its centre pixel at the origin (for a periodic blur)."""
    grid = np.zeros((size, size))
    k = psf.shape[0]
    grid[:k, :k] = psf
    return np.roll(grid, (-(k // 2), -(k // 2)), axis=(0, 1))


def per_slice_costs(widths, *, n_angles: int, batch: int, n_iter: int) -> list[dict]:
    """Seconds per slice per SIRT iteration, projector build time and non-zeros at each width."""
    angles = np.linspace(-60, 60, n_angles)
    rows = []
    for width in widths:
        start = time.perf_counter()
        projector = ParallelBeamProjector((width, width), angles, device="cpu")
        build = time.perf_counter() - start
        series = project(np.ones((width, batch, width), np.float32), angles, tilt_axis="y")
        reconstruct(series, angles, method="sirt", n_iter=1)
        seconds, _ = best_of(lambda: reconstruct(series, angles, method="sirt", n_iter=n_iter), 2)
        rows.append(dict(width=width, build=build, nnz=projector.nnz,
                         per_slice_iteration=seconds / (batch * n_iter)))
    return rows


def cluster_estimate(costs: list[dict], *, width=4096, n_angles=120, thickness=(1024, 4096), nodes=100,
                     cores=32, n_iter=50, measured_angles=120, network_gb_s=1.25) -> list[str]:
    """Extrapolate the measured per-slice costs to a ``width x width x n_angles`` series on ``nodes`` nodes.

    One dask worker process per node with ``cores`` torch threads (so a node holds one projector), the
    slices split evenly over the nodes, the client on a 10 Gb/s link (``network_gb_s``).
    """
    ref = costs[-1]
    w = np.array([c["width"] for c in costs], float)
    t = np.array([c["per_slice_iteration"] for c in costs])
    exponent = float(np.polyfit(np.log(w), np.log(t), 1)[0]) if len(costs) > 1 else 2.0
    lines = [f"measured: per-slice SIRT iteration cost grows as width^{exponent:.2f} between widths "
             f"{int(w[0])} and {int(w[-1])} (2 expected once per-call overheads vanish); scaled below by "
             "n_angles x width x thickness from the largest width"]
    series_gb = width * width * n_angles * 4 / 1e9
    for depth in thickness:
        scale = (n_angles / measured_angles) * (width * depth) / (ref["width"] * ref["width"])
        per_slice = ref["per_slice_iteration"] * scale
        matrix_gb = 2 * ref["nnz"] * scale * 8 / 1e9  # matrix and transpose: float32 values, int32 columns
        slices_per_node = math.ceil(width / nodes)
        compute = slices_per_node * n_iter * per_slice / cores
        build = ref["build"] * scale  # vectorised NumPy, one core
        volume_gb = width * width * depth * 4 / 1e9
        lines.append(
            f"thickness {depth}: {slices_per_node} slices per node at {per_slice:.2f} s per slice-iteration "
            f"(one core) -> SIRT {n_iter} in ~{compute / 60:.1f} min per node + {build:.0f} s to build its "
            f"projector ({matrix_gb:.0f} GB); moving {series_gb:.0f} GB of projections out and "
            f"{volume_gb:.0f} GB of volume back through the client takes "
            f"~{(series_gb + volume_gb) / network_gb_s / 60:.1f} min"
        )
    return lines


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="smaller cases")
    parser.add_argument("--repeats", type=int, default=2)
    args = parser.parse_args(argv)
    torch.set_num_threads(1)  # one core per process, as each dask worker has, unless a row says otherwise
    width, n_slices, size, tile = (128, 32, 1024, 512) if args.quick else (192, 64, 2048, 1024)

    start = time.perf_counter()
    with open_client("local:2") as client:
        startup = time.perf_counter() - start
        rows = tilt_series_rows(client, width=width, n_slices=n_slices, repeats=args.repeats)
        rows += deconvolution_rows(client, size=size, tile=tile, repeats=args.repeats)
    header = ("case", "run", "seconds", "speed-up", "agreement")
    widths = [max(len(str(r[i])) if i != 2 else 7 for r in [header, *rows]) for i in range(5)]
    print(f"LocalCluster start-up (2 worker processes, 1 thread each): {startup:.2f} s; "
          f"torch threads in the single process: {torch.get_num_threads()}")
    print("  ".join(h.ljust(w) for h, w in zip(header, widths)))
    for case, run, seconds, speedup, agreement in rows:
        print("  ".join([case.ljust(widths[0]), run.ljust(widths[1]), f"{seconds:7.2f}", speedup.ljust(widths[3]),
                         agreement]))

    costs = per_slice_costs((64, 128) if args.quick else (128, 256), n_angles=120, batch=8, n_iter=5)
    print("\nper-slice costs (120 angles, one core):")
    print("width  projector build (s)  non-zeros    s per slice-iteration")
    for c in costs:
        print(f"{c['width']:5d}  {c['build']:19.2f}  {c['nnz']:11d}  {c['per_slice_iteration']:.2e}")
    print("\npaper estimate, 4096x4096x120 series on 100 nodes (one worker process per node with 32 torch threads")
    print("that scale linearly, slices split evenly, client on 10 Gb/s, no other overheads):")
    for line in cluster_estimate(costs):
        print("  " + line)


if __name__ == "__main__":
    main()

"""A whole electron-tomography tilt series at speed: 77 projections of 256x256, reconstructed as a
256x256x256 volume, beside ASTRA's CPU SIRT when ``astra`` is importable, in one run and one table.

Rows: one SIRT and one CGLS iteration (the steady per-iteration time, between the second and third
iterate, and the time to the first iterate, which includes building the projector), the TV
reconstruction with its default iterations by ``reconstruct`` (chunks solved one after another), the
floor under it (the forward and adjoint projections its iterations need, timed alone), and
its peak memory beyond the data (the growth of the resident-set high-water mark ``VmHWM`` of a fresh
process, as a multiple of the volume's size; the output volume and the projector's two sparse matrices,
built during the call, included).
ASTRA's CPU algorithms are 2D only: its SIRT iteration is timed on a few slices and scaled to the 256
slices. Besides wall-clock seconds, the CPU seconds of the process (all threads) are shown: on a
machine shared with other work the wall clock overstates what 2 free cores take.

The data are a rods-and-spheres volume projected with our own projector plus 1 % noise; they serve
timing and memory only (the PSNR column is for orientation, not a quality claim: the tomography
benchmark scores methods on exact data).

Run: ``.venv/bin/python benchmarks/tilt_series.py`` (2 threads, as on the CI machines); with ASTRA
installed elsewhere, put it on ``PYTHONPATH``.
"""

from __future__ import annotations

import multiprocessing
import time
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import torch

N = 256
ANGLES = np.linspace(-60.0, 60.0, 77)
THREADS = 2


def make_series() -> tuple[np.ndarray, np.ndarray]:
    from napari_invprob import phantom, simulate

    volume = phantom.rods_and_spheres((N, N, N), seed=0)
    return volume, simulate.project(volume, ANGLES, noise=0.01, seed=0, tilt_axis="y")


def per_iteration(series: np.ndarray, method: str) -> tuple[float, float, float]:
    """Seconds to the first iterate, and wall and CPU seconds of one steady iteration."""
    from napari_invprob import reconstruct_iter

    start = time.perf_counter()
    stamps, cpu = [], []
    for _ in reconstruct_iter(series, ANGLES, method=method, n_iter=3, tilt_axis="y"):
        stamps.append(time.perf_counter())
        cpu.append(time.process_time())
    return stamps[0] - start, stamps[2] - stamps[1], cpu[2] - cpu[1]


def high_water_mark() -> int:
    """Peak resident set size of this process in bytes (``VmHWM``; unlike ``ru_maxrss`` it is not
    inherited across ``exec`` from the parent)."""
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024
    raise RuntimeError("no VmHWM in /proc/self/status")


def astra_sirt_iteration(series: np.ndarray, n_slices: int = 4, n_iter: int = 10) -> tuple[float, float] | None:
    """ASTRA CPU SIRT (strip model), wall and CPU seconds per iteration for all slices, or None."""
    try:
        import astra
    except ImportError:
        return None
    vol_geom = astra.create_vol_geom(N, N)
    proj_geom = astra.create_proj_geom("parallel", 1.0, N, np.radians(ANGLES))
    projector = astra.create_projector("strip", proj_geom, vol_geom)
    elapsed = cpu = 0.0
    rows = np.linspace(N // 4, 3 * N // 4, n_slices).astype(int)
    for row in rows:
        sinogram = astra.data2d.create("-sino", proj_geom, np.ascontiguousarray(series[:, row, :]))
        times = []
        for iterations in (1, 1 + n_iter):
            volume = astra.data2d.create("-vol", vol_geom, 0.0)
            config = astra.astra_dict("SIRT")
            config.update(ReconstructionDataId=volume, ProjectionDataId=sinogram, ProjectorId=projector)
            algorithm = astra.algorithm.create(config)
            start, start_cpu = time.perf_counter(), time.process_time()
            astra.algorithm.run(algorithm, iterations)
            times.append((time.perf_counter() - start, time.process_time() - start_cpu))
            astra.algorithm.delete(algorithm)
            astra.data2d.delete(volume)
        astra.data2d.delete(sinogram)
        elapsed += (times[1][0] - times[0][0]) / n_iter
        cpu += (times[1][1] - times[0][1]) / n_iter
    astra.projector.delete(projector)
    return elapsed / n_slices * N, cpu / n_slices * N


def projector_floor(series: np.ndarray, n_iter: int) -> tuple[float, float]:
    """Wall and CPU seconds of the projections alone that ``n_iter`` TV iterations need: one forward and
    one adjoint of every chunk of slices per iteration, the solver's other work left out. No iteration
    count's worth of TV can run faster than this with our projector on this machine."""
    from napari_invprob._device import torch_threads
    from napari_invprob.operators import ParallelBeamProjector
    from napari_invprob.problems.tilt_geometry import to_slices
    from napari_invprob.problems.tomography import MIN_CHUNK_SLICES, SOLVE_CHUNK_ELEMENTS

    sinograms = to_slices(torch.from_numpy(series), "y")
    projector = ParallelBeamProjector((N, N), ANGLES)  # built (and cached) before the clock starts
    per_chunk = max(MIN_CHUNK_SLICES, SOLVE_CHUNK_ELEMENTS // (N * N))
    chunks = [sinograms[i : i + per_chunk].contiguous() for i in range(0, sinograms.shape[0], per_chunk)]
    workers = torch.get_num_threads()
    start, start_cpu = time.perf_counter(), time.process_time()
    # as reconstruct runs them: one chunk per thread, side by side
    with torch_threads(1), ThreadPoolExecutor(workers) as pool:
        list(pool.map(lambda chunk: projector.forward(projector.adjoint(chunk)), chunks))
    return (time.perf_counter() - start) * n_iter, (time.process_time() - start_cpu) * n_iter


def _tv_in_fresh_process(path: str, queue) -> None:
    torch.set_num_threads(THREADS)
    from napari_invprob import reconstruct

    series = np.load(path)
    reconstruct(series[:, :8, :64], ANGLES, method="tv", n_iter=1)  # imports, not the 256-wide projector
    baseline = high_water_mark()
    start, start_cpu = time.perf_counter(), time.process_time()
    volume = reconstruct(series, ANGLES, method="tv", tilt_axis="y")
    seconds, cpu = time.perf_counter() - start, time.process_time() - start_cpu
    peak = high_water_mark()
    np.save(path + ".rec.npy", volume)
    queue.put((seconds, cpu, peak - baseline))


def tv_time_and_memory(series: np.ndarray, tmpdir: str) -> tuple[float, float, float, np.ndarray]:
    path = f"{tmpdir}/series.npy"
    np.save(path, series)
    context = multiprocessing.get_context("spawn")
    queue = context.Queue()
    process = context.Process(target=_tv_in_fresh_process, args=(path, queue))
    process.start()
    seconds, cpu, extra_bytes = queue.get()
    process.join()
    return seconds, cpu, extra_bytes, np.load(path + ".rec.npy")


def main() -> None:
    import tempfile

    from napari_invprob.metrics import psnr
    from napari_invprob.problems.tomography import METHODS

    torch.set_num_threads(THREADS)
    volume, series = make_series()
    volume_bytes = volume.astype(np.float32).nbytes
    print(f"tilt series {series.shape} (77 angles, ±60°), volume {volume.shape}; {THREADS} threads\n", flush=True)
    print(f"{'what':40s} {'seconds':>8s} {'CPU s':>8s}  {'note':40s} {'PSNR':>8s}", flush=True)

    def row(name, seconds, cpu, note, quality=""):
        print(f"{name:40s} {seconds:8.2f} {cpu:8.2f}  {note:40s} {quality:>8s}", flush=True)

    steady = {}
    for method in ("sirt", "cgls"):
        first, steady[method], cpu = per_iteration(series, method)
        row(f"ours {method.upper()}, one iteration", steady[method], cpu, f"first iterate {first:.2f} s")
    n_iter = METHODS["tv"].default_n_iter
    floor = projector_floor(series, n_iter)  # before ASTRA runs in this process (its threads slowed it)
    astra_time = astra_sirt_iteration(series)
    if astra_time is None:
        print("ASTRA CPU SIRT: astra not importable", flush=True)
    else:
        ratio = astra_time[0] / steady["sirt"]
        row("ASTRA CPU SIRT (strip), one iteration", *astra_time, f"ours {ratio:.0f}x faster (wall)")
    with tempfile.TemporaryDirectory() as tmpdir:
        seconds, cpu, extra, result = tv_time_and_memory(series, tmpdir)
    quality = f"{psnr(volume, result, data_range=float(volume.max() - volume.min())):.1f} dB"
    note = f"peak +{extra / 2**20:.0f} MiB = {extra / volume_bytes:.1f}x volume"
    row(f"ours TV ({n_iter} iterations)", seconds, cpu, note, quality)
    row(f"  of which at least: A and Aᵀ x {n_iter}", *floor, "the projections alone (sparse products)")


if __name__ == "__main__":
    main()

"""Bigger than memory (issue 28): a 3D stack of 3× the memory a single-machine run may use, deconvolved
zarr→zarr with Richardson-Lucy on ``local:2``, and a tilt series reconstructed zarr→zarr, slice chunk by
slice chunk.

The budget is 2 GiB per process: each of the two worker processes gets a dask memory limit of 2 GiB,
and the stack is 6 GiB of float32 (``(384, 2048, 2048)``). The table gives, per run, the peak resident
memory of every process (the client, this one, and each worker: ``ru_maxrss``, fresh processes for
each run), the throughput in voxels per second and the mean time per tile or chunk (as the tasks
measured it). Beside the big run, the same deconvolution of a stack that fits (``(64, 512, 512)``),
once in memory (numpy in, numpy out, the client holding both) and once zarr→zarr, so the streaming's
cost shows.

Richardson-Lucy: 5 iterations, a 7³ Gaussian PSF (σ 1.2), the camera offset 100 given, tiles of 256³
(halo 26: 308³ extended tiles), input chunks of ``(64, 128, 128)``. The stack: beads on a 16-pixel grid
(Gaussian spots of σ 1.5 pixels, exact formula) over the camera offset of 100, with Poisson noise (a
seed per chunk); the tilt series: the exact line integrals of 300
Gaussian blobs (a Gaussian's projection is a Gaussian), 61 tilts over ±60° about y, 512 × 512 pixels,
reconstructed by SIRT (10 iterations) into a 512³ volume in chunks of 16 slices. No data are made with
the operators under test.

Run: ``.venv/bin/python benchmarks/big_stack.py [--quick] [--folder DIR [--reuse]]`` (``--quick``: small
stacks, to check the script; ``--reuse``: the inputs already in ``DIR``). About 30 minutes and 13 GiB of
disk on two busy cores (writing the 6 GiB stack: 8 minutes).
"""

from __future__ import annotations

import argparse
import contextlib
import multiprocessing
import os
import resource
import shutil
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

SRC = str(Path(__file__).resolve().parent.parent / "src")
sys.path.insert(0, SRC)
os.environ["PYTHONPATH"] = os.pathsep.join(filter(None, [SRC, os.environ.get("PYTHONPATH")]))  # the workers too

from napari_invprob.distributed import deconvolve_distributed, reconstruct_distributed  # noqa: E402
from napari_invprob.files import read_zarr  # noqa: E402
from napari_invprob.files.zarr import write_zarr  # noqa: E402

GiB = 2**30
BUDGET = 2 * GiB
BIG = (384, 2048, 2048)  # 6 GiB of float32: 3x the budget
SMALL = (64, 512, 512)  # fits: the in-memory comparison
CHUNKS = (64, 128, 128)  # the input's chunks (4 MiB)
TILE = 256
#: The camera offset of the synthetic stack, given (``"auto"`` would add a streamed pass over the stack).
RL = dict(method="richardson-lucy", n_iter=5, background=100.0, device="cpu")
PSF_SIGMA = 1.2
SERIES = dict(n_angles=61, size=512, blobs=300)
CHUNK_SLICES = 16


def beads(block_info=None) -> np.ndarray:
    """One chunk of the bead stack (dask ``map_blocks``): exact Gaussian spots plus Poisson noise."""
    info = block_info[None]
    (z0, z1), (y0, y1), (x0, x1) = info["array-location"]
    z, y, x = np.ogrid[z0:z1, y0:y1, x0:x1]
    squared = ((z % 16) - 7.5) ** 2 + ((y % 16) - 7.5) ** 2 + ((x % 16) - 7.5) ** 2
    mean = 100.0 + 400.0 * np.exp(-squared / (2 * 1.5**2))
    seed = int(np.ravel_multi_index(info["chunk-location"], info["num-chunks"]))
    return np.random.default_rng(seed).poisson(mean).astype(np.float32)


def write_beads(path: Path, shape) -> None:
    import dask.array as da

    lazy = da.map_blocks(beads, chunks=tuple(tuple(_split(n, c)) for n, c in zip(shape, CHUNKS)), dtype=np.float32)
    write_zarr(path, lazy, axes="ZYX", voxel_size=(2000.0, 1000.0, 1000.0), unit="µm", chunks=CHUNKS)


def _split(n: int, c: int):
    return [min(c, n - s) for s in range(0, n, c)]


def write_series(path: Path) -> np.ndarray:
    """The exact line integrals of Gaussian blobs, 61 tilts about y; returns the angles."""
    import dask.array as da

    n, size, count = SERIES["n_angles"], SERIES["size"], SERIES["blobs"]
    angles = np.linspace(-60.0, 60.0, n)
    rng = np.random.default_rng(0)
    centres = rng.uniform(-0.3, 0.3, (count, 3)) * size  # (z, y, x) about the volume's centre
    sigmas = rng.uniform(2.0, 8.0, count)
    amplitudes = rng.uniform(0.5, 1.0, count) * np.sqrt(2 * np.pi) * sigmas
    pixels = np.arange(size) - (size - 1) / 2

    def projections(block_info=None):
        (a0, a1), (r0, r1), _ = block_info[None]["array-location"]
        rows = np.exp(-(pixels[r0:r1, None] - centres[None, :, 1]) ** 2 / (2 * sigmas**2)) * amplitudes
        out = np.empty((a1 - a0, r1 - r0, size), np.float32)
        for k, theta in enumerate(np.radians(angles[a0:a1])):
            u = centres[:, 2] * np.cos(theta) + centres[:, 0] * np.sin(theta)
            cols = np.exp(-(pixels[None, :] - u[:, None]) ** 2 / (2 * sigmas[:, None] ** 2))
            out[k] = rows @ cols
        return out

    lazy = da.map_blocks(projections, chunks=((n,), tuple(_split(size, CHUNK_SLICES)), (size,)), dtype=np.float32)
    write_zarr(path, lazy, axes="ZYX", voxel_size=(10.0, 10.0, 10.0), chunks=(n, CHUNK_SLICES, size))
    return angles


@contextlib.contextmanager
def cluster(workers: int = 2):
    """A fresh local cluster: ``workers`` processes of one thread, each limited to the budget."""
    import dask
    from distributed import Client, LocalCluster

    from napari_invprob.distributed.cluster import _WORKER_ENVIRONMENT

    with dask.config.set(_WORKER_ENVIRONMENT), LocalCluster(
            n_workers=workers, threads_per_worker=1, processes=True, memory_limit=BUDGET,
            dashboard_address=None) as local, Client(local) as client:
        yield client


def _warm_up() -> None:
    import napari_invprob.deconvolution.deconvolve  # noqa: F401
    import napari_invprob.tomography.reconstruct  # noqa: F401


def _peak_rss() -> int:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def measured(call, *, voxels: int) -> dict:
    """Run ``call(client)`` on a fresh cluster in a fresh process; its wall time, throughput and the
    peak resident memory of the client and of every worker."""
    context = multiprocessing.get_context("spawn")
    results = context.Queue()
    process = context.Process(target=_measure, args=(call, voxels, results))  # not a daemon: it starts workers
    process.start()
    result = results.get()
    process.join()
    if isinstance(result, BaseException):
        raise result
    return result


def _measure(call, voxels: int, results) -> None:
    try:
        with cluster() as client:
            client.run(_warm_up)  # torch and the package imported: the start-up is not the run's
            start = time.perf_counter()
            record = call(client)
            seconds = record.pop("seconds", time.perf_counter() - start)
            workers = sorted(client.run(_peak_rss).values())
        results.put(dict(seconds=seconds, voxels_per_s=voxels / seconds, client_rss=_peak_rss(), worker_rss=workers,
                         **record))
    except BaseException as error:  # noqa: BLE001 - reported by the parent
        results.put(RuntimeError(f"{type(error).__name__}: {error}"))


def deconvolve_zarr(source: str, out: str, client) -> dict:
    from napari_invprob.psf import gaussian

    deconvolve_distributed(source, gaussian(7, PSF_SIGMA, ndim=3), scheduler=client, tile_shape=TILE, out=out,
                           overwrite=True, **RL)
    record = read_zarr(out).attributes["provenance"]
    return dict(tiles=record["pieces"], per_tile=record["seconds_per_piece"])


def deconvolve_memory(source: str, client) -> dict:
    from napari_invprob.psf import gaussian

    image = read_zarr(source).data.compute()  # read before the clock starts: the in-memory run's input
    start = time.perf_counter()
    deconvolve_distributed(image, gaussian(7, PSF_SIGMA, ndim=3), scheduler=client, tile_shape=TILE, **RL)
    return dict(tiles=None, per_tile=None, seconds=time.perf_counter() - start)


def reconstruct_zarr(source: str, out: str, angles: np.ndarray, client) -> dict:
    reconstruct_distributed(source, angles, scheduler=client, chunk_slices=CHUNK_SLICES, out=out, overwrite=True,
                            method="sirt", n_iter=10, device="cpu")
    record = read_zarr(out).attributes["provenance"]
    return dict(tiles=record["pieces"], per_tile=record["seconds_per_piece"])


class _Rows(list):
    """The table's rows, each also printed as it is measured (a long run shows its progress)."""

    def append(self, row) -> None:
        super().append(row)
        print(f"measured: {row[0]} {row[1]}: {row[2]}", flush=True)


class Call:
    """A picklable ``function(*args, client)``."""

    def __init__(self, function, *args):
        self.function, self.args = function, args

    def __call__(self, client):
        return self.function(*self.args, client)


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small stacks and series, to check the script")
    parser.add_argument("--folder", type=Path, default=None, help="where the stores go (default: a temporary one)")
    parser.add_argument("--reuse", action="store_true", help="keep the input stores already in --folder")
    args = parser.parse_args(argv)
    folder = args.folder or Path(tempfile.mkdtemp(prefix="napari-invprob-big-"))
    big, small = ((64, 384, 256), (32, 256, 256)) if args.quick else (BIG, SMALL)
    if args.quick:
        SERIES.update(n_angles=21, size=96)
    rows = _Rows()
    try:
        start = time.perf_counter()
        if not args.reuse:
            write_beads(folder / "small.zarr", small)
            write_beads(folder / "big.zarr", big)
        angles = write_series(folder / "series.zarr") if not (args.reuse and (folder / "series.zarr").exists()) \
            else np.linspace(-60.0, 60.0, SERIES["n_angles"])
        print(f"data written in {time.perf_counter() - start:.0f} s to {folder} (big stack {big}, "
              f"{4 * np.prod(big) / GiB:.1f} GiB float32)", flush=True)
        fits, many = int(np.prod(small)), int(np.prod(big))
        rows.append(("RL, stack that fits, in memory", small,
                     measured(Call(deconvolve_memory, str(folder / "small.zarr")), voxels=fits)))
        rows.append(("RL, stack that fits, zarr→zarr", small,
                     measured(Call(deconvolve_zarr, str(folder / "small.zarr"), str(folder / "small_rl.zarr")),
                              voxels=fits)))
        rows.append((f"RL, {4 * many / GiB:.1f} GiB stack, zarr→zarr", big,
                     measured(Call(deconvolve_zarr, str(folder / "big.zarr"), str(folder / "big_rl.zarr")),
                              voxels=many)))
        volume = SERIES["size"] ** 3
        rows.append(("SIRT 10, tilt series zarr→volume zarr", (SERIES["n_angles"], SERIES["size"], SERIES["size"]),
                     measured(Call(reconstruct_zarr, str(folder / "series.zarr"), str(folder / "volume.zarr"), angles),
                              voxels=volume)))
    finally:
        if args.folder is None:
            shutil.rmtree(folder, ignore_errors=True)
    print(f"\nbudget {BUDGET / GiB:.0f} GiB per process (dask worker memory limit), local:2, tiles {TILE}³ "
          f"(RL {RL['n_iter']} iterations, 7³ PSF, background {RL['background']:g}), slice chunks of {CHUNK_SLICES}\n")
    print("| run | shape | wall s | Mvoxel/s | s per tile/chunk (tasks) | peak RSS client GiB | peak RSS workers GiB |")
    print("|---|---|---:|---:|---:|---:|---:|")
    for name, shape, r in rows:
        per = "-" if r["per_tile"] is None else f"{r['per_tile']:.2f} ({r['tiles']})"
        workers = " / ".join(f"{w / GiB:.2f}" for w in r["worker_rss"])
        print(f"| {name} | {'×'.join(map(str, shape))} | {r['seconds']:.0f} | {r['voxels_per_s'] / 1e6:.2f} | {per} "
              f"| {r['client_rss'] / GiB:.2f} | {workers} |")
    budget_ok = all(max(r["worker_rss"] + [r["client_rss"]]) <= BUDGET for name, _, r in rows if "GiB stack" in name)
    print(f"\nno process above the {BUDGET / GiB:.0f} GiB budget on the big stack: {budget_ok}")


if __name__ == "__main__":
    main()

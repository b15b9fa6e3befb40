"""Deconvolution benchmark: every method of ``napari_invprob.deconvolve`` beside scikit-image's.

One run, one table:

1. the lecture's case (astronaut RGB 512x512, 7x7 Gaussian PSF of sigma 4, noise sigma 0.05): PSNR,
   SSIM and wall-clock seconds of each of our methods (defaults; the ``pnp-*`` methods also with the
   learned denoiser; ``lam="auto"`` for TV) and of
   ``skimage.restoration.wiener``, ``unsupervised_wiener`` and ``richardson_lucy`` (channel by channel);
2. a 3D Poisson case (128^3 volume, 15^3 Gaussian PSF): seconds per Richardson-Lucy iteration, ours
   vs ``skimage.restoration.richardson_lucy``;
3. a widefield stack at real size (64x512x512 by default, ``--widefield-shape``): beads and filaments
   blurred by the Born & Wolf PSF (NA 1.4, 520 nm, oil, 65 nm pixels, 200 nm planes; scipy's FFT
   convolution, not our operator), peak 1000 counts on a camera offset of 100, Poisson noise: our
   Richardson-Lucy (20 iterations, ``background="auto"``) and ADMM-TV (30 iterations) beside
   ``skimage.restoration.richardson_lucy`` (20 iterations, on the counts less the offset): PSNR, seconds
   and peak memory (each run in its own process: the rise of its peak resident memory over what it held
   before the run, as a multiple of the float32 stack; Linux only).

Goals (issue 4): TV at >= 25.9 dB in no more time than ``unsupervised_wiener`` takes in the same run;
3D Richardson-Lucy at least 5x faster per iteration than scikit-image's, and (issue 16) within 1.3x of
the FFT floor measured in the same run. Goals (issue 15): widefield
Richardson-Lucy at least 3x faster per iteration than scikit-image's; peak memory at most 8x the stack.

Usage: ``python benchmarks/deconvolution.py [--threads N] [--widefield-shape NZ NY NX] [--widefield-only]``
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
from scipy import ndimage, signal
from skimage import restoration

import napari_invprob as nip
from napari_invprob.datasets import lecture_astronaut
from napari_invprob.deconvolution.methods import METHODS
from napari_invprob.metrics import psnr, ssim

RL_ITERATIONS_3D = 10
REPEATS = 3
#: Richardson–Lucy's iteration as ``deconvolve`` runs it: the time of RL_LONG iterations less that of RL_SHORT.
RL_SHORT, RL_LONG = 10, 40
#: Rounds of Richardson–Lucy's timings, each the three measures in turn (medians are reported).
RL_ROUNDS = 9
#: The widefield case: the stack, its sampling (µm, z y x), the camera offset, the iterations.
WIDEFIELD_SHAPE = (64, 512, 512)
WIDEFIELD_VOXEL_UM = (0.2, 0.065, 0.065)
WIDEFIELD_OFFSET = 100.0
WIDEFIELD_RL_ITERATIONS = 20
WIDEFIELD_TV_ITERATIONS = 30


def _timed(function):
    start = time.perf_counter()
    result = function()
    return result, time.perf_counter() - start


def _per_channel(function, image):
    return np.stack([function(image[..., c]) for c in range(image.shape[-1])], axis=-1)


def lecture_rows(case):
    """(name, PSNR, SSIM, seconds) for each method on the lecture's case."""
    runs = [(f"ours {name}", lambda name=name: nip.deconvolve(case.blurred, case.psf, method=name,
                                                             channel_axis=-1))
            for name in METHODS if name != "tv"]
    runs += [(f"ours {name} (learned)",
              lambda name=name: nip.deconvolve(case.blurred, case.psf, method=name, denoiser="learned",
                                               channel_axis=-1))
             for name in ("pnp-admm", "pnp-fista")]
    runs.append(("ours admm-tv lam=auto", lambda: nip.deconvolve(case.blurred, case.psf, method="admm-tv",
                                                                 lam="auto", channel_axis=-1)))
    runs += [
        ("skimage wiener (balance 0.1)",
         lambda: _per_channel(lambda ch: restoration.wiener(ch, case.psf, balance=0.1), case.blurred)),
        ("skimage unsupervised_wiener",
         lambda: _per_channel(lambda ch: restoration.unsupervised_wiener(ch, case.psf, rng=0)[0], case.blurred)),
        ("skimage richardson_lucy (10 it)",
         lambda: _per_channel(lambda ch: restoration.richardson_lucy(ch, case.psf, num_iter=10), case.blurred)),
    ]
    rows = [("input (blurred, noisy)", psnr(case.clean, case.blurred, data_range=1),
             ssim(case.clean, case.blurred, data_range=1, channel_axis=-1), 0.0)]
    for name, run in runs:
        restored, seconds = _timed(run)
        rows.append((name, psnr(case.clean, restored, data_range=1),
                     ssim(case.clean, restored, data_range=1, channel_axis=-1), seconds))
    return rows


def poisson_volume(size=128, psf_size=15, seed=0):
    """A 3D bead-and-filament volume, its 15^3 Gaussian PSF and Poisson counts (made with scipy)."""
    rng = np.random.default_rng(seed)
    volume = np.zeros((size,) * 3, np.float32)
    beads = rng.integers(8, size - 8, size=(200, 3))
    volume[tuple(beads.T)] = 1.0
    volume = ndimage.gaussian_filter(volume, 1.0) * 2000 + 5.0
    r = np.arange(psf_size) - psf_size // 2
    psf = np.exp(-(r[:, None, None] ** 2 + r[None, :, None] ** 2 + (r[None, None, :] / 1.5) ** 2) / (2 * 2.0**2))
    psf = (psf / psf.sum()).astype(np.float32)
    blurred = ndimage.convolve(volume, psf, mode="wrap")
    return volume, psf, rng.poisson(blurred).astype(np.float32)


def rl_3d_rows():
    """(name, PSNR, seconds per iteration) of RL_ITERATIONS_3D iterations of 3D Richardson-Lucy.

    Seconds per iteration: total time / iterations, set-up included (ours transforms the PSF and the
    data first), the best of REPEATS runs to damp the noise of a shared machine.
    """
    volume, psf, counts = poisson_volume()
    peak = float(volume.max())
    n = RL_ITERATIONS_3D
    scaled = counts / counts.max()  # skimage clips its estimate to [-1, 1]; give it data on [0, 1]
    runs = {
        "ours richardson-lucy (periodic)":
            lambda: nip.deconvolve(counts, psf, method="richardson-lucy", n_iter=n),
        "ours richardson-lucy (zero boundary)":
            lambda: nip.deconvolve(counts, psf, method="richardson-lucy", n_iter=n, boundary="zero"),
        "skimage richardson_lucy":
            lambda: restoration.richardson_lucy(scaled, psf, num_iter=n, clip=False) * counts.max(),
        # what a user gets from skimage.img_as_float data: the same algorithm in double precision
        "skimage richardson_lucy (float64 in)":
            lambda: restoration.richardson_lucy(scaled.astype(np.float64), psf.astype(np.float64), num_iter=n,
                                                clip=False) * counts.max(),
    }
    rows = [("input (Poisson counts)", psnr(volume, counts, data_range=peak), None)]
    for name, run in runs.items():
        timings = [_timed(run) for _ in range(REPEATS)]
        restored = timings[0][0]
        rows.append((name, psnr(volume, restored, data_range=peak), min(t for _, t in timings) / n))
    rows.append(("FFT floor: 2 rfftn + 2 irfftn (torch)", None, fft_floor_seconds(counts, n)))
    return rows


def fft_floor_seconds(volume, n):
    """Seconds of the four real FFTs every Richardson-Lucy iteration needs (one forward and one inverse
    per convolution, ``Ax`` and ``Aᵀ(y/Ax)``), nothing else: no implementation can beat this per
    iteration with these transforms on this machine."""
    x = torch.from_numpy(volume)

    def four_ffts():
        for _ in range(n):
            for _ in range(2):
                torch.fft.irfftn(torch.fft.rfftn(x), s=x.shape)

    return min(_timed(four_ffts)[1] for _ in range(REPEATS)) / n


def richardson_lucy_over_floor() -> dict[str, float]:
    """Richardson–Lucy at 128³ beside the FFT floor, in :data:`RL_ROUNDS` rounds of about a second, each
    measuring in turn:

    - one iteration as ``deconvolve`` runs it: its time for :data:`RL_LONG` iterations less its time for
      :data:`RL_SHORT`, over the difference (the set-up cancels; no fit is measured, as ``deconvolve``
      keeps only the image);
    - the floor with the same statistic: the four FFTs of an iteration, ``RL_LONG - RL_SHORT`` times in
      a row, over that count;
    - one streamed iteration: the fastest step between consecutive iterates of ``deconvolve_iter`` with its
      defaults (each iterate's fit measured and the iterate converted to the input's layout, what the
      widget gets).

    Returns the medians over the rounds of the three times and of each round's ratios to its floor. This
    machine's FFTs moved between 9.5 and 13.5 ms from one minute to the next, even within one run, so a
    ratio is only taken between measures of the same round."""
    _, psf, counts = poisson_volume()
    x = torch.from_numpy(counts)
    n = RL_LONG - RL_SHORT

    def seconds_of_deconvolve(n_iter):
        start = time.perf_counter()
        nip.deconvolve(counts, psf, method="richardson-lucy", n_iter=n_iter, background=0.0)
        return time.perf_counter() - start

    def seconds_of_ffts():
        start = time.perf_counter()
        for _ in range(2 * n):  # A x and Aᵀ(y / A x): a forward and an inverse real FFT each
            torch.fft.irfftn(torch.fft.rfftn(x), s=x.shape)
        return time.perf_counter() - start

    rounds = []
    for _ in range(RL_ROUNDS):
        iteration = -seconds_of_deconvolve(RL_SHORT)
        floor = seconds_of_ffts() / n
        iteration = (iteration + seconds_of_deconvolve(RL_LONG)) / n
        stamps = [time.perf_counter() for _ in nip.deconvolve_iter(counts, psf, method="richardson-lucy",
                                                                    n_iter=RL_SHORT, background=0.0)]
        streamed = float(np.min(np.diff(stamps)))
        rounds.append((iteration, floor, streamed, iteration / floor, streamed / floor))
    medians = np.median(np.array(rounds), axis=0)
    return dict(zip(("iteration", "floor", "streamed", "ratio", "streamed_ratio"), medians.tolist()))


def widefield_stack(shape, seed=0):
    """Truth (in counts), Poisson counts on the camera offset, and the Born & Wolf PSF of the widefield case."""
    from napari_invprob import psf as psf_models

    rng = np.random.default_rng(seed)
    kernel = psf_models.optical_psf("born-wolf", image_shape=shape, voxel_size=WIDEFIELD_VOXEL_UM, na=1.4,
                                    wavelength=0.52)
    truth = np.zeros(shape, np.float32)
    n_beads = max(20, int(np.prod(shape) // 40_000))
    truth[tuple(rng.integers(0, n, n_beads) for n in shape)] = 1.0
    for _ in range(max(2, n_beads // 20)):  # filaments: straight lines through the stack
        start, direction = rng.uniform(0, 1, 3) * shape, rng.normal(size=3) * (0.1, 1, 1)
        points = start + np.outer(np.linspace(0, 0.5 * max(shape), 400), direction / np.linalg.norm(direction))
        inside = np.all((points >= 0) & (points < shape), axis=1)
        truth[tuple(points[inside].astype(int).T)] = 0.3
    truth = ndimage.gaussian_filter(truth, 1.0)
    blurred = np.clip(signal.fftconvolve(truth, kernel, mode="same"), 0, None)
    gain = 1000.0 / blurred.max()
    counts = rng.poisson(blurred * gain + WIDEFIELD_OFFSET).astype(np.float32)
    return (truth * gain).astype(np.float32), counts, kernel


def _widefield_run(name, folder, threads, answer):
    """Child process: one run of the widefield case; sends (PSNR, seconds, peak memory rise in bytes)."""
    if threads:
        torch.set_num_threads(threads)
    truth, counts, kernel = (np.load(Path(folder) / f"{part}.npy") for part in ("truth", "counts", "psf"))
    n_rl, n_tv = WIDEFIELD_RL_ITERATIONS, WIDEFIELD_TV_ITERATIONS
    signal_only = np.clip(counts - WIDEFIELD_OFFSET, 0, None)
    scale = float(signal_only.max())
    runs = {
        "ours richardson-lucy": lambda: nip.deconvolve(counts, kernel, method="richardson-lucy", n_iter=n_rl,
                                                       background="auto"),
        "ours admm-tv": lambda: nip.deconvolve(counts, kernel, method="admm-tv", n_iter=n_tv) - WIDEFIELD_OFFSET,
        "skimage richardson_lucy": lambda: restoration.richardson_lucy(signal_only / scale, kernel, num_iter=n_rl,
                                                                       clip=False) * scale,
    }
    before = _resident_bytes(reset_peak=True)
    restored, seconds = _timed(runs[name])
    peak = _peak_resident_bytes() - before
    answer.send((psnr(truth, restored, data_range=float(truth.max())), seconds, peak))


def _resident_bytes(*, reset_peak: bool) -> int:
    """This process's resident memory now; with ``reset_peak`` its peak is first reset to it (Linux:
    ``/proc/self/clear_refs``), so that the peak measured after a run is the run's own."""
    if reset_peak:
        Path("/proc/self/clear_refs").write_text("5")
    return _proc_status_bytes("VmRSS")


def _peak_resident_bytes() -> int:
    return _proc_status_bytes("VmHWM")


def _proc_status_bytes(field: str) -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(f"{field}:"):
            return int(line.split()[1]) * 1024
    raise RuntimeError(f"/proc/self/status has no {field} (the memory measure needs Linux)")


def widefield_rows(shape, threads=None):
    """(name, PSNR, seconds, seconds per iteration, peak memory / stack) of the widefield case."""
    truth, counts, kernel = widefield_stack(shape)
    context = multiprocessing.get_context("spawn")
    rows = [("input (counts less the offset)", psnr(truth, counts - WIDEFIELD_OFFSET, data_range=float(truth.max())),
             None, None, None)]
    with tempfile.TemporaryDirectory() as folder:
        for part, array in (("truth", truth), ("counts", counts), ("psf", kernel)):
            np.save(Path(folder) / f"{part}.npy", array)
        for name, n in (("ours richardson-lucy", WIDEFIELD_RL_ITERATIONS), ("ours admm-tv", WIDEFIELD_TV_ITERATIONS),
                        ("skimage richardson_lucy", WIDEFIELD_RL_ITERATIONS)):
            receive, send = context.Pipe(duplex=False)
            child = context.Process(target=_widefield_run, args=(name, folder, threads, send))
            child.start()
            value, seconds, peak = receive.recv()
            child.join()
            rows.append((name, value, seconds, seconds / n, peak / counts.nbytes))
    return rows, kernel.shape


def print_widefield(shape, threads):
    rows, psf_shape = widefield_rows(shape, threads)
    print(f"\n## Widefield stack {'x'.join(map(str, shape))}, Born & Wolf PSF {'x'.join(map(str, psf_shape))} "
          f"(NA 1.4, 520 nm), offset {WIDEFIELD_OFFSET:g}, Poisson")
    print(f"{'method':38s} {'PSNR dB':>8s} {'seconds':>8s} {'s/iter':>8s} {'memory/stack':>13s}")
    for name, value, seconds, per_iteration, memory in rows:
        cells = [f"{value:8.2f}", " " * 8 if seconds is None else f"{seconds:8.2f}",
                 " " * 8 if per_iteration is None else f"{per_iteration:8.3f}"]
        print(f"{name:38s} {' '.join(cells)} {'' if memory is None else f'{memory:13.1f}':>13s}")
    by_name = {row[0]: row for row in rows}
    speedup = by_name["skimage richardson_lucy"][3] / by_name["ours richardson-lucy"][3]
    memory = max(by_name["ours richardson-lucy"][4], by_name["ours admm-tv"][4])
    print(f"Widefield Richardson-Lucy >= 3x faster per iteration than skimage: {speedup:.1f}x -> "
          f"{'met' if speedup >= 3 else 'NOT met'}; peak memory <= 8x the stack: {memory:.1f}x -> "
          f"{'met' if memory <= 8 else 'NOT met'}")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=None, help="torch CPU threads (default: torch's)")
    parser.add_argument("--widefield-shape", type=int, nargs=3, default=WIDEFIELD_SHAPE, metavar=("NZ", "NY", "NX"),
                        help="the widefield stack's shape (default 64 512 512)")
    parser.add_argument("--widefield-only", action="store_true", help="run the widefield case only")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    nip.deconvolve(np.ones((16, 16), np.float32), np.ones((3, 3)), n_iter=1)  # warm-up (imports, FFT plans)
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    print(f"# torch {torch.__version__}, {torch.get_num_threads()} thread(s), device cpu, "
          f"load average {load:.1f} on {os.cpu_count()} cores")
    if args.widefield_only:
        print_widefield(tuple(args.widefield_shape), args.threads)
        return

    case = lecture_astronaut(seed=0)
    rows = lecture_rows(case)
    print("\n## Lecture case: astronaut RGB 512x512, 7x7 Gaussian PSF (sigma 4), noise sigma 0.05")
    print(f"{'method':38s} {'PSNR dB':>8s} {'SSIM':>6s} {'seconds':>8s}")
    for name, p, s, t in rows:
        print(f"{name:38s} {p:8.2f} {s:6.3f} {t:8.2f}")

    rl_rows = rl_3d_rows()
    print(f"\n## 3D Poisson case: 128^3 volume, 15^3 Gaussian PSF, Richardson-Lucy ({RL_ITERATIONS_3D} iterations)")
    print(f"{'method':38s} {'PSNR dB':>8s} {'s/iter':>8s}")
    for name, p, t in rl_rows:
        print(f"{name:38s} {'' if p is None else f'{p:8.2f}':>8s} {'' if t is None else f'{t:8.3f}':>8s}")

    by_name = {name: (p, t) for name, p, _, t in rows}
    tv_psnr, tv_seconds = by_name["ours admm-tv"]
    unsup_seconds = by_name["skimage unsupervised_wiener"][1]
    speedup = rl_rows[3][2] / rl_rows[1][2]  # skimage's (float32, like ours) vs our periodic RL
    print("\n## Goals")
    print(f"TV >= 25.9 dB within unsupervised_wiener's time: {tv_psnr:.2f} dB in {tv_seconds:.2f} s vs "
          f"{unsup_seconds:.2f} s -> {'met' if tv_psnr >= 25.9 and tv_seconds <= unsup_seconds else 'NOT met'}")
    print(f"3D Richardson-Lucy >= 5x faster per iteration than skimage: {speedup:.1f}x -> "
          f"{'met' if speedup >= 5 else 'NOT met'} (the FFTs alone bound it at "
          f"{rl_rows[3][2] / rl_rows[-1][2]:.1f}x)")
    rl = richardson_lucy_over_floor()  # issue 16: deconvolve's iteration, set-up cancelled, ratio per round
    print(f"3D Richardson-Lucy within 1.3x of the FFT floor per iteration: {rl['ratio']:.2f}x -> "
          f"{'met' if rl['ratio'] <= 1.3 else 'NOT met'} ({rl['iteration'] * 1e3:.1f} ms against "
          f"{rl['floor'] * 1e3:.1f} ms, medians of {RL_ROUNDS} rounds; with the set-up spread over "
          f"{RL_ITERATIONS_3D}: {rl_rows[1][2] / rl_rows[-1][2]:.2f}x)")
    print_widefield(tuple(args.widefield_shape), args.threads)


if __name__ == "__main__":
    main()

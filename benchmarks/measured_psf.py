"""Measured-PSF benchmark (issue 25): what preparing a bead stack is worth, and our Richardson-Lucy beside
RedLionfish's CPU path on a deskewed light-sheet-sized stack.

One run, two tables, on files made like real ones (``tests/_realistic_bead.py``: puncta blurred by an
analytic PSF, elongated along z and asymmetric, on a grid finer than the data's with scipy; Poisson and
read noise on a camera offset of 100; a bead stack at 0.1 µm planes, off-centre, on the same offset):

1. PSNR against the truth of Richardson-Lucy (20 iterations, ``background="auto"``) and ADMM-TV
   (``deconvolve``'s defaults), periodic boundaries, given: the true PSF sampled on the data's grid; the bead stack prepared
   (``voxel_size``/``psf_voxel_size``: background removed, centred, cropped, resampled); the bead stack
   prepared but not resampled (no voxel sizes: its 0.1 µm planes taken as the data's); the raw bead
   stack (``psf_background="none"``, no voxel sizes, its middle planes cropped to fit), as before issue
   25. Data at 0.3 µm planes (a stage step) and at 0.2 µm (a deskewed stack: 0.4 µm · sin 30°).
2. Richardson-Lucy on the deskewed synthetic lattice light-sheet stack (``tests/_realistic_light_sheet.py``:
   raw 100x128x128, ``--stack-shape``, angle 30°, step 0.3 µm, deskewed with ``napari_invprob.deskew`` to
   0.15 x 0.104 x 0.104 µm) with a bead stack of the same PSF (0.1 µm planes, off-centre, offset 100)
   prepared onto its grid: ours (``deconvolve``, ``background="auto"``) against
   RedLionfish's CPU path (``doRLDeconvolutionFromNpArrays(method="cpu")``, on the counts less the
   offset, as it models no background), same iterations, in the same run: seconds and PSNR. RedLionfish
   is optional (``pip install --no-deps redlionfish``: its CPU path needs only NumPy and SciPy; its
   ``pyopencl``/``reikna`` requirements are for the GPU); without it the row says so.

Goal (issue 25): the prepared bead PSF within 0.5 dB of the true PSF; the raw bead measurably worse.

Both run on one thread by default (``--threads``): on a loaded machine (load 10 on 2 cores) torch's
second thread waited so long that our 10 iterations took 3.7 s on two threads and 0.30 s on one.

Usage: ``python benchmarks/measured_psf.py [--threads N] [--stack-shape NZ NY NX] [--n-iter N]``
"""

from __future__ import annotations

import argparse
import sys
import time
import warnings
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))
from _realistic_bead import bead_stack, recorded, specimen, true_psf  # noqa: E402
from _realistic_light_sheet import light_sheet_psf, make_light_sheet  # noqa: E402

import napari_invprob as nip  # noqa: E402
from napari_invprob.metrics import psnr  # noqa: E402
from napari_invprob.psf import prepare_psf  # noqa: E402

BEAD_VOXEL = (0.1, 0.104, 0.104)
RL_ITERATIONS = 20
#: The PSNR table's stacks: the data's voxel size and shape.
CASES = {"stage step 0.3 µm": ((0.3, 0.104, 0.104), (32, 64, 64)),
         "deskewed 0.2 µm": ((0.2, 0.104, 0.104), (48, 64, 64))}
STACK_SHAPE = (100, 128, 128)


def _quiet(function):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return function()


def _timed(function):
    start = time.perf_counter()
    result = _quiet(function)
    return result, time.perf_counter() - start


def psf_variants(bead, voxel, n_planes):
    """(name, PSF, keyword arguments of deconvolve) for the PSNR table."""
    centre, half = bead.shape[0] // 2, min(n_planes - 1, bead.shape[0]) // 2
    return [
        ("true PSF on the data's grid", true_psf((2 * int(np.ceil(3.0 / voxel[0])) + 1, 21, 21), voxel)
         .astype(np.float32), {}),
        ("bead, prepared", bead, {"voxel_size": voxel, "psf_voxel_size": BEAD_VOXEL}),
        ("bead, prepared, not resampled", _quiet(lambda: prepare_psf(bead)[0]), {}),
        ("bead, raw (before issue 25)", bead[centre - half:centre + half + 1], {"psf_background": "none"}),
    ]


def psnr_table(bead) -> list[tuple]:
    rows = []
    for case, (voxel, shape) in CASES.items():
        truth, data = specimen(shape, voxel)
        data_range = float(truth.max())
        for name, psf, keywords in psf_variants(bead, voxel, shape[0]):
            if psf.shape[0] > shape[0]:  # as deconvolve would refuse it: cropped to the stack
                c = psf.shape[0] // 2
                psf = psf[c - (shape[0] - 1) // 2:c + (shape[0] - 1) // 2 + 1]
            rl = _quiet(lambda psf=psf, keywords=keywords: nip.deconvolve(
                data, psf, method="richardson-lucy", n_iter=RL_ITERATIONS, background="auto", **keywords))
            tv = _quiet(lambda psf=psf, keywords=keywords: nip.deconvolve(data, psf, **keywords))
            rows.append((case, name, psnr(truth, rl, data_range=data_range),
                         psnr(truth, tv - tv.min(), data_range=data_range)))
    return rows


def redlionfish_rows(shape, n_iter) -> list[tuple]:
    acquisition = make_light_sheet(shape=shape)
    data = nip.deskew(acquisition.raw, angle=acquisition.angle, step=acquisition.step,
                      pixel_size=acquisition.pixel_size)
    truth, data_range = acquisition.truth, float(acquisition.truth.max())
    bead = recorded(light_sheet_psf((41, 41, 41), BEAD_VOXEL, centre=(0.23, -0.31, 0.17)), seed=4)
    kernel, report = prepare_psf(bead, voxel_size=acquisition.voxel_size, psf_voxel_size=BEAD_VOXEL)
    print(f"deskewed stack {data.shape} at {tuple(round(v, 4) for v in acquisition.voxel_size)} µm; the bead: "
          f"{report}")

    def run_ours():
        return nip.deconvolve(data, kernel, method="richardson-lucy", n_iter=n_iter, background="auto",
                              boundary="periodic", psf_background="none")

    _quiet(lambda: nip.deconvolve(data[:16], kernel[:7], method="richardson-lucy", n_iter=1))  # warm up
    ours, seconds = _timed(run_ours)
    rows = [(f"ours richardson-lucy, {n_iter} it., background auto", seconds,
             psnr(truth, ours, data_range=data_range))]
    try:
        from RedLionfishDeconv import doRLDeconvolutionFromNpArrays
    except ImportError:
        rows.append(("RedLionfish CPU: not installed (pip install --no-deps redlionfish)", float("nan"), float("nan")))
        return rows
    counts = np.clip(data.astype(np.float32) - acquisition.offset, 0, None)
    theirs, seconds = _timed(lambda: doRLDeconvolutionFromNpArrays(counts, kernel, niter=n_iter, method="cpu"))
    rows.append((f"RedLionfish CPU (scipy FFT), {n_iter} it., counts - {acquisition.offset:g}", seconds,
                 psnr(truth, theirs, data_range=data_range)))
    return rows


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=1,
                        help="torch threads (default 1, as RedLionfish's scipy FFT runs on one worker)")
    parser.add_argument("--stack-shape", type=int, nargs=3, default=STACK_SHAPE, metavar=("NZ", "NY", "NX"))
    parser.add_argument("--n-iter", type=int, default=RL_ITERATIONS)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    bead = bead_stack(photons=600_000)
    kernel, report = prepare_psf(bead, voxel_size=CASES["stage step 0.3 µm"][0], psf_voxel_size=BEAD_VOXEL)
    print(f"bead stack {bead.shape} at {BEAD_VOXEL} µm, uint16: {report}\n")
    print(f"PSNR against the truth (dB); RL {RL_ITERATIONS} iterations, ADMM-TV deconvolve's defaults, "
          "boundary periodic")
    print(f"{'data':<20} {'PSF':<32} {'RL':>7} {'ADMM-TV':>8}")
    for case, name, rl, tv in psnr_table(bead):
        print(f"{case:<20} {name:<32} {rl:7.2f} {tv:8.2f}")
    print(f"\nRichardson-Lucy on the deskewed synthetic light-sheet stack (raw {tuple(args.stack_shape)}), "
          f"prepared bead PSF, {torch.get_num_threads()} torch thread(s)")
    rows = redlionfish_rows(tuple(args.stack_shape), args.n_iter)
    print(f"{'run':<62} {'seconds':>8} {'PSNR':>7}")
    for name, seconds, value in rows:
        print(f"{name:<62} {seconds:8.2f} {value:7.2f}")


if __name__ == "__main__":
    main()

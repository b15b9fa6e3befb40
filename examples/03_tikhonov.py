"""Tikhonov regularisation x = (HᵀH + λDᵀD)⁻¹Hᵀy with D = identity and D = gradient, over a range of λ.

With D = identity, Tikhonov is the lecture's Fourier inversion with eps = λ: it shrinks every frequency
alike. With D = gradient it penalises roughness, so it damps the high frequencies, where the noise
lives, and keeps the low ones: a better image at its best λ. Too small a λ lets the noise through,
too large a λ blurs again; the curve of PSNR against λ shows both ends. Both are closed-form in Fourier
space for a periodic blur (one FFT pair per image).
"""

from __future__ import annotations

import numpy as np
from _common import DETAIL_NOTE, astronaut_case, detail, parse_args, quality_title, save, score, show
from matplotlib import pyplot as plt

import napari_invprob as nip

REGULARISERS = {"identity": "D = identity", "gradient": "D = gradient"}


def main(argv=None) -> None:
    args = parse_args(__doc__.splitlines()[0], argv)
    case = astronaut_case(args.small)
    axis = case.channel_axis
    lams = np.logspace(-3, 1, 3 if args.small else 9)

    curves, best = {}, {}
    for regulariser in REGULARISERS:
        curves[regulariser] = []
        for lam in lams:
            restored = nip.deconvolve(case.blurred, case.psf, method="tikhonov", lam=float(lam),
                                      regulariser=regulariser, channel_axis=axis)
            p, s = score(f"tikhonov, {regulariser}, λ {lam:.2g}", case.clean, restored, channel_axis=axis)
            curves[regulariser].append(p)
            if regulariser not in best or p > best[regulariser][1]:
                best[regulariser] = (lam, p, s, restored)

    fig, ax = plt.subplots(figsize=(5.5, 3.6))
    for regulariser, label in REGULARISERS.items():
        ax.semilogx(lams, curves[regulariser], "o-", label=label)
    ax.set_xlabel("λ")
    ax.set_ylabel("PSNR (dB)")
    ax.set_title("Tikhonov: PSNR against λ", fontsize=10)
    ax.legend()
    ax.grid(alpha=0.3)
    save(fig, args.out, "03_tikhonov_psnr_vs_lam")

    fig, axes = plt.subplots(1, 3, figsize=(13, 4.6))
    show(axes[0], detail(case.blurred), quality_title("blurred + noise", *score(
        "input (blurred + noise)", case.clean, case.blurred, channel_axis=axis)))
    for ax, (regulariser, label) in zip(axes[1:], REGULARISERS.items()):
        lam, p, s, restored = best[regulariser]
        print(f"best λ with {label}: {lam:.2g}")
        show(ax, detail(restored), quality_title(f"Tikhonov, {label}, best λ {lam:.2g}", p, s))
    fig.suptitle(DETAIL_NOTE, fontsize=10)
    save(fig, args.out, "03_tikhonov_best")


if __name__ == "__main__":
    main()

"""Plug-and-play priors: PnP-FISTA and PnP-ADMM with a denoiser D_σ in place of the proximal map.

The physics (the blur) stays in the data step; the prior is whatever denoiser is plugged in: total
variation (ROF), plain Gaussian smoothing, or the small learned denoiser shipped with the package.
λ is the denoiser's strength σ. Every registered denoiser is tried with both algorithms.
"""

from __future__ import annotations

from _common import DETAIL_NOTE, astronaut_case, detail, parse_args, quality_title, save, score, show
from matplotlib import pyplot as plt

import napari_invprob as nip
from napari_invprob import metrics
from napari_invprob.priors.denoisers import DENOISERS

METHODS = {"pnp-fista": "PnP-FISTA", "pnp-admm": "PnP-ADMM"}


def main(argv=None) -> None:
    args = parse_args(__doc__.splitlines()[0], argv)
    case = astronaut_case(args.small)
    axis = case.channel_axis
    denoisers = list(DENOISERS)
    n_iter = 2 if args.small else None  # None: each method's default
    score("input (blurred + noise)", case.clean, case.blurred, channel_axis=axis)

    results, curves = {}, {}
    for method in METHODS:
        for denoiser in denoisers:
            psnrs = []
            for it in nip.deconvolve_iter(case.blurred, case.psf, method=method, n_iter=n_iter,
                                          denoiser=denoiser, channel_axis=axis):
                psnrs.append(metrics.psnr(case.clean, it.x, data_range=1.0))
            curves[method, denoiser] = psnrs
            results[method, denoiser] = it.x.numpy()
            print(f"{method} with the {denoiser} denoiser: {it.iteration} iterations in {it.elapsed:.2f} s")

    fig, axes = plt.subplots(len(METHODS), len(denoisers) + 1,
                             figsize=(3.7 * (len(denoisers) + 1), 4.0 * len(METHODS)), squeeze=False)
    for row, (method, label) in zip(axes, METHODS.items()):
        for ax, denoiser in zip(row[:-1], denoisers):
            p, s = score(f"{method}, {denoiser} denoiser", case.clean, results[method, denoiser],
                         channel_axis=axis)
            show(ax, detail(results[method, denoiser]), quality_title(f"{label}, D = {denoiser}", p, s))
        plot = row[-1]
        for denoiser in denoisers:
            plot.plot(range(1, len(curves[method, denoiser]) + 1), curves[method, denoiser], label=denoiser)
        plot.set_title(f"{label}: PSNR per iteration", fontsize=10)
        plot.set_xlabel("iteration")
        plot.set_ylabel("PSNR (dB)")
        plot.legend()
        plot.grid(alpha=0.3)
    fig.suptitle(DETAIL_NOTE, fontsize=10)
    fig.tight_layout(rect=(0, 0, 1, 0.97))  # room for the title above the panels
    save(fig, args.out, "05_pnp")


if __name__ == "__main__":
    main()

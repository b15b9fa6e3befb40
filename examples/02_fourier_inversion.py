"""Direct Fourier inversion X = H*·Y / (|H|² + eps), and how noise is amplified as eps shrinks.

Without noise the inversion is almost perfect (and the result is not shifted: our PSF is centred,
where the lecture's ``fft2(kernel, s=shape)`` moves the image by half the kernel size). With noise of
sigma 0.05, the frequencies the blur nearly erased are divided by nearly zero: the smaller eps, the more
noise comes back, until the image drowns. A moderate eps trades resolution for noise.
"""

from __future__ import annotations

import numpy as np
from _common import DETAIL_NOTE, astronaut_case, detail, parse_args, quality_title, save, score, show
from matplotlib import pyplot as plt

import napari_invprob as nip
from napari_invprob import datasets


def main(argv=None) -> None:
    args = parse_args(__doc__.splitlines()[0], argv)
    case = astronaut_case(args.small)
    axis = case.channel_axis
    eps_values = [1e-1, 1e-2, 1e-3, 1e-10] if args.small else [1.0, 0.3, 0.1, 0.03, 1e-2, 3e-3, 1e-3, 1e-4,
                                                               1e-6, 1e-10]

    # The noiseless blur, made with SciPy (not with the operator being inverted).
    exact = datasets.lecture_astronaut(noise_sigma=0.0, clip=False)
    exact_blur = exact.blurred if not args.small else case.blurred  # --small: a crop has no exact blur
    inverted = nip.deconvolve(exact_blur, case.psf, method="fourier", lam=1e-10, channel_axis=axis)
    reference = exact.clean if not args.small else case.clean

    fig, axes = plt.subplots(1, 2, figsize=(8, 4.3))
    show(axes[0], exact_blur, quality_title("blurred, no noise",
                                             *score("blurred, no noise", reference, exact_blur,
                                                    channel_axis=axis)))
    show(axes[1], inverted, quality_title("Fourier inversion, eps 1e-10",
                                           *score("Fourier inversion of noiseless blur", reference, inverted,
                                                  channel_axis=axis)))
    fig.suptitle("Without noise the blur is invertible (and nothing is shifted)", fontsize=12)
    save(fig, args.out, "02_fourier_noiseless")

    scores = []
    results = {}
    for eps in eps_values:
        restored = nip.deconvolve(case.blurred, case.psf, method="fourier", lam=eps, channel_axis=axis)
        scores.append(score(f"Fourier inversion, eps {eps:g}", case.clean, restored, channel_axis=axis))
        results[eps] = restored

    best = eps_values[int(np.argmax([p for p, _ in scores]))]
    shown = sorted({best, 1e-2, 1e-3, 1e-10}, reverse=True)  # 1e-3: the lecture's eps
    fig, axes = plt.subplots(1, len(shown) + 1, figsize=(3.8 * (len(shown) + 1), 4.3))
    show(axes[0], detail(case.blurred), "blurred + noise (σ 0.05)")
    for ax, eps in zip(axes[1:], shown):
        p, s = scores[eps_values.index(eps)]
        show(ax, detail(results[eps]), quality_title(f"eps {eps:g}" + (" (best)" if eps == best else ""), p, s))
    fig.suptitle(f"With noise: the smaller eps, the louder the noise ({DETAIL_NOTE})", fontsize=12)
    save(fig, args.out, "02_fourier_noisy")

    fig, ax = plt.subplots(figsize=(5.5, 3.6))
    ax.semilogx(eps_values, [p for p, _ in scores], "o-")
    ax.axhline(score("input (blurred + noise)", case.clean, case.blurred, channel_axis=axis)[0],
               color="gray", ls="--", label="input")
    ax.set_xlabel("eps")
    ax.set_ylabel("PSNR (dB)")
    ax.set_title("Noise amplification as eps shrinks", fontsize=10)
    ax.invert_xaxis()
    ax.legend()
    ax.grid(alpha=0.3)
    save(fig, args.out, "02_fourier_psnr_vs_eps")


if __name__ == "__main__":
    main()

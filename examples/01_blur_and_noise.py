"""The forward model y = Hx + e: the lecture's 7x7 Gaussian kernel (sigma 4), the blur, and the noise.

The same noise (sigma 0.05) hardly shows on the clean image, yet it is what makes inverting the blur
hard (see ``02_fourier_inversion.py``). The blur is centred: unlike the lecture's
``fft2(kernel, s=shape)``, it does not shift the image by half the kernel size.
"""

from __future__ import annotations

import numpy as np
from _common import astronaut_case, parse_args, quality_title, save, score, show
from matplotlib import pyplot as plt

from napari_invprob import simulate


def main(argv=None) -> None:
    args = parse_args(__doc__.splitlines()[0], argv)
    case = astronaut_case(args.small)
    axis = case.channel_axis

    blurred = simulate.blur(case.clean, case.psf, channel_axis=axis)
    noisy_clean = case.clean + case.noise_sigma * np.random.default_rng(1).standard_normal(
        case.clean.shape).astype(np.float32)

    fig, axes = plt.subplots(1, 5, figsize=(17, 3.9), gridspec_kw={"width_ratios": [0.6, 1, 1, 1, 1]})
    show(axes[0], case.psf, f"PSF: {case.psf.shape[0]}x{case.psf.shape[1]} Gaussian, σ 4", cmap="viridis")
    show(axes[1], case.clean, "clean x")
    show(axes[2], blurred, quality_title("blurred Hx", *score("blurred (no noise)", case.clean, blurred,
                                                             channel_axis=axis)))
    show(axes[3], case.blurred, quality_title(f"blurred + noise (σ {case.noise_sigma})",
                                             *score("blurred + noise", case.clean, case.blurred,
                                                    channel_axis=axis)))
    show(axes[4], noisy_clean, quality_title(f"clean + noise (σ {case.noise_sigma}), no blur",
                                            *score("clean + noise (no blur)", case.clean, noisy_clean,
                                                   channel_axis=axis)))
    fig.suptitle("The forward model y = Hx + e", fontsize=12)
    save(fig, args.out, "01_blur_and_noise")


if __name__ == "__main__":
    main()

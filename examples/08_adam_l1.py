"""The lecture's gradient-based tomography: Adam with torch autograd on ‖Px − y‖² + λ‖x‖₁, scored per iteration.

The lecture's object (the astronaut, grey, 128x128, smoothed, inside the reconstruction circle) on
[0, 1] (the lecture divided by 255 twice, which made its image 255 times too dark), seen at 180 angles
over [0, 180). The data come from ``skimage.transform.radon``, a different discretisation from our
projector, so the reconstruction is not flattered by an inverse crime. PSNR and SSIM are recorded at
every iteration from the stream of iterates, as the GUI's convergence plot does.

Adam is a general-purpose optimiser: any differentiable model or penalty can be plugged in, but it
needs many iterations (the lecture's 40 at a learning rate of 1e-3 barely start), and on noiseless
full-angle data filtered back-projection, shown beside it, is better still.
"""

from __future__ import annotations

import numpy as np
from _common import lecture_tomography_image, parse_args, quality_title, save, score, show
from matplotlib import pyplot as plt
from skimage.transform import radon

import napari_invprob as nip
from napari_invprob import metrics, phantom

LEARNING_RATE = 0.1  # ten times the method's default: faster here, and still stable
LECTURE_LAM = 1e-4  # the lecture's λ_L1, for mean((Px − y)²) + λ‖x‖₁


def lecture_lam(n_detector: int) -> float:
    """The lecture's λ in our objective ``½‖Px − y‖²/n_angles + λ‖x‖₁`` (its misfit is a mean over the
    sinogram's ``n_angles · n_detector`` entries, ours a sum over detector bins halved)."""
    return LECTURE_LAM * n_detector / 2


def main(argv=None) -> None:
    args = parse_args(__doc__.splitlines()[0], argv)
    n = 64 if args.small else 128
    n_iter = 15 if args.small else 200
    image = lecture_tomography_image(n)
    mask = phantom.reconstruction_circle(n)
    angles = np.arange(180.0)
    sinogram = radon(image, theta=angles, circle=True).T.astype(np.float32)  # ours: (n_angles, n_detector)

    psnrs, ssims = [], []
    for it in nip.reconstruct_iter(sinogram, angles, method="adam", lam=lecture_lam(n), n_iter=n_iter,
                                   lr=LEARNING_RATE):
        estimate = it.x.numpy()
        psnrs.append(metrics.psnr(image, estimate, data_range=1.0, mask=mask))
        ssims.append(metrics.ssim(image, estimate, data_range=1.0))
    print(f"adam: {n_iter} iterations in {it.elapsed:.2f} s")
    fbp = nip.reconstruct(sinogram, angles, method="fbp")

    fig, axes = plt.subplots(1, 4, figsize=(17, 4.2))
    show(axes[0], image, "object (ground truth)", vmin=0, vmax=1)
    axes[1].imshow(sinogram.T, cmap="gray", aspect="auto", interpolation="nearest")
    axes[1].set_title("sinogram (skimage radon)", fontsize=10)
    axes[1].set_xlabel("angle (degrees)")
    axes[1].set_ylabel("detector bin")
    show(axes[2], estimate, quality_title(f"Adam + L1, {n_iter} iterations, lr {LEARNING_RATE}",
                                          *score("Adam + L1", image, estimate, mask=mask)), vmin=0, vmax=1)
    show(axes[3], fbp, quality_title("filtered back-projection", *score("filtered back-projection", image, fbp,
                                                                         mask=mask)), vmin=0, vmax=1)
    save(fig, args.out, "08_adam_l1")

    fig, ax0 = plt.subplots(figsize=(6.5, 3.6))
    iterations = np.arange(1, n_iter + 1)
    ax0.plot(iterations, psnrs, color="tab:blue")
    ax0.set_xlabel("iteration")
    ax0.set_ylabel("PSNR (dB)", color="tab:blue")
    ax1 = ax0.twinx()
    ax1.plot(iterations, ssims, color="tab:red")
    ax1.set_ylabel("SSIM", color="tab:red")
    ax0.set_title("Adam + L1: quality per iteration", fontsize=10)
    ax0.grid(alpha=0.3)
    save(fig, args.out, "08_adam_l1_per_iteration")


if __name__ == "__main__":
    main()

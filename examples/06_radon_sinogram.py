"""The Radon transform: an object, its sinogram, and what back-projection does with it.

Figure 1 is the lecture's: the astronaut (grey, 128x128, smoothed, inside the reconstruction circle)
and its sinogram over 180 angles in [0, 180) degrees, made with ``napari_invprob.project``.

Figure 2 scores reconstructions on data that our projector did not make (no inverse crime): the exact
line integrals of the Shepp-Logan phantom plus 1 % noise. Plain back-projection ``Pᵀy`` is a blurred
image (every point spread as 1/r); the ramp filter of filtered back-projection undoes that blur.
"""

from __future__ import annotations

import numpy as np
import torch
from _common import lecture_tomography_image, parse_args, quality_title, save, score, show
from matplotlib import pyplot as plt

import napari_invprob as nip
from napari_invprob import datasets, operators


def sinogram_figure(image: np.ndarray, angles: np.ndarray, out) -> None:
    sinogram = nip.project(image, angles)  # (n_angles, n_detector)
    fig, (ax0, ax1) = plt.subplots(1, 2, figsize=(13, 4.2), gridspec_kw={"width_ratios": [1, 2.4]})
    show(ax0, image, f"object x ({image.shape[0]}x{image.shape[1]})")
    # Angles along x and detector position along y, as in the lecture.
    ax1.imshow(sinogram.T, cmap="gray", aspect="auto", interpolation="nearest",
               extent=(angles[0], angles[-1], sinogram.shape[1] - 0.5, -0.5))
    ax1.set_xlabel("projection angle (degrees)")
    ax1.set_ylabel("detector bin")
    ax1.set_title(f"sinogram y = Px ({len(angles)} angles)", fontsize=10)
    save(fig, out, "06_sinogram")


def backprojection_figure(case: datasets.TomographyCase, out) -> None:
    n = case.phantom.shape[0]
    projector = operators.ParallelBeamProjector((n, n), case.angles)
    backprojected = projector.adjoint(torch.from_numpy(case.sinogram)).numpy()
    # Pᵀy has no natural scale: fit it to the phantom (least squares inside the circle) before scoring.
    inside = backprojected[case.mask]
    backprojected *= float(np.dot(inside, case.phantom[case.mask]) / np.dot(inside, inside))
    fbp = nip.reconstruct(case.sinogram, case.angles, method="fbp")

    fig, axes = plt.subplots(1, 4, figsize=(16, 4.3))
    show(axes[0], case.phantom, "Shepp-Logan phantom", vmin=0, vmax=1)
    axes[1].imshow(case.sinogram.T, cmap="gray", aspect="auto", interpolation="nearest")
    axes[1].set_title("exact line integrals + 1 % noise", fontsize=10)
    axes[1].set_xlabel("angle index")
    axes[1].set_ylabel("detector bin")
    show(axes[2], backprojected, quality_title("back-projection Pᵀy (scaled)", *score(
        "back-projection (least-squares scaled)", case.phantom, backprojected, mask=case.mask)))
    show(axes[3], fbp, quality_title("filtered back-projection", *score(
        "filtered back-projection (ramp)", case.phantom, fbp, mask=case.mask)), vmin=0, vmax=1)
    fig.tight_layout()
    save(fig, out, "06_backprojection")


def main(argv=None) -> None:
    args = parse_args(__doc__.splitlines()[0], argv)
    n = 64 if args.small else 128
    sinogram_figure(lecture_tomography_image(n), np.arange(0.0, 180.0, 1.0), args.out)
    backprojection_figure(datasets.shepp_logan_case("full", n=2 * n), args.out)


if __name__ == "__main__":
    main()

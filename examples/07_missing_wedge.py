"""Full-angle versus limited-angle tomography, and the missing wedge in the power spectrum.

By the Fourier slice theorem, the projection at angle θ is a central line of the object's 2D Fourier
transform at that angle. 180 angles over [0, 180) fill Fourier space; the lecture's ±70° with 50
projections leave a double wedge of 40° unmeasured, which shows as a dark wedge in the power spectrum
of the reconstruction and as streaks and elongation in the image. Filtered back-projection leaves the
wedge empty; total variation fills it with what a piecewise-constant object would have.

The data are the exact line integrals of the Shepp-Logan phantom plus 1 % noise (not our projector's
output), scored inside the reconstruction circle.
"""

from __future__ import annotations

import numpy as np
from _common import parse_args, quality_title, save, score, show
from matplotlib import pyplot as plt

import napari_invprob as nip
from napari_invprob import datasets, fourier

CASES = {"full": "180 angles, 0..180°", "wedge": "50 angles, ±70°"}
METHODS = {"fbp": "filtered back-projection", "tv": "total variation"}


def mark_measured_directions(ax, angles: np.ndarray, n: int) -> None:
    """Dashed lines along the first and last measured central slices (rotating with θ from the kx axis)."""
    centre = n // 2
    for theta in (angles.min(), angles.max()):
        t = np.deg2rad(theta)
        r = np.array([-centre, centre - 1])
        ax.plot(centre + r * np.cos(t), centre - r * np.sin(t), "--", color="tab:orange", lw=1)


def main(argv=None) -> None:
    args = parse_args(__doc__.splitlines()[0], argv)
    n = 64 if args.small else 256
    n_iter = 20 if args.small else None  # None: the method's default

    fig, axes = plt.subplots(len(CASES), 2 * len(METHODS), figsize=(4.0 * 2 * len(METHODS), 4.3 * len(CASES)))
    for row, (kind, label) in zip(axes, CASES.items()):
        case = datasets.shepp_logan_case(kind, n=n)
        reconstructions = {
            "fbp": nip.reconstruct(case.sinogram, case.angles, method="fbp"),
            "tv": nip.reconstruct(case.sinogram, case.angles, method="tv", n_iter=n_iter),
        }
        for column, (method, name) in enumerate(METHODS.items()):
            image = reconstructions[method]
            p, s = score(f"{kind}: {name}", case.phantom, image, mask=case.mask)
            show(row[column], image, quality_title(f"{label}\n{name}", p, s), vmin=0, vmax=1)
            spectrum_ax = row[len(METHODS) + column]
            show(spectrum_ax, fourier.power_spectrum(image), f"{label}\npower spectrum of {method}",
                 cmap="magma")
            if kind == "wedge":
                mark_measured_directions(spectrum_ax, case.angles, n)
    fig.suptitle("The missing wedge: full-angle (top) and ±70° (bottom) reconstructions and their spectra",
                 fontsize=12)
    save(fig, args.out, "07_missing_wedge")


if __name__ == "__main__":
    main()

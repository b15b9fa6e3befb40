"""What the lecture examples share: the command line, the test cases at full or reduced size, scores and figures.

Every example is run as ``python examples/NN_name.py [--small] [--out DIR]``: it saves its PNG figures
into ``DIR`` (default ``figures/``) and prints the PSNR/SSIM of every image it shows.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # files only, no window

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from napari_invprob import datasets, metrics  # noqa: E402

SMALL_CROP = 96  # --small: the lecture's astronaut is cut to this many pixels per side


def parse_args(description: str, argv=None) -> argparse.Namespace:
    """The options every example takes: ``--small`` (reduced sizes and iterations) and ``--out DIR``."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--small", action="store_true", help="reduced sizes and iterations (a quick check)")
    parser.add_argument("--out", type=Path, default=Path("figures"), help="folder for the PNG figures")
    args = parser.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    return args


def astronaut_case(small: bool) -> datasets.DeconvolutionCase:
    """The lecture's deconvolution case; with ``small`` a centred crop of it (edges then wrap badly)."""
    case = datasets.lecture_astronaut()
    if not small:
        return case
    rows, cols = case.clean.shape[:2]
    window = (slice((rows - SMALL_CROP) // 2, (rows + SMALL_CROP) // 2),
              slice((cols - SMALL_CROP) // 2, (cols + SMALL_CROP) // 2))
    return datasets.DeconvolutionCase(case.clean[window].copy(), case.blurred[window].copy(), case.psf,
                                      case.noise_sigma, case.channel_axis)


DETAIL = (slice(30, 286), slice(110, 366))  # the astronaut's face, 256x256 of the 512x512 image
DETAIL_NOTE = "detail shown (the face); scores over the whole image"


def detail(image: np.ndarray) -> np.ndarray:
    """The face of the full-size astronaut, where deconvolution differences show; a --small crop as it is."""
    return image[DETAIL] if image.shape[0] >= DETAIL[0].stop and image.shape[1] >= DETAIL[1].stop else image


def lecture_tomography_image(n: int) -> np.ndarray:
    """The lecture's tomography object: the astronaut, grey, ``n x n``, smoothed (sigma 1), inside the circle.

    On [0, 1] (``img_as_float32`` once; the lecture divided by 255 a second time), zero outside the
    reconstruction circle, float32.
    """
    from scipy.ndimage import gaussian_filter
    from skimage import data as skdata
    from skimage.transform import resize
    from skimage.util import img_as_float32

    from napari_invprob import phantom

    grey = img_as_float32(skdata.astronaut()).mean(axis=-1)
    image = gaussian_filter(resize(grey, (n, n), anti_aliasing=True), sigma=1.0)
    return (image * phantom.reconstruction_circle(n)).astype(np.float32)


def score(label: str, reference, estimate, *, channel_axis=None, mask=None, data_range: float = 1.0):
    """Print and return ``(PSNR, SSIM)`` of ``estimate`` against ``reference``.

    PSNR is taken inside ``mask`` when one is given (the reconstruction circle in tomography); SSIM
    always over the whole image.
    """
    p = metrics.psnr(reference, estimate, data_range=data_range, mask=mask)
    s = metrics.ssim(reference, estimate, data_range=data_range, channel_axis=channel_axis)
    print(f"{label:<42s} PSNR {p:6.2f} dB   SSIM {s:.3f}")
    return p, s


def show(ax, image, title: str, *, cmap: str = "gray", vmin=None, vmax=None) -> None:
    """An image in ``ax`` without ticks; RGB images are clipped to [0, 1] for display only."""
    image = np.asarray(image)
    if image.ndim == 3:
        image = np.clip(image, 0.0, 1.0)
    ax.imshow(image, cmap=cmap, vmin=vmin, vmax=vmax, interpolation="nearest")
    ax.set_title(title, fontsize=10)
    ax.set_xticks([])
    ax.set_yticks([])


def quality_title(name: str, p: float, s: float) -> str:
    """A panel title with the scores the lecture puts above each image."""
    return f"{name}\n{p:.2f} dB, SSIM {s:.3f}"


def save(fig, out: Path, name: str) -> Path:
    """Save ``fig`` as ``out/name.png`` and close it."""
    path = out / f"{name}.png"
    fig.savefig(path, dpi=90, bbox_inches="tight")
    plt.close(fig)
    print(f"saved {path}")
    return path

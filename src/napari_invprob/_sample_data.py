"""Sample data for napari's File > Open Sample menu (npe2 ``sample_data`` contributions)."""

from __future__ import annotations

from . import datasets


def blurred_astronaut():
    """The lecture's blurred, noisy astronaut, its 7x7 Gaussian PSF and the clean reference."""
    case = datasets.lecture_astronaut()
    model = {"psf": case.psf, "noise_sigma": case.noise_sigma, "boundary": "periodic", "channel_axis": -1}
    return [
        (case.clean, {"name": "astronaut (reference)", "rgb": True, "visible": False}, "image"),
        (case.psf, {"name": "PSF (7x7 Gaussian, sigma 4)", "visible": False, "colormap": "magma"}, "image"),
        (
            case.blurred,
            {"name": "astronaut (blurred, noisy)", "rgb": True, "metadata": {"forward_model": model}},
            "image",
        ),
    ]

"""Sample data for napari's File > Open Sample menu (npe2 ``sample_data`` contributions)."""

from __future__ import annotations

import numpy as np

from .. import datasets, phantom, simulate


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


def shepp_logan_wedge_sinogram():
    """The Shepp-Logan sinogram over a ±70° wedge (50 angles, exact line integrals, 1 % noise).

    The angles (degrees) and tilt axis are in the sinogram layer's ``metadata``; the pixel-averaged
    phantom comes along as a hidden reference layer.
    """
    case = datasets.shepp_logan_case("wedge")
    metadata = {"angles": case.angles, "tilt_axis": "y", "noise": 0.01}
    return [
        (case.phantom, {"name": "Shepp-Logan phantom (reference)", "visible": False}, "image"),
        (case.sinogram, {"name": "Shepp-Logan sinogram (±70°, 50 angles)", "metadata": metadata}, "image"),
    ]


def rods_and_spheres_tilt_series():
    """A synthetic tilt series (41 angles, ±70° about y, 1 % noise) of a 64x96x96 rods-and-spheres volume.

    Projected with the plugin's own projector (fine for a demonstration; the quality tests use exact
    data). The angles (degrees) are in ``metadata["angles"]``; the volume is a hidden reference layer.
    """
    volume = phantom.rods_and_spheres((64, 96, 96), seed=0)
    angles = np.linspace(-70.0, 70.0, 41)
    series = simulate.project(volume, angles, noise=0.01, seed=0, tilt_axis="y")
    metadata = {"angles": angles, "tilt_axis": "y", "noise": 0.01}
    return [
        (volume, {"name": "rods and spheres (reference volume)", "visible": False}, "image"),
        (series, {"name": "rods and spheres tilt series (±70°, 41 angles)", "metadata": metadata}, "image"),
    ]

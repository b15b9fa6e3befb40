"""The power spectrum shows the missing wedge of a limited-angle reconstruction (Fourier slice theorem)."""

import numpy as np
import pytest

from napari_invprob import reconstruct
from napari_invprob.datasets import shepp_logan_case
from napari_invprob.fourier import power_spectrum


@pytest.mark.parametrize("shape", [(16, 20), (6, 8, 10)])
def test_centred_log_magnitude(shape):
    image = np.ones(shape)
    spectrum = power_spectrum(image, device="cpu")
    assert spectrum.shape == shape and spectrum.dtype == np.float32
    centre = tuple(s // 2 for s in shape)
    assert np.unravel_index(np.argmax(spectrum), shape) == centre
    assert spectrum[centre] == pytest.approx(np.log1p(image.size))
    assert np.allclose(np.delete(spectrum.ravel(), np.ravel_multi_index(centre, shape)), 0.0, atol=1e-4)


def _sector_means(spectrum):
    """Mean log-power near the k_y axis (unmeasured by a ±70° tilt range) and near the k_x axis."""
    n = spectrum.shape[0]
    ky, kx = np.mgrid[:n, :n] - n // 2
    radius = np.hypot(ky, kx)
    ring = (radius > 4) & (radius < n // 4)
    direction = np.degrees(np.arctan2(np.abs(ky), np.abs(kx)))  # 0 on the k_x axis, 90 on the k_y axis
    return spectrum[ring & (direction > 75)].mean(), spectrum[ring & (direction < 15)].mean()


def test_a_limited_tilt_range_leaves_a_wedge_empty():
    means = {}
    for kind in ("wedge", "full"):
        case = shepp_logan_case(kind, n=128)
        image = reconstruct(case.sinogram, case.angles, method="fbp", device="cpu")
        means[kind] = _sector_means(power_spectrum(image, device="cpu"))
    wedge_missing, wedge_measured = means["wedge"]
    full_missing, full_measured = means["full"]
    assert wedge_missing < full_missing - 1.0  # the wedge is (nearly) empty: e⁻¹ of the power or less
    assert abs(full_missing - full_measured) < 1.0  # all directions present in the full-range case
    assert abs(wedge_measured - full_measured) < 0.5


@pytest.mark.parametrize("bad, error", [(np.ones(5), ValueError), (np.ones((2, 2, 2, 2)), ValueError),
                                        (np.full((4, 4), np.nan), ValueError), (np.ones((4, 4)) * 1j, TypeError)])
def test_bad_input(bad, error):
    with pytest.raises(error):
        power_spectrum(bad)

"""Quality floors on the exact-data Shepp-Logan cases (never made with our projector)."""

import pytest

from napari_invprob import reconstruct
from napari_invprob.datasets import shepp_logan_case
from napari_invprob.metrics import psnr


def _score(case, image):
    return psnr(case.phantom, image, data_range=float(case.phantom.max() - case.phantom.min()), mask=case.mask)


@pytest.mark.slow
@pytest.mark.parametrize("kind, floor", [("wedge", 27.0), ("full", 34.0)])
def test_tv_with_its_defaults_reaches_the_floor(kind, floor):
    case = shepp_logan_case(kind)
    image = reconstruct(case.sinogram, case.angles, method="tv", device="cpu")
    assert _score(case, image) >= floor

"""The synthetic lattice light-sheet acquisition (tests/_realistic_light_sheet.py) is what it says, and
``deskew`` undoes its stage scan (issue 25, items 3 and 4)."""

from __future__ import annotations

import numpy as np
import pytest
import tifffile
from _realistic_light_sheet import light_sheet_psf, make_light_sheet, write_light_sheet

import napari_invprob as nip

SMALL = {"shape": (40, 48, 72)}


@pytest.fixture(scope="module")
def acquisition(tmp_path_factory):
    return write_light_sheet(tmp_path_factory.mktemp("lls") / "raw.tif", **SMALL)


def test_the_file_is_a_plain_uint16_stack_without_a_voxel_size(acquisition):
    from napari_invprob.files.tiff import read_tiff

    with tifffile.TiffFile(acquisition.path) as tif:
        assert not tif.is_imagej and not tif.is_ome
        assert tif.pages[0].tags["ResolutionUnit"].value == tifffile.RESUNIT.NONE
    image = read_tiff(acquisition.path)
    assert image.source is None and not any(image.voxel_size)
    np.testing.assert_array_equal(image.data, acquisition.raw)
    assert acquisition.raw.dtype == np.uint16 and acquisition.raw.shape == SMALL["shape"]
    # the camera's offset under Poisson counts, the puncta near a thousand counts above it
    assert 95 <= np.percentile(acquisition.raw, 5) <= 102
    assert 300 < acquisition.raw.max() - acquisition.offset < 3000


def test_deskew_recovers_the_blurred_specimen_of_the_closed_form(acquisition):
    a = acquisition
    deskewed = nip.deskew(a.raw, angle=a.angle, step=a.step, pixel_size=a.pixel_size)
    assert deskewed.shape == a.truth.shape == a.blurred.shape
    assert nip.deconvolution.deskewed_voxel_size(angle=a.angle, step=a.step, pixel_size=a.pixel_size) == \
        pytest.approx(a.voxel_size)
    residual = deskewed - a.offset - a.blurred
    # Poisson and read noise (6 counts RMS here) and the linear interpolation between columns, which
    # flattens the sharpest puncta and membranes (13 counts RMS in all, of a signal of 108 RMS)
    signal = np.sqrt(np.mean(a.blurred**2))
    assert np.sqrt(np.mean(residual**2)) < 0.2 * signal
    assert np.corrcoef(deskewed.ravel(), a.blurred.ravel())[0, 1] > 0.99
    # without the deskew (the raw planes put in place unshifted), the specimen is far off
    unshifted = np.zeros_like(deskewed) + a.offset
    unshifted[..., : a.raw.shape[2]] = a.raw
    assert np.sqrt(np.mean((unshifted - a.offset - a.blurred) ** 2)) > 5 * np.sqrt(np.mean(residual**2))


def test_the_other_scan_direction_is_the_mirror_image():
    plus, minus = (make_light_sheet(**SMALL, direction=d) for d in (1, -1))
    np.testing.assert_array_equal(minus.raw, plus.raw[..., ::-1])
    deskewed = nip.deskew(minus.raw, angle=minus.angle, step=minus.step, pixel_size=minus.pixel_size, direction=-1)
    residual = deskewed - minus.offset - minus.blurred
    assert np.sqrt(np.mean(residual**2)) < 0.2 * np.sqrt(np.mean(minus.blurred**2))


def test_the_true_psf_is_centred_normalised_and_longest_along_the_detection_axis(acquisition):
    psf = light_sheet_psf((21, 15, 15), acquisition.voxel_size)
    assert psf.dtype == np.float32 and psf.sum() == pytest.approx(1.0, rel=1e-5)
    assert np.unravel_index(psf.argmax(), psf.shape) == (10, 7, 7)
    profile = [psf.sum(axis=tuple(a for a in range(3) if a != axis)) for axis in range(3)]
    spread = [np.sqrt(np.sum(p * (np.arange(p.size) - p.size // 2) ** 2) / p.sum()) * v
              for p, v in zip(profile, acquisition.voxel_size)]
    assert spread[0] > 2 * spread[1] and spread[1] == pytest.approx(spread[2], rel=0.01)


def test_the_truth_blurred_by_the_true_psf_on_its_grid_is_the_blurred_specimen(acquisition):
    from scipy.signal import fftconvolve

    psf = light_sheet_psf((25, 15, 15), acquisition.voxel_size)
    residual = fftconvolve(acquisition.truth, psf, mode="same") - acquisition.blurred
    assert np.sqrt(np.mean(residual**2)) < 0.025 * np.sqrt(np.mean(acquisition.blurred**2))  # 2.0 %

"""A camera's offset under Poisson noise: ``background=`` of the Poisson methods and its estimate.

The measurements are made on a twice finer grid with scipy's convolution, then binned to the camera's
pixels: never with the operator under test on its own grid.
"""

import warnings

import numpy as np
import pytest
from scipy import ndimage, signal

import napari_invprob as nip
from napari_invprob import psf as psf_models
from napari_invprob.deconvolution.background import estimate_background
from napari_invprob.metrics import psnr

OFFSET = 100.0
#: Blur σ in camera pixels (the PSF given to deconvolve; the data are blurred on the finer grid).
SIGMA = 1.2


def _specimen(rng, size, fine=2):
    """Beads and filaments away from the edges, on a grid ``fine`` times finer than the camera's."""
    n = size * fine
    image = np.zeros((n, n))
    for y, x in rng.integers(n // 5, n - n // 5, size=(25, 2)):
        image[y, x] += rng.uniform(0.5, 1.0)
    t = np.linspace(0.0, 1.0, 400)
    for (y0, x0), angle in zip(rng.integers(n // 4, n - n // 4, size=(4, 2)), rng.uniform(0, np.pi, 4)):
        image[(y0 + 60 * t * np.cos(angle)).astype(int), (x0 + 60 * t * np.sin(angle)).astype(int)] = 0.3
    return ndimage.gaussian_filter(image, 1.0)


def _camera(fine_image, fine=2):
    """Blurred on the fine grid (scipy), binned to camera pixels; the truth binned the same way."""
    r = np.arange(-12, 13)
    kernel = np.exp(-(r[:, None] ** 2 + r[None, :] ** 2) / (2 * (SIGMA * fine) ** 2))
    blurred = signal.fftconvolve(fine_image, kernel / kernel.sum(), mode="same")
    n = fine_image.shape[0] // fine

    def binned(a):
        return a.reshape(n, fine, n, fine).mean(axis=(1, 3))

    return binned(fine_image), binned(blurred)


@pytest.fixture(scope="module")
def offset_case():
    """Counts of a 96x96 field: signal peak 800 on a camera offset of 100, Poisson noise."""
    rng = np.random.default_rng(1)
    truth, blurred = _camera(_specimen(rng, 96))
    gain = 800 / blurred.max()
    counts = rng.poisson(blurred * gain + OFFSET).astype(np.float32)
    return truth * gain, counts


def _run(counts, method, **options):
    return nip.deconvolve(counts, psf_models.gaussian(9, SIGMA), method=method, n_iter=40, boundary="reflect",
                          **options)


def test_the_offset_is_estimated_from_the_darkest_regions(offset_case):
    _, counts = offset_case
    assert abs(estimate_background(counts) - OFFSET) < 5  # 96.9: a 7x7 box leaves 1.4 counts of noise
    volume = np.random.default_rng(0).poisson(np.full((12, 40, 40), OFFSET)).astype(np.float32)
    assert abs(estimate_background(volume) - OFFSET) < 1.5
    two = np.stack([counts, counts - 50], axis=-1)
    first, second = estimate_background(two, channel_axis=-1)
    assert second == pytest.approx(first - 50, abs=1e-3)


# measured PSNR (dB) at 40 iterations, input (less the offset) 26.99: RL 32.57 without a background (its
# result less the estimated offset; 23.64 as it is) and 35.17 with background="auto" (35.40 with the true
# offset); RL-TV 29.98 and 31.09 (31.23)
@pytest.mark.parametrize("method, margin", [("richardson-lucy", 2.0), ("rl-tv", 0.8)])
def test_auto_background_beats_none_on_offset_poisson_data(offset_case, method, margin):
    truth, counts = offset_case
    peak = float(truth.max())
    with pytest.warns(UserWarning, match=r"background of about 9\d\.\d+ \(1\d% of their peak\).*'auto'"):
        without = _run(counts, method)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # with a background: no warning
        auto = _run(counts, method, background="auto")
    level = estimate_background(counts)
    assert psnr(truth, auto, data_range=peak) > psnr(truth, without - level, data_range=peak) + margin
    assert psnr(truth, auto, data_range=peak) > psnr(truth, counts - OFFSET, data_range=peak) + 3
    exact = _run(counts, method, background=OFFSET)
    assert psnr(truth, exact, data_range=peak) == pytest.approx(psnr(truth, auto, data_range=peak), abs=0.5)


def test_data_without_an_offset_get_no_warning(offset_case):
    truth, _ = offset_case
    counts = np.random.default_rng(2).poisson(truth).astype(np.float32)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        _run(counts, "richardson-lucy")


def test_one_level_per_channel_equals_the_channels_run_alone(offset_case):
    _, counts = offset_case
    two = np.stack([counts, counts[::-1] - 60], axis=0)
    together = nip.deconvolve(two, psf_models.gaussian(9, SIGMA), method="richardson-lucy", n_iter=5,
                              channel_axis=0, background=[100, 40])
    for channel, level in ((0, 100), (1, 40)):
        alone = nip.deconvolve(two[channel], psf_models.gaussian(9, SIGMA), method="richardson-lucy", n_iter=5,
                               background=level)
        np.testing.assert_allclose(together[channel], alone, rtol=1e-4, atol=1e-3)
    auto = nip.deconvolve(two, psf_models.gaussian(9, SIGMA), method="richardson-lucy", n_iter=5,
                          channel_axis=0, background="auto")
    given = nip.deconvolve(two, psf_models.gaussian(9, SIGMA), method="richardson-lucy", n_iter=5,
                           channel_axis=0, background=estimate_background(two, channel_axis=0))
    np.testing.assert_allclose(auto, given, rtol=1e-4, atol=1e-3)


@pytest.mark.parametrize("method, background, error, match", [
    ("richardson-lucy", "median", ValueError, "unknown background 'median'"),
    ("richardson-lucy", -5, ValueError, ">= 0"),
    ("rl-tv", float("nan"), ValueError, ">= 0"),
    ("richardson-lucy", [1, 2, 3], ValueError, "3 levels for an image of 1 channel"),
    ("richardson-lucy", True, TypeError, "'auto', a number"),
    ("admm-tv", 100, TypeError, "unknown option.*background"),
])
def test_bad_backgrounds_are_refused_before_any_work(method, background, error, match):
    image = np.full((32, 32), 100.0, np.float32)
    with pytest.raises(error, match=match):
        nip.deconvolve_iter(image, psf_models.gaussian(5, 1.0), method=method, background=background)


def test_the_command_line_models_the_offset_by_default_and_says_so(offset_case, tmp_path, capsys):
    import json

    from napari_invprob.cli import main
    from napari_invprob.io import write_volume

    _, counts = offset_case
    write_volume(tmp_path / "counts.tif", counts, None)
    flags = ["deconvolve", str(tmp_path / "counts.tif"), "--psf-sigma", str(SIGMA), "--psf-size", "9",
             "--method", "richardson-lucy", "--n-iter", "40", "--boundary", "reflect", "--quiet"]
    assert main([*flags[:-1], "--out", str(tmp_path / "auto.tif")]) == 0
    assert "background (camera offset) 96.8" in capsys.readouterr().err
    record = json.loads((tmp_path / "auto.tif.json").read_text())
    assert record["parameters"]["background"] == "auto"
    assert record["background_level"] == pytest.approx(estimate_background(counts))
    restored = nip.io.read_image(tmp_path / "auto.tif")[0]
    np.testing.assert_allclose(restored, _run(counts, "richardson-lucy", background="auto"), rtol=1e-4, atol=1e-2)

    assert main([*flags, "--background", "none", "--out", str(tmp_path / "none.tif")]) == 0
    assert "warning: the data sit on a background of about 96.8" in capsys.readouterr().err
    assert json.loads((tmp_path / "none.tif.json").read_text())["parameters"]["background"] is None

    assert main([*flags, "--background", "100", "--out", str(tmp_path / "given.tif")]) == 0
    assert json.loads((tmp_path / "given.tif.json").read_text())["background_level"] == 100

    assert main([*flags[:6], "--method", "admm-tv", "--background", "100", "--out", str(tmp_path / "x.tif")]) == 2
    assert "--background goes with the Poisson methods (richardson-lucy, rl-tv), not with admm-tv" in \
        capsys.readouterr().err

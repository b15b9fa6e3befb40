"""PSFs from the optics on an image's grid (issue 15 item 1): anisotropic sampling, sizing to the energy,
the confocal pinhole, refusals."""

from __future__ import annotations

import numpy as np
import pytest

from napari_invprob import psf

OPTICS = dict(na=1.4, wavelength=0.52, refractive_index=1.518)


def test_born_wolf_on_an_anisotropic_grid_matches_the_model_sampled_finer_and_binned():
    coarse = psf.born_wolf((21, 41, 41), pixel_size=0.065, z_spacing=0.2, **OPTICS)
    fine = psf.born_wolf((63, 123, 123), pixel_size=0.065 / 3, z_spacing=0.2 / 3, **OPTICS)
    binned = fine.reshape(21, 3, 41, 3, 41, 3).sum(axis=(1, 3, 5))
    binned /= binned.sum()
    # measured 4.3 %: pixel centres against pixel averages; sampled as if isotropic (z 65 nm): 112 %
    assert np.linalg.norm(coarse - binned) / np.linalg.norm(binned) < 0.06
    isotropic = psf.born_wolf((21, 41, 41), pixel_size=0.065, z_spacing=0.065, **OPTICS)
    assert np.linalg.norm(isotropic - binned) / np.linalg.norm(binned) > 0.5


@pytest.mark.parametrize("model, extra", [
    ("born-wolf", {}),
    ("gibson-lanni", {"ns": 1.33, "depth": 3.0}),
    ("confocal", {"excitation_wavelength": 0.488, "pinhole": 1.0}),
])
def test_optical_psf_holds_99_percent_of_the_energy_in_a_centred_odd_box(model, extra):
    shape, voxel = (24, 96, 80), (0.2, 0.065, 0.065)
    kernel = psf.optical_psf(model, image_shape=shape, voxel_size=voxel, na=1.4, wavelength=0.52, **extra)
    assert kernel.dtype == np.float32 and kernel.sum() == pytest.approx(1.0, abs=1e-5)
    assert all(k % 2 == 1 and k <= n for k, n in zip(kernel.shape, shape))
    # the same model on the whole (odd) grid: the box holds at least 99 % of it, one pixel less does not
    full = psf.optical_psf(model, image_shape=shape, voxel_size=voxel, na=1.4, wavelength=0.52, energy=1.0, **extra)
    assert full.shape == (23, 95, 79)
    box = tuple(slice(n // 2 - k // 2, n // 2 + k // 2 + 1) for n, k in zip(full.shape, kernel.shape))
    assert full[box].sum() >= 0.99 - 1e-6
    np.testing.assert_allclose(kernel, full[box] / full[box].sum(), rtol=1e-4, atol=1e-9)
    smaller = (box[0], slice(box[1].start + 1, box[1].stop - 1), slice(box[2].start + 1, box[2].stop - 1))
    assert full[smaller].sum() < full[box].sum()
    if model != "gibson-lanni":  # aberration-free models peak at the centre
        assert np.unravel_index(kernel.argmax(), kernel.shape) == tuple(k // 2 for k in kernel.shape)


def test_a_2d_image_gets_the_in_focus_plane():
    kernel = psf.optical_psf("born-wolf", image_shape=(128, 128), voxel_size=(0.065, 0.065), na=1.4, wavelength=0.52)
    in_focus = psf.born_wolf(kernel.shape, pixel_size=0.065, **OPTICS)
    np.testing.assert_allclose(kernel, in_focus, rtol=1e-4, atol=1e-9)


def test_a_finite_pinhole_broadens_the_confocal_psf():
    common = dict(na=1.4, excitation_wavelength=0.488, emission_wavelength=0.52, refractive_index=1.518,
                  pixel_size=0.03)

    def width(kernel):
        r2 = sum(g**2 for g in np.meshgrid(*[np.arange(n) - n // 2 for n in kernel.shape], indexing="ij"))
        return float(np.sqrt((kernel * r2).sum()))

    point = psf.confocal((41, 41), **common)
    tiny = psf.confocal((41, 41), pinhole=0.05, **common)
    one_airy = psf.confocal((41, 41), pinhole=1.0, **common)
    np.testing.assert_allclose(tiny, point, atol=2e-3 * point.max())
    assert width(point) < width(one_airy) < width(psf.born_wolf((41, 41), pixel_size=0.03, **OPTICS))


@pytest.mark.parametrize("model, kwargs, message", [
    ("airy", {}, "unknown PSF model 'airy'"),
    ("born-wolf", {"ns": 1.33}, "born-wolf model takes no ns .*gibson-lanni"),
    ("gibson-lanni", {"pinhole": 1.0}, "takes no pinhole .*confocal"),
    ("confocal", {}, "needs the excitation wavelength"),
    ("born-wolf", {"voxel_size": (0.2, 0.065, 0.1)}, "square pixels"),
    ("born-wolf", {"voxel_size": (0.065, 0.065)}, "one entry per axis"),
    ("born-wolf", {"na": 1.6}, "exceeds the immersion"),
])
def test_optical_psf_refuses_what_the_models_cannot_use(model, kwargs, message):
    arguments = {**dict(image_shape=(9, 32, 32), voxel_size=(0.2, 0.065, 0.065), na=1.4, wavelength=0.52), **kwargs}
    with pytest.raises(ValueError, match=message):
        psf.optical_psf(model, **arguments)


def test_the_command_line_builds_the_optics_psf_from_flags_and_the_files_voxel_size(tmp_path, capsys):
    import json

    import tifffile

    from napari_invprob import deconvolve
    from napari_invprob.cli import main
    from napari_invprob.files.tiff import read_tiff

    counts = np.random.default_rng(0).poisson(np.full((12, 40, 40), 120.0)).astype(np.uint16)
    tifffile.imwrite(tmp_path / "sized.tif", counts, imagej=True, resolution=(1 / 0.065, 1 / 0.065),
                     metadata={"spacing": 0.2, "unit": "micron", "axes": "ZYX"})
    tifffile.imwrite(tmp_path / "plain.tif", counts)
    optics = ["--psf-model", "born-wolf", "--na", "1.4", "--wavelength", "520", "--method", "richardson-lucy",
              "--n-iter", "3", "--quiet"]
    assert main(["deconvolve", str(tmp_path / "sized.tif"), *optics, "--out", str(tmp_path / "a.tif")]) == 0
    record = json.loads((tmp_path / "a.tif.json").read_text())
    model = record["psf_source"]["model"]
    assert model == {"model": "born-wolf", "image_shape": [12, 40, 40], "voxel_size": [0.2, 0.065, 0.065],
                     "na": 1.4, "wavelength": 0.52, "ni": 1.518}
    kernel = psf.optical_psf(**model)
    again = deconvolve(counts, kernel, method="richardson-lucy", n_iter=3, background="auto")
    np.testing.assert_allclose(read_tiff(tmp_path / "a.tif").data, again, rtol=1e-4, atol=1e-2)
    np.testing.assert_allclose(read_tiff(tmp_path / "a.tif").voxel_size, (2000.0, 650.0, 650.0))  # kept
    # the issue's flags on a file without sizes: the same PSF
    flags = [*optics, "--ni", "1.518", "--voxel-size", "0.065,0.065,0.2"]
    assert main(["deconvolve", str(tmp_path / "plain.tif"), *flags, "--out", str(tmp_path / "b.tif")]) == 0
    assert json.loads((tmp_path / "b.tif.json").read_text())["psf_source"]["model"] == model
    capsys.readouterr()

    def refused(*arguments) -> str:
        assert main(["deconvolve", *arguments, "--out", str(tmp_path / "x.tif")]) == 2
        return capsys.readouterr().err

    assert "give --voxel-size X,Y,Z in µm" in refused(str(tmp_path / "plain.tif"), *optics)
    assert "needs --wavelength" in refused(str(tmp_path / "sized.tif"), "--psf-model", "confocal", "--na", "1.4")
    assert "needs the excitation wavelength" in refused(str(tmp_path / "sized.tif"), *optics[:1], "confocal",
                                                         *optics[2:])
    assert "--na goes with --psf-model" in refused(str(tmp_path / "sized.tif"), "--psf-sigma", "2", "--na", "1.4")
    assert "--voxel-size takes 3 values" in refused(str(tmp_path / "plain.tif"), *optics, "--voxel-size", "0.1,0.1")
    assert "expected X,Y or X,Y,Z" in refused(str(tmp_path / "plain.tif"), *optics, "--voxel-size", "0.1,-1")


def test_a_bead_picked_among_several_recovers_the_known_psf():
    """Two beads blurred by a known widefield PSF (scipy's convolution) on a background of 20 with noise:
    the PSF of the bead near a click is the known one."""
    from scipy import signal

    known = psf.born_wolf((15, 25, 25), pixel_size=0.065, z_spacing=0.2, **OPTICS)
    image = np.zeros((40, 96, 96))
    image[12, 30, 28] = image[26, 70, 66] = 1000.0
    noise = np.random.default_rng(0).normal(0.0, 0.002, image.shape)
    image = signal.fftconvolve(image, known, mode="same") + 20.0 + noise
    for click in ((26, 71, 65), (12, 29, 29)):  # near each bead, not on it
        measured = psf.from_bead_at(image, click, size=(15, 25, 25))
        assert measured.shape == (15, 25, 25) and measured.sum() == pytest.approx(1.0, abs=1e-5)
        # measured: 0.70 % (relative L2; 6e-8 without noise: the noise clipped at 0 adds to the tails)
        assert np.linalg.norm(measured - known) / np.linalg.norm(known) < 0.02
    with pytest.raises(ValueError, match="not inside the image"):
        psf.from_bead_at(image, (26, 71, 200), size=15)

"""PSF models against published properties, and the bead measurement."""

import numpy as np
import pytest

from napari_invprob import psf


def radial_minimum(profile: np.ndarray, start: int = 1) -> float:
    """Sub-pixel position of the first local minimum of a 1D profile (parabola through three points)."""
    i = start + next(j for j in range(len(profile) - start - 1) if profile[start + j + 1] > profile[start + j])
    left, mid, right = profile[i - 1], profile[i], profile[i + 1]
    return i + 0.5 * (left - right) / (left - 2 * mid + right)


def test_gaussian_is_normalised_symmetric_and_centred():
    g = psf.gaussian(7, 4.0)
    assert g.dtype == np.float32 and g.shape == (7, 7)
    assert g.sum() == pytest.approx(1.0, abs=1e-6)
    np.testing.assert_allclose(g, g[::-1, ::-1])
    np.testing.assert_allclose(g, g.T)
    assert np.unravel_index(g.argmax(), g.shape) == (3, 3)
    r = np.arange(7) - 3
    expected = np.exp(-(r[:, None] ** 2 + r[None, :] ** 2) / 32.0)
    np.testing.assert_allclose(g, expected / expected.sum(), rtol=1e-5)


def test_gaussian_per_axis_even_sizes_and_3d():
    g = psf.gaussian((6, 8, 5), (1.0, 2.0, 0.7))
    assert g.shape == (6, 8, 5) and np.unravel_index(g.argmax(), g.shape) == (3, 4, 2)
    assert psf.gaussian(5, (1.0, 2.0, 3.0)).shape == (5, 5, 5)
    assert psf.gaussian(9, 1.5, ndim=3).shape == (9, 9, 9)
    profile = g[3, :, 2]  # even axis of 8: symmetric about index 4
    np.testing.assert_allclose(profile[1:], profile[1:][::-1], rtol=1e-6)


@pytest.mark.parametrize(
    ("args", "message"),
    [(((5, 5), (1.0, 1.0, 1.0)), "different lengths"), ((5, 0.0), "sigma must be > 0"), ((0, 1.0), "size must be")],
)
def test_gaussian_refuses_bad_parameters(args, message):
    with pytest.raises(ValueError, match=message):
        psf.gaussian(*args)


@pytest.mark.parametrize(("na", "wavelength"), [(1.0, 0.5), (0.6, 0.55)])
def test_born_wolf_first_airy_zero_is_at_0_61_lambda_over_na(na, wavelength):
    pixel = 0.02
    h = psf.born_wolf((129, 129), na=na, wavelength=wavelength, refractive_index=1.33, pixel_size=pixel)
    assert h.dtype == np.float32 and h.sum() == pytest.approx(1.0, abs=1e-5)
    assert np.unravel_index(h.argmax(), h.shape) == (64, 64)
    profile = h[64, 64:]
    zero = radial_minimum(profile) * pixel
    assert zero == pytest.approx(0.6098 * wavelength / na, abs=0.1 * pixel)
    assert profile[round(zero / pixel)] < 1e-3 * profile[0]  # a true zero, not just a dip
    np.testing.assert_allclose(h, h.T, rtol=1e-5, atol=1e-9)


def test_born_wolf_axial_zero_is_at_2_lambda_n_over_na_squared():
    na, wavelength, n, dz = 0.8, 0.5, 1.33, 0.1
    h = psf.born_wolf((65, 33, 33), na=na, wavelength=wavelength, refractive_index=n, pixel_size=0.05, z_spacing=dz)
    axial = h[:, 16, 16]
    assert np.argmax(axial) == 32
    np.testing.assert_allclose(axial, axial[::-1], rtol=1e-5)
    zero = (radial_minimum(axial[32:]) * dz)
    assert zero == pytest.approx(2 * wavelength * n / na**2, abs=0.1 * dz)


def test_gibson_lanni_is_born_wolf_when_indices_match_and_depth_is_zero():
    in_focus = dict(na=1.4, wavelength=0.52, pixel_size=0.03)
    gl = psf.gibson_lanni((65, 65), ni=1.515, ns=1.515, ng=1.515, **in_focus)
    bw = psf.born_wolf((65, 65), refractive_index=1.515, **in_focus)
    np.testing.assert_allclose(gl, bw, atol=1e-6 * bw.max())
    # off focus, Born & Wolf is the paraxial approximation: they agree at low NA
    stack = dict(na=0.3, wavelength=0.5, pixel_size=0.1, z_spacing=0.5)
    gl3 = psf.gibson_lanni((33, 33, 33), ni=1.33, ns=1.33, ng=1.5, **stack)
    bw3 = psf.born_wolf((33, 33, 33), refractive_index=1.33, **stack)
    assert np.abs(gl3 - bw3).max() < 0.02 * bw3.max()


def test_gibson_lanni_index_mismatch_at_depth_breaks_axial_symmetry():
    common = dict(na=1.4, wavelength=0.52, ni=1.515, pixel_size=0.065, z_spacing=0.1)
    matched = psf.gibson_lanni((41, 33, 33), ns=1.515, particle_depth=10.0, **common)
    aberrated = psf.gibson_lanni((41, 33, 33), ns=1.33, particle_depth=10.0, **common)
    for h in (matched, aberrated):
        assert h.sum() == pytest.approx(1.0, abs=1e-5) and np.isfinite(h).all()
    axial_matched, axial_aberrated = matched[:, 16, 16], aberrated[:, 16, 16]
    assert np.argmax(axial_matched) == 20
    np.testing.assert_allclose(axial_matched, axial_matched[::-1], rtol=1e-3)
    asymmetry = np.abs(axial_aberrated - axial_aberrated[::-1]).max() / axial_aberrated.max()
    assert asymmetry > 0.2
    assert axial_aberrated.max() < 0.8 * axial_matched.max()  # spherical aberration lowers the peak


def test_confocal_is_the_normalised_product_and_narrower_than_widefield():
    common = dict(na=1.2, refractive_index=1.33, pixel_size=0.02)
    conf = psf.confocal((65, 65), excitation_wavelength=0.488, emission_wavelength=0.52, **common)
    ex = psf.born_wolf((65, 65), wavelength=0.488, **common).astype(np.float64)
    em = psf.born_wolf((65, 65), wavelength=0.52, **common).astype(np.float64)
    np.testing.assert_allclose(conf, ex * em / (ex * em).sum(), rtol=1e-4, atol=1e-10)

    def fwhm(h):
        profile = h[32, 32:] / h[32, 32]
        return np.interp(0.5, profile[::-1], np.arange(len(profile))[::-1])

    assert fwhm(conf) < 0.8 * fwhm(em)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        (dict(shape=(9, 9), na=1.6, refractive_index=1.5), "na 1.6 exceeds the immersion refractive index 1.5"),
        (dict(shape=(5, 9, 9), na=0.5, refractive_index=1.0), "needs z_spacing"),
        (dict(shape=(9,), na=0.5, refractive_index=1.0), "shape must be"),
        (dict(shape=(9, 9), na=0.5, refractive_index=1.0, pixel_size=-1.0), "pixel_size must be > 0"),
    ],
)
def test_optical_models_refuse_bad_parameters(kwargs, message):
    kwargs = {"wavelength": 0.5, "pixel_size": 0.1, **kwargs}
    with pytest.raises(ValueError, match=message):
        psf.born_wolf(kwargs.pop("shape"), **kwargs)


def analytic_gaussian_spot(shape, centre, sigma):
    grids = np.meshgrid(*[np.arange(n, dtype=float) for n in shape], indexing="ij")
    return np.exp(-0.5 * sum((g - c) ** 2 for g, c in zip(grids, centre)) / sigma**2)


@pytest.mark.parametrize(("shape", "centre"), [((64, 72), (30.3, 41.65)), ((32, 40, 36), (14.6, 21.2, 17.45))])
def test_bead_recovers_the_psf_from_a_shifted_noisy_bead(shape, centre):
    sigma, size = 1.6, 15
    rng = np.random.default_rng(0)
    bead = 100.0 * analytic_gaussian_spot(shape, centre, sigma) + 10.0 + 0.3 * rng.standard_normal(shape)
    before = bead.copy()
    measured = psf.from_bead(bead, size=size)
    np.testing.assert_array_equal(bead, before)
    expected = psf.gaussian(size, sigma, ndim=len(shape))
    assert measured.dtype == np.float32 and measured.shape == expected.shape
    assert measured.sum() == pytest.approx(1.0, abs=1e-5) and measured.min() >= 0
    assert np.abs(measured - expected).max() < 0.05 * expected.max()
    grids = np.meshgrid(*[np.arange(size)] * len(shape), indexing="ij")
    com = [float((g * measured).sum()) for g in grids]
    np.testing.assert_allclose(com, [size // 2] * len(shape), atol=0.1)


def test_bead_with_a_given_background_and_full_size():
    bead = 50.0 * analytic_gaussian_spot((33, 33), (10.4, 20.7), 1.2) + 5.0
    measured = psf.from_bead(bead, background=5.0)
    assert measured.shape == (33, 33)
    np.testing.assert_allclose(measured, psf.gaussian(33, 1.2), atol=2e-3 * measured.max())


@pytest.mark.parametrize(
    ("image", "kwargs", "message"),
    [
        (np.zeros(10), {}, "must be 2D or 3D"),
        (np.full((9, 9), np.nan), {}, "NaN or Inf"),
        (np.ones((9, 9)), {"size": 11}, "does not fit the bead image"),
        (np.ones((9, 9)), {"background": "mean"}, "unknown background 'mean'"),
        (np.ones((9, 9)), {}, "no signal above the background"),
    ],
)
def test_bead_refuses_bad_input(image, kwargs, message):
    with pytest.raises(ValueError, match=message):
        psf.from_bead(image, **kwargs)

"""Time-lapse stacks (issue 15 item 3): a (T, Z, Y, X) or (T, C, Z, Y, X) run equals per-time-point runs,
the time point asked for comes first, one time point at a time. Blurred with scipy."""

import numpy as np
import pytest
from scipy import ndimage

import napari_invprob as nip
from napari_invprob import psf as psf_models

KERNEL = psf_models.gaussian((5, 7, 7), (1.0, 1.2, 1.2))


@pytest.fixture(scope="module")
def series():
    """Four time points of beads drifting in x, blurred, with Poisson counts on an offset."""
    rng = np.random.default_rng(0)
    beads = np.zeros((12, 40, 40))
    beads[tuple(rng.integers(3, 37, size=(3, 40)) % np.array([[12], [40], [40]]))] = 1.0
    frames = [ndimage.gaussian_filter(np.roll(beads, 2 * t, axis=2), (1.0, 1.2, 1.2)) * 800 + 100 for t in range(4)]
    return rng.poisson(np.stack(frames)).astype(np.float32)


@pytest.mark.parametrize("method, options", [("richardson-lucy", {"background": "auto"}), ("admm-tv", {})])
def test_a_time_series_run_equals_the_time_points_run_alone(series, method, options):
    together = nip.deconvolve(series, KERNEL, method=method, n_iter=5, time_axis=0, **options)
    assert together.shape == series.shape and together.dtype == np.float32
    for t in range(series.shape[0]):
        alone = nip.deconvolve(series[t], KERNEL, method=method, n_iter=5, **options)
        np.testing.assert_allclose(together[t], alone, rtol=1e-5, atol=1e-3)


def test_the_time_point_in_view_comes_first_and_progress_counts_over_all(series):
    seen = []
    for it in nip.deconvolve_iter(series, KERNEL, method="richardson-lucy", n_iter=3, time_axis=0,
                                  first_time_point=2, background=100.0):
        seen.append((it.iteration, [bool(it.x[t].any()) for t in range(4)]))
    assert [iteration for iteration, _ in seen] == list(range(1, 13))
    assert seen[0][1] == [False, False, True, False]  # time point 2 first ...
    assert seen[3][1] == [False, False, True, True]  # ... then 3, then 0 and 1
    assert seen[6][1] == [True, False, True, True]


def test_channels_and_time_points_together(series):
    two = np.stack([series, series[:, ::-1]], axis=1)  # (t, c, z, y, x)
    together = nip.deconvolve(two, [KERNEL, KERNEL], method="richardson-lucy", n_iter=3, time_axis=0,
                              channel_axis=1, background=[100.0, 100.0])
    alone = nip.deconvolve(two[1, 1], KERNEL, method="richardson-lucy", n_iter=3, background=100.0)
    np.testing.assert_allclose(together[1, 1], alone, rtol=1e-5, atol=1e-3)


@pytest.mark.parametrize("kwargs, match", [
    ({"time_axis": 5}, "time_axis 5 is not an axis"),
    ({"time_axis": 0, "first_time_point": 4}, "first_time_point 4 is not one of the 4 time points"),
    ({"time_axis": 0, "channel_axis": 0}, "the same axis"),
    ({"time_axis": 0, "lam": -1}, "lam"),
])
def test_bad_time_arguments_are_refused_before_any_work(series, kwargs, match):
    with pytest.raises(ValueError, match=match):
        nip.deconvolve_iter(series, KERNEL, **kwargs)


def test_the_command_line_runs_a_tiff_time_series_per_time_point(series, tmp_path, capsys):
    import json

    from napari_invprob.cli import main
    from napari_invprob.files.tiff import read_tiff
    from napari_invprob.io import write_volume

    write_volume(tmp_path / "series.tif", series, (2000.0, 650.0, 650.0))  # an ImageJ hyperstack (t, z, y, x)
    flags = ["deconvolve", str(tmp_path / "series.tif"), "--psf-sigma", "1.0", "1.2", "1.2", "--psf-size", "5", "7",
             "7", "--method", "richardson-lucy", "--n-iter", "3"]
    assert main([*flags, "--out", str(tmp_path / "out.tif")]) == 0
    assert "estimated per time point" in capsys.readouterr().err
    written = read_tiff(tmp_path / "out.tif")
    assert written.axes == "TZYX" and written.voxel_size[1:] == (2000.0, 650.0, 650.0)
    expected = nip.deconvolve(series, KERNEL, method="richardson-lucy", n_iter=3, time_axis=0, background="auto")
    np.testing.assert_allclose(written.data, expected, rtol=1e-4, atol=1e-2)
    record = json.loads((tmp_path / "out.tif.json").read_text())
    assert record["parameters"]["time_axis"] == 0 and record["iterations"] == 12
    assert main([*flags, "--time-axis", "none", "--out", str(tmp_path / "x.tif")]) == 2
    assert "one per axis (4)" in capsys.readouterr().err  # four axes, none of them time
    assert main([*flags, "--scheduler", "local:1", "--out", str(tmp_path / "x.tif")]) == 2
    assert "a time series (--time-axis) runs here" in capsys.readouterr().err

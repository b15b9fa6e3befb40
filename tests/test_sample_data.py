"""The manifest's sample data: every command resolves and returns valid napari LayerData."""

import numpy as np
import pytest
from npe2.manifest.utils import import_python_name

from napari_invprob.napari import sample_data as _sample_data


@pytest.fixture(scope="module")
def manifest():
    from npe2 import PluginManager

    pm = PluginManager()
    pm.discover(include_npe1=False)
    return pm.get_manifest("napari-invprob")


def _check_layer_data(layers):
    assert isinstance(layers, list) and layers
    for data, kwargs, layer_type in layers:
        assert layer_type == "image"
        assert isinstance(data, np.ndarray) and data.dtype == np.float32 and np.isfinite(data).all()
        assert isinstance(kwargs, dict) and kwargs["name"]
    names = [kwargs["name"] for _, kwargs, _ in layers]
    assert len(set(names)) == len(names)


def test_every_sample_command_resolves_to_a_function_giving_layer_data(manifest):
    commands = {c.id: c for c in manifest.contributions.commands}
    samples = manifest.contributions.sample_data
    assert {s.key for s in samples} >= {"astronaut", "shepp_logan_sinogram", "tilt_series"}
    for sample in samples:
        function = import_python_name(commands[sample.command].python_name)
        assert callable(function)


def test_astronaut():
    _check_layer_data(_sample_data.blurred_astronaut())


def test_shepp_logan_wedge_sinogram():
    layers = _sample_data.shepp_logan_wedge_sinogram()
    _check_layer_data(layers)
    (phantom, phantom_kwargs, _), (sinogram, kwargs, _) = layers
    assert phantom.shape == (256, 256) and phantom_kwargs["visible"] is False
    angles = kwargs["metadata"]["angles"]
    assert sinogram.shape == (len(angles), 256) == (50, 256)
    np.testing.assert_allclose(angles, np.linspace(-70.0, 70.0, 50))
    assert kwargs["metadata"]["tilt_axis"] == "y"


def test_rods_and_spheres_tilt_series():
    layers = _sample_data.rods_and_spheres_tilt_series()
    _check_layer_data(layers)
    (volume, volume_kwargs, _), (series, kwargs, _) = layers
    angles = kwargs["metadata"]["angles"]
    assert len(angles) == series.shape[0] and angles.min() == -70.0 and angles.max() == 70.0
    assert series.shape[1:] == volume.shape[1:]  # tilt about y: projections keep the volume's y and x
    assert volume_kwargs["visible"] is False
    # mass is seen at every tilt: each projection sums (up to the 1 % noise) to the volume's sum
    np.testing.assert_allclose(series.sum(axis=(1, 2)), volume.sum(), rtol=0.02)

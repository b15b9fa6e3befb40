"""Gradient: forward differences, exact adjoint (−div), Fourier symbol, bad input."""

import numpy as np
import pytest
import torch

from napari_invprob.operators import Convolution, Gradient
from napari_invprob.testing import adjoint_test


@pytest.mark.parametrize("boundary", ["neumann", "periodic"])
@pytest.mark.parametrize(
    ("shape", "axes", "batch"),
    [((16, 20), None, ()), ((6, 7, 8), None, (2,)), ((10, 12, 3), (0, 1), ()), ((5, 9, 11), (-1,), (3,))],
)
def test_adjoint_is_exact(shape, axes, batch, boundary):
    op = Gradient(shape, axes=axes, boundary=boundary, device="cpu")
    assert adjoint_test(op, batch_shape=batch) < 1e-4


def test_forward_differences_match_numpy():
    x = np.random.default_rng(0).random((6, 7)).astype(np.float32)
    neumann = Gradient(x.shape, device="cpu")(torch.from_numpy(x)).numpy()
    np.testing.assert_allclose(neumann[0], np.diff(x, axis=0, append=x[-1:]), atol=1e-6)
    np.testing.assert_allclose(neumann[1], np.diff(x, axis=1, append=x[:, -1:]), atol=1e-6)
    periodic = Gradient(x.shape, boundary="periodic", device="cpu")(torch.from_numpy(x)).numpy()
    np.testing.assert_allclose(periodic[1], np.roll(x, -1, axis=1) - x, atol=1e-6)


def test_rgb_axes_differentiate_spatial_axes_only():
    x = torch.rand(5, 6, 3)
    d = Gradient((5, 6, 3), axes=(0, 1), device="cpu")(x)
    assert d.shape == (2, 5, 6, 3)
    torch.testing.assert_close(d[1, :, :-1, 0], x[:, 1:, 0] - x[:, :-1, 0])


def test_gram_symbol_is_the_fourier_symbol_of_dtd():
    shape = (12, 10, 3)
    op = Gradient(shape, axes=(0, 1), boundary="periodic", device="cpu")
    conv = Convolution(np.ones((1, 1)), shape, channel_axis=-1, device="cpu")
    x = torch.rand(shape)
    via_fourier = conv.irfft(conv.rfft(x) * op.gram_symbol())
    torch.testing.assert_close(via_fourier, op.adjoint(op.forward(x)), atol=1e-5, rtol=1e-5)
    assert op.gram_symbol().shape == conv.otf.shape


def test_gradient_norm_is_two_sqrt_ndim_for_periodic():
    op = Gradient((16, 16), boundary="periodic", device="cpu")
    assert float(op.gram_symbol().max()) == pytest.approx(8.0)  # ‖D‖² = max of the symbol of DᵀD
    assert np.sqrt(8) * 0.98 < op.norm() <= np.sqrt(8) * (1 + 1e-6)  # power iteration, from below


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"boundary": "zero"}, "unknown boundary 'zero'.*neumann, periodic"),
        ({"axes": (2,)}, r"axes \(2,\) out of range"),
        ({"axes": (0, -2)}, "repeat an axis"),
        ({"axes": ()}, "axes is empty"),
    ],
)
def test_bad_input_is_refused(kwargs, message):
    with pytest.raises(ValueError, match=message):
        Gradient((4, 4), device="cpu", **kwargs)


def test_gram_symbol_needs_periodic():
    with pytest.raises(ValueError, match="gram_symbol needs boundary='periodic'"):
        Gradient((4, 4), device="cpu").gram_symbol()


@pytest.mark.parametrize("boundary", ["neumann", "periodic"])
@pytest.mark.parametrize("shape", [(7, 5, 6), (9, 8)])
def test_planes_at_a_time_give_the_whole_gradient_and_adjoint(boundary, shape):
    from napari_invprob.operators import GradientAndIdentity

    gen = torch.Generator().manual_seed(5)
    for op in (Gradient(shape, boundary=boundary, device="cpu"),
               GradientAndIdentity(Gradient(shape, boundary=boundary, device="cpu"))):
        x, p = torch.rand(2, *shape, generator=gen), torch.rand(2, *op.out_shape, generator=gen)
        whole, adjoint = op.forward(x), op.adjoint(p)
        summed = torch.zeros(2, *shape)
        for start, stop in ((0, 3), (3, 5), (5, shape[0])):
            planes = op.forward_planes(x, start, stop)
            assert torch.equal(planes, whole.narrow(-len(shape), start, stop - start))
            op.adjoint_planes_add(summed, p.narrow(-len(shape), start, stop - start), start)
        assert torch.allclose(summed, adjoint, atol=1e-6)

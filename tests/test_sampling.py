"""Mask and Subsample: exact adjoints, what they keep, bad input."""

import numpy as np
import pytest
import torch

from napari_invprob.operators import Mask, Subsample
from napari_invprob.testing import adjoint_test


def test_mask_is_elementwise_and_self_adjoint():
    mask = np.random.default_rng(0).random((8, 9)) > 0.4
    op = Mask(mask, device="cpu")
    assert adjoint_test(op, batch_shape=(3,)) < 1e-4
    x = torch.rand(2, 8, 9)
    torch.testing.assert_close(op(x), x * torch.from_numpy(mask))
    assert op.norm() == 1.0


def test_mask_does_not_alias_its_input():
    mask = np.ones((4, 4))
    op = Mask(mask, device="cpu")
    mask[0, 0] = 0
    assert float(op.mask[0, 0]) == 1.0


@pytest.mark.parametrize("batch", [(), (2, 3)])
def test_subsample_with_flat_indices(batch):
    indices = np.array([0, 5, 5, 17, 29])
    op = Subsample((5, 6), indices, device="cpu")
    assert op.out_shape == (5,)
    assert adjoint_test(op, batch_shape=batch) < 1e-4
    x = torch.rand(*batch, 5, 6)
    torch.testing.assert_close(op(x), x.reshape(*batch, 30)[..., indices])
    back = op.adjoint(torch.ones(*batch, 5))
    assert float(back.reshape(*batch, 30)[..., 5].min()) == 2.0  # repeated index: contributions add
    assert float(back.sum()) == 5 * float(np.prod(batch))


def test_subsample_with_boolean_mask_keeps_c_order():
    keep = np.random.default_rng(1).random((4, 5, 6)) > 0.7
    op = Subsample(keep.shape, keep, device="cpu")
    x = torch.rand(4, 5, 6)
    torch.testing.assert_close(op(x), x[torch.from_numpy(keep)])
    assert adjoint_test(op, batch_shape=(2,)) < 1e-4


@pytest.mark.parametrize(
    ("indices", "error", "message"),
    [
        (np.ones((3, 3), bool), ValueError, r"boolean indices have shape \(3, 3\) but the image has shape \(4, 4\)"),
        (np.array([0, 16]), ValueError, r"indices must lie in \[0, 16\)"),
        (np.array([[0, 1]]), ValueError, "must be 1D flat indices"),
        (np.zeros((4, 4), bool), ValueError, "keep no pixel"),
        (np.array([0.5, 1.0]), TypeError, "integer flat indices or a boolean mask"),
    ],
)
def test_subsample_refuses_bad_indices(indices, error, message):
    with pytest.raises(error, match=message):
        Subsample((4, 4), indices, device="cpu")


def test_mask_refuses_nan():
    with pytest.raises(ValueError, match="mask contains NaN"):
        Mask(np.array([1.0, np.nan]), device="cpu")

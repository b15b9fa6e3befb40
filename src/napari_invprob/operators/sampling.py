"""Operators for missing data: an elementwise mask and a subsampling that keeps chosen pixels."""

from __future__ import annotations

import math

import numpy as np
import torch

from .._shared.device import to_tensor
from .base import LinearOperator


class Mask(LinearOperator):
    """Elementwise multiplication by a fixed mask (or weights): ``y = m ⊙ x``; self-adjoint.

    Parameters
    ----------
    mask : array-like or torch.Tensor
        Boolean or real weights; its shape is the operator's input and output shape. Zeros mark
        missing pixels.
    device : str, torch.device or None
        Device of the operator; None picks the best one.

    Raises
    ------
    ValueError
        If the mask is empty or contains NaN/Inf.
    """

    def __init__(self, mask, *, device=None):
        mask_t = to_tensor(mask, device, name="mask")
        super().__init__(mask_t.shape, mask_t.shape, device=mask_t.device)
        self.mask = mask_t

    def forward(self, x):
        self.batch_shape(x)
        return x * self.mask

    def adjoint(self, y):
        return self.forward(y)

    def norm(self, **kwargs) -> float:
        return float(self.mask.abs().max())


class Subsample(LinearOperator):
    """Keep chosen pixels of an image as a 1D vector; the adjoint scatters them back (zeros elsewhere).

    Parameters
    ----------
    shape : tuple of int
        Shape of one image.
    indices : array-like of int, or array-like of bool
        Either flat (C-order) indices into an image of ``shape`` (repeats allowed: the adjoint then
        sums their contributions), or a boolean mask of shape ``shape`` whose True pixels are kept
        in C order.
    device : str, torch.device or None
        Device of the operator; None picks the best one.

    Notes
    -----
    Input ``(*batch, *shape)``, output ``(*batch, n_kept)``.

    Raises
    ------
    ValueError
        If a boolean mask does not have shape ``shape``, integer indices are not 1D or fall outside
        the image, or nothing is kept.
    TypeError
        If ``indices`` are neither integer nor boolean.
    """

    def __init__(self, shape, indices, *, device=None):
        shape = tuple(int(s) for s in shape)
        flat = _flat_indices(shape, indices)
        super().__init__(shape, (flat.size,), device=device)
        self.indices = torch.as_tensor(flat, dtype=torch.long, device=self.device)

    def forward(self, x):
        batch = self.batch_shape(x)
        return x.reshape(*batch, -1).index_select(-1, self.indices)

    def adjoint(self, y):
        batch = self.batch_shape(y, self.out_shape)
        out = y.new_zeros((*batch, math.prod(self.in_shape)))
        out.index_add_(-1, self.indices, y)
        return out.reshape(*batch, *self.in_shape)


def _flat_indices(shape: tuple[int, ...], indices) -> np.ndarray:
    """Validate ``indices`` (flat integers or a boolean mask) and return flat C-order indices."""
    arr = np.asarray(indices.detach().cpu() if isinstance(indices, torch.Tensor) else indices)
    size = math.prod(shape)
    if arr.dtype == bool:
        if arr.shape != shape:
            raise ValueError(f"boolean indices have shape {arr.shape} but the image has shape {shape}")
        flat = np.flatnonzero(arr)
    elif arr.dtype.kind in "iu":
        if arr.ndim != 1:
            raise ValueError(f"integer indices must be 1D flat indices, got shape {arr.shape}")
        if arr.size and (arr.min() < 0 or arr.max() >= size):
            raise ValueError(
                f"indices must lie in [0, {size}) for an image of shape {shape}; got range "
                f"[{arr.min()}, {arr.max()}]"
            )
        flat = arr.astype(np.int64)
    else:
        raise TypeError(f"indices must be integer flat indices or a boolean mask, got dtype {arr.dtype}")
    if flat.size == 0:
        raise ValueError("indices keep no pixel; keep at least one")
    return flat

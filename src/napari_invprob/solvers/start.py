"""The starting point of iterative solvers."""

from __future__ import annotations

import torch

from ..operators.base import LinearOperator


def initial_estimate(op: LinearOperator, y: torch.Tensor, x0: torch.Tensor | None) -> torch.Tensor:
    """A fresh copy of the warm start ``x0``, or zeros shaped like ``Aᵀy`` when ``x0`` is None.

    Raises
    ------
    ValueError
        If ``x0`` does not have the shape of the unknown, ``(*batch, *op.in_shape)``.
    """
    batch = op.batch_shape(y, op.out_shape)
    shape = (*batch, *op.in_shape)
    if x0 is None:
        return torch.zeros(shape, dtype=y.dtype, device=y.device)
    if tuple(x0.shape) != shape:
        raise ValueError(f"x0 has shape {tuple(x0.shape)}, the unknown has shape {shape}")
    return x0.detach().to(device=y.device, dtype=y.dtype).clone()

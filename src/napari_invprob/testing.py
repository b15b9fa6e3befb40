"""Checks a user can run on any operator, such as the dot-product adjoint test."""

from __future__ import annotations

import torch

from .operators.base import LinearOperator


def adjoint_test(
    op: LinearOperator, *, batch_shape: tuple[int, ...] = (), n_trials: int = 3, seed: int = 0
) -> float:
    """Dot-product test of an operator's adjoint: ``<Hx, y>`` against ``<x, Hᵀy>``.

    Random Gaussian ``x`` and ``y`` (float32, on the operator's device) are drawn ``n_trials`` times;
    the two inner products are accumulated in float64 from the float32 results.

    Parameters
    ----------
    op : LinearOperator
        The operator under test.
    batch_shape : tuple of int
        Leading batch axes for the random inputs, to test batching too.
    n_trials : int
        Number of random pairs.
    seed : int
        Seed of the random inputs.

    Returns
    -------
    float
        The largest relative error ``|<Hx, y> - <x, Hᵀy>| / max(|<Hx, y>|, |<x, Hᵀy>|)`` over the
        trials. An exact pair gives about 1e-6 in float32; a mismatched pair typically 1e-2.
    """
    gen = torch.Generator().manual_seed(seed)
    worst = 0.0
    for _ in range(n_trials):
        x = torch.randn((*batch_shape, *op.in_shape), generator=gen).to(op.device)
        y = torch.randn((*batch_shape, *op.out_shape), generator=gen).to(op.device)
        hx = op.forward(x)
        hty = op.adjoint(y)
        if tuple(hx.shape) != tuple(y.shape) or tuple(hty.shape) != tuple(x.shape):
            raise ValueError(
                f"{op!r} returned shapes {tuple(hx.shape)} (forward) and {tuple(hty.shape)} (adjoint); "
                f"expected {tuple(y.shape)} and {tuple(x.shape)}"
            )
        lhs = float(torch.sum(hx.double() * y.double()))
        rhs = float(torch.sum(x.double() * hty.double()))
        scale = max(abs(lhs), abs(rhs), 1e-30)
        worst = max(worst, abs(lhs - rhs) / scale)
    return worst

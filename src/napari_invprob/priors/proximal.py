"""Proximal maps of separable penalties and projections onto simple convex sets.

A proximal map here is a callable ``prox(v, tau) -> Tensor`` returning
``argmin_x ½‖x − v‖² + tau·h(x)``; the solvers in :mod:`napari_invprob.solvers` take it together with
the weight ``lam`` and call ``prox(v, step * lam)``. The matching penalty ``h(x)`` is a callable
``penalty(x) -> float`` (used only to report the objective).
"""

from __future__ import annotations

import torch


def soft_threshold(v: torch.Tensor, tau: float) -> torch.Tensor:
    """Proximal map of ``tau·‖x‖₁``: ``sign(v)·max(|v| − tau, 0)`` elementwise."""
    return torch.sign(v) * torch.clamp(v.abs() - tau, min=0.0)


def l1_norm(x: torch.Tensor) -> float:
    """The penalty ``‖x‖₁`` matching :func:`soft_threshold`."""
    return float(x.abs().sum())


def project_nonneg(v: torch.Tensor, tau: float = 0.0) -> torch.Tensor:
    """Projection onto ``x ≥ 0`` (the proximal map of its indicator, for any ``tau``)."""
    return torch.clamp(v, min=0.0)


def project_box(v: torch.Tensor, lower: float | None = None, upper: float | None = None) -> torch.Tensor:
    """Projection onto the box ``lower ≤ x ≤ upper`` (either bound may be None)."""
    if lower is not None and upper is not None and lower > upper:
        raise ValueError(f"the box is empty: lower={lower} > upper={upper}")
    return torch.clamp(v, min=lower, max=upper)


__all__ = ["l1_norm", "project_box", "project_nonneg", "soft_threshold"]

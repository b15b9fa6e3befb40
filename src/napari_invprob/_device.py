"""Device choice and conversion between NumPy arrays and float32 tensors.

Everything the backend computes is float32 on one torch device; results leave as float32 NumPy
arrays. Input arrays are never modified: conversion always copies or reads.
"""

from __future__ import annotations

import numpy as np
import torch

DTYPE = torch.float32


def resolve_device(device: str | torch.device | None = None) -> torch.device:
    """Return the torch device to compute on.

    Parameters
    ----------
    device : str, torch.device or None
        An explicit device (``"cpu"``, ``"cuda"``, ``"cuda:1"``, ``"mps"``), or None to pick the best
        available one: CUDA, then Apple MPS, then the CPU.

    Returns
    -------
    torch.device
    """
    if device is not None:
        return torch.device(device)
    if torch.cuda.is_available():
        return torch.device("cuda")
    mps = getattr(torch.backends, "mps", None)
    if mps is not None and mps.is_available():
        return torch.device("mps")
    return torch.device("cpu")


def to_tensor(array, device: str | torch.device | None = None, *, name: str = "data") -> torch.Tensor:
    """Convert an array-like to a finite float32 tensor on ``device`` without touching the input.

    Integer arrays are converted (not truncated or rescaled); boolean arrays become 0/1.

    Parameters
    ----------
    array : array-like or torch.Tensor
        The data.
    device : str, torch.device or None
        Target device, see :func:`resolve_device`.
    name : str
        What to call the data in error messages.

    Returns
    -------
    torch.Tensor
        A float32 tensor that shares no memory with ``array``.

    Raises
    ------
    TypeError
        If the data are complex or not numeric.
    ValueError
        If the data contain NaN or Inf, or are empty.
    """
    device = resolve_device(device)
    if isinstance(array, torch.Tensor):
        if array.is_complex():
            raise TypeError(f"{name} is complex; napari-invprob works on real-valued data")
        tensor = array.detach().to(device=device, dtype=DTYPE, copy=True)
    else:
        arr = np.asarray(array)
        if arr.dtype.kind == "c":
            raise TypeError(f"{name} is complex; napari-invprob works on real-valued data")
        if arr.dtype.kind not in "biuf":
            raise TypeError(f"{name} must be numeric, got dtype {arr.dtype}")
        # one copy (torch.tensor would copy the converted array a second time)
        tensor = torch.from_numpy(arr.astype(np.float32, order="C", copy=True)).to(device)
    if tensor.numel() == 0:
        raise ValueError(f"{name} is empty (shape {tuple(tensor.shape)})")
    if not bool(torch.isfinite(tensor).all()):
        raise ValueError(f"{name} contains NaN or Inf values; remove or replace them first")
    return tensor


def to_numpy(tensor: torch.Tensor) -> np.ndarray:
    """Return a float32 NumPy copy of ``tensor`` (detached, on the CPU)."""
    return tensor.detach().to("cpu", torch.float32).numpy().copy()

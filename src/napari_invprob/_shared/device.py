"""Device choice and conversion between NumPy arrays and float32 tensors.

Everything the backend computes is float32 on one torch device; results leave as float32 NumPy
arrays. Input arrays are never modified: conversion always copies or reads.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator

import numpy as np
import torch

DTYPE = torch.float32
#: The largest float32; a number beyond it becomes Inf inside the computation.
FLOAT32_MAX = float(np.finfo(np.float32).max)


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

    Raises
    ------
    ValueError
        If ``device`` names no device torch knows, or one this machine does not have (``"cuda"``
        without a GPU or without CUDA support in torch, ``"cuda:3"`` with two GPUs, ``"mps"`` off a Mac).
    """
    if device is not None:
        return _available(device)
    if torch.cuda.is_available():
        return torch.device("cuda")
    mps = getattr(torch.backends, "mps", None)
    if mps is not None and mps.is_available():
        return torch.device("mps")
    return torch.device("cpu")


def _available(device) -> torch.device:
    if not isinstance(device, (str, torch.device)):
        raise TypeError(f"device must be a string such as 'cpu' or 'cuda', got {type(device).__name__}")
    try:
        resolved = torch.device(device)
    except (RuntimeError, ValueError):
        raise ValueError(f"unknown device {device!r}; use cpu, cuda, cuda:N or mps") from None
    if resolved.type == "cuda":
        count = torch.cuda.device_count() if torch.cuda.is_available() else 0
        if count == 0:
            raise ValueError(f"device {device!r} is not available: no CUDA GPU is visible to torch here; use cpu")
        if resolved.index is not None and resolved.index >= count:
            raise ValueError(f"device {device!r} is not available: this machine has {count} CUDA GPU(s), "
                             f"cuda:0 to cuda:{count - 1}")
    elif resolved.type == "mps":
        mps = getattr(torch.backends, "mps", None)
        if mps is None or not mps.is_available():
            raise ValueError(f"device {device!r} is not available: Apple MPS needs a Mac with Metal; use cpu")
    elif resolved.type != "cpu":
        raise ValueError(f"device {device!r} is not supported; use cpu, cuda, cuda:N or mps")
    return resolved


def check_float32(value, name: str) -> float:
    """Return ``value`` as a float after checking that float32 can hold it.

    Parameters
    ----------
    value : int or float
        A number the computation will use in float32 (λ, a noise level, a step size, ...).
    name : str
        What to call it in the error message.

    Returns
    -------
    float

    Raises
    ------
    TypeError
        If ``value`` is not a real number (a string, a boolean, ...).
    ValueError
        If it is NaN, infinite or larger in magnitude than float32's maximum (about 3.4e38).
    """
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, float, np.integer, np.floating)):
        raise TypeError(f"{name} must be a number, got {type(value).__name__} {value!r}")
    number = float(value)
    if not np.isfinite(number) or abs(number) > FLOAT32_MAX:
        raise ValueError(f"{name} must be a finite number that float32 can hold (|{name}| <= 3.4e38), got {value}")
    return number


def to_tensor(array, device: str | torch.device | None = None, *, name: str = "data") -> torch.Tensor:
    """Convert an array-like to a finite float32 tensor on ``device`` without touching the input.

    Integer arrays are converted (not truncated or rescaled); boolean arrays become 0/1. A masked
    array is refused when any value is masked (its hidden values would be used): fill it first.

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
        If the data contain NaN or Inf (also after the conversion to float32: values beyond 3.4e38),
        are empty, or are a masked array with masked values.
    """
    device = resolve_device(device)
    if isinstance(array, torch.Tensor):
        if array.is_complex():
            raise TypeError(f"{name} is complex; napari-invprob works on real-valued data")
        tensor = array.detach().to(device=device, dtype=DTYPE, copy=True)
    else:
        arr = _numeric(array, name)
        # one copy (torch.tensor would copy the converted array a second time)
        tensor = torch.from_numpy(arr.astype(np.float32, order="C", copy=True)).to(device)
    if tensor.numel() == 0:
        raise ValueError(f"{name} is empty (shape {tuple(tensor.shape)})")
    if not bool(torch.isfinite(tensor).all()):
        raise ValueError(f"{name} contains NaN or Inf values; remove or replace them first")
    return tensor


def check_values(array, *, name: str = "data") -> np.ndarray:
    """Check an array as :func:`to_tensor` does, without converting or copying it.

    For data too large to copy at once (a distributed call checks the whole image before it sends
    the pieces).

    Parameters
    ----------
    array : array-like
        The data.
    name : str
        What to call the data in error messages.

    Returns
    -------
    numpy.ndarray
        The data as an array (the unmasked data of a masked array without masked values).

    Raises
    ------
    TypeError, ValueError
        As :func:`to_tensor`.
    """
    arr = _numeric(array, name)
    if arr.size == 0:
        raise ValueError(f"{name} is empty (shape {arr.shape})")
    if arr.dtype.kind == "f":
        finite = bool(np.isfinite(arr).all())
        if finite and arr.dtype.itemsize > 4:
            finite = float(np.abs(arr).max()) <= FLOAT32_MAX
        if not finite:
            raise ValueError(f"{name} contains NaN or Inf values (or values beyond float32's range); remove or "
                             "replace them first")
    return arr


def _numeric(array, name: str) -> np.ndarray:
    """``array`` as a real NumPy array; masked values and non-numeric or complex data refused."""
    if isinstance(array, np.ma.MaskedArray):
        masked = int(np.count_nonzero(np.ma.getmaskarray(array)))
        if masked:
            raise ValueError(f"{name} is a masked array with {masked} masked value(s); fill them explicitly "
                             f"first (e.g. {name}.filled(0)) or pass the unmasked data")
        array = array.data
    arr = np.asarray(array)
    if arr.dtype.kind == "c":
        raise TypeError(f"{name} is complex; napari-invprob works on real-valued data")
    if arr.dtype.kind not in "biuf":
        raise TypeError(f"{name} must be numeric, got dtype {arr.dtype}")
    return arr


class _ThreadCount:
    """The one owner of torch's process-wide intra-op thread count (see :func:`torch_threads`)."""

    def __init__(self):
        self._lock = threading.Lock()
        self._requests: list[int] = []
        self._before = 0

    @contextlib.contextmanager
    def limit(self, n: int) -> Iterator[None]:
        with self._lock:
            if not self._requests:
                self._before = torch.get_num_threads()
            self._requests.append(n)
            torch.set_num_threads(min([self._before, *self._requests]))
        try:
            yield
        finally:
            with self._lock:
                self._requests.remove(n)
                torch.set_num_threads(min([self._before, *self._requests]))


_THREAD_COUNT = _ThreadCount()


def torch_threads(n: int) -> contextlib.AbstractContextManager[None]:
    """A block that computes with at most ``n`` torch intra-op threads; the count is restored after.

    torch's thread count is one setting for the whole process. Blocks may overlap (two widgets'
    runs, the chunk engine inside a run, in any threads): while any is open the count is the smallest
    of their limits and of the count before the first one opened, and when the last one closes that
    count comes back, whatever the order in which they close.

    Parameters
    ----------
    n : int
        The most threads the block's work should use (at least 1).

    Returns
    -------
    contextlib.AbstractContextManager
        Use it in a ``with`` statement.
    """
    if isinstance(n, bool) or not isinstance(n, int) or n < 1:
        raise ValueError(f"n must be a positive integer, got {n!r}")
    return _THREAD_COUNT.limit(n)


def to_numpy(tensor: torch.Tensor) -> np.ndarray:
    """Return a float32 NumPy copy of ``tensor`` (detached, on the CPU)."""
    return tensor.detach().to("cpu", torch.float32).numpy().copy()

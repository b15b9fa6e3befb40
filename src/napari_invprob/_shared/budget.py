"""Refusing work that cannot fit in memory, before its arrays are allocated.

A size typed in the wrong unit (1 mm voxels, a wavelength of 1e-9 µm, a thickness of 10⁶ slices) makes
arrays of terabytes; allocating them ends in a ``MemoryError`` after minutes of swapping, or worse.
The backend forecasts the bytes of such arrays and refuses with a ``ValueError`` that says what to
check, as the widgets' forecast does for a whole run.
"""

from __future__ import annotations

import psutil

#: Refuse work whose forecast memory exceeds this share of the memory available now.
MEMORY_SHARE = 0.8


def available_memory() -> int:
    """Bytes of memory available to new work now."""
    return int(psutil.virtual_memory().available)


def check_fits(n_bytes: float, what: str, advice: str) -> None:
    """Refuse work of ``n_bytes`` that does not fit in :data:`MEMORY_SHARE` of the available memory.

    Parameters
    ----------
    n_bytes : float
        The forecast memory of the work.
    what : str
        What needs it, for the message (``"the optics' quadrature"``).
    advice : str
        What to check or change, for the message.

    Raises
    ------
    ValueError
        If the work does not fit, saying how much it needs, how much is free and ``advice``.
    """
    available = available_memory()
    if n_bytes > MEMORY_SHARE * available:
        raise ValueError(f"{what} needs about {_size(n_bytes)}, but only {_size(available)} of memory is free: {advice}")


def _size(n_bytes: float) -> str:
    for unit, scale in (("PiB", 2**50), ("TiB", 2**40), ("GiB", 2**30)):
        if n_bytes >= scale:
            return f"{n_bytes / scale:.3g} {unit}"
    return f"{n_bytes / 2**20:.3g} MiB"


__all__ = ["MEMORY_SHARE", "available_memory", "check_fits"]

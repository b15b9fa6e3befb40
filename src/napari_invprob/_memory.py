"""Freed memory handed back to the system (glibc), so that a long solve's peak is what it holds.

glibc serves a freed block's memory to later requests of the same thread but keeps it from the system,
and after a large array is freed it raises its ``mmap`` threshold (up to 32 MiB), so that the
megabyte-sized arrays of a chunked reconstruction come from per-thread heaps that only grow. On a
77 × 256 × 256 TV reconstruction that was half a volume of resident memory holding nothing.
"""

from __future__ import annotations

import ctypes
import functools
import sys

_M_MMAP_THRESHOLD = -3  # mallopt's parameter number in glibc's malloc.h
#: Blocks of at least this many bytes are mapped from the system and unmapped when freed (glibc's
#: default starts at 128 KiB and rises with the largest block freed, to 32 MiB; a fixed value stops the
#: rise). 77 x 256 x 256 TV, peak beyond the data: 4.5-4.9x the volume without, 4.1x with 4 or 8 MiB,
#: 3.8x with 1 MiB, which made SIRT 25-50 % slower (fresh pages to fault in for every array).
MMAP_THRESHOLD_BYTES = 4 << 20


@functools.cache
def _glibc():
    if not sys.platform.startswith("linux"):
        return None
    try:
        libc = ctypes.CDLL("libc.so.6")
    except OSError:  # musl and other C libraries
        return None
    return libc if hasattr(libc, "mallopt") and hasattr(libc, "malloc_trim") else None


def release_freed_memory() -> None:
    """Hand the memory freed in every thread's heap back to the system (``malloc_trim``); a no-op
    without glibc. Call it after work whose temporaries were made by threads that have ended."""
    libc = _glibc()
    if libc is not None:
        libc.malloc_trim(0)


@functools.cache
def map_large_blocks() -> None:
    """From now on, map blocks of :data:`MMAP_THRESHOLD_BYTES` or more from the system, so that
    freeing them returns them (a process-wide glibc setting, made once; a no-op without glibc)."""
    libc = _glibc()
    if libc is not None:
        libc.mallopt(_M_MMAP_THRESHOLD, MMAP_THRESHOLD_BYTES)

"""How glibc's allocator treats our large arrays: handed back while a tilt series is reconstructed, kept
for reuse everywhere else.

glibc serves a freed block's memory to later requests of the same thread but keeps it from the system,
and after a large array is freed it raises its ``mmap`` threshold (up to 32 MiB), so that the
megabyte-sized arrays of a chunked reconstruction come from per-thread heaps that only grow. On a
77 × 256 × 256 TV reconstruction that was half a volume of resident memory holding nothing: while one
runs, :func:`large_blocks_mapped` maps large blocks from the system. Iterations that make and free the
same large FFT arrays again and again want the opposite: :func:`keep_large_blocks`, set by every
convolution and by the end of a reconstruction.
"""

from __future__ import annotations

import contextlib
import ctypes
import functools
import sys
import threading
from collections.abc import Iterator

_M_TRIM_THRESHOLD, _M_MMAP_THRESHOLD = -1, -3  # mallopt's parameter numbers in glibc's malloc.h
#: Blocks of at least this many bytes are mapped from the system and unmapped when freed (glibc's
#: default starts at 128 KiB and rises with the largest block freed, to 32 MiB; a fixed value stops the
#: rise). 77 x 256 x 256 TV, peak beyond the data: 4.5-4.9x the volume without, 4.1x with 4 or 8 MiB,
#: 3.8x with 1 MiB, which made SIRT 25-50 % slower (fresh pages to fault in for every array).
MMAP_THRESHOLD_BYTES = 4 << 20
#: The trim threshold meanwhile: glibc's default, so that the top of a heap is handed back once this
#: much of it is free (left at twice the kept mmap threshold, the TV run above peaked at 4.3x, SIRT
#: at 4.1x instead of 3.2x).
MAPPED_TRIM_THRESHOLD_BYTES = 128 << 10
#: The thresholds everywhere else: glibc's own once risen to its ceiling (a 32 MiB mmap threshold,
#: a trim threshold twice that), so that the FFT arrays of one iteration reuse the last one's memory. Left
#: at 4 MiB, the four FFTs of a Richardson-Lucy iteration at 128³ took 26 ms instead of 13.7; at 8 MiB
#: (trim 16 MiB) its 8.5 MB spectra were still mapped anew, 29.5 ms per iteration instead of 13.5.
KEPT_MMAP_THRESHOLD_BYTES = 32 << 20
KEPT_TRIM_THRESHOLD_BYTES = 64 << 20
_mapping_lock = threading.Lock()
_mapping_users = 0


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
def keep_large_blocks() -> None:
    """From now on, let glibc keep freed blocks for reuse (:func:`_keep`; while :func:`large_blocks_mapped`
    runs, its end does it). Iterations that make and free arrays of the same large size want this: left
    to glibc's own rising thresholds, Richardson-Lucy at 128³ had its heap trimmed and faulted in again,
    up to 2900 page faults and 3 ms per iteration. A process-wide glibc setting, made once; a no-op without
    glibc."""
    libc = _glibc()
    if libc is not None:
        with _mapping_lock:
            if _mapping_users == 0:
                _keep(libc)


def _keep(libc) -> None:
    """Let glibc reuse freed blocks below :data:`KEPT_MMAP_THRESHOLD_BYTES` and trim its heaps only beyond
    :data:`KEPT_TRIM_THRESHOLD_BYTES`."""
    libc.mallopt(_M_MMAP_THRESHOLD, KEPT_MMAP_THRESHOLD_BYTES)
    libc.mallopt(_M_TRIM_THRESHOLD, KEPT_TRIM_THRESHOLD_BYTES)


@contextlib.contextmanager
def large_blocks_mapped() -> Iterator[None]:
    """Within the block, map blocks of :data:`MMAP_THRESHOLD_BYTES` or more from the system, so that
    freeing them returns them, and trim heaps at :data:`MAPPED_TRIM_THRESHOLD_BYTES`; afterwards (when no
    other thread is within one) let glibc keep large blocks for reuse (:func:`_keep`). A process-wide glibc
    setting; a no-op without glibc."""
    global _mapping_users
    libc = _glibc()
    if libc is None:
        yield
        return
    with _mapping_lock:
        _mapping_users += 1
        if _mapping_users == 1:
            libc.mallopt(_M_MMAP_THRESHOLD, MMAP_THRESHOLD_BYTES)
            libc.mallopt(_M_TRIM_THRESHOLD, MAPPED_TRIM_THRESHOLD_BYTES)
    try:
        yield
    finally:
        with _mapping_lock:
            _mapping_users -= 1
            if _mapping_users == 0:
                _keep(libc)

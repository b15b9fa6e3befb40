"""A crop of a big image to preview a deconvolution on: the region in view, grown by a halo.

Deconvolving a crop alone is approximate near its edges (the blur there mixes in what lies outside);
with a halo of :func:`napari_invprob.distributed.default_overlap` pixels (from the PSF's size and the
iteration count) the crop's inner region matches the same region of the whole run to about 1e-3 of
the data's range, as for the tiles of a distributed run.
"""

from __future__ import annotations

from collections.abc import Sequence


def crop_around(shape: Sequence[int], lo: Sequence[int], hi: Sequence[int], halo: int,
                minimum: Sequence[int]) -> tuple[slice, ...]:
    """The crop of an image of ``shape`` holding the region ``lo..hi`` grown by ``halo`` pixels.

    Parameters
    ----------
    shape : sequence of int
        The image's shape.
    lo, hi : sequence of int
        First and last index of the region per axis (inclusive; clipped to the image).
    halo : int
        Pixels added on each side of the region.
    minimum : sequence of int
        The crop's smallest size per axis (e.g. the PSF's: a crop must hold the PSF), reached by
        growing it on both sides where the image has room.

    Returns
    -------
    tuple of slice
        One slice per axis, within the image.

    Raises
    ------
    ValueError
        If the lengths of the arguments differ or ``halo`` is negative.
    """
    if not len(shape) == len(lo) == len(hi) == len(minimum):
        raise ValueError(f"shape {tuple(shape)}, lo {tuple(lo)}, hi {tuple(hi)} and minimum {tuple(minimum)} "
                         "need one entry per axis each")
    if halo < 0:
        raise ValueError(f"halo must be >= 0, got {halo}")
    crop = []
    for n, first, last, least in zip(shape, lo, hi, minimum):
        first, last = sorted((min(max(int(first), 0), n - 1), min(max(int(last), 0), n - 1)))
        start, stop = max(first - halo, 0), min(last + 1 + halo, n)
        while stop - start < min(int(least), n):  # grow on both sides where there is room
            start = max(start - 1, 0)
            stop = min(stop + 1, n) if stop - start < min(int(least), n) else stop
        crop.append(slice(start, stop))
    return tuple(crop)


__all__ = ["crop_around"]

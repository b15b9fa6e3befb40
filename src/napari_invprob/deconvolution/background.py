"""A constant background under the signal (a camera's offset, dark counts), estimated from the data.

sCMOS and CCD cameras add an offset of typically 100 counts to every pixel. Under Poisson noise the
model is ``y ~ Poisson(Hx + b)``: Richardson-Lucy without ``b`` takes the offset as signal, and the
restored image keeps a haze and noisy dark regions. The estimate here is the level of the image's
darkest regions: the data smoothed by a box (so that the noise does not pull a low percentile down),
then a low percentile of that, per channel.
"""

from __future__ import annotations

import math

import numpy as np
import torch

from .._shared.device import to_tensor

#: Width in pixels per axis of the box the data are averaged over before the percentile (fewer on a
#: shorter axis): at 100 counts of Poisson noise a 7x7 box leaves a spread of 1.4 counts, 7x7x7 0.2.
SMOOTHING = 7
#: In 3D the boxes start at every BOX_STEP-th pixel along each axis (overlapping boxes of 7 pixels
#: hardly differ from their neighbours'; 8x fewer boxes: 128^3 took 30 ms instead of 250 ms with all of
#: them by avg_pool3d). 2D images use every box.
BOX_STEP = 2
#: The background is this percentile of the smoothed data: at least this share of the image (here
#: 1 %) must be background (no specimen within a box's width).
PERCENTILE = 1.0
#: A Poisson method run without a background warns when the estimated background is above this
#: fraction of the data's peak (data without an offset, blurred with their dark regions, sit near 0).
OFFSET_WARNING_FRACTION = 0.05


def background_levels(y: torch.Tensor) -> torch.Tensor:
    """The background of each image of a batch ``(n, *spatial)`` (2 or 3 spatial axes): the
    :data:`PERCENTILE` of the data averaged over boxes of :data:`SMOOTHING` pixels per axis (in 3D at every
    :data:`BOX_STEP`-th pixel), shape ``(n,)``, never below 0."""
    sums = box_sums(y).flatten(start_dim=1)
    rank = background_rank(y.shape[1:])
    return box_level(sums.kthvalue(rank, dim=1).values, y.shape[1:])


def box_sums(y: torch.Tensor) -> torch.Tensor:
    """The sums over the boxes inside a batch ``(n, *spatial)`` that :func:`background_levels` ranks.

    Separable (a few additions per pixel, not 7^3). A slab of the images along the first spatial axis
    whose length is ``(k - 1) × step + width`` (``step`` :data:`BOX_STEP` in 3D, else 1; ``width`` the
    box's) gives exactly the whole images' sums of its ``k`` box positions, so the sums can be made
    slab by slab."""
    sums = y
    step = BOX_STEP if y.ndim == 4 else 1
    for dim, n in enumerate(y.shape[1:], start=1):
        width = min(SMOOTHING, n)
        boxes = [slice(None)] * y.ndim
        boxes[dim] = slice(0, n - width + 1, step)
        total = sums[tuple(boxes)].clone()
        for shift in range(1, width):
            boxes[dim] = slice(shift, n - width + 1 + shift, step)
            total.add_(sums[tuple(boxes)])
        sums = total
    return sums  # boxes inside the image only


def background_rank(spatial_shape) -> int:
    """Which of the sorted box sums of an image of ``spatial_shape`` is its background (1-based)."""
    step = BOX_STEP if len(spatial_shape) == 3 else 1
    count = math.prod(len(range(0, n - min(SMOOTHING, n) + 1, step)) for n in spatial_shape)
    return max(1, math.ceil(PERCENTILE / 100 * count))


def box_level(sums: torch.Tensor, spatial_shape) -> torch.Tensor:
    """The background level from the chosen box sums: their mean value, never below 0."""
    return sums.div(math.prod(min(SMOOTHING, n) for n in spatial_shape)).clamp_(min=0.0)


def estimate_background(image, *, channel_axis: int | None = None) -> float | list[float]:
    """The constant background of a 2D or 3D image (a camera's offset), in the image's units.

    The level of the image's darkest regions: the image averaged over a 7-pixel box per axis, then its
    1st percentile (so at least 1 % of the image must be free of specimen), never below 0. This is
    what ``background="auto"`` of :func:`napari_invprob.deconvolve` uses.

    Parameters
    ----------
    image : array-like
        2D or 3D image (plus a channel axis). Never modified.
    channel_axis : int, optional
        Axis of channels: each channel gets its own level.

    Returns
    -------
    float or list of float
        The level; one per channel with ``channel_axis``.

    Raises
    ------
    ValueError
        If the image is not 2D or 3D (plus a channel axis) or holds NaN or Inf.
    """
    y = to_tensor(image, "cpu", name="image")
    y = y.movedim(channel_axis, 0) if channel_axis is not None else y.unsqueeze(0)
    if y.ndim - 1 not in (2, 3):
        raise ValueError(f"the background is estimated on 2D or 3D images (plus a channel axis), got shape "
                         f"{tuple(np.shape(image))}")
    levels = [float(level) for level in background_levels(y.contiguous())]
    return levels if channel_axis is not None else levels[0]


__all__ = ["OFFSET_WARNING_FRACTION", "background_levels", "background_rank", "box_level", "box_sums",
           "estimate_background"]

"""Light-sheet deskew: a stage-scanned stack into the objective's frame, or into the coverslip's.

A lattice or oblique-plane light-sheet microscope with a stage scan records planes of the light sheet
while the stage moves the specimen along the coverslip by ``step`` per plane. The sheet stands at
``angle`` degrees to the coverslip, and the camera sees it as rows (along the coverslip, across the
scan) and columns (along the sheet's tilted direction). The raw stack ``(planes, rows, columns)`` is
therefore sheared: one point of the specimen appears ``step · cos(angle) / pixel_size`` columns further
on in each next plane.

Coordinates (all lengths in the unit of ``step`` and ``pixel_size``):

- **raw**: plane ``k``, row ``r``, column ``c`` of the camera.
- **objective frame** (the deskewed volume, :func:`deskew`): plane ``k`` at ``k · step · sin(angle)``
  along the detection axis, row ``r``, column ``j = c + shift_k`` along the sheet, where
  ``shift_k = k · step · cos(angle) / pixel_size`` (``direction=1``; with ``direction=-1`` plane ``k`` is
  shifted by ``-shift_k`` and every plane by the output's extra width, so that indices stay ≥ 0). This is
  the geometry of the lattice light-sheet tools (LLSpy, cudaDeconv, pycudadecon), and the frame in which a
  bead PSF is measured.
- **coverslip frame** (:func:`rotate_to_coverslip`): height ``Z`` above the coverslip, ``Y`` (the rows),
  and ``X`` along the scan. A raw column ``c`` lies at ``Z = c · pixel_size · sin(angle)`` and
  ``X = c · pixel_size · cos(angle) + direction · k · step``.

The new pixels of a deskewed plane (beyond the camera's columns) get the background, by default the
camera's offset estimated from the data (:func:`skew_background`).
"""

from __future__ import annotations

import math
import numbers

import numpy as np

from .._shared.device import check_values, torch_threads
from .background import estimate_background

#: Offsets within this many columns of an integer are taken as that integer (floating-point noise in
#: ``k · step · cos(angle) / pixel_size`` must not add a column of interpolation or widen the output).
SNAP_COLUMNS = 1e-6
#: ``fill="auto"`` estimates the background on at most about this many voxels: every n-th plane of a
#: larger stack (the estimate is a low percentile of box averages: a sample of the planes gives the same
#: level, and 100 x 512 x 256 takes 10 ms instead of 0.3 s).
BACKGROUND_VOXELS = 2**21
#: A deskewed (or rotated) volume may use at most this share of the memory available now.
MEMORY_SHARE = 0.8


def _check_number(value, name: str, *, positive: bool) -> float:
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name} must be a number, got {type(value).__name__}")
    value = float(value)
    if not math.isfinite(value):
        raise ValueError(f"{name} must be a finite number, got {value}")
    if positive and value <= 0:
        raise ValueError(f"{name} must be > 0, got {value:g}")
    return value


def check_parameters(*, angle, step, pixel_size, direction=1, fill="auto") -> tuple[float, float, float, int, object]:
    """Check the parameters of :func:`deskew` (and :func:`rotate_to_coverslip`) before any work.

    Returns
    -------
    tuple
        ``(angle, step, pixel_size, direction, fill)`` as floats, an int and ``"auto"`` or a float.

    Raises
    ------
    ValueError, TypeError
        As :func:`deskew`.
    """
    angle = _check_number(angle, "angle", positive=False)
    if not 0 < angle < 90:
        raise ValueError(
            f"angle must be between 0 and 90 degrees (exclusive), got {angle:g}: it is the angle between "
            "the light sheet and the coverslip (about 30 for a lattice light sheet)"
        )
    step = _check_number(step, "step", positive=False)
    if step <= 0:
        raise ValueError(
            f"step must be > 0, got {step:g}: it is how far the stage moves between two planes, in the unit "
            "of pixel_size"
        )
    pixel_size = _check_number(pixel_size, "pixel_size", positive=True)
    if isinstance(direction, bool) or direction not in (1, -1):
        raise ValueError(f"direction must be 1 or -1, got {direction!r}")
    if isinstance(fill, str):
        if fill != "auto":
            raise ValueError(f"fill must be 'auto' or a number, got {fill!r}")
    else:
        fill = _check_number(fill, "fill", positive=False)
    return angle, step, pixel_size, int(direction), fill


def _check_stack(stack) -> np.ndarray:
    shape = np.shape(stack)
    if len(shape) != 3:
        raise ValueError(
            f"a light-sheet stack has 3 axes (planes, rows, columns), got shape {tuple(shape)}; give one "
            "channel and one time point at a time"
        )
    return check_values(stack, name="stack")


def _check_memory(shape: tuple[int, ...], what: str) -> None:
    import psutil

    needed = 4 * math.prod(shape)
    available = psutil.virtual_memory().available
    if needed > MEMORY_SHARE * available:
        raise ValueError(
            f"the {what} volume would have shape {shape} ({needed / 2**30:.1f} GiB), more than the "
            f"{available / 2**30:.1f} GiB of memory free: check that step and pixel_size are in the same "
            "unit, or deskew in tiles (napari_invprob.distributed.deskew_distributed)"
        )


def plane_offsets(n_planes: int, *, angle: float, step: float, pixel_size: float,
                  direction: int = 1) -> np.ndarray:
    """Where each plane of a stage-scanned stack starts in the deskewed volume, in columns.

    Plane ``k`` is shifted by ``k · step · cos(angle) / pixel_size`` columns (``direction=1``), or by
    the largest such shift less that (``direction=-1``), so every offset is ≥ 0 and the largest is
    the output's extra width (:func:`deskewed_shape`).

    Parameters
    ----------
    n_planes : int
        Number of planes of the stack.
    angle, step, pixel_size, direction
        As in :func:`deskew`.

    Returns
    -------
    numpy.ndarray
        Float64 offsets, shape ``(n_planes,)``; offsets within 1e-6 of an integer are that integer.
    """
    angle, step, pixel_size, direction, _ = check_parameters(angle=angle, step=step, pixel_size=pixel_size,
                                                             direction=direction)
    shifts = np.arange(n_planes, dtype=np.float64) * (step * math.cos(math.radians(angle)) / pixel_size)
    nearest = np.rint(shifts)
    shifts = np.where(np.abs(shifts - nearest) < SNAP_COLUMNS, nearest, shifts)
    if direction == -1:
        shifts = math.ceil(shifts[-1]) - shifts
    return shifts


def deskewed_shape(shape, *, angle: float, step: float, pixel_size: float) -> tuple[int, int, int]:
    """Shape of the volume :func:`deskew` returns for a stack of ``shape`` ``(planes, rows, columns)``.

    The columns grow by ``ceil((planes − 1) · step · cos(angle) / pixel_size)``.
    """
    planes, rows, columns = (int(n) for n in shape)
    extra = math.ceil(plane_offsets(planes, angle=angle, step=step, pixel_size=pixel_size).max())
    return planes, rows, columns + extra


def deskewed_voxel_size(*, angle: float, step: float, pixel_size: float) -> tuple[float, float, float]:
    """Voxel size ``(z, y, x)`` of a deskewed volume: ``(step · sin(angle), pixel_size, pixel_size)``.

    The planes of a deskewed volume are ``step · sin(angle)`` apart along the detection axis (the
    objective's optical axis); rows and columns keep the camera's pixel size. This is the scale of the
    layer napari shows, and the voxel size to give :func:`napari_invprob.deconvolve` beside a bead PSF
    measured in the objective's frame.

    Parameters
    ----------
    angle, step, pixel_size
        As in :func:`deskew`.

    Returns
    -------
    tuple of float
        In the unit of ``step`` and ``pixel_size``.
    """
    angle, step, pixel_size, _, _ = check_parameters(angle=angle, step=step, pixel_size=pixel_size)
    return step * math.sin(math.radians(angle)), pixel_size, pixel_size


def skew_background(stack) -> float:
    """The background that ``fill="auto"`` gives the new pixels: the camera's offset in ``stack``.

    The estimate of :func:`napari_invprob.deconvolution.estimate_background` (the 1st percentile of
    7-pixel box averages) on every n-th plane, so that at most about :data:`BACKGROUND_VOXELS` voxels
    are read.

    Parameters
    ----------
    stack : array-like
        A 3D stack (planes, rows, columns), in memory or sliced lazily (only the planes used are read).
        Never modified.

    Returns
    -------
    float
    """
    shape = np.shape(stack)
    if len(shape) != 3:
        _check_stack(stack)
    every = max(1, math.ceil(math.prod(shape) / BACKGROUND_VOXELS))
    sample = _check_stack(np.asarray(stack[::every]))
    # a small job: on one thread (two on a busy 2-core machine spun: 0.3 s against 0.02 s)
    with torch_threads(1):
        return float(estimate_background(sample))


def shift_planes(stack, offsets, width: int, *, fill: float) -> np.ndarray:
    """Shift every plane of ``stack`` along its columns by ``offsets[k]`` columns into ``width`` columns.

    Output column ``j`` of plane ``k`` is the stack's plane ``k`` at column ``j − offsets[k]``, linearly
    interpolated between its two neighbouring columns, where the stack is taken as ``fill`` beyond its
    columns (so the columns at a plane's two edges blend its edge pixel with ``fill``, and all others
    beyond it are ``fill``). This is the deskew's one step; :func:`deskew` computes the offsets.

    Parameters
    ----------
    stack : numpy.ndarray
        ``(planes, rows, columns)``, any real dtype (converted plane by plane). Never modified.
    offsets : sequence of float
        One offset per plane, each ≥ 0 and such that the shifted plane fits: ``offsets[k] + columns ≤
        width`` (``+ 1`` when the offset is not an integer).
    width : int
        Columns of the output.
    fill : float
        The value beyond the stack's columns.

    Returns
    -------
    numpy.ndarray
        Float32, shape ``(planes, rows, width)``.
    """
    planes, rows, columns = stack.shape
    offsets = np.asarray(offsets, dtype=np.float64)
    if offsets.shape != (planes,):
        raise ValueError(f"shift_planes needs one offset per plane ({planes}), got shape {offsets.shape}")
    whole = np.floor(offsets).astype(np.int64)
    fraction = (offsets - whole).astype(np.float32)
    last = whole + columns + (fraction > 0)
    if planes and (whole.min() < 0 or last.max() > width):
        raise ValueError(f"the shifted planes do not fit in {width} columns (offsets {offsets.min():g} to "
                         f"{offsets.max():g}, {columns} columns)")
    fill = np.float32(fill)
    out = np.empty((planes, rows, width), dtype=np.float32)
    for k in range(planes):
        plane = np.asarray(stack[k], dtype=np.float32)
        row, i, a = out[k], int(whole[k]), fraction[k]
        row[:, :i] = fill
        row[:, last[k]:] = fill
        if a == 0:
            row[:, i:i + columns] = plane
            continue
        # column i + m = (1 - a) · plane[m] + a · plane[m - 1], with fill beyond the plane
        np.multiply(plane, 1 - a, out=row[:, i:i + columns])
        row[:, i + columns] = (1 - a) * fill
        row[:, i + 1:i + columns + 1] += a * plane
        row[:, i] += a * fill
    return out


def deskew(stack, *, angle: float, step: float, pixel_size: float, fill="auto", direction: int = 1) -> np.ndarray:
    """Deskew a stage-scanned light-sheet stack into the objective's frame.

    Plane ``k`` is shifted along the columns by ``k · step · cos(angle) / pixel_size`` columns (linear
    interpolation between columns), the output is wider by ``ceil((planes − 1) · step · cos(angle) /
    pixel_size)`` columns, and the pixels no plane covers get ``fill``. The planes of the result are
    ``step · sin(angle)`` apart (:func:`deskewed_voxel_size`). This is the geometry of the lattice
    light-sheet tools; see the module's docstring for the frames.

    Parameters
    ----------
    stack : array-like
        The raw stack ``(planes, rows, columns)``, planes in the order they were taken, the columns along
        the sheet's tilted direction. Any real dtype (uint16 from a camera); never modified.
    angle : float
        Angle between the light sheet and the coverslip, in degrees, strictly between 0 and 90 (about 30
        for a lattice light sheet; 90 would be a sheet perpendicular to the coverslip, which needs no
        deskew).
    step : float
        How far the stage moves between two planes, > 0.
    pixel_size : float
        The camera's pixel size in the specimen, > 0, in the same unit as ``step``.
    fill : "auto" or float
        Value of the new pixels: ``"auto"`` the stack's background (:func:`skew_background`, the
        camera's offset), or a number.
    direction : {1, -1}
        Sign of the shear: 1 shifts later planes towards higher columns, -1 towards lower ones (the
        stage moving the other way, or the camera's columns flipped). If the deskewed volume shows
        structures smeared into parallelograms about twice as long, the direction is wrong.

    Returns
    -------
    numpy.ndarray
        Float32, shape :func:`deskewed_shape`, voxel size :func:`deskewed_voxel_size`.

    Raises
    ------
    ValueError
        If the stack is not 3D, is empty or holds NaN or Inf; if ``angle`` is not strictly between 0 and
        90, ``step`` or ``pixel_size`` is not a finite number > 0, ``direction`` is not ±1, ``fill`` is
        neither ``"auto"`` nor a finite number; or if the result would not fit in memory.
    TypeError
        If a parameter is not a number, or the stack is not numeric.

    Examples
    --------
    >>> import numpy as np
    >>> import napari_invprob as nip
    >>> raw = np.full((10, 4, 8), 100, dtype=np.uint16)
    >>> nip.deskew(raw, angle=30, step=0.4, pixel_size=0.104).shape
    (10, 4, 38)
    """
    angle, step, pixel_size, direction, fill = check_parameters(angle=angle, step=step, pixel_size=pixel_size,
                                                                direction=direction, fill=fill)
    stack = _check_stack(stack)
    offsets = plane_offsets(stack.shape[0], angle=angle, step=step, pixel_size=pixel_size, direction=direction)
    shape = deskewed_shape(stack.shape, angle=angle, step=step, pixel_size=pixel_size)
    _check_memory(shape, "deskewed")
    if fill == "auto":
        fill = skew_background(stack)
    return shift_planes(stack, offsets, shape[2], fill=fill)


def rotate_to_coverslip(stack, *, angle: float, step: float, pixel_size: float, fill="auto",
                        direction: int = 1) -> np.ndarray:
    """A stage-scanned light-sheet stack in the coverslip's frame, on cubic voxels of ``pixel_size``.

    The output's axes are ``(Z, Y, X)``: ``Z`` the height above the coverslip (**up**, away from the
    coverslip, with increasing plane index), ``Y`` the camera's rows, ``X`` along the scan. It is
    resampled from the raw stack in one step (bilinear in plane and column; no deskewed volume in
    between, so one interpolation, not two): a raw column ``c`` of plane ``k`` lies at
    ``Z = c · pixel_size · sin(angle)`` and ``X = c · pixel_size · cos(angle) + direction · k · step``
    (``X`` counted from the smallest value the scan reaches).

    Which way is up is an assumption the data cannot check: that the camera's columns run away from
    the coverslip (column 0 nearest it). If yours run towards it, the result is turned by 180° about
    ``Y``: take ``volume[::-1, :, ::-1]``.

    Parameters
    ----------
    stack, angle, step, pixel_size, fill, direction
        As in :func:`deskew`.

    Returns
    -------
    numpy.ndarray
        Float32 ``(Z, Y, X)`` with voxel size ``(pixel_size, pixel_size, pixel_size)``; ``Z`` has
        ``floor((columns − 1) · sin(angle)) + 1`` planes, ``X`` spans the scan and the sheet's width.

    Raises
    ------
    ValueError, TypeError
        As :func:`deskew`.
    """
    angle, step, pixel_size, direction, fill = check_parameters(angle=angle, step=step, pixel_size=pixel_size,
                                                                direction=direction, fill=fill)
    stack = _check_stack(stack)
    planes, rows, columns = stack.shape
    sin, cos = math.sin(math.radians(angle)), math.cos(math.radians(angle))
    n_z = math.floor((columns - 1) * sin + SNAP_COLUMNS) + 1
    scan = (planes - 1) * step / pixel_size  # in pixels
    x_low = 0.0 if direction == 1 else -scan
    n_x = math.floor((columns - 1) * cos + scan + SNAP_COLUMNS) + 1
    _check_memory((n_z, rows, n_x), "rotated")
    if fill == "auto":
        fill = skew_background(stack)
    # planes and columns padded with fill on both sides (index + 1), columns first so that one raw column
    # is a contiguous (planes, rows) block
    padded = np.full((columns + 2, planes + 2, rows), np.float32(fill), dtype=np.float32)
    padded[1:-1, 1:-1] = np.moveaxis(np.asarray(stack), 2, 0)
    x = x_low + np.arange(n_x, dtype=np.float64)  # in pixels
    out = np.empty((n_z, n_x, rows), dtype=np.float32)
    for z in range(n_z):
        column = z / sin  # raw column of this height
        plane = direction * (x - column * cos) * pixel_size / step
        plane = np.clip(plane, -1.0, planes)
        k = np.floor(plane).astype(np.int64)
        fk = (plane - k).astype(np.float32)[:, None]
        c = min(math.floor(column), columns - 1)
        fc = np.float32(column - c)
        near, far = padded[c + 1], padded[min(c + 2, columns + 1)]
        below = near[k + 1] + fk * (near[np.minimum(k + 2, planes + 1)] - near[k + 1])
        above = far[k + 1] + fk * (far[np.minimum(k + 2, planes + 1)] - far[k + 1])
        out[z] = below + fc * (above - below)
    return np.ascontiguousarray(out.transpose(0, 2, 1))


__all__ = [
    "check_parameters",
    "deskew",
    "deskewed_shape",
    "deskewed_voxel_size",
    "plane_offsets",
    "rotate_to_coverslip",
    "shift_planes",
    "skew_background",
]

"""A tilt-series file with its conventions resolved: angles, pixel size, tilt axis, storage offset."""

from __future__ import annotations

import os
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..files.images import MRC_SUFFIXES, _read_angle_source, find_angles, read_image
from ..files.mrc import read_mrc
from .preparation import PreparationWarning, prepare, storage_offset
from .preprocessing import bin_series
from .tilt_axis import TiltAxisEstimate, estimate_tilt_axis_with_uncertainty, given_tilt_axis, wrap_axis_angle

TILT_AXES = ("y", "x")


@dataclass(frozen=True)
class TiltSeries:
    """A tilt series read from disk, with the conventions of its file resolved.

    Attributes
    ----------
    data : numpy.ndarray
        Projections ``(n_angles, rows, cols)`` (or a sinogram ``(n_angles, n_detector)``) in the file's
        data type (int8, int16, uint16, float16 or float32; convert with ``astype`` when needed),
        read-only. Unsigned counts that the file stored as int16 minus 32768 come back as uint16 counts
        (``value_offset``).
    angles : numpy.ndarray
        Tilt angle of every projection in degrees (float64), in the order of ``data``.
    pixel_size : float or None
        Pixel size in ångström, None when neither the file nor a sidecar records it.
    angle_source : str
        Where the angles came from: ``"given"``, a sidecar file name, or ``"FEI extended header"``.
    tilt_axis : {"y", "x"}
        The image axis nearest the tilt axis: what :func:`napari_invprob.align` and
        :func:`napari_invprob.reconstruct` take as ``tilt_axis``.
    tilt_axis_angle : float
        The in-plane direction ψ of the tilt axis in degrees, in [-90, 90): 0 along the image's y axis
        (rows), ±90 along x, positive turning +y towards +x (as
        :func:`napari_invprob.tomography.tilt_axis.estimate_tilt_axis`); :func:`napari_invprob.align` takes it
        as ``tilt_axis_angle`` to rotate the projections onto the grid.
    tilt_axis_uncertainty : float
        Degrees: how sure an estimated ψ is (:class:`napari_invprob.tomography.tilt_axis.TiltAxisEstimate`);
        0 for one from the file or the caller.
    tilt_axis_source : str
        ``"file"`` (a ``.mdoc`` or FEI header), ``"estimated"`` (from the projections' common line),
        ``"given"`` (by the caller) or ``"default"`` (``"y"``: a sinogram, which has no tilt axis in its
        image, or a stack too small or short to estimate it from).
    value_offset : float
        Added to the stored values (32768.0 when the file held unsigned counts as int16), else 0.
    """

    data: np.ndarray
    angles: np.ndarray
    pixel_size: float | None
    angle_source: str
    tilt_axis: str = "y"
    tilt_axis_angle: float = 0.0
    tilt_axis_source: str = "given"
    value_offset: float = 0.0
    tilt_axis_uncertainty: float = 0.0

    @property
    def off_grid(self) -> float:
        """Degrees between the tilt axis and the image axis :attr:`tilt_axis` names."""
        return float(abs(self.tilt_axis_angle) if self.tilt_axis == "y" else 90.0 - abs(self.tilt_axis_angle))

    @property
    def on_grid(self) -> bool:
        """True when the tilt axis cannot be told from the image axis :attr:`tilt_axis` (within
        ``max(0.5°, 2 × tilt_axis_uncertainty)``, :attr:`~napari_invprob.tomography.tilt_axis.TiltAxisEstimate.on_grid`):
        Align does not rotate the projections."""
        return given_tilt_axis(self.tilt_axis_angle, self.tilt_axis_uncertainty).on_grid

    def conventions(self) -> str:
        """One line saying what was resolved, e.g. ``"tilt axis x (-88.0° ± 0.1°, estimated from the projections,
        2.0° off the grid: Align rotates the projections onto it)"``."""
        origin = {"file": "from the file", "estimated": "estimated from the projections"}.get(
            self.tilt_axis_source, self.tilt_axis_source)
        sure = f" ± {self.tilt_axis_uncertainty:.1f}°" if self.tilt_axis_source == "estimated" else ""
        line = f"tilt axis {self.tilt_axis} ({self.tilt_axis_angle:.1f}°{sure}, {origin}"
        if not self.on_grid:
            line += f", {self.off_grid:.1f}° off the grid: Align rotates the projections onto it"
        elif self.tilt_axis_source == "estimated":
            line += ", on the grid"
        line += ")"
        if self.value_offset:
            line += f"; {self.value_offset:g} added to the stored int16 values (unsigned counts)"
        return line


#: Projections smaller than this (pixels) are too small to estimate the tilt axis from.
MIN_ESTIMATION_SIZE = 32
#: Projections are binned to at most this size (pixels) to estimate the tilt axis.
ESTIMATION_SIZE = 256



def read_tilt_series(path: str | os.PathLike, *, angles=None, tilt_axis=None) -> TiltSeries:
    """Read a tilt series and its angles, and resolve the file's conventions.

    Parameters
    ----------
    path : str or path-like
        An MRC-family stack (``.mrc .st .ali .mrcs ...``), a TIFF stack or, for a sinogram, a 2D image.
        MRC headers written by older software are read permissively with a warning
        (:class:`~napari_invprob.files.mrc.MrcHeaderWarning`).
    angles : array-like, str, path-like or None
        The tilt angles in degrees, or the path of an angle file (``.tlt``, ``.rawtlt``, ``.mdoc``).
        None looks for a sidecar beside the stack (same stem: ``.rawtlt``/``.tlt``, or a SerialEM
        ``.mdoc``), then for FEI1/FEI2 extended-header alpha tilts.
    tilt_axis : {"y", "x"}, float or None
        The tilt axis: an image axis, or its in-plane angle ψ in degrees (see
        :attr:`TiltSeries.tilt_axis_angle`). None takes it from the ``.mdoc`` or FEI header (the
        SerialEM/IMOD angle α, counterclockwise from Y with Y up, is ψ = −α), else estimates it from
        the projections (:func:`napari_invprob.tomography.tilt_axis.estimate_tilt_axis`).

    Returns
    -------
    TiltSeries
        ``data``, ``angles`` (degrees), ``pixel_size`` (Å or None), where the angles came from, the
        tilt axis with its angle and origin, and the storage offset undone.

    Raises
    ------
    ValueError
        If the file is unreadable (truncated, not MRC, unknown format), no angles are found, the
        number of angles differs from the number of projections, or ``tilt_axis`` is not one of the
        above.
    """
    path = Path(path)
    mdoc = None
    if angles is None:
        found = find_angles(path)
        if found is not None:
            angles, source, mdoc = found
    elif isinstance(angles, (str, os.PathLike)):
        angles, source, mdoc = _read_angle_source(Path(angles))
    else:
        angles, source = np.asarray(angles, dtype=np.float64).ravel(), "given"
    file_axis_angle = None if mdoc is None else mdoc.tilt_axis_angle
    if path.suffix.lower() in MRC_SUFFIXES:
        if not path.is_file():
            raise FileNotFoundError(f"no such file: {path}")
        mrc = read_mrc(path)
        data, pixel_size = mrc.data, None if mrc.voxel_size is None else mrc.voxel_size[2]
        if angles is None and mrc.tilt_angles is not None:
            angles, source = mrc.tilt_angles, "FEI extended header"
        if file_axis_angle is None:
            file_axis_angle = mrc.tilt_axis_angle
    else:
        data, pixel_size = read_image(path)
    if angles is None:
        raise ValueError(
            f"no tilt angles found for {path.name}: put a {path.stem}.rawtlt or {path.stem}.tlt "
            f"(one angle per line) or a SerialEM {path.name}.mdoc beside it, or pass angles="
        )
    if data.ndim not in (2, 3):
        raise ValueError(f"{path.name} holds a {data.ndim}D array {data.shape}; a tilt series is (n_angles, rows, cols)")
    if angles.shape[0] != data.shape[0]:
        raise ValueError(
            f"{source} lists {angles.shape[0]} angles but {path.name} holds {data.shape[0]} projections"
        )
    if not np.all(np.isfinite(angles)):
        raise ValueError(f"the angles from {source} contain NaN or Inf")
    if pixel_size is None and mdoc is not None:
        pixel_size = mdoc.pixel_size
    return tilt_series_with_conventions(data, angles, pixel_size, source, tilt_axis=tilt_axis,
                                        file_axis_angle=file_axis_angle)


def tilt_series_with_conventions(data, angles, pixel_size, angle_source, *, tilt_axis=None,
                                 file_axis_angle=None) -> TiltSeries:
    """Resolve a stack's storage offset and tilt axis (the one path of :func:`read_tilt_series` and
    the napari reader).

    Parameters
    ----------
    data : numpy.ndarray or dask.array.Array
        The stack as stored, or a sinogram. A lazy stack (e.g. an OME-Zarr file) stays as stored: it is
        read once, a block of projections at a time, to estimate the tilt axis, and its storage offset
        is left to the preparation (which finds it again; ``value_offset`` is then 0), as the tasks of a
        run on dask read the stored values.
    angles : numpy.ndarray
        Degrees, one per projection.
    pixel_size : float or None
    angle_source : str
    tilt_axis : {"y", "x"}, float or None
        Given by the caller (see :func:`read_tilt_series`), or None.
    file_axis_angle : float or None
        The SerialEM/IMOD tilt-axis angle α recorded with the file, or None.

    Returns
    -------
    TiltSeries
    """
    offset = storage_offset(data)
    lazy = not isinstance(data, np.ndarray)
    if offset and not lazy:
        data = data.view(np.uint16) ^ np.uint16(0x8000)  # exactly the stored value + 32768, as uint16
        data.flags.writeable = False
    if tilt_axis is not None:
        angle, origin = _given_axis_angle(tilt_axis), "given"
    elif file_axis_angle is not None and data.ndim == 3:
        angle, origin = wrap_axis_angle(-float(file_axis_angle)), "file"
    elif data.ndim == 2 or data.shape[0] < 3 or min(data.shape[1:]) < MIN_ESTIMATION_SIZE:
        angle, origin = 0.0, "default"
    else:
        estimate = estimate_stack_tilt_axis(data, angles, offset=offset if lazy else 0.0)
        angle, origin, uncertainty = estimate.angle, "estimated", estimate.uncertainty
    axis = tilt_axis if tilt_axis in TILT_AXES else ("y" if abs(angle) < 45.0 else "x")
    return TiltSeries(data=data, angles=angles, pixel_size=pixel_size, angle_source=angle_source,
                      tilt_axis=axis, tilt_axis_angle=angle, tilt_axis_source=origin,
                      value_offset=0.0 if lazy else offset,
                      tilt_axis_uncertainty=uncertainty if origin == "estimated" else 0.0)


def estimate_stack_tilt_axis(data, angles, *, offset: float | None = None) -> TiltAxisEstimate:
    """The tilt axis of a stack as stored, as the readers estimate it: from its projections made line
    integrals (binned to :data:`ESTIMATION_SIZE` first, as the estimate would bin them anyway), so that a
    background or bright-field contrast does not bias it.

    Parameters
    ----------
    data : numpy.ndarray or dask.array.Array
        ``(n_angles, rows, cols)``, at least 3 projections; a lazy stack is read a block of whole
        projections at a time (at most :data:`BINNING_BLOCK_BYTES`), never held whole.
    angles : array-like
        Degrees, one per projection.
    offset : float, optional
        Added to the values first: unsigned counts stored in int16 (by default found as
        :func:`~napari_invprob.tomography.preparation.storage_offset` finds it).

    Returns
    -------
    TiltAxisEstimate
    """
    offset = storage_offset(data) if offset is None else offset
    factor = max(1, int(np.ceil(max(data.shape[1:]) / ESTIMATION_SIZE)))
    if isinstance(data, np.ndarray):
        small = bin_series(data, factor) if factor > 1 else data
    else:  # lazy: never held whole
        small = _binned_in_blocks(data, factor)
    if offset:
        small = small + np.float32(offset)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", PreparationWarning)  # only estimating here; the solvers warn
        lines, _ = prepare(small)
    return estimate_tilt_axis_with_uncertainty(lines, angles=angles)


#: Bytes of projections read at once when a lazy stack is binned.
BINNING_BLOCK_BYTES = 1 << 28


def _binned_in_blocks(data, factor: int) -> np.ndarray:
    """:func:`~napari_invprob.tomography.preprocessing.bin_series` of a lazy stack, read a block of
    whole projections at a time (at most :data:`BINNING_BLOCK_BYTES`, at least one projection)."""
    step = max(1, BINNING_BLOCK_BYTES // max(1, int(np.prod(data.shape[1:])) * data.dtype.itemsize))
    return np.concatenate([bin_series(np.asarray(data[i:i + step]), factor)
                           for i in range(0, data.shape[0], step)])


def _given_axis_angle(tilt_axis) -> float:
    if tilt_axis in TILT_AXES:
        return 0.0 if tilt_axis == "y" else -90.0
    if isinstance(tilt_axis, bool) or not isinstance(tilt_axis, (int, float, np.integer, np.floating)) \
            or not np.isfinite(tilt_axis):
        raise ValueError(f"tilt_axis must be 'y', 'x' or the tilt axis's in-plane angle in degrees, got {tilt_axis!r}")
    return wrap_axis_angle(float(tilt_axis))

"""Writing volumes and images atomically, as MRC, TIFF or OME-Zarr, with their voxel size."""

from __future__ import annotations

import contextlib
import os
import stat
import tempfile
from collections.abc import Iterator
from pathlib import Path

import numpy as np

from .images import MRC_SUFFIXES, TIFF_SUFFIXES
from .zarr import ZARR_SUFFIXES, write_zarr

_MRC_DTYPES = (np.int8, np.int16, np.uint16, np.float32, np.float16)
#: What the temporary file adds to the target's name (``.NAME.XXXXXXXX.partial``).
_TEMPORARY_EXTRA = len("..") + 8 + len(".partial")
_IMAGEJ_DTYPES = (np.uint8, np.uint16, np.float32)


#: The axes an ImageJ hyperstack can hold, in the order it stores them.
_IMAGEJ_AXES = "TZCYX"


def write_volume(
    path: str | os.PathLike,
    volume,
    voxel_size=None,
    *,
    overwrite: bool = False,
    source: str | os.PathLike | None = None,
    axes: str | None = None,
    provenance: dict | None = None,
) -> Path:
    """Write a volume, stack or image as MRC, TIFF or OME-Zarr, atomically.

    The data go to a temporary file in the target's directory, which replaces the target only once
    complete (``os.replace``), so a failure never leaves a partial file. The file gets the mode a new
    file gets under the process's umask (0644 under umask 022), or the mode of the file it replaces.
    An OME-Zarr store is written chunk by chunk instead (each chunk atomically, a dask array a chunk
    at a time), with a pyramid for viewing (:func:`napari_invprob.files.zarr.write_zarr`).

    Parameters
    ----------
    path : str or path-like
        Target file; the suffix picks the format: MRC family (``.mrc .rec .st .ali .mrcs .map``) or
        TIFF (``.tif .tiff``, ImageJ layout with the voxel size as resolution and z spacing) or OME-Zarr
        (``.zarr``, NGFF 0.5, float32, sizes in ångström).
    volume : array-like or dask.array.Array
        2D or 3D real data (``z, y, x``); TIFF also takes a time series ``(t, z, y, x)`` (an ImageJ
        hyperstack) and, with ``axes``, channels: up to five axes of ``T Z C Y X``. MRC keeps int8/int16/uint16/float16/float32 and stores
        anything else as float32; TIFF keeps uint8/uint16/float32, anything else becomes float32.
    voxel_size : float, sequence of 3 floats or None
        Voxel size in ångström, one value or ``(z, y, x)``; None writes 1 Å.
    overwrite : bool
        Replace an existing ``path``. Without it an existing file is refused.
    source : str, path-like or None
        The file the data were read from; it is never overwritten, even with ``overwrite=True``.
    axes : str or None
        TIFF only: what each axis of ``volume`` is, letters of ``TZCYX`` with Y and X among them (e.g.
        ``"ZCYX"``, ``"CZYX"``, ``"TZCYX"``, ``"YXC"``); the data are stored in ImageJ's order (``TZCYX``) with these
        axes recorded. None: ``YX``, ``ZYX`` or ``TZYX`` by the number of axes. OME-Zarr takes them too
        (kept in the given order).
    provenance : dict or None
        OME-Zarr only: how the data were made, stored in the store's attributes.

    Returns
    -------
    pathlib.Path
        The written file.

    Raises
    ------
    FileExistsError
        If ``path`` exists and ``overwrite`` is False, or ``path`` is ``source``.
    ValueError
        If the suffix is unknown, the name is too long for the file system, ``axes`` do not fit the data
        or name an axis twice, the data are not 2D/3D (or, as TIFF, 4D or 5D with ``axes``) real finite numbers (checked in the stored type: float64 values beyond float32's range are
        refused), or the voxel size is not positive.
    """
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix in ZARR_SUFFIXES:
        return _write_zarr(path, volume, voxel_size, axes, provenance=provenance, overwrite=overwrite, source=source)
    if suffix not in MRC_SUFFIXES + TIFF_SUFFIXES:
        raise ValueError(f"cannot write {path.name}: use an MRC ({', '.join(MRC_SUFFIXES)}), TIFF or .zarr suffix")
    check_name_length(path)
    if source is not None and Path(source).exists() and path.exists() and path.samefile(source):
        raise FileExistsError(f"refusing to overwrite the input file {path}")
    if path.exists() and not overwrite:
        raise FileExistsError(f"{path} exists; pass overwrite=True to replace it")
    if not path.parent.is_dir():
        raise FileNotFoundError(f"directory {path.parent} does not exist")
    if axes is not None and suffix in MRC_SUFFIXES:
        raise ValueError(f"MRC holds a 2D image or a 3D volume without named axes; write {axes} data as TIFF")
    data = np.asarray(volume)
    if axes is not None:
        data, axes = _imagej_order(data, axes)
    data = _checked_volume(data, _MRC_DTYPES if suffix in MRC_SUFFIXES else _IMAGEJ_DTYPES,
                           time_series=suffix in TIFF_SUFFIXES, named=axes is not None)
    spacing = _checked_voxel_size(voxel_size)

    with atomic_file(path) as temporary:
        if suffix in MRC_SUFFIXES:
            _write_mrc(temporary, data, spacing)
        else:
            _write_tiff(temporary, data, spacing, axes or "TZYX"[-data.ndim:])
    return path


def _write_zarr(path: Path, volume, voxel_size, axes: str | None, **keywords) -> Path:
    """OME-Zarr: the ``(z, y, x)`` voxel size given to each spatial axis; no size and no unit without one."""
    ndim = volume.ndim if hasattr(volume, "ndim") else np.ndim(volume)
    axes = axes or "TZYX"[-ndim:] if ndim <= 4 else axes
    sizes = None if voxel_size is None else dict(zip("ZYX", _checked_voxel_size(voxel_size)))
    per_axis = None if sizes is None else [sizes.get(letter) for letter in axes or ""]
    return write_zarr(path, volume, axes=axes, voxel_size=per_axis, unit=None if sizes is None else "Å", **keywords)


def _imagej_order(data: np.ndarray, axes: str) -> tuple[np.ndarray, str]:
    """``data`` (a view) and its axes in ImageJ's order ``TZCYX``, after checking ``axes`` fit it."""
    if not isinstance(axes, str) or len(axes) != data.ndim or len(set(axes)) != len(axes) or \
            set(axes) - set(_IMAGEJ_AXES) or not {"Y", "X"} <= set(axes):
        raise ValueError(f"axes must name each of the {data.ndim} axes once with letters of {_IMAGEJ_AXES}, Y and X "
                         f"among them, got {axes!r}")
    order = sorted(range(len(axes)), key=lambda i: _IMAGEJ_AXES.index(axes[i]))
    return np.transpose(data, order), "".join(axes[i] for i in order)


def check_name_length(path: str | os.PathLike) -> None:
    """Refuse a file name too long for its file system once :func:`atomic_file`'s temporary name
    (``.NAME.XXXXXXXX.partial``) is made from it.

    Parameters
    ----------
    path : str or path-like
        The file to write; its directory must exist.

    Raises
    ------
    ValueError
        If the name is too long, saying how long it may be.
    """
    path = Path(path)
    try:
        longest = os.pathconf(path.parent, "PC_NAME_MAX")
    except (OSError, ValueError, AttributeError):
        longest = 255
    length = len(os.fsencode(path.name))
    if length + _TEMPORARY_EXTRA > longest:
        raise ValueError(f"the output name {path.name[:24]}...{path.name[-12:]} is too long ({length} bytes; this "
                         f"file system takes names up to {longest} bytes, {longest - _TEMPORARY_EXTRA} for an output)")


@contextlib.contextmanager
def atomic_file(path: str | os.PathLike) -> Iterator[str]:
    """A temporary file beside ``path`` to write, renamed onto ``path`` when the ``with`` block succeeds.

    On any exception (or interruption) the temporary file is removed and ``path`` is left as it was.
    The file gets the mode of the file it replaces, or else that of a new file under the process's
    umask (``0666 & ~umask``, 0644 under umask 022), not the private 0600 of a temporary file.

    Parameters
    ----------
    path : str or path-like
        The file to write.

    Yields
    ------
    str
        The temporary file's name (the file exists, empty).
    """
    path = Path(path)
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".partial")
    try:
        try:
            os.fchmod(handle, _mode_for(path))
        finally:
            os.close(handle)
        yield temporary
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def _mode_for(path: Path) -> int:
    """The permission bits ``path`` should get: those of the file it replaces, else umask's default."""
    try:
        return stat.S_IMODE(os.stat(path).st_mode)
    except OSError:
        return 0o666 & ~_umask()


def _umask() -> int:
    """The process's umask, read without changing it where Linux allows (``/proc/self/status``)."""
    try:
        with open("/proc/self/status", encoding="ascii") as status:
            for line in status:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except (OSError, ValueError):
        pass
    mask = os.umask(0o022)  # elsewhere: set and restore (not thread-safe, but only for a moment)
    os.umask(mask)
    return mask


def _checked_volume(volume, kept_dtypes, *, time_series: bool, named: bool = False) -> np.ndarray:
    """The data as they will be stored (float32 unless their type is in ``kept_dtypes``), checked; 4D
    (a time series) only where ``time_series``, 5D only with ``named`` axes."""
    data = np.asarray(volume)
    if data.dtype.kind not in "biuf":
        raise ValueError(f"cannot write data of dtype {data.dtype}; real numbers only")
    if data.ndim == 4 and not time_series:
        raise ValueError(f"MRC holds a 2D image or a 3D volume, got shape {data.shape}; write a time series "
                         "(t, z, y, x) as TIFF")
    if data.ndim not in ((2, 3, 4, 5) if named else (2, 3, 4)) or data.size == 0:
        raise ValueError(f"can write a 2D image, a 3D volume or a (t, z, y, x) time series, got shape {data.shape}")
    if data.dtype.kind == "f" and not np.all(np.isfinite(data)):
        raise ValueError("the volume contains NaN or Inf values")
    if data.dtype.type not in kept_dtypes:
        with np.errstate(over="ignore"):
            data = data.astype(np.float32)
        if not np.all(np.isfinite(data)):
            raise ValueError("the volume has values beyond float32's range (about 3.4e38), which the file stores; "
                             "rescale the data first")
    return data


def _checked_voxel_size(voxel_size) -> tuple[float, float, float]:
    if voxel_size is None:
        return (1.0, 1.0, 1.0)
    sizes = np.broadcast_to(np.asarray(voxel_size, dtype=np.float64), (3,))
    if not np.all(np.isfinite(sizes)) or np.any(sizes <= 0):
        raise ValueError(f"voxel size must be positive, got {voxel_size}")
    return tuple(float(s) for s in sizes)


def _write_mrc(filename: str, data: np.ndarray, spacing: tuple[float, float, float]) -> None:
    import mrcfile

    with mrcfile.new(filename, overwrite=True) as mrc:
        mrc.set_data(data)
        if data.ndim == 3:
            mrc.set_volume()
        z, y, x = spacing
        mrc.voxel_size = (x, y, z)


def _write_tiff(filename: str, data: np.ndarray, spacing: tuple[float, float, float], axes: str) -> None:
    import tifffile

    z, y, x = spacing
    tifffile.imwrite(
        filename,
        np.ascontiguousarray(data),
        imagej=True,
        resolution=(1.0 / x, 1.0 / y),
        metadata={"spacing": z, "unit": "angstrom", "axes": axes},
    )

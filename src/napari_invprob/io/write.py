"""Writing volumes and images atomically, as MRC or TIFF, with their voxel size."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import numpy as np

from .tilt_series import MRC_SUFFIXES, TIFF_SUFFIXES

_MRC_DTYPES = (np.int8, np.int16, np.uint16, np.float32, np.float16)
_IMAGEJ_DTYPES = (np.uint8, np.uint16, np.float32)


def write_volume(
    path: str | os.PathLike,
    volume,
    voxel_size=None,
    *,
    overwrite: bool = False,
    source: str | os.PathLike | None = None,
) -> Path:
    """Write a volume, stack or image as MRC or TIFF, atomically.

    The data go to a temporary file in the target's directory, which replaces the target only once
    complete (``os.replace``), so a failure never leaves a partial file.

    Parameters
    ----------
    path : str or path-like
        Target file; the suffix picks the format: MRC family (``.mrc .rec .st .ali .mrcs .map``) or
        TIFF (``.tif .tiff``, ImageJ layout with the voxel size as resolution and z spacing).
    volume : array-like
        2D or 3D real data (``z, y, x``). MRC keeps int8/int16/uint16/float16/float32 and stores
        anything else as float32; TIFF keeps uint8/uint16/float32, anything else becomes float32.
    voxel_size : float, sequence of 3 floats or None
        Voxel size in ångström, one value or ``(z, y, x)``; None writes 1 Å.
    overwrite : bool
        Replace an existing ``path``. Without it an existing file is refused.
    source : str, path-like or None
        The file the data were read from; it is never overwritten, even with ``overwrite=True``.

    Returns
    -------
    pathlib.Path
        The written file.

    Raises
    ------
    FileExistsError
        If ``path`` exists and ``overwrite`` is False, or ``path`` is ``source``.
    ValueError
        If the suffix is unknown, the data are not 2D/3D real finite numbers, or the voxel size is
        not positive.
    """
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in MRC_SUFFIXES + TIFF_SUFFIXES:
        raise ValueError(f"cannot write {path.name}: use an MRC ({', '.join(MRC_SUFFIXES)}) or TIFF suffix")
    if source is not None and Path(source).exists() and path.exists() and path.samefile(source):
        raise FileExistsError(f"refusing to overwrite the input file {path}")
    if path.exists() and not overwrite:
        raise FileExistsError(f"{path} exists; pass overwrite=True to replace it")
    if not path.parent.is_dir():
        raise FileNotFoundError(f"directory {path.parent} does not exist")
    data = _checked_volume(volume)
    spacing = _checked_voxel_size(voxel_size)

    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".partial")
    os.close(handle)
    try:
        if suffix in MRC_SUFFIXES:
            _write_mrc(temporary, data, spacing)
        else:
            _write_tiff(temporary, data, spacing)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
    return path


def _checked_volume(volume) -> np.ndarray:
    data = np.asarray(volume)
    if data.dtype.kind not in "biuf":
        raise ValueError(f"cannot write data of dtype {data.dtype}; real numbers only")
    if data.ndim not in (2, 3) or data.size == 0:
        raise ValueError(f"can write a 2D image or a 3D volume, got shape {data.shape}")
    if data.dtype.kind == "f" and not np.all(np.isfinite(data)):
        raise ValueError("the volume contains NaN or Inf values")
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

    if data.dtype.type not in _MRC_DTYPES:
        data = data.astype(np.float32)
    with mrcfile.new(filename, overwrite=True) as mrc:
        mrc.set_data(data)
        if data.ndim == 3:
            mrc.set_volume()
        z, y, x = spacing
        mrc.voxel_size = (x, y, z)


def _write_tiff(filename: str, data: np.ndarray, spacing: tuple[float, float, float]) -> None:
    import tifffile

    if data.dtype.type not in _IMAGEJ_DTYPES:
        data = data.astype(np.float32)
    z, y, x = spacing
    tifffile.imwrite(
        filename,
        data,
        imagej=True,
        resolution=(1.0 / x, 1.0 / y),
        metadata={"spacing": z, "unit": "angstrom", "axes": "ZYX" if data.ndim == 3 else "YX"},
    )

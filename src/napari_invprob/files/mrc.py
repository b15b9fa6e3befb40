"""Reading MRC stacks and volumes, including files from older software.

An MRC file is a 1024-byte header, an optional extended header of ``nsymbt`` bytes, then the data.
:func:`read_mrc` checks the header itself first (so a truncated file or a file that is not MRC at all
gets a specific message), reads strictly with :mod:`mrcfile`, and when strict reading rejects a header
that older software wrote (no ``MAP`` identifier, a zero machine stamp, odd cell sizes) reads it again
permissively and says so in one :class:`MrcHeaderWarning`.
"""

from __future__ import annotations

import os
import warnings
from dataclasses import dataclass
from pathlib import Path

import mrcfile
import numpy as np

HEADER_BYTES = 1024
#: MRC modes we read, with the data type each stores.
MODES = {0: np.int8, 1: np.int16, 2: np.float32, 6: np.uint16, 12: np.float16}
_MODE_NAMES = {3: "complex int16", 4: "complex float32", 101: "packed 4-bit"}
_MAX_AXIS = 1 << 20


class MrcHeaderWarning(UserWarning):
    """An MRC header broke the MRC2014 rules and the file was read permissively."""


@dataclass(frozen=True)
class MrcData:
    """The content of an MRC file.

    Attributes
    ----------
    data : numpy.ndarray
        The image ``(rows, cols)`` or stack/volume ``(sections, rows, cols)`` in its stored data type,
        native byte order, read-only.
    voxel_size : tuple of float or None
        ``(z, y, x)`` voxel size in ångström from the header; None when the header records none.
    tilt_angles : numpy.ndarray or None
        Per-section alpha tilts (degrees) from an FEI1/FEI2 extended header, when the file carries one.
    tilt_axis_angle : float or None
        The FEI extended header's tilt-axis angle (degrees), when present.
    """

    data: np.ndarray
    voxel_size: tuple[float, float, float] | None
    tilt_angles: np.ndarray | None = None
    tilt_axis_angle: float | None = None


def check_mrc_header(path: str | os.PathLike) -> tuple[tuple[int, int, int], int]:
    """Check that ``path`` looks like a complete MRC file, without reading its data.

    Parameters
    ----------
    path : str or path-like
        The file.

    Returns
    -------
    shape : tuple of int
        ``(nz, ny, nx)`` from the header.
    mode : int
        The MRC mode.

    Raises
    ------
    ValueError
        If the file is not an MRC file, stores a mode we do not read, or is shorter than its header
        says (truncated).
    """
    path = Path(path)
    size = path.stat().st_size
    with open(path, "rb") as f:
        header = f.read(HEADER_BYTES)
    if len(header) < HEADER_BYTES:
        raise ValueError(
            f"{path.name} is not an MRC file or is truncated: {size} bytes, shorter than the "
            f"{HEADER_BYTES}-byte MRC header"
        )
    for order in _byte_orders(header):
        words = np.frombuffer(header[:96], dtype=f"{order}i4")
        nx, ny, nz, mode = (int(w) for w in words[:4])
        nsymbt = int(words[23])
        if not all(0 < n < _MAX_AXIS for n in (nx, ny, nz)) or not 0 <= nsymbt < 1 << 31:
            continue
        if mode in _MODE_NAMES:
            raise ValueError(f"{path.name} stores {_MODE_NAMES[mode]} data (MRC mode {mode}); not supported")
        if mode not in MODES:
            continue
        expected = HEADER_BYTES + nsymbt + nx * ny * nz * np.dtype(MODES[mode]).itemsize
        if size < expected:
            raise ValueError(
                f"{path.name} is truncated: its header describes {nz} sections of {ny}x{nx} "
                f"(mode {mode}) needing {expected} bytes, but the file has only {size}"
            )
        return (nz, ny, nx), mode
    raise ValueError(
        f"{path.name} is not an MRC file (or its header is corrupt): no plausible image size and "
        "data mode in its header"
    )


def _byte_orders(header: bytes) -> list[str]:
    """Byte orders to try: the machine stamp's when the file has the MRC2014 ``MAP`` identifier."""
    if header[208:211] == b"MAP":
        stamp = header[212]
        if stamp == 0x44 or stamp == 0x41:
            return ["<", ">"]
        if stamp == 0x11:
            return [">", "<"]
    return ["<", ">"]


def read_mrc(path: str | os.PathLike) -> MrcData:
    """Read an MRC image, stack or volume.

    Strict reading is tried first; a header that strict reading rejects but whose size and mode are
    sound (typical of files written by older software) is read permissively, with one
    :class:`MrcHeaderWarning` listing what was wrong. Never fails silently.

    Parameters
    ----------
    path : str or path-like
        An ``.mrc``, ``.st``, ``.ali``, ``.rec``, ``.mrcs`` or ``.map`` file.

    Returns
    -------
    MrcData

    Raises
    ------
    FileNotFoundError
        If the file does not exist.
    ValueError
        If the file is not MRC, is truncated, or stores a mode we do not read (see
        :func:`check_mrc_header`).
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"no such file: {path}")
    check_mrc_header(path)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            with mrcfile.open(path, mode="r", permissive=False) as mrc:
                return _extract(mrc, path)
    except ValueError as strict_error:
        reason = str(strict_error)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        with mrcfile.open(path, mode="r", permissive=True) as mrc:
            if mrc.data is None:
                problems = "; ".join(str(w.message) for w in caught) or reason
                raise ValueError(f"{path.name} could not be read as MRC: {problems}")
            result = _extract(mrc, path)
    problems = [reason] + [str(w.message) for w in caught if str(w.message) != reason]
    warnings.warn(
        f"{path.name}: header does not follow the MRC2014 standard ({'; '.join(problems)}); "
        "read it permissively — check the pixel size and angles",
        MrcHeaderWarning,
        stacklevel=2,
    )
    return result


def _extract(mrc, path: Path) -> MrcData:
    data = np.asarray(mrc.data)
    if not data.dtype.isnative:
        data = data.astype(data.dtype.newbyteorder("="))
    data.flags.writeable = False
    voxel = mrc.voxel_size
    voxel_size = (float(voxel.z), float(voxel.y), float(voxel.x))
    if not all(np.isfinite(v) and v > 0 for v in voxel_size):
        voxel_size = None
    angles, axis_angle = _fei_tilts(mrc, data)
    return MrcData(data=data, voxel_size=voxel_size, tilt_angles=angles, tilt_axis_angle=axis_angle)


def _fei_tilts(mrc, data: np.ndarray) -> tuple[np.ndarray | None, float | None]:
    """Alpha tilts and tilt-axis angle from an FEI1/FEI2 extended header, if the file has one."""
    if bytes(mrc.header.exttyp) not in (b"FEI1", b"FEI2") or mrc.extended_header is None:
        return None, None
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        indexed = mrc.indexed_extended_header
    if indexed is None or data.ndim != 3:
        return None, None
    angles = np.asarray(indexed["Alpha tilt"], dtype=np.float64)[: data.shape[0]]
    if angles.shape[0] != data.shape[0] or not np.all(np.isfinite(angles)) or np.ptp(angles) == 0:
        return None, None
    axis = float(indexed["Tilt axis angle"][0])
    return angles, axis if np.isfinite(axis) else None

"""Reading images, stacks and tilt series (MRC, TIFF, PNG) with their angles and pixel size."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .angles import read_angle_file, read_mdoc, sidecar_angle_files
from .mrc import read_mrc

MRC_SUFFIXES = (".mrc", ".st", ".ali", ".rec", ".mrcs", ".map")
TIFF_SUFFIXES = (".tif", ".tiff")
PLAIN_IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg")
_UNIT_IN_ANGSTROM = {"angstrom": 1.0, "å": 1.0, "a": 1.0, "nm": 10.0, "nanometer": 10.0,
                     "micron": 1e4, "um": 1e4, "µm": 1e4, "\\u00b5m": 1e4, "mm": 1e7}


@dataclass(frozen=True)
class TiltSeries:
    """A tilt series read from disk.

    Attributes
    ----------
    data : numpy.ndarray
        Projections ``(n_angles, rows, cols)`` (or a sinogram ``(n_angles, n_detector)``) in the file's
        data type (int8, int16, uint16, float16 or float32; convert with ``astype`` when needed),
        read-only.
    angles : numpy.ndarray
        Tilt angle of every projection in degrees (float64), in the order of ``data``.
    pixel_size : float or None
        Pixel size in ångström, None when neither the file nor a sidecar records it.
    angle_source : str
        Where the angles came from: ``"given"``, a sidecar file name, or ``"FEI extended header"``.
    """

    data: np.ndarray
    angles: np.ndarray
    pixel_size: float | None
    angle_source: str


def read_image(path: str | os.PathLike) -> tuple[np.ndarray, float | None]:
    """Read an image, stack or volume from an MRC, TIFF or PNG/JPEG file.

    Parameters
    ----------
    path : str or path-like
        The file; the format is chosen by suffix (MRC family: ``.mrc .st .ali .rec .mrcs .map``).

    Returns
    -------
    data : numpy.ndarray
        The array in its stored data type.
    pixel_size : float or None
        In-plane pixel size in ångström (MRC header, or ImageJ TIFF resolution), None if unknown.

    Raises
    ------
    FileNotFoundError
        If the file does not exist.
    ValueError
        If the suffix is not one we read, or the file is not a valid file of its kind.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"no such file: {path}")
    suffix = path.suffix.lower()
    if suffix in MRC_SUFFIXES:
        mrc = read_mrc(path)
        return mrc.data, None if mrc.voxel_size is None else mrc.voxel_size[2]
    if suffix in TIFF_SUFFIXES:
        return _read_tiff(path)
    if suffix in PLAIN_IMAGE_SUFFIXES:
        import skimage.io

        try:
            return np.asarray(skimage.io.imread(path)), None
        except Exception as error:  # imageio raises many kinds of errors for broken files
            raise ValueError(f"{path.name} could not be read as an image: {error}") from error
    raise ValueError(
        f"{path.name}: unknown image format {suffix!r}; expected one of "
        f"{', '.join(MRC_SUFFIXES + TIFF_SUFFIXES + PLAIN_IMAGE_SUFFIXES)}"
    )


def _read_tiff(path: Path) -> tuple[np.ndarray, float | None]:
    import tifffile

    try:
        with tifffile.TiffFile(path) as tif:
            data = tif.asarray()
            meta = tif.imagej_metadata or {}
            resolution = tif.pages[0].tags.get("XResolution")
    except (tifffile.TiffFileError, ValueError, OSError) as error:
        raise ValueError(f"{path.name} could not be read as TIFF: {error}") from error
    unit = _UNIT_IN_ANGSTROM.get(str(meta.get("unit", "")).strip().lower())
    pixel_size = None
    if unit is not None and resolution is not None:
        numerator, denominator = resolution.value
        if numerator > 0 and denominator > 0:
            pixel_size = unit * denominator / numerator
    return data, pixel_size


def find_angles(path: str | os.PathLike) -> tuple[np.ndarray, str, float | None] | None:
    """Find the tilt angles of the stack at ``path`` from a sidecar file.

    Looks, in order, for the files :func:`~napari_invprob.io.angles.sidecar_angle_files` lists.

    Returns
    -------
    tuple or None
        ``(angles, source_name, pixel_size_from_mdoc_or_None)``, or None when no sidecar exists.
    """
    for candidate in sidecar_angle_files(path):
        if candidate.is_file():
            return _read_angle_source(candidate)
    return None


def _read_angle_source(path: Path) -> tuple[np.ndarray, str, float | None]:
    if path.suffix.lower() == ".mdoc":
        mdoc = read_mdoc(path)
        return mdoc.angles, path.name, mdoc.pixel_size
    return read_angle_file(path), path.name, None


def read_tilt_series(path: str | os.PathLike, *, angles=None) -> TiltSeries:
    """Read a tilt series and its angles.

    Parameters
    ----------
    path : str or path-like
        An MRC-family stack (``.mrc .st .ali .mrcs ...``), a TIFF stack or, for a sinogram, a 2D image.
        MRC headers written by older software are read permissively with a warning
        (:class:`~napari_invprob.io.mrc.MrcHeaderWarning`).
    angles : array-like, str, path-like or None
        The tilt angles in degrees, or the path of an angle file (``.tlt``, ``.rawtlt``, ``.mdoc``).
        None looks for a sidecar beside the stack (same stem: ``.rawtlt``/``.tlt``, or a SerialEM
        ``.mdoc``), then for FEI1/FEI2 extended-header alpha tilts.

    Returns
    -------
    TiltSeries
        ``data`` (stored data type), ``angles`` (degrees), ``pixel_size`` (Å or None) and where the
        angles came from.

    Raises
    ------
    ValueError
        If the file is unreadable (truncated, not MRC, unknown format), no angles are found, or the
        number of angles differs from the number of projections.
    """
    path = Path(path)
    mdoc_pixel_size = None
    if angles is None:
        found = find_angles(path)
        if found is not None:
            angles, source, mdoc_pixel_size = found
    elif isinstance(angles, (str, os.PathLike)):
        angles, source, mdoc_pixel_size = _read_angle_source(Path(angles))
    else:
        angles, source = np.asarray(angles, dtype=np.float64).ravel(), "given"
    if path.suffix.lower() in MRC_SUFFIXES:
        if not path.is_file():
            raise FileNotFoundError(f"no such file: {path}")
        mrc = read_mrc(path)
        data, pixel_size = mrc.data, None if mrc.voxel_size is None else mrc.voxel_size[2]
        if angles is None and mrc.tilt_angles is not None:
            angles, source = mrc.tilt_angles, "FEI extended header"
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
    if pixel_size is None:
        pixel_size = mdoc_pixel_size
    return TiltSeries(data=data, angles=angles, pixel_size=pixel_size, angle_source=source)

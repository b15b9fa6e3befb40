"""Reading an image, stack or volume by its suffix (MRC, TIFF, PNG), and a stack's sidecar angles."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from .angles import MdocMetadata, read_angle_file, read_mdoc, sidecar_angle_files
from .mrc import read_mrc
from .tiff import read_tiff

MRC_SUFFIXES = (".mrc", ".st", ".ali", ".rec", ".mrcs", ".map")
TIFF_SUFFIXES = (".tif", ".tiff")
PLAIN_IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg")


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
        In-plane pixel size in ångström (MRC header, or ImageJ/OME TIFF metadata), None if unknown.

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
        tiff = read_tiff(path)
        return tiff.data, tiff.pixel_size
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


def find_angles(path: str | os.PathLike) -> tuple[np.ndarray, str, MdocMetadata | None] | None:
    """Find the tilt angles of the stack at ``path`` from a sidecar file.

    Looks, in order, for the files :func:`~napari_invprob.files.angles.sidecar_angle_files` lists.

    Returns
    -------
    tuple or None
        ``(angles, source_name, mdoc)`` with the whole ``.mdoc`` record (pixel size, tilt axis) when the
        sidecar is one, else None in its place; None when no sidecar exists.
    """
    for candidate in sidecar_angle_files(path):
        if candidate.is_file():
            return _read_angle_source(candidate)
    return None


def _read_angle_source(path: Path) -> tuple[np.ndarray, str, MdocMetadata | None]:
    if path.suffix.lower() == ".mdoc":
        mdoc = read_mdoc(path)
        return mdoc.angles, path.name, mdoc
    return read_angle_file(path), path.name, None


"""Reading a volume with what its file says about its axes and voxel sizes, whatever the format.

An OME-Zarr store (``.zarr``) is opened lazily (a dask array, read chunk by chunk when computed); MRC,
TIFF and PNG files are read whole (:func:`~napari_invprob.files.images.read_image`'s formats).
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

from .images import MRC_SUFFIXES, PLAIN_IMAGE_SUFFIXES, TIFF_SUFFIXES, read_image
from .mrc import read_mrc
from .tiff import read_tiff
from .zarr import is_zarr, read_zarr


@dataclass(frozen=True)
class Volume:
    """A volume, stack or image with its axes and voxel sizes.

    Attributes
    ----------
    data : numpy.ndarray or dask.array.Array
        The values in their stored type; a dask array for OME-Zarr (nothing read yet).
    axes : str
        One letter per axis: ``T`` time, ``C`` channels, ``Z``, ``Y``, ``X`` space, ``S`` colour samples,
        ``Q`` other.
    voxel_size : tuple of (float or None)
        Per axis, the step in ångström where the file gives it (spatial axes only), else None.
    unit : str or None
        The unit the file gives its sizes in (``"Å"``, ``"nm"``, ``"µm"``, ``"mm"``), or None.
    attributes : dict
        What our OME-Zarr writer recorded (``provenance``, ``status``); empty otherwise.
    """

    data: object
    axes: str
    voxel_size: tuple[float | None, ...]
    unit: str | None = None
    attributes: dict = field(default_factory=dict)

    @property
    def lazy(self) -> bool:
        """Whether :attr:`data` is read chunk by chunk (OME-Zarr)."""
        return not hasattr(self.data, "__array_interface__")


def read_volume(path: str | os.PathLike) -> Volume:
    """Read a volume, stack or image with its axes and voxel sizes: OME-Zarr lazily, other files whole.

    Parameters
    ----------
    path : str or path-like
        An OME-Zarr store (``.zarr``: level 0 is read), an MRC file (``.mrc .st .ali .rec .mrcs .map``),
        a TIFF (ImageJ or OME) or a PNG/JPEG.

    Returns
    -------
    Volume

    Raises
    ------
    FileNotFoundError
        If there is no such file or store.
    ValueError
        If the suffix is not one we read, or the file is not a valid file of its kind.
    """
    path = Path(path)
    if is_zarr(path):
        image = read_zarr(path)
        return Volume(image.data, image.axes, image.voxel_size, image.unit, image.attributes)
    suffix = path.suffix.lower()
    if suffix in MRC_SUFFIXES and path.is_file():
        mrc = read_mrc(path)
        axes = "ZYX"[-mrc.data.ndim:]
        sizes = (None,) * mrc.data.ndim if mrc.voxel_size is None else tuple(mrc.voxel_size[-mrc.data.ndim:])
        return Volume(mrc.data, axes, sizes, None if mrc.voxel_size is None else "Å")
    if suffix in TIFF_SUFFIXES and path.is_file():
        tiff = read_tiff(path)
        return Volume(tiff.data, tiff.axes, tiff.voxel_size, tiff.unit)
    data, _ = read_image(path)  # plain images, and the errors for anything else
    axes = "YX" if data.ndim == 2 else "YXS" if suffix in PLAIN_IMAGE_SUFFIXES else "ZYX"
    return Volume(data, axes, (None,) * data.ndim)

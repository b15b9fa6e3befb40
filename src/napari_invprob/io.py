"""Reading and writing tilt series, volumes and images (MRC, TIFF, PNG, OME-Zarr) with angles and pixel size.

::

    from napari_invprob.io import read_tilt_series, write_volume
    series = read_tilt_series("tomo.st")              # angles from tomo.rawtlt / tomo.tlt / tomo.st.mdoc
    write_volume("tomo_rec.mrc", volume, series.pixel_size)
    big = read_volume("stack.zarr")                   # OME-Zarr: a dask array, its axes and voxel sizes

The public entry point only: the formats live in :mod:`napari_invprob.files`, the tilt-series file's
conventions in :mod:`napari_invprob.tomography.files`.
"""

from .files import (
    MRC_SUFFIXES,
    PLAIN_IMAGE_SUFFIXES,
    TIFF_SUFFIXES,
    ZARR_SUFFIXES,
    MdocMetadata,
    MrcData,
    MrcHeaderWarning,
    Volume,
    check_mrc_header,
    find_angles,
    read_angle_file,
    read_image,
    read_mdoc,
    read_mrc,
    read_volume,
    sidecar_angle_files,
    write_volume,
)
from .tomography.files import TiltSeries, read_tilt_series

__all__ = [
    "MRC_SUFFIXES",
    "PLAIN_IMAGE_SUFFIXES",
    "TIFF_SUFFIXES",
    "ZARR_SUFFIXES",
    "MdocMetadata",
    "MrcData",
    "MrcHeaderWarning",
    "TiltSeries",
    "Volume",
    "check_mrc_header",
    "find_angles",
    "read_angle_file",
    "read_image",
    "read_mdoc",
    "read_mrc",
    "read_tilt_series",
    "read_volume",
    "sidecar_angle_files",
    "write_volume",
]

"""The file formats both wings read and write: MRC, TIFF (ImageJ, OME), PNG, OME-Zarr, and tilt angles' sidecars.

The public entry is :mod:`napari_invprob.io`, which adds the tilt-series reader of the tomography wing.
"""

from .angles import MdocMetadata, read_angle_file, read_mdoc, sidecar_angle_files
from .images import MRC_SUFFIXES, PLAIN_IMAGE_SUFFIXES, TIFF_SUFFIXES, find_angles, read_image
from .mrc import MrcData, MrcHeaderWarning, check_mrc_header, read_mrc
from .volumes import Volume, read_volume
from .write import write_volume
from .zarr import ZARR_SUFFIXES, ZarrImage, read_zarr, write_zarr

__all__ = [
    "MRC_SUFFIXES",
    "PLAIN_IMAGE_SUFFIXES",
    "TIFF_SUFFIXES",
    "ZARR_SUFFIXES",
    "MdocMetadata",
    "MrcData",
    "MrcHeaderWarning",
    "Volume",
    "ZarrImage",
    "check_mrc_header",
    "find_angles",
    "read_angle_file",
    "read_image",
    "read_mdoc",
    "read_mrc",
    "read_volume",
    "read_zarr",
    "sidecar_angle_files",
    "write_volume",
    "write_zarr",
]

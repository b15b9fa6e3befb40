"""The file formats both wings read and write: MRC, TIFF (ImageJ, OME), PNG, and tilt angles' sidecars.

The public entry is :mod:`napari_invprob.io`, which adds the tilt-series reader of the tomography wing.
"""

from .angles import MdocMetadata, read_angle_file, read_mdoc, sidecar_angle_files
from .images import MRC_SUFFIXES, PLAIN_IMAGE_SUFFIXES, TIFF_SUFFIXES, find_angles, read_image
from .mrc import MrcData, MrcHeaderWarning, check_mrc_header, read_mrc
from .write import write_volume

__all__ = [
    "MRC_SUFFIXES",
    "PLAIN_IMAGE_SUFFIXES",
    "TIFF_SUFFIXES",
    "MdocMetadata",
    "MrcData",
    "MrcHeaderWarning",
    "check_mrc_header",
    "find_angles",
    "read_angle_file",
    "read_image",
    "read_mdoc",
    "read_mrc",
    "sidecar_angle_files",
    "write_volume",
]

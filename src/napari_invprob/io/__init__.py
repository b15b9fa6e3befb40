"""Reading and writing tilt series, volumes and images (MRC, TIFF, PNG) with angles and pixel size.

::

    from napari_invprob.io import read_tilt_series, write_volume
    series = read_tilt_series("tomo.st")              # angles from tomo.rawtlt / tomo.tlt / tomo.st.mdoc
    write_volume("tomo_rec.mrc", volume, series.pixel_size)
"""

from .angles import MdocMetadata, read_angle_file, read_mdoc, sidecar_angle_files
from .mrc import MrcData, MrcHeaderWarning, check_mrc_header, read_mrc
from .tilt_series import (
    MRC_SUFFIXES,
    PLAIN_IMAGE_SUFFIXES,
    TIFF_SUFFIXES,
    TiltSeries,
    find_angles,
    read_image,
    read_tilt_series,
)
from .write import write_volume

__all__ = [
    "MRC_SUFFIXES",
    "PLAIN_IMAGE_SUFFIXES",
    "TIFF_SUFFIXES",
    "MdocMetadata",
    "MrcData",
    "MrcHeaderWarning",
    "TiltSeries",
    "check_mrc_header",
    "find_angles",
    "read_angle_file",
    "read_image",
    "read_mdoc",
    "read_mrc",
    "read_tilt_series",
    "sidecar_angle_files",
    "write_volume",
]

"""TIFF files with their voxel size and channels, from ImageJ or OME metadata (read with tifffile).

::

    from .tiff import read_tiff
    image = read_tiff("cells.ome.tif")
    image.axes, image.voxel_size, image.unit     # "CZYX", (None, 2000.0, 650.0, 650.0), "µm"

Sizes are returned in ångström, the unit of every size in this package's files and layers (MRC voxel
sizes, ``write_volume``); ``unit`` says in which unit the file gave them.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

#: Length units as ImageJ and OME write them (lower case), by the name we show.
UNIT_NAMES = {
    "angstrom": "Å", "å": "Å", "a": "Å", "\\u00c5": "Å",
    "nm": "nm", "nanometer": "nm", "nanometre": "nm",
    "micron": "µm", "microns": "µm", "um": "µm", "µm": "µm", "μm": "µm", "\\u00b5m": "µm",
    "micrometer": "µm", "micrometre": "µm",
    "mm": "mm", "millimeter": "mm", "millimetre": "mm",
}
#: Ångström per unit, by the name we show.
ANGSTROM_PER_UNIT = {"Å": 1.0, "nm": 10.0, "µm": 1e4, "mm": 1e7}
#: The spatial axes whose size a file records, in napari's order.
SPATIAL_AXES = "ZYX"


@dataclass(frozen=True)
class TiffImage:
    """The first image series of a TIFF file, with what its metadata say about it.

    Attributes
    ----------
    data : numpy.ndarray
        The pixels in their stored data type, with the axes of ``axes``.
    axes : str
        tifffile's name of every axis of ``data``: ``Z``, ``Y``, ``X`` spatial, ``C`` channels, ``T``
        time, ``S`` colour samples (RGB), others as tifffile names them (e.g. ``Q`` unknown).
    voxel_size : tuple of (float or None)
        Per axis of ``data``: the size in ångström of a ``Z``, ``Y`` or ``X`` step where the file
        records it, None elsewhere.
    unit : str or None
        The unit the file gives its sizes in (``"µm"``, ``"nm"``, ``"Å"``, ``"mm"``); None without sizes.
    source : str or None
        Where the sizes come from: ``"OME"`` (OME-XML ``PhysicalSizeX/Y/Z``) or ``"ImageJ"`` (resolution
        tags, ``spacing`` and ``unit``); None when the file records none.
    emission_wavelengths : tuple of (float or None) or None
        Per channel, the emission wavelength in nanometres where the OME metadata give it.
    """

    data: np.ndarray
    axes: str
    voxel_size: tuple[float | None, ...]
    unit: str | None = None
    source: str | None = None
    emission_wavelengths: tuple[float | None, ...] | None = None

    @property
    def pixel_size(self) -> float | None:
        """The size of an ``X`` step in ångström (None if unknown)."""
        return self.voxel_size[self.axes.index("X")] if "X" in self.axes else None

    @property
    def channel_axis(self) -> int | None:
        """The index of the ``C`` axis, or None."""
        return self.axes.index("C") if "C" in self.axes else None


def read_tiff(path: str | os.PathLike) -> TiffImage:
    """Read a TIFF file's first image series with its voxel size (OME or ImageJ) and channels.

    Parameters
    ----------
    path : str or path-like
        A TIFF file (``.tif``/``.tiff``, OME-TIFF included).

    Returns
    -------
    TiffImage

    Raises
    ------
    ValueError
        If the file is not a readable TIFF.
    """
    import tifffile

    path = Path(path)
    try:
        with tifffile.TiffFile(path) as tif:
            series = tif.series[0]
            data, axes = series.asarray(), series.axes
            if tif.is_ome:
                sizes, unit, wavelengths = _ome_sizes(tifffile.xml2dict(tif.ome_metadata))
                source = "OME"
            else:
                sizes, unit = _imagej_sizes(tif.imagej_metadata or {}, tif.pages[0].tags)
                source, wavelengths = "ImageJ", None
    except (tifffile.TiffFileError, ValueError, OSError, IndexError, KeyError) as error:
        raise ValueError(f"{path.name} could not be read as TIFF: {error}") from error
    if not sizes:
        source, unit = None, None
    voxel_size = tuple(sizes.get(axis) for axis in axes)
    if wavelengths is not None and "C" in axes and len(wavelengths) != data.shape[axes.index("C")]:
        wavelengths = None
    return TiffImage(data=data, axes=axes, voxel_size=voxel_size, unit=unit, source=source,
                     emission_wavelengths=wavelengths)


def _in_angstrom(value, unit_name) -> tuple[float, str] | None:
    """``value`` in ``unit_name`` as (ångström, our name of the unit); None for unknown units or sizes
    that are not positive finite numbers."""
    unit = UNIT_NAMES.get(str(unit_name).strip().lower())
    try:
        size = float(value)
    except (TypeError, ValueError):
        return None
    if unit is None or not (np.isfinite(size) and size > 0):
        return None
    return size * ANGSTROM_PER_UNIT[unit], unit


def _ome_sizes(ome: dict) -> tuple[dict[str, float], str | None, tuple[float | None, ...] | None]:
    """``PhysicalSizeX/Y/Z`` (default unit µm, as OME says) of the first image in ångström, their unit,
    and the channels' emission wavelengths in nm."""
    image = ome.get("OME", {}).get("Image", {})
    pixels = (image[0] if isinstance(image, list) else image).get("Pixels", {})
    sizes, unit = {}, None
    for axis in SPATIAL_AXES:
        converted = _in_angstrom(pixels.get(f"PhysicalSize{axis}"), pixels.get(f"PhysicalSize{axis}Unit", "µm"))
        if converted is not None:
            sizes[axis], unit = converted
    channels = pixels.get("Channel", [])
    channels = channels if isinstance(channels, list) else [channels]
    wavelengths = tuple(_nanometres(c.get("EmissionWavelength"), c.get("EmissionWavelengthUnit", "nm"))
                        for c in channels)
    return sizes, unit, wavelengths if any(w is not None for w in wavelengths) else None


def _nanometres(value, unit_name) -> float | None:
    converted = _in_angstrom(value, unit_name)
    return None if converted is None else converted[0] / 10.0


def _imagej_sizes(meta: dict, tags) -> tuple[dict[str, float], str | None]:
    """The resolution tags (pixels per unit) and ``spacing`` in ImageJ's ``unit``, in ångström."""
    sizes, name = {}, None
    for axis, tag in (("X", "XResolution"), ("Y", "YResolution")):
        resolution = tags.get(tag)
        if resolution is None or "unit" not in meta:
            continue
        numerator, denominator = resolution.value
        converted = _in_angstrom(denominator / numerator if numerator > 0 else None, meta["unit"])
        if converted is not None:
            sizes[axis], name = converted
    if "spacing" in meta and "unit" in meta:
        converted = _in_angstrom(meta["spacing"], meta["unit"])
        if converted is not None:
            sizes["Z"], name = converted
    return sizes, name


__all__ = ["ANGSTROM_PER_UNIT", "UNIT_NAMES", "TiffImage", "read_tiff"]

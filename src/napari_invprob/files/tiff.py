"""TIFF files with their voxel size and channels, from ImageJ or OME metadata (read with tifffile).

::

    from .tiff import read_tiff
    image = read_tiff("cells.ome.tif")
    image.axes, image.voxel_size, image.unit     # "CZYX", (None, 2000.0, 650.0, 650.0), "µm"

Sizes are returned in ångström, the unit of every size in this package's files and layers (MRC voxel
sizes, ``write_volume``); ``unit`` says in which unit the file gave them.
"""

from __future__ import annotations

import contextlib
import logging
import os
import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .axes import NamedAxes

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
#: The voxel sizes a file may give, in ångström: from 0.01 Å (below any electron microscope's pixel) to
#: 1 mm (beyond any light microscope's voxel). Sizes outside it (1e300 µm, an ImageJ resolution of
#: 1/4294967295) are taken as metadata errors: napari cannot display them.
SIZE_RANGE = (1e-2, 1e7)
#: The units ImageJ writes for an uncalibrated image (no sizes, nothing to warn about).
NO_UNITS = ("", "pixel", "pixels", "px")
#: What tifffile logs when a series' planes do not match its metadata (a truncated file, a wrong
#: ``SizeZ``): it then zero-pads, drops planes or reads the first plane only.
_INCONSISTENT = ("missing", "corrupt", "truncat", "invalid page offset", "expected")


@dataclass(frozen=True)
class TiffImage(NamedAxes):
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
        If the file is not a readable TIFF, or its planes do not match its metadata (a truncated file,
        an OME ``SizeZ`` that is not the number of planes): tifffile would zero-pad or drop planes.

    Warns
    -----
    UserWarning
        When the file's OME-XML is incomplete (read as a plain TIFF, without sizes), or one of its sizes
        is outside :data:`SIZE_RANGE`, not a positive number, or in a unit this reader does not know
        (read without any size, in pixels).
    """
    import tifffile

    path = Path(path)
    is_ome = _layout(path)
    try:
        with _inconsistencies(path), tifffile.TiffFile(path, is_ome=is_ome) as tif:
            series = tif.series[0]
            data, axes = series.asarray(), series.axes
            if is_ome:
                sizes, unit, wavelengths = _ome_sizes(tifffile.xml2dict(tif.ome_metadata), path)
                source = "OME"
            else:
                sizes, unit = _imagej_sizes(tif.imagej_metadata or {}, tif.pages[0].tags, path)
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


def check_tiff(path: str | os.PathLike) -> None:
    """Refuse, without reading the pixels, a file that :func:`read_tiff` would refuse as unreadable or
    inconsistent (a reader's quick check).

    Raises
    ------
    ValueError
        As :func:`read_tiff`, saying why.
    """
    _layout(Path(path))


def _layout(path: Path) -> bool:
    """Whether to read ``path`` by its OME-XML (False for a file without it, or with OME-XML tifffile
    cannot lay out, warned about); ``ValueError`` for a file that is no TIFF, holds no image, or whose
    planes do not match its metadata."""
    import tifffile

    try:
        with _inconsistencies(path):
            with tifffile.TiffFile(path) as tif:
                is_ome = tif.is_ome and _ome_series_readable(tif, path)
            with tifffile.TiffFile(path, is_ome=is_ome) as tif:
                if not tif.series:
                    raise ValueError("it holds no image")
    except (tifffile.TiffFileError, ValueError, OSError, IndexError, KeyError) as error:
        raise ValueError(f"{path.name} could not be read as TIFF: {error}") from error
    return is_ome


@contextlib.contextmanager
def _inconsistencies(path: Path) -> Iterator[None]:
    """Raise ``ValueError`` when tifffile logs, within the block, that the planes do not match the
    metadata (it says so only in its log, and zero-pads, drops planes or reads one plane)."""
    complaints: list[str] = []

    class Collect(logging.Handler):
        def emit(self, record):
            message = record.getMessage()
            if any(word in message.lower() for word in _INCONSISTENT):
                complaints.append(message.split("> ", 1)[-1])

    logger, handler = logging.getLogger("tifffile"), Collect(logging.WARNING)
    logger.addHandler(handler)
    try:
        yield
    finally:
        logger.removeHandler(handler)
    if complaints:
        raise ValueError(f"its planes do not match its metadata ({'; '.join(dict.fromkeys(complaints))}): the file is "
                         "truncated or its metadata are wrong, and reading it would invent or drop planes; re-save it")


def _ome_series_readable(tif, path: Path) -> bool:
    """Whether tifffile can lay out the file's OME series; if not (OME-XML without ``SizeZ``, an
    unknown ``DimensionOrder``), warn that it is read as a plain TIFF."""
    try:
        tif.series  # noqa: B018 (tifffile parses the OME-XML here)
    except (KeyError, IndexError, ValueError) as error:
        missing = f"no {error.args[0]}" if isinstance(error, KeyError) and error.args else str(error)
        warnings.warn(f"{path.name}: its OME-XML metadata are incomplete or unusual ({missing}); read as a plain TIFF "
                      "(its planes in file order, no voxel size)", UserWarning, stacklevel=4)
        return False
    return True


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


def _checked_sizes(given: dict[str, tuple], path: Path) -> tuple[dict[str, float], str | None]:
    """The sizes in ångström from ``{axis: (value, unit name)}`` and the unit of the last of them, all or
    none: a size that is not a positive number in a known unit within :data:`SIZE_RANGE` drops every
    size, with a warning naming the file (a layer mixing pixels and lengths is displayed squashed, one
    with a size of 1e300 not at all)."""
    converted = {axis: _in_angstrom(value, unit) for axis, (value, unit) in given.items()}
    problems = [f"{axis} {value} {unit}" for axis, (value, unit) in given.items()
                if converted[axis] is None or not SIZE_RANGE[0] <= converted[axis][0] <= SIZE_RANGE[1]]
    if problems:
        warnings.warn(f"{path.name}: the voxel sizes {', '.join(problems)} are not sizes this reader takes (a "
                      f"positive size from {SIZE_RANGE[0]:g} Å to {SIZE_RANGE[1] / 1e7:g} mm, in Å, nm, µm or mm); "
                      "read without voxel sizes, in pixels", UserWarning, stacklevel=4)
        return {}, None
    units = [unit for _, unit in converted.values()]
    return {axis: size for axis, (size, _) in converted.items()}, units[-1] if units else None


def _ome_sizes(ome: dict, path: Path) -> tuple[dict[str, float], str | None, tuple[float | None, ...] | None]:
    """``PhysicalSizeX/Y/Z`` (default unit µm, as OME says) of the first image in ångström, their unit
    (checked by :func:`_checked_sizes`), and the channels' emission wavelengths in nm."""
    image = ome.get("OME", {}).get("Image", {})
    pixels = (image[0] if isinstance(image, list) else image).get("Pixels", {})
    given = {axis: (pixels[f"PhysicalSize{axis}"], pixels.get(f"PhysicalSize{axis}Unit", "µm"))
             for axis in SPATIAL_AXES if f"PhysicalSize{axis}" in pixels}
    sizes, unit = _checked_sizes(given, path)
    channels = pixels.get("Channel", [])
    channels = channels if isinstance(channels, list) else [channels]
    wavelengths = tuple(_nanometres(c.get("EmissionWavelength"), c.get("EmissionWavelengthUnit", "nm"))
                        for c in channels)
    return sizes, unit, wavelengths if any(w is not None for w in wavelengths) else None


def _nanometres(value, unit_name) -> float | None:
    converted = _in_angstrom(value, unit_name)
    return None if converted is None else converted[0] / 10.0


def _imagej_sizes(meta: dict, tags, path: Path) -> tuple[dict[str, float], str | None]:
    """The resolution tags (pixels per unit) and ``spacing`` in ImageJ's ``unit``, in ångström (checked
    by :func:`_checked_sizes`); none for an uncalibrated image (no unit, or ``pixel``)."""
    unit = meta.get("unit")
    if unit is None or str(unit).strip().lower() in NO_UNITS:
        return {}, None
    given = {}
    for axis, tag in (("X", "XResolution"), ("Y", "YResolution")):
        resolution = tags.get(tag)
        if resolution is not None:
            numerator, denominator = resolution.value
            given[axis] = (denominator / numerator if numerator > 0 else float("inf"), unit)
    if "spacing" in meta:
        given["Z"] = (meta["spacing"], unit)
    return _checked_sizes(given, path)


__all__ = ["ANGSTROM_PER_UNIT", "UNIT_NAMES", "TiffImage", "check_tiff", "read_tiff"]

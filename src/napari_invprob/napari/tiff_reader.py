"""napari reader for TIFF stacks with their voxel size (ImageJ and OME metadata) and channels.

napari's built-in reader opens a TIFF without its voxel size (napari 0.9.2: no ``scale``, no metadata,
for ImageJ and OME-TIFF files alike), so an anisotropic z-stack is shown squashed and a PSF model would
not know its sampling. This reader makes the file's sizes the layer's ``scale`` in ångström (the unit
of every layer and file of this package, as for MRC) with napari ``units`` set, records them as the
file gave them in ``metadata``, and splits a ``C`` axis into one layer per channel (up to
:data:`MAX_CHANNEL_LAYERS`; more channels stay one layer with a channel axis). A stack with tilt angles
beside it (``.rawtlt``, ``.tlt`` or ``.mdoc``) opens as a tilt series, as from an MRC file.

``get_tiff_reader`` never raises: it returns None for anything it cannot open, warning with the reason for
TIFF-named files.
"""

from __future__ import annotations

import warnings
from pathlib import Path

from ..files import TIFF_SUFFIXES
from ..files.tiff import ANGSTROM_PER_UNIT, SPATIAL_AXES, check_tiff, read_tiff
from .reader import as_tilt_series, one_file_reader, tilt_angles_of

#: Up to this many channels become one layer each; more (a 1000-channel file opened as 1000 layers
#: did not finish in 120 s) stay one layer with the channel as an axis.
MAX_CHANNEL_LAYERS = 32


def get_tiff_reader(path):
    """Return :func:`read_tiff_layers` if ``path`` is one readable TIFF file, else None."""
    return one_file_reader(path, TIFF_SUFFIXES, check_tiff, read_tiff_layers)


def read_tiff_layers(path) -> list[tuple]:
    """Read one TIFF file into image layers: one layer, or one per channel when it has a ``C`` axis.

    ``scale`` holds the voxel size in ångström on the ``Z``, ``Y`` and ``X`` axes the file sizes (1 on
    the others, e.g. time), with napari ``units`` to match. Each layer's ``metadata`` records
    ``source_path``, ``pixel_size`` (the ``X`` size in Å, or None), ``axes`` (tifffile's names of the
    layer's axes), and when the file sizes its voxels: ``voxel_size`` (the ``Z``/``Y``/``X`` sizes
    among the layer's axes, in the file's unit), ``unit`` (``"µm"``, ``"nm"``, ``"Å"`` or ``"mm"``) and
    ``voxel_size_source`` (``"OME"`` or ``"ImageJ"``); per channel ``channel`` (its index) and
    ``emission_wavelength`` (nm) when the OME metadata give it. A file of more than
    :data:`MAX_CHANNEL_LAYERS` channels becomes one layer whose ``axes`` keep the ``C`` (said in a warning).
    """
    if isinstance(path, (list, tuple)):
        path = path[0]
    path = Path(path)
    with warnings.catch_warnings():  # said once already, by the reader's check
        warnings.filterwarnings("ignore", message=".*OME-XML metadata are incomplete")
        image = read_tiff(path)
    channel_axis = image.channel_axis
    if channel_axis is not None and image.data.shape[channel_axis] > MAX_CHANNEL_LAYERS:
        warnings.warn(f"{path.name} has {image.data.shape[channel_axis]} channels: opened as one layer with the "
                      f"channels along axis {channel_axis} (up to {MAX_CHANNEL_LAYERS} channels open as one layer "
                      "each)", UserWarning, stacklevel=2)
        channel_axis = None
    axes = image.axes if channel_axis is None else image.axes.replace("C", "")
    sizes = tuple(size for axis, size in zip(image.axes, image.voxel_size) if channel_axis is None or axis != "C")
    layer_axes = [(axis, size) for axis, size in zip(axes, sizes) if axis != "S"]  # S: RGB samples
    base = {"source_path": str(path.resolve()), "pixel_size": image.pixel_size, "axes": axes}
    stem = path.name[: -len(path.suffix)]
    kwargs = {"name": stem[:-4] if stem.lower().endswith(".ome") else stem}
    if image.source is not None:
        per_unit = ANGSTROM_PER_UNIT[image.unit]
        base.update(voxel_size=[size / per_unit if size else None for axis, size in layer_axes if axis in SPATIAL_AXES],
                    unit=image.unit, voxel_size_source=image.source)
        kwargs["scale"] = tuple(float(size) if size else 1.0 for _, size in layer_axes)
        kwargs["units"] = tuple("angstrom" if size else "pixel" for _, size in layer_axes)
    if channel_axis is None:
        kwargs["metadata"] = base
        data = image.data
        if data.ndim == 3 and "S" not in image.axes:
            data = _as_tilt_series_if_angled(path, data, kwargs)
        return [(data, kwargs, "image")]
    wavelengths = image.emission_wavelengths or (None,) * image.data.shape[channel_axis]
    kwargs["metadata"] = [
        {**base, "channel": index, **({} if wavelength is None else {"emission_wavelength": wavelength})}
        for index, wavelength in enumerate(wavelengths)
    ]
    kwargs["name"] = [f"{kwargs['name']} [{index}]" for index in range(len(wavelengths))]
    kwargs["channel_axis"] = channel_axis
    return [(image.data, kwargs, "image")]


def _as_tilt_series_if_angled(path: Path, data, kwargs: dict):
    """A stack with tilt angles beside it (a ``.rawtlt``/``.tlt`` or SerialEM ``.mdoc`` sidecar, one angle
    per section) made a tilt series as the MRC reader makes one (conventions resolved, offset undone,
    ``scale`` ``(1, pixel, pixel)``); else ``data`` as it is."""
    angles, source, mdoc = tilt_angles_of(path, data.shape[0])
    if angles is None:
        return data
    metadata = kwargs["metadata"]
    if metadata["pixel_size"] is None and mdoc is not None:
        metadata["pixel_size"] = mdoc.pixel_size
    file_axis = None if mdoc is None else mdoc.tilt_axis_angle
    data, scale = as_tilt_series(data, angles, source, file_axis, metadata)
    kwargs["scale"] = scale
    kwargs.pop("units", None)  # the projections' axis is not a length: sizes in Å, as for an MRC tilt series
    return data

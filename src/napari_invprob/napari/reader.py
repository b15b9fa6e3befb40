"""napari reader for MRC stacks and volumes (``.mrc .st .ali .rec .mrcs .map``), with tilt angles.

``get_reader`` never raises: it returns None for anything it cannot open (wrong suffix, several
paths, a file that is not MRC or is truncated), warning with the reason for MRC-named files so the
user learns why. The layer it makes carries ``metadata["angles"]`` (degrees, from a ``.rawtlt``/
``.tlt``/``.mdoc`` sidecar or an FEI extended header), the tilt axis resolved from the file or the
projections (``metadata["tilt_axis"]``, ``"tilt_axis_angle"``, ``"tilt_axis_source"``), the storage
offset undone (``"value_offset"``) and the pixel size as ``scale`` (ångström).
"""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np

from ..files import MRC_SUFFIXES, check_mrc_header, find_angles, read_mrc
from ..tomography.files import tilt_series_with_conventions


def get_reader(path):
    """Return :func:`read_mrc_layers` if ``path`` is one readable MRC file, else None."""
    return one_file_reader(path, MRC_SUFFIXES, check_mrc_header, read_mrc_layers)


def one_file_reader(path, suffixes, check, reader):
    """``reader`` when ``path`` names one existing file with one of ``suffixes`` that ``check(path)``
    accepts, else None; a file of the right suffix that ``check`` refuses (``ValueError``, ``OSError``,
    ``TypeError``) gets a warning with the reason, so the user learns why it did not open."""
    if isinstance(path, (list, tuple)):
        if len(path) != 1:
            return None
        path = path[0]
    try:
        path = Path(path)
        if path.suffix.lower() not in suffixes or not path.is_file():
            return None
        check(path)
    except (ValueError, OSError, TypeError) as error:
        warnings.warn(f"napari-invprob cannot open {path}: {error}", stacklevel=3)
        return None
    return reader


def read_mrc_layers(path) -> list[tuple]:
    """Read one MRC file into an image layer's data.

    A stack whose sidecar angle file or FEI header gives one angle per section becomes a tilt series,
    with its conventions resolved as :func:`napari_invprob.io.read_tilt_series` resolves them (the same
    code): ``metadata`` holds ``angles`` (list of degrees), ``angle_source``, ``tilt_axis`` (``"y"`` or
    ``"x"``), ``tilt_axis_angle`` (degrees), ``tilt_axis_source`` (``"file"`` or ``"estimated"``),
    ``value_offset`` (32768 when unsigned counts stored as int16 were restored, else 0) and
    ``conventions`` (one line saying all this), and ``scale`` is ``(1, pixel, pixel)``. Anything else is
    an image or volume with ``scale`` the voxel size. Every layer records ``pixel_size`` (Å or None)
    and ``source_path`` (which the MRC writer will never overwrite).
    """
    if isinstance(path, (list, tuple)):
        path = path[0]
    path = Path(path)
    mrc = read_mrc(path)
    data = mrc.data
    metadata = {"source_path": str(path.resolve()), "pixel_size": None}
    angles, source, mdoc = None, None, None
    if data.ndim == 3:
        header = None if mrc.tilt_angles is None else (mrc.tilt_angles, "FEI extended header")
        angles, source, mdoc = tilt_angles_of(path, data.shape[0], header)
    if mrc.voxel_size is not None:
        metadata["pixel_size"] = mrc.voxel_size[2]
    elif mdoc is not None:
        metadata["pixel_size"] = mdoc.pixel_size
    if angles is not None:
        file_axis = mdoc.tilt_axis_angle if mdoc is not None and mdoc.tilt_axis_angle is not None else mrc.tilt_axis_angle
        data, scale = as_tilt_series(data, angles, source, file_axis, metadata)
    elif mrc.voxel_size is not None:
        scale = mrc.voxel_size[-data.ndim :]
    else:
        scale = (metadata["pixel_size"] or 1.0,) * data.ndim
    kwargs = {"name": path.stem, "scale": tuple(float(s) for s in scale), "metadata": metadata}
    return [(np.asarray(data), kwargs, "image")]


def tilt_angles_of(path: Path, n_sections: int, header: tuple | None = None) -> tuple:
    """The tilt angles of a stack of ``n_sections`` at ``path``: from a sidecar beside it (``.rawtlt``/``.tlt``
    or a SerialEM ``.mdoc``, :func:`~napari_invprob.files.find_angles`), else from the file's ``header``
    (``(angles, source)``), when they number ``n_sections``.

    Returns
    -------
    tuple
        ``(angles, source, mdoc)``; angles and source None when there are none or their count differs (a
        sidecar that cannot be read or a count that differs is said in a warning: the stack still opens).
    """
    try:
        found = find_angles(path)
    except (ValueError, OSError) as error:
        warnings.warn(f"{error}; opened without angles", stacklevel=3)
        found = None
    angles, source, mdoc = found if found is not None else (*(header or (None, None)), None)
    if angles is not None and angles.shape[0] != n_sections:
        warnings.warn(f"{source} lists {angles.shape[0]} angles but {path.name} holds {n_sections} projections; "
                      "opened without angles", stacklevel=3)
        return None, None, mdoc
    return angles, source, mdoc


def as_tilt_series(data, angles, source: str, file_axis_angle, metadata: dict) -> tuple:
    """A stack with its tilt angles as a tilt series layer: its conventions resolved as
    :func:`napari_invprob.io.read_tilt_series` resolves them (the same code), recorded in ``metadata``
    (which holds ``pixel_size``, Å or None).

    Returns
    -------
    tuple
        ``(data, scale)``: the stack with its storage offset undone, and ``(1, pixel, pixel)``.
    """
    series = tilt_series_with_conventions(data, angles, metadata["pixel_size"], source, file_axis_angle=file_axis_angle)
    metadata.update(angles=[float(a) for a in angles], angle_source=source, tilt_axis=series.tilt_axis,
                    tilt_axis_angle=series.tilt_axis_angle, tilt_axis_source=series.tilt_axis_source,
                    tilt_axis_uncertainty=series.tilt_axis_uncertainty, value_offset=series.value_offset,
                    conventions=series.conventions())
    pixel = metadata["pixel_size"] or 1.0
    return series.data, (1.0, pixel, pixel)

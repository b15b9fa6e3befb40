"""OME-Zarr (NGFF) images: read level 0 lazily with its axes and voxel sizes, write chunk by chunk.

::

    from .zarr import read_zarr, create_zarr, finish_zarr
    image = read_zarr("cells.zarr")          # a dask array, nothing read yet
    image.axes, image.voxel_size, image.unit  # "CZYX", (None, 2000.0, 650.0, 650.0), "µm"

Reading takes NGFF 0.4 (zarr format 2, ``multiscales`` in the group's attributes) and 0.5 (zarr format 3,
under ``ome``), and a bare zarr array (no sizes). Writing makes NGFF 0.5: level ``0`` in chunks, a
pyramid of 2× means for viewing (:func:`finish_zarr`), the voxel sizes and units, and our provenance
record under the ``napari_invprob`` attribute.

**Chunk by chunk, resumable.** :func:`create_zarr` makes an empty level 0 whose unwritten chunks read as
NaN (never as plausible zeros). zarr writes every chunk to a temporary file renamed into place, so a
chunk is either whole or absent, even when the process is killed; :func:`written_chunks` lists those
present. A run records its parameters (``run``) on creation: :func:`create_zarr` on an existing store
with the same ``run`` reopens it, so the caller skips the chunks already written; with another ``run``
it refuses.

Sizes are in ångström, as everywhere in this package (``voxel_size``); ``unit`` says in which unit the
file gives them.
"""

from __future__ import annotations

import math
import os
import shutil
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .axes import NamedAxes

ZARR_SUFFIXES = (".zarr",)
NGFF_VERSION = "0.5"
#: Our attribute in the group: ``{"run": ..., "status": "running" | "complete", "provenance": ...}``.
ATTRIBUTE = "napari_invprob"
#: NGFF (UDUNITS-2) length units, by the name we show, and back.
NGFF_UNITS = {"Å": "angstrom", "nm": "nanometer", "µm": "micrometer", "mm": "millimeter"}
_UNIT_NAMES = {v: k for k, v in NGFF_UNITS.items()}
_ANGSTROM_PER_UNIT = {"Å": 1.0, "nm": 10.0, "µm": 1e4, "mm": 1e7}
_AXIS_TYPES = {"T": "time", "C": "channel", "Z": "space", "Y": "space", "X": "space"}
#: A pyramid stops once a level's longest spatial axis is at most this long.
PYRAMID_SMALLEST = 256
#: An axis is halved in the next level while it is at least twice this long (a thin z stays whole).
PYRAMID_SHORTEST = 8


@dataclass(frozen=True)
class ZarrImage(NamedAxes):
    """Level 0 of an OME-Zarr image (or a bare zarr array), lazily.

    Attributes
    ----------
    data : dask.array.Array
        The pixels, read chunk by chunk when computed.
    axes : str
        One letter per axis of ``data``: ``T`` time, ``C`` channels, ``Z``, ``Y``, ``X`` space (an axis the
        metadata name otherwise gets ``Q``).
    voxel_size : tuple of (float or None)
        Per axis: the size in ångström of a ``Z``, ``Y`` or ``X`` step when the metadata give it with a
        length unit, else None.
    unit : str or None
        The unit the file gives its spatial sizes in (``"µm"``, ``"nm"``, ``"Å"``, ``"mm"``), or None.
    attributes : dict
        Our record (the ``napari_invprob`` attribute: ``provenance``, ``status``), empty for other files.
    path : pathlib.Path
        The store.
    """

    data: object
    axes: str
    voxel_size: tuple[float | None, ...]
    unit: str | None
    attributes: dict
    path: Path


def is_zarr(path: str | os.PathLike) -> bool:
    """Whether ``path`` names a zarr store (by its ``.zarr`` suffix)."""
    return Path(path).suffix.lower() in ZARR_SUFFIXES


def _ome(attrs) -> dict:
    """The NGFF metadata of a group's attributes: under ``ome`` (0.5) or at the top (0.4)."""
    attrs = dict(attrs)
    return dict(attrs.get("ome", attrs))


def read_zarr(path: str | os.PathLike, *, level: int = 0) -> ZarrImage:
    """Open an OME-Zarr image lazily: one level (0, the full resolution) as a dask array, with its axes
    and voxel sizes.

    Parameters
    ----------
    path : str or path-like
        The store: an OME-Zarr image group (NGFF 0.4 or 0.5), or a bare zarr array.
    level : int
        Which level of the pyramid (0 is full resolution).

    Returns
    -------
    ZarrImage

    Raises
    ------
    FileNotFoundError
        If there is no store at ``path``.
    ValueError
        If the store is neither a zarr array nor an image group, the level does not exist, or the
        metadata contradict the array (axes or scales of another length).
    """
    import dask.array as da
    import zarr

    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"no such zarr store: {path}")
    try:
        node = zarr.open(str(path), mode="r")
    except Exception as error:  # zarr raises several kinds for a broken or foreign store
        raise ValueError(f"{path.name} is not a readable zarr store: {error}") from error
    if isinstance(node, zarr.Array):
        if level:
            raise ValueError(f"{path.name} is a single zarr array; it has no level {level}")
        axes = "TCZYX"[-node.ndim:] if node.ndim <= 5 else "Q" * node.ndim
        return ZarrImage(da.from_zarr(node), axes, (None,) * node.ndim, None, {}, path)
    ome = _ome(node.attrs)
    if "multiscales" not in ome:
        raise ValueError(f"{path.name} is a zarr group without OME-Zarr multiscales metadata")
    multiscale = ome["multiscales"][0]
    datasets = multiscale["datasets"]
    if not 0 <= level < len(datasets):
        raise ValueError(f"{path.name} has levels 0 to {len(datasets) - 1}, not {level}")
    array = node[datasets[level]["path"]]
    ndim = array.ndim
    axes_meta = multiscale.get("axes") or [{"name": n} for n in "tczyx"[-ndim:]]
    if len(axes_meta) != ndim:
        raise ValueError(f"{path.name}: {len(axes_meta)} axes in the metadata for an array of {ndim} axes")
    letters, units = "", []
    for axis in axes_meta:
        name = axis if isinstance(axis, str) else axis.get("name", "")
        letters += name.upper() if name.upper() in _AXIS_TYPES else "Q"
        units.append(None if isinstance(axis, str) else axis.get("unit"))
    scale = _scale(datasets[level].get("coordinateTransformations", []), ndim, path)
    if scale is not None:
        for transform in multiscale.get("coordinateTransformations", []):  # a scale for every level
            scale = scale * _scale([transform], ndim, path)
    sizes, shown = [], None
    for letter, unit, value in zip(letters, units, [None] * ndim if scale is None else scale):
        name = _UNIT_NAMES.get(unit) if unit else None
        if letter in "ZYX" and name is not None and value is not None:
            sizes.append(float(value) * _ANGSTROM_PER_UNIT[name])
            shown = shown or name
        else:
            sizes.append(None)
    attributes = dict(dict(node.attrs).get(ATTRIBUTE, {}))
    return ZarrImage(da.from_zarr(array), letters, tuple(sizes), shown, attributes, path)


def _scale(transforms, ndim: int, path: Path) -> np.ndarray | None:
    """The product of the ``scale`` transforms in ``transforms`` (None without one)."""
    scale = None
    for transform in transforms:
        if transform.get("type") == "scale" and "scale" in transform:
            values = np.asarray(transform["scale"], dtype=np.float64)
            if values.shape != (ndim,):
                raise ValueError(f"{path.name}: a scale of {values.size} values for an array of {ndim} axes")
            scale = values if scale is None else scale * values
    return scale


def _axes_metadata(axes: str, unit: str | None) -> list[dict]:
    out = []
    for letter in axes:
        entry = {"name": letter.lower(), "type": _AXIS_TYPES.get(letter, "space")}
        if letter in "ZYX" and unit is not None:
            entry["unit"] = NGFF_UNITS[unit]
        out.append(entry)
    return out


def _check_axes(axes: str, ndim: int) -> None:
    if (not isinstance(axes, str) or len(axes) != ndim or len(set(axes)) != ndim or set(axes) - set(_AXIS_TYPES)
            or not {"Y", "X"} <= set(axes)):
        raise ValueError(f"axes must name each of the {ndim} axes once with letters of TCZYX, Y and X among them, "
                         f"got {axes!r}")


def _scale_in(voxel_size, axes: str, unit: str) -> list[float]:
    """Per axis, the step in ``unit`` (1 for time and channels and for sizes not given)."""
    sizes = [None] * len(axes) if voxel_size is None else list(voxel_size)
    if len(sizes) != len(axes):
        raise ValueError(f"voxel_size has {len(sizes)} values for {len(axes)} axes ({axes})")
    out = []
    for letter, size in zip(axes, sizes):
        if letter in "ZYX" and size is not None:
            if not (np.isfinite(size) and size > 0):
                raise ValueError(f"voxel size must be positive, got {voxel_size}")
            out.append(float(size) / _ANGSTROM_PER_UNIT[unit])
        else:
            out.append(1.0)
    return out


def default_chunks(shape, axes: str, *, target_bytes: int = 8 * 2**20) -> tuple[int, ...]:
    """Chunks of about ``target_bytes`` of float32: one time point and one channel, the spatial axes
    cut evenly (a cube of side ``(target / 4) ** (1 / n)`` where the axes are long enough)."""
    spatial = [i for i, letter in enumerate(axes) if letter in "ZYX"]
    side = int((target_bytes / 4) ** (1 / len(spatial)))
    return tuple(min(n, side) if i in spatial else 1 for i, n in enumerate(shape))


def create_zarr(path: str | os.PathLike, shape, *, axes: str, chunks=None, voxel_size=None, unit: str | None = "Å",
                run: dict | None = None, overwrite: bool = False, source: str | os.PathLike | None = None):
    """Create (or reopen, to resume) an OME-Zarr image whose level 0 is written chunk by chunk.

    Parameters
    ----------
    path : str or path-like
        The store to create (``.zarr``); its directory must exist.
    shape : sequence of int
        Level 0's shape.
    axes : str
        One letter per axis of ``TCZYX`` (``Y`` and ``X`` among them), e.g. ``"ZYX"``, ``"CZYX"``.
    chunks : sequence of int or None
        Level 0's chunks; None: :func:`default_chunks`.
    voxel_size : sequence of (float or None) or None
        Per axis, the step in ångström (None for time, channels and unknown sizes).
    unit : {"Å", "nm", "µm", "mm"} or None
        The unit the metadata give the sizes in; None: no sizes (every step 1, no unit).
    run : dict or None
        JSON-able parameters of the run that fills the image. A store made for the same ``run`` is
        reopened (its written chunks kept); None always makes a new store.
    overwrite : bool
        Replace an existing store (made for another run, or by someone else).
    source : str, path-like or None
        The input; it is never replaced.

    Returns
    -------
    zarr.Array
        Level 0, open for writing; unwritten chunks read as NaN.

    Raises
    ------
    FileExistsError
        If ``path`` exists and holds another run (or another kind of file) and ``overwrite`` is False,
        or ``path`` is ``source``.
    ValueError
        If the suffix is not ``.zarr``, ``axes``, ``chunks`` or ``voxel_size`` do not fit ``shape``, or the
        unit is unknown.
    """
    import zarr

    path = Path(path)
    if not is_zarr(path):
        raise ValueError(f"cannot write {path.name} as OME-Zarr: use the .zarr suffix")
    shape = tuple(int(n) for n in shape)
    _check_axes(axes, len(shape))
    if unit is not None and unit not in NGFF_UNITS:
        raise ValueError(f"unit must be one of {', '.join(NGFF_UNITS)} or None, got {unit!r}")
    scale = [1.0] * len(shape) if unit is None else _scale_in(voxel_size, axes, unit)
    chunks = default_chunks(shape, axes) if chunks is None else tuple(int(c) for c in chunks)
    if len(chunks) != len(shape) or min(chunks) < 1:
        raise ValueError(f"chunks must be one positive integer per axis, got {chunks} for shape {shape}")
    if source is not None and Path(source).exists() and path.exists() and path.samefile(source):
        raise FileExistsError(f"refusing to overwrite the input {path}")
    if not path.parent.is_dir():
        raise FileNotFoundError(f"directory {path.parent} does not exist")
    if path.exists():
        reopened = _reopen(path, shape, chunks, run) if run is not None else None
        if reopened is not None:
            return reopened
        if not overwrite:
            raise FileExistsError(f"{path} exists (not a run of the same parameters to resume); pass overwrite=True "
                                  "to replace it")
        shutil.rmtree(path) if path.is_dir() else path.unlink()
    group = zarr.open_group(str(path), mode="w-", zarr_format=3)
    level0 = group.create_array("0", shape=shape, chunks=chunks, dtype="float32", fill_value=float("nan"),
                                config={"write_empty_chunks": True})
    group.attrs.update({
        "ome": _multiscales(path.stem, axes, unit, [scale], [[0.0] * len(shape)], ["0"]),
        ATTRIBUTE: {"run": jsonable(run), "status": "running"},
    })
    return level0


def _reopen(path: Path, shape, chunks, run: dict):
    """Level 0 of the store at ``path`` opened for writing if it was made for ``run`` with this shape
    and these chunks, else None."""
    import zarr

    try:
        group = zarr.open_group(str(path), mode="r+")
        ours = dict(group.attrs).get(ATTRIBUTE, {})
        level0 = group["0"]
    except Exception:  # noqa: BLE001 - anything unreadable is not a run to resume
        return None
    if jsonable(ours.get("run")) != jsonable(run) or level0.shape != shape or level0.chunks != chunks:
        return None
    return level0


def jsonable(value):
    """``value`` as JSON stores it (for a run's record or provenance): tuples as lists, NumPy values and
    arrays as numbers and lists, paths as text, anything else by its ``repr``."""
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [jsonable(v) for v in value]
    if isinstance(value, np.ndarray):
        return jsonable(value.tolist())
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, os.PathLike):
        return os.fspath(value)
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    return repr(value)


def _multiscales(name: str, axes: str, unit: str | None, scales, translations, paths) -> dict:
    datasets = [
        {"path": p, "coordinateTransformations": [{"type": "scale", "scale": s}]
         + ([{"type": "translation", "translation": t}] if any(t) else [])}
        for p, s, t in zip(paths, scales, translations)
    ]
    return {"version": NGFF_VERSION,
            "multiscales": [{"name": name, "axes": _axes_metadata(axes, unit), "datasets": datasets}]}


def written_chunks(array) -> set[tuple[int, ...]]:
    """The chunks of ``array`` present in its store (each whole: zarr writes them atomically).

    Parameters
    ----------
    array : zarr.Array

    Returns
    -------
    set of tuple of int
        Chunk grid indices.
    """
    from zarr.core.sync import sync

    prefix = array.path + "/c/"

    async def keys():
        return [key async for key in array.store.list_prefix(prefix)]

    found = set()
    for key in sync(keys()):
        parts = key[len(prefix):].split("/")
        if len(parts) == array.ndim and all(p.isdigit() for p in parts):
            found.add(tuple(int(p) for p in parts))
    return found


def chunks_of(array, region: tuple[slice, ...]) -> list[tuple[int, ...]]:
    """The chunk grid indices that ``region`` (slices with starts and stops) covers in ``array``."""
    ranges = [range(s.start // c, math.ceil(s.stop / c)) for s, c in zip(region, array.chunks)]
    return [tuple(index) for index in np.ndindex(*(len(r) for r in ranges)) for index in
            [tuple(r[i] for r, i in zip(ranges, index))]]


def finish_zarr(path: str | os.PathLike, *, provenance: dict | None = None, levels: int | None = None) -> Path:
    """Complete an image written with :func:`create_zarr`: its pyramid, its provenance, ``status``.

    Level ``k`` is the 2× mean of level ``k - 1`` along every spatial axis at least twice
    :data:`PYRAMID_SHORTEST` long, made chunk by chunk (streamed, never whole).

    Parameters
    ----------
    path : str or path-like
        The store.
    provenance : dict or None
        How the image was made (stored under ``napari_invprob/provenance``).
    levels : int or None
        Levels in all, level 0 included; None: down to :data:`PYRAMID_SMALLEST` pixels on the longest
        spatial axis.

    Returns
    -------
    pathlib.Path
    """
    import dask.array as da
    import zarr

    path = Path(path)
    group = zarr.open_group(str(path), mode="r+")
    ome = _ome(group.attrs)
    multiscale = ome["multiscales"][0]
    axes = "".join(a["name"].upper() for a in multiscale["axes"])
    unit = next((_UNIT_NAMES[a["unit"]] for a in multiscale["axes"] if a.get("unit") in _UNIT_NAMES), None)
    scale0 = multiscale["datasets"][0]["coordinateTransformations"][0]["scale"]
    level0 = group["0"]
    spatial = [i for i, letter in enumerate(axes) if letter in "ZYX"]
    paths, scales, translations = ["0"], [scale0], [[0.0] * level0.ndim]
    factors = np.ones(level0.ndim, dtype=int)
    previous = level0
    while levels is None or len(paths) < levels:
        shape = previous.shape
        halve = {i: 2 for i in spatial if shape[i] >= 2 * PYRAMID_SHORTEST}
        if not halve or levels is None and max(shape[i] for i in spatial) <= PYRAMID_SMALLEST:
            break
        source = da.from_zarr(previous)
        smaller = da.coarsen(np.mean, source, halve, trim_excess=True).astype(np.float32)
        name = str(len(paths))
        if name in group:
            del group[name]
        chunks = tuple(min(c, n) for c, n in zip(level0.chunks, smaller.shape))
        target = group.create_array(name, shape=smaller.shape, chunks=chunks, dtype="float32",
                                    fill_value=float("nan"))
        da.store(smaller.rechunk(chunks), target, lock=False)
        for i, f in halve.items():
            factors[i] *= f
        paths.append(name)
        scales.append([s * f for s, f in zip(scale0, factors)])
        translations.append([s * (f - 1) / 2 for s, f in zip(scale0, factors)])
        previous = target
    ours = dict(dict(group.attrs).get(ATTRIBUTE, {}))
    ours.update(status="complete", provenance=provenance)
    group.attrs.update({"ome": _multiscales(multiscale.get("name", path.stem), axes, unit, scales, translations,
                                            paths), ATTRIBUTE: jsonable(ours)})
    return path


def write_zarr(path: str | os.PathLike, data, *, axes: str | None = None, voxel_size=None, unit: str | None = "Å",
               chunks=None, provenance: dict | None = None, overwrite: bool = False,
               source: str | os.PathLike | None = None, levels: int | None = None) -> Path:
    """Write a whole array (numpy or dask) as an OME-Zarr image with its pyramid, chunk by chunk.

    Parameters
    ----------
    path : str or path-like
        The store (``.zarr``).
    data : array-like or dask.array.Array
        Real finite numbers, stored as float32; a dask array is computed a chunk at a time.
    axes : str or None
        Letters of ``TCZYX``; None: ``YX``, ``ZYX``, ``TZYX`` by the number of axes.
    voxel_size, unit, chunks, overwrite, source
        As for :func:`create_zarr` (a single ``voxel_size`` number is every spatial axis's).
    provenance : dict or None
        How the data were made.
    levels : int or None
        As for :func:`finish_zarr`.

    Returns
    -------
    pathlib.Path

    Raises
    ------
    ValueError
        If the data are not real finite numbers (checked chunk by chunk; the partial store is removed),
        or as :func:`create_zarr`.
    """
    import dask.array as da

    lazy = data if isinstance(data, da.Array) else da.from_array(np.asarray(data), chunks=-1)
    if lazy.dtype.kind not in "biuf":
        raise ValueError(f"cannot write data of dtype {lazy.dtype}; real numbers only")
    if axes is None:
        if lazy.ndim not in (2, 3, 4):
            raise ValueError(f"name the axes of data of shape {lazy.shape} (axes='TCZYX'-like)")
        axes = "TZYX"[-lazy.ndim:]
    if voxel_size is not None and np.ndim(voxel_size) == 0:
        voxel_size = [voxel_size if a in "ZYX" else None for a in axes]
    level0 = create_zarr(path, lazy.shape, axes=axes, chunks=chunks, voxel_size=voxel_size, unit=unit,
                         overwrite=overwrite, source=source)
    values = lazy.astype(np.float32).rechunk(level0.chunks)
    try:
        finite = da.store(values, level0, lock=False, compute=False, return_stored=True)
        if not bool(da.isfinite(finite).all().compute()):
            raise ValueError("the data contain NaN or Inf values (or values beyond float32's range)")
    except BaseException:
        shutil.rmtree(path, ignore_errors=True)
        raise
    return finish_zarr(path, provenance=provenance, levels=levels)


def set_provenance(path: str | os.PathLike, record: dict) -> None:
    """Record how the image at ``path`` was made (replacing the record :func:`finish_zarr` stored).

    Parameters
    ----------
    path : str or path-like
        A store made by :func:`create_zarr` or :func:`write_zarr`.
    record : dict
        JSON-able (NumPy values and paths are converted).
    """
    import zarr

    group = zarr.open_group(str(path), mode="r+")
    ours = dict(dict(group.attrs).get(ATTRIBUTE, {}))
    ours["provenance"] = jsonable(record)
    group.attrs.update({ATTRIBUTE: ours})

"""Where results go: the output checks made before any work, and the atomic writes made after it.

Nothing is lost: the output file and its JSON sidecar are checked before the computation starts (a
known suffix, an existing directory we may write to, a name the file system takes, no existing file
unless ``--overwrite``, never one of the inputs), and written through a temporary file that replaces
the target only once complete, so an interrupted or failed run leaves earlier files as they were and no
partial file behind. Written files get the umask's mode (or the replaced file's), and JSON records are
strict JSON: a number without a finite value (the PSNR of a result equal to its reference) is ``null``.
"""

from __future__ import annotations

import json
import math
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path

from ..files import MRC_SUFFIXES, TIFF_SUFFIXES, ZARR_SUFFIXES, write_volume
from ..files.write import atomic_file, check_name_length
from .errors import CliError

VOLUME_SUFFIXES = MRC_SUFFIXES + TIFF_SUFFIXES + ZARR_SUFFIXES


def sidecar_path(out: Path) -> Path:
    """The JSON record written beside an output: ``vol.mrc`` → ``vol.mrc.json``."""
    return out.with_name(out.name + ".json")


@dataclass(frozen=True)
class OutputPlan:
    """The files a command will write, checked before any work.

    Attributes
    ----------
    files : tuple of pathlib.Path
        Every file the command writes (volumes, angle files, the JSON sidecar).
    inputs : tuple of pathlib.Path
        The files the command reads; none of them may be written.
    overwrite : bool
        Whether existing outputs may be replaced.
    """

    files: tuple[Path, ...]
    inputs: tuple[Path, ...]
    overwrite: bool

    @classmethod
    def check(cls, files, inputs, *, overwrite: bool) -> OutputPlan:
        """Refuse a plan that could lose data, with a message naming the file.

        Raises
        ------
        CliError
            If a volume output has an unknown suffix, its directory does not exist or cannot be
            written to, it exists and ``overwrite`` is False, it is one of the inputs, or two outputs
            are the same file.
        ValueError
            If an output's name is too long for the file system.
        """
        files = tuple(Path(f) for f in files)
        inputs = tuple(Path(i) for i in inputs if i is not None)
        resolved = [f.resolve() for f in files]
        if len(set(resolved)) != len(resolved):
            raise CliError(f"two outputs would be the same file: {', '.join(map(str, files))}")
        for path in files:
            if not path.parent.is_dir():
                raise CliError(f"output directory {path.parent} does not exist")
            check_name_length(path)
            for source in inputs:
                if path.resolve() == source.resolve() or (path.exists() and source.exists()
                                                         and path.samefile(source)):
                    raise CliError(f"the output {path} is also an input; choose another output name")
            if path.exists() and not overwrite:
                resume = " (or --resume to continue the run that made it)" if path.suffix.lower() in ZARR_SUFFIXES else ""
                raise CliError(f"{path} exists; pass --overwrite to replace it{resume}")
        for directory in dict.fromkeys(path.parent for path in files):
            _check_writable(directory)
        return cls(files, inputs, overwrite)

    def write_volume(self, path: Path, volume, voxel_size, axes: str | None = None,
                     provenance: dict | None = None) -> None:
        """Write a volume atomically (see :func:`napari_invprob.io.write_volume`); ``axes`` name its axes
        in a TIFF or OME-Zarr (an MRC file has none to name); an OME-Zarr store keeps ``provenance``.

        Raises
        ------
        CliError
            If the file appeared since the plan was checked (another run wrote it) and ``overwrite``
            is False.
        """
        if Path(path) not in self.files:
            raise RuntimeError(f"{path} was not checked before the run")
        try:
            suffix = Path(path).suffix.lower()
            named = axes if suffix in TIFF_SUFFIXES + ZARR_SUFFIXES else None
            write_volume(path, volume, voxel_size, overwrite=self.overwrite, axes=named,
                         **({"provenance": provenance} if suffix in ZARR_SUFFIXES else {}))
        except FileExistsError:
            raise CliError(f"{path} was written by another run meanwhile; pass --overwrite to replace it") from None

    def write_text(self, path: Path, text: str) -> None:
        """Write a text file atomically: a temporary file in the same directory, then a rename."""
        if Path(path) not in self.files:
            raise RuntimeError(f"{path} was not checked before the run")
        write_text_atomically(Path(path), text)

    def write_json(self, path: Path, record: dict) -> None:
        """Write a JSON record atomically (strict JSON, see :func:`json_text`)."""
        self.write_text(path, json_text(record, indent=2) + "\n")


def json_text(record, *, indent: int | None = None) -> str:
    """``record`` as strict JSON: NumPy values and paths converted, NaN and ±Inf written as ``null``
    (Python's ``json`` would write ``NaN``/``Infinity``, which JSON readers refuse)."""
    return json.dumps(_finite(record), indent=indent, allow_nan=False)


def _finite(value):
    if isinstance(value, dict):
        return {key: _finite(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [_finite(item) for item in value]
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, (str, int, bool)) or value is None:
        return value
    return _finite(_jsonable(value))


def write_text_atomically(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` through a temporary file that replaces ``path`` only once complete."""
    with atomic_file(path) as temporary, open(temporary, "w", encoding="utf-8") as stream:
        stream.write(text)


def _check_writable(directory: Path) -> None:
    """Refuse an output directory that files cannot be created in (probed with a temporary file)."""
    try:
        with tempfile.TemporaryFile(dir=directory):
            pass
    except OSError as error:
        raise CliError(f"cannot write to the output directory {directory}: {error.strerror or error}") from None


def check_volume_suffix(path: Path) -> Path:
    """Refuse an output whose suffix is not MRC, TIFF or OME-Zarr, before any work."""
    if Path(path).suffix.lower() not in VOLUME_SUFFIXES:
        raise CliError(f"cannot write {path}: the output must end in one of {', '.join(VOLUME_SUFFIXES)}")
    return Path(path)


def check_axes_fit(path: Path, axes: str | None) -> None:
    """Refuse, before any work, to write a result with channel or time axes (``axes`` naming them) as
    MRC, which holds a 2D image or a 3D volume without named axes."""
    if axes is not None and Path(path).suffix.lower() in MRC_SUFFIXES:
        raise CliError(f"cannot write {path}: MRC holds a 2D image or a 3D volume, not a {axes} result with channel "
                       "or time axes; write it as .tif (the axes are kept), or pass --channel-axis none")


def _jsonable(value):
    """JSON for the NumPy scalars and arrays and paths a record may hold."""
    if hasattr(value, "tolist"):
        return value.tolist()
    if isinstance(value, os.PathLike):
        return os.fspath(value)
    raise TypeError(f"cannot record a {type(value).__name__} in JSON")

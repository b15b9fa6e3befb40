"""Where results go: the output checks made before any work, and the atomic writes made after it.

Nothing is lost: the output file and its JSON sidecar are checked before the computation starts (a
known suffix, an existing directory, no existing file unless ``--overwrite``, never one of the inputs),
and written through a temporary file that replaces the target only once complete, so an interrupted or
failed run leaves earlier files as they were and no partial file behind.
"""

from __future__ import annotations

import json
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path

from ..io import MRC_SUFFIXES, TIFF_SUFFIXES, write_volume
from .errors import CliError

VOLUME_SUFFIXES = MRC_SUFFIXES + TIFF_SUFFIXES


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
            If a volume output has an unknown suffix, its directory does not exist, it exists and
            ``overwrite`` is False, it is one of the inputs, or two outputs are the same file.
        """
        files = tuple(Path(f) for f in files)
        inputs = tuple(Path(i) for i in inputs if i is not None)
        resolved = [f.resolve() for f in files]
        if len(set(resolved)) != len(resolved):
            raise CliError(f"two outputs would be the same file: {', '.join(map(str, files))}")
        for path in files:
            if not path.parent.is_dir():
                raise CliError(f"output directory {path.parent} does not exist")
            for source in inputs:
                if path.resolve() == source.resolve() or (path.exists() and source.exists()
                                                         and path.samefile(source)):
                    raise CliError(f"the output {path} is also an input; choose another output name")
            if path.exists() and not overwrite:
                raise CliError(f"{path} exists; pass --overwrite to replace it")
        return cls(files, inputs, overwrite)

    def write_volume(self, path: Path, volume, voxel_size) -> None:
        """Write a volume atomically (see :func:`napari_invprob.io.write_volume`)."""
        if Path(path) not in self.files:
            raise RuntimeError(f"{path} was not checked before the run")
        write_volume(path, volume, voxel_size, overwrite=self.overwrite)

    def write_text(self, path: Path, text: str) -> None:
        """Write a text file atomically: a temporary file in the same directory, then a rename."""
        if Path(path) not in self.files:
            raise RuntimeError(f"{path} was not checked before the run")
        write_text_atomically(Path(path), text)

    def write_json(self, path: Path, record: dict) -> None:
        """Write a JSON record atomically."""
        self.write_text(path, json.dumps(record, indent=2, default=_jsonable) + "\n")


def write_text_atomically(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` through a temporary file that replaces ``path`` only once complete."""
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".partial")
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as stream:
            stream.write(text)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def check_volume_suffix(path: Path) -> Path:
    """Refuse an output whose suffix is neither MRC nor TIFF, before any work."""
    if Path(path).suffix.lower() not in VOLUME_SUFFIXES:
        raise CliError(f"cannot write {path}: the output must end in one of {', '.join(VOLUME_SUFFIXES)}")
    return Path(path)


def _jsonable(value):
    """JSON for the NumPy scalars and arrays, paths and tuples a record may hold."""
    if hasattr(value, "tolist"):
        return value.tolist()
    if isinstance(value, os.PathLike):
        return os.fspath(value)
    raise TypeError(f"cannot record a {type(value).__name__} in JSON")

"""Tilt angles from the files that travel with a tilt series.

- IMOD ``.tlt`` / ``.rawtlt``: one angle (degrees) per line, in section order;
- SerialEM ``.mdoc``: one ``[ZValue = n]`` section per image, each with a ``TiltAngle = ...`` line
  (and a global ``PixelSpacing = ...`` in ångström); the tilt-axis direction as a ``TiltAxisAngle = ...``
  entry or in a title line ``[T = ... Tilt axis angle = 85.3, binning = ...]``.

Sidecar files sit beside the stack with the same stem (``tomo.st`` → ``tomo.rawtlt``, ``tomo.tlt``)
or, for SerialEM, with ``.mdoc`` appended to the full name (``tomo.st.mdoc``).
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np

_MDOC_SECTION = re.compile(r"^\s*\[\s*ZValue\s*=\s*(-?\d+)\s*\]", re.IGNORECASE)
_MDOC_ENTRY = re.compile(r"^\s*([A-Za-z][\w ]*?)\s*=\s*(.*?)\s*$")
_MDOC_TITLE_AXIS = re.compile(r"^\s*\[\s*T\s*=.*?tilt\s+axis\s+angle\s*=\s*(-?[\d.]+(?:[eE][-+]?\d+)?)", re.IGNORECASE)


@dataclass(frozen=True)
class MdocMetadata:
    """What a SerialEM ``.mdoc`` says about a stack.

    Attributes
    ----------
    angles : numpy.ndarray
        Tilt angle of every section (degrees), ordered by ``ZValue``.
    pixel_size : float or None
        ``PixelSpacing`` in ångström, when given.
    tilt_axis_angle : float or None
        The tilt axis as SerialEM and IMOD give it (degrees from the image's Y axis, counterclockwise
        with Y pointing up), when recorded.
    """

    angles: np.ndarray
    pixel_size: float | None
    tilt_axis_angle: float | None = None


def read_angle_file(path: str | os.PathLike) -> np.ndarray:
    """Read an IMOD ``.tlt`` / ``.rawtlt`` angle file.

    Parameters
    ----------
    path : str or path-like
        A text file with one angle in degrees per line (blank lines and ``#`` comments ignored; a
        line may carry more columns, separated by spaces, tabs or commas, the first is the angle; a
        UTF-8 byte-order mark is skipped).

    Returns
    -------
    numpy.ndarray
        float64 angles in degrees, in file order.

    Raises
    ------
    ValueError
        If the file is not text, a line does not start with a finite number, or the file holds no
        angle.
    """
    path = Path(path)
    raw = path.read_bytes()
    if b"\0" in raw:
        raise ValueError(f"{path.name} is not a text file of angles (it holds binary data)")
    angles = []
    for number, line in enumerate(raw.decode("utf-8-sig", errors="replace").splitlines(), start=1):
        fields = re.split(r"[\s,]+", line.split("#", 1)[0].strip())
        if not fields[0]:
            continue
        try:
            value = float(fields[0])
        except ValueError:
            shown = line.strip() if len(line.strip()) <= 40 else line.strip()[:37] + "..."
            raise ValueError(f"{path.name}, line {number}: {shown!r} is not an angle in degrees") from None
        if not np.isfinite(value):
            raise ValueError(f"{path.name}, line {number}: angle {fields[0]} is not finite")
        angles.append(value)
    if not angles:
        raise ValueError(f"{path.name} contains no angles")
    return np.asarray(angles, dtype=np.float64)


def read_mdoc(path: str | os.PathLike) -> MdocMetadata:
    """Read tilt angles and pixel size from a SerialEM ``.mdoc`` file.

    Parameters
    ----------
    path : str or path-like
        The ``.mdoc`` file.

    Returns
    -------
    MdocMetadata

    Raises
    ------
    ValueError
        If the file has no ``[ZValue = n]`` sections, a section lacks ``TiltAngle``, a value is not a
        number, or a ``ZValue`` repeats.
    """
    path = Path(path)
    sections: dict[int, dict[str, str]] = {}
    current: dict[str, str] | None = None
    pixel_size = axis_angle = None
    for line in path.read_text(encoding="utf-8-sig", errors="replace").splitlines():
        title_axis = _MDOC_TITLE_AXIS.match(line)
        if title_axis and axis_angle is None:
            axis_angle = _mdoc_number(path, "Tilt axis angle", title_axis.group(1))
            continue
        section = _MDOC_SECTION.match(line)
        if section:
            z = int(section.group(1))
            if z in sections:
                raise ValueError(f"{path.name}: ZValue {z} appears twice")
            current = sections[z] = {}
            continue
        entry = _MDOC_ENTRY.match(line)
        if not entry:
            continue
        key, value = entry.group(1), entry.group(2)
        if current is not None:
            current[key] = value
        elif key == "PixelSpacing":
            pixel_size = _mdoc_number(path, key, value)
        elif key == "TiltAxisAngle":
            axis_angle = _mdoc_number(path, key, value)
    if not sections:
        raise ValueError(f"{path.name} has no [ZValue = n] sections; is it a SerialEM .mdoc?")
    angles = []
    for z in sorted(sections):
        if "TiltAngle" not in sections[z]:
            raise ValueError(f"{path.name}: section ZValue = {z} has no TiltAngle")
        angles.append(_mdoc_number(path, "TiltAngle", sections[z]["TiltAngle"]))
        if pixel_size is None and "PixelSpacing" in sections[z]:
            pixel_size = _mdoc_number(path, "PixelSpacing", sections[z]["PixelSpacing"])
        if axis_angle is None and "TiltAxisAngle" in sections[z]:
            axis_angle = _mdoc_number(path, "TiltAxisAngle", sections[z]["TiltAxisAngle"])
    return MdocMetadata(np.asarray(angles, dtype=np.float64), pixel_size if pixel_size and pixel_size > 0 else None,
                        axis_angle)


def _mdoc_number(path: Path, key: str, value: str) -> float:
    try:
        number = float(value.split()[0])
    except (ValueError, IndexError):
        raise ValueError(f"{path.name}: {key} = {value!r} is not a number") from None
    if not np.isfinite(number):
        raise ValueError(f"{path.name}: {key} = {value!r} is not finite")
    return number


def sidecar_angle_files(path: str | os.PathLike) -> list[Path]:
    """The angle files that may accompany ``path``, most specific first, whether or not they exist.

    For an aligned stack or a reconstruction (``.ali``, ``.rec``) the refined ``.tlt`` comes before
    the raw ``.rawtlt``; for a raw stack the ``.rawtlt`` comes first. SerialEM ``.mdoc`` files come
    last (``name.st.mdoc``, then ``name.mdoc``).
    """
    path = Path(path)
    refined_first = path.suffix.lower() in (".ali", ".rec")
    imod = [".tlt", ".rawtlt"] if refined_first else [".rawtlt", ".tlt"]
    candidates = [path.with_suffix(suffix) for suffix in imod]
    candidates += [path.with_name(path.name + ".mdoc"), path.with_suffix(".mdoc")]
    return candidates

"""Hostile input through the napari reader (issue 18 row 15): it never raises, it says which line it could
not read, and it reads the angle files IMOD users write (comments, commas, a byte-order mark).

A sidecar it cannot read opens the stack without angles and a warning naming the file and line, as a
sidecar with the wrong number of angles already did.
"""

from __future__ import annotations

import warnings

import numpy as np
import pytest

from napari_invprob import project
from napari_invprob.io import read_angle_file, write_volume
from napari_invprob.napari.reader import get_reader

ANGLES = np.linspace(-60, 60, 7)


@pytest.fixture
def stack(tmp_path):
    volume = np.zeros((4, 16, 16), np.float32)
    volume[1:3, 5:11, 5:11] = 1.0
    path = tmp_path / "tomo.st"
    write_volume(path, project(volume, ANGLES), 2.0)
    return path


def _open(path):
    """The layers the reader makes, and the warnings it gave (it must not raise)."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        reader = get_reader(str(path))
        assert reader is not None
        layers = reader(str(path))
    return layers, [str(w.message) for w in caught]


#: sidecars a user writes by hand or with other tools: read, with the right angles
READABLE = {
    "comment lines and trailing comments": "# tilt angles\n" + "".join(f"{a:.1f}  # image {i}\n" for i, a in
                                                                        enumerate(ANGLES)),
    "commas": "".join(f"{a:.1f},\n" for a in ANGLES),
    "comma-separated columns": "".join(f"{a:.1f},{i},1.0\n" for i, a in enumerate(ANGLES)),
    "byte-order mark": "\ufeff" + "".join(f"{a:.1f}\n" for a in ANGLES),
    "Windows line ends": "".join(f"{a:.1f}\r\n" for a in ANGLES),
}


@pytest.mark.parametrize("row", list(READABLE))
def test_angle_files_as_users_write_them_are_read(stack, row):
    sidecar = stack.with_suffix(".rawtlt")
    sidecar.write_text(READABLE[row], encoding="utf-8", newline="")
    np.testing.assert_allclose(read_angle_file(sidecar), ANGLES, atol=0.05)
    [(_, kwargs, _)] = _open(stack)[0]
    np.testing.assert_allclose(kwargs["metadata"]["angles"], ANGLES, atol=0.05)


#: sidecars nobody can read: the stack opens without angles, a warning names the line; bytes are not dumped
UNREADABLE = {
    "a word": ("-60\n-40\nminus twenty\n0\n20\n40\n60\n", "line 3"),
    "binary": (bytes(range(256)) * 4, "not a text file"),
    "empty": (b"", "no angles"),
}


@pytest.mark.parametrize("row", list(UNREADABLE))
def test_an_unreadable_sidecar_opens_the_stack_without_angles_and_says_why(stack, row):
    content, words = UNREADABLE[row]
    sidecar = stack.with_suffix(".rawtlt")
    if isinstance(content, bytes):
        sidecar.write_bytes(content)
    else:
        sidecar.write_text(content)
    layers, messages = _open(stack)
    [(data, kwargs, _)] = layers
    assert "angles" not in kwargs["metadata"]
    assert data.shape == (len(ANGLES), 16, 16)
    said = [m for m in messages if sidecar.name in m]
    assert said and words in said[0] and "opened without angles" in said[0]
    assert len(said[0]) < 300  # a binary file's bytes are not dumped into the message

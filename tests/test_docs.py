"""Every Python snippet in the user guide runs as written, so the docs stay true of the code."""

from __future__ import annotations

import re
import textwrap
from pathlib import Path

import pytest

DOCS = Path(__file__).resolve().parent.parent / "docs"
PAGES = sorted(path for path in DOCS.rglob("*.rst") if "_build" not in path.parts and "generated" not in path.parts)
_BLOCK = re.compile(r"^\.\. code-block:: python\n((?:\n|[ ]{3,}.*\n)+)", re.MULTILINE)


def python_blocks(text: str) -> list[str]:
    """The bodies of the ``.. code-block:: python`` directives of a reStructuredText page, dedented."""
    return [textwrap.dedent(body).strip("\n") + "\n" for body in _BLOCK.findall(text)]


def test_snippets_are_found():
    blocks = python_blocks(".. code-block:: python\n\n   x = 1\n   y = x\n\nText.\n")
    assert blocks == ["x = 1\ny = x\n"]


PAGES_WITH_CODE = [page for page in PAGES if python_blocks(page.read_text(encoding="utf-8"))]


def test_the_guide_has_code():
    names = {page.stem for page in PAGES_WITH_CODE}
    assert {"quickstart", "methods", "psf", "tilt_series", "dask"} <= names


@pytest.mark.parametrize("page", PAGES_WITH_CODE, ids=[str(p.relative_to(DOCS)) for p in PAGES_WITH_CODE])
def test_page_snippets_run(page, tmp_path, monkeypatch):
    """A page's snippets run in order in one namespace (later ones use earlier names), in a scratch folder."""
    monkeypatch.chdir(tmp_path)
    namespace: dict = {"__name__": f"docs_{page.stem}"}
    for number, block in enumerate(python_blocks(page.read_text(encoding="utf-8")), start=1):
        code = compile(block, f"{page.relative_to(DOCS)} (snippet {number})", "exec")
        exec(code, namespace)  # noqa: S102 - the docs' own snippets

"""The docs stay true and build clean: every Python snippet of the user guide runs as written, and every
public docstring of the API reference is valid reStructuredText (what ``make docs -W`` would reject)."""

from __future__ import annotations

import importlib
import inspect
import io
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


# -- the API reference's docstrings ----------------------------------------------------------------------

SPHINX_ROLES = ("func", "class", "mod", "data", "meth", "attr", "obj", "exc", "ref", "doc")


def api_modules() -> list[str]:
    """The names the API reference (``docs/api.rst``) lists: modules, and the top-level calls."""
    return re.findall(r"^   (napari_invprob\.[\w.]+)$", (DOCS / "api.rst").read_text(encoding="utf-8"), re.MULTILINE)


def documented_objects(name: str):
    """``(qualified name, object)`` for a listed name: a module with its public functions, classes and
    methods defined there, or a single function."""
    try:
        module = importlib.import_module(name)
    except ModuleNotFoundError:
        parent, attribute = name.rsplit(".", 1)
        yield name, getattr(importlib.import_module(parent), attribute)
        return
    yield name, module
    for attribute, value in vars(module).items():
        if attribute.startswith("_") or getattr(value, "__module__", None) != module.__name__:
            continue
        if inspect.isfunction(value) or inspect.isclass(value):
            yield f"{name}.{attribute}", value
        if inspect.isclass(value):
            for method_name, method in vars(value).items():
                if not method_name.startswith("_") and inspect.isfunction(method):
                    yield f"{name}.{attribute}.{method_name}", method


def test_api_reference_lists_the_top_level_calls():
    import napari_invprob

    listed = set(api_modules())
    assert {f"napari_invprob.{call}" for call in napari_invprob.__all__ if call != "__version__"} <= listed


def test_public_docstrings_are_valid_restructuredtext():
    """numpydoc's rendering of every documented docstring parses without a docutils warning."""
    docutils_core = pytest.importorskip("docutils.core")
    from docutils import nodes
    from docutils.parsers.rst import roles

    docscrape = pytest.importorskip("numpydoc.docscrape_sphinx")
    for role in SPHINX_ROLES:  # Sphinx's cross-reference roles, unknown to plain docutils
        roles.register_generic_role(role, nodes.literal)
    problems = []
    for listed in api_modules():
        for name, obj in documented_objects(listed):
            if not inspect.getdoc(obj):
                continue
            text = inspect.getdoc(obj) if inspect.ismodule(obj) else str(
                docscrape.get_doc_object(obj, config={"show_class_members": False}))
            stream = io.StringIO()
            docutils_core.publish_doctree(text, settings_overrides={
                "report_level": 2, "halt_level": 5, "warning_stream": stream})
            if stream.getvalue().strip():
                problems.append(f"{name}: {stream.getvalue().strip()}")
    assert not problems, "\n".join(problems)

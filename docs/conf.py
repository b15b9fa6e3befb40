"""Sphinx configuration: user guide and API reference, built offline (``make docs``)."""

from __future__ import annotations

import os

os.environ.setdefault("MPLBACKEND", "Agg")

from napari_invprob import __version__  # noqa: E402

project = "napari-invprob"
author = "napari-invprob developers"
copyright = "napari-invprob developers"  # noqa: A001 (Sphinx's name)
version = release = __version__

extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.autosummary",
    "sphinx.ext.mathjax",
    "sphinx.ext.viewcode",
    "numpydoc",
]

templates_path = ["_templates"]
exclude_patterns = ["_build"]
root_doc = "index"

# API reference: one page per module, generated from the numpydoc docstrings.
autosummary_generate = True
autosummary_imported_members = False
autodoc_typehints = "none"  # the numpydoc "Parameters" sections carry the types
autodoc_member_order = "bysource"
numpydoc_show_class_members = False
numpydoc_class_members_toctree = False
numpydoc_xref_param_type = False

# No network: MathJax is only referenced by the HTML, nothing is fetched at build time.
nitpicky = False

html_theme = "furo"
html_title = f"napari-invprob {release}"
html_static_path = ["_static"]


# -- the method tables, written from the same METHODS tables the CLI and the widgets read -------------


def _method_table(methods) -> str:
    rows = [
        ".. list-table::",
        "   :header-rows: 1",
        "   :widths: 14 58 14 14",
        "",
        "   * - ``method=``",
        "     - what it is for",
        "     - default λ",
        "     - default iterations",
    ]
    for spec in methods.values():
        lam = f"{spec.default_lam:g}" if spec.uses_lam and spec.default_lam is not None else "—"
        iterations = str(spec.default_n_iter) if spec.iterative else "direct"
        summary = spec.summary.replace("*", r"\*").replace("|", r"\|")
        rows += [f"   * - ``{spec.name}``", f"     - {summary}", f"     - {lam}", f"     - {iterations}"]
    return "\n".join(rows) + "\n"


def _write_method_tables() -> None:
    from pathlib import Path

    from napari_invprob import deconvolution
    from napari_invprob.tomography import reconstruct as tomography

    folder = Path(__file__).parent / "_methods"
    folder.mkdir(exist_ok=True)
    for name, module in (("deconvolution", deconvolution), ("tomography", tomography)):
        text = _method_table(module.METHODS)
        path = folder / f"{name}.inc"
        if not path.exists() or path.read_text(encoding="utf-8") != text:
            path.write_text(text, encoding="utf-8")


_write_method_tables()

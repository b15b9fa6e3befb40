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
exclude_patterns = ["_build", "_figures/README.md"]
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

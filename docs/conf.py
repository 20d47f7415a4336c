"""Sphinx configuration for the emkit documentation (numpydoc, PyData theme, sphinx-gallery)."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import matplotlib

matplotlib.use("Agg")

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "src"))  # document this checkout, not an installed copy

import emkit  # noqa: E402

project = "emkit"
author = "the emkit developers"
copyright = "the emkit developers"
release = emkit.__version__
version = release

extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.autosummary",
    "sphinx.ext.intersphinx",
    "sphinx.ext.mathjax",
    "numpydoc",
    "sphinx_gallery.gen_gallery",
]

templates_path = ["_templates"]
exclude_patterns = ["_build", "examples", "**.ipynb_checkpoints"]
default_role = "literal"

autosummary_generate = True
autodoc_typehints = "none"
autodoc_default_options = {"members": True, "inherited-members": False}

numpydoc_show_class_members = False
numpydoc_class_members_toctree = False
numpydoc_xref_param_type = False

intersphinx_mapping = {}  # the docs build offline; no inventories are fetched

html_theme = "pydata_sphinx_theme"
html_title = f"emkit {release}"
html_theme_options = {
    "navigation_with_keys": False,
    "show_toc_level": 2,
    "footer_start": ["copyright"],
    "footer_end": ["sphinx-version"],
}
html_static_path: list[str] = []
html_show_sourcelink = False

sphinx_gallery_conf = {
    "examples_dirs": ["examples"],
    "gallery_dirs": ["auto_examples"],  # generated at build time, ignored by git
    "filename_pattern": r"/plot_",
    "download_all_examples": False,
    "remove_config_comments": True,
    "within_subsection_order": "FileNameSortKey",
    "image_scrapers": ("matplotlib",),
    "reset_modules": ("matplotlib",),
    "min_reported_time": 1,
}
# Whether the gallery's scripts run. sphinx-gallery reads Sphinx's own ``plot_gallery`` setting
# (``-D plot_gallery=0``) and overwrites sphinx_gallery_conf["plot_gallery"] with it, so the
# environment variable sets that one.
plot_gallery = os.environ.get("EMKIT_DOCS_PLOT_GALLERY", "True")

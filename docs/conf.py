"""Sphinx configuration of driftlab's documentation (built offline by ``make docs``)."""

from __future__ import annotations

import os
import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("MPLBACKEND", "Agg")

from driftlab import __version__  # noqa: E402

project = "driftlab"
author = "The driftlab developers"
copyright = "2026, The driftlab developers"
version = release = __version__

extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.autosummary",
    "sphinx.ext.mathjax",
    "sphinx.ext.viewcode",
    "numpydoc",
    "myst_parser",
    "sphinx_gallery.gen_gallery",
]

source_suffix = {".rst": "restructuredtext", ".md": "markdown"}
exclude_patterns = ["_build", "auto_examples/*.ipynb", "auto_examples/*.py", "auto_examples/*.zip",
                    "auto_examples/*.md5", "auto_examples/*.json"]
myst_enable_extensions = ["dollarmath", "amsmath"]
myst_heading_anchors = 3

autosummary_generate = True
autodoc_default_options = {"members": True, "inherited-members": False}
autodoc_typehints = "none"
numpydoc_show_class_members = False
numpydoc_class_members_toctree = False
numpydoc_validation_checks: set[str] = set()

sphinx_gallery_conf = {
    "examples_dirs": "examples",
    "gallery_dirs": "auto_examples",
    "filename_pattern": r"/plot_",
    "download_all_examples": False,
    "remove_config_comments": True,
    "within_subsection_order": "FileNameSortKey",
    "image_scrapers": ("matplotlib",),
}

html_theme = "pydata_sphinx_theme"
html_title = f"driftlab {version}"
html_static_path: list[str] = []
html_theme_options = {"navigation_with_keys": False, "show_toc_level": 2}
# offline build: no MathJax from the network is fetched at build time (the pages load it when read)


# Links to the Markdown tables next to the figures (``../figures/*.md``) are files to download,
# not pages of this site: MyST would resolve them as documents outside the source tree. The
# ``path:`` scheme makes them downloads in the built site while the sources stay plain Markdown
# links that also work when read in the repository.
_FIGURE_MD = re.compile(r"\]\((\.\./figures/[\w.-]+\.md)\)")


def _figure_tables_as_downloads(app, docname, source):
    source[0] = _FIGURE_MD.sub(r"](path:\1)", source[0])


def setup(app):
    app.connect("source-read", _figure_tables_as_downloads)
    return {"parallel_read_safe": True}

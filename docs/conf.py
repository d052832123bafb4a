"""Sphinx configuration of the cevns-fit documentation (built with -W: warnings are errors).

    python -m sphinx -W --keep-going -b html docs docs/_build/html

Pages are MyST markdown; the API reference comes from the docstrings (autodoc); the model-file
schema and the command-line reference are generated from the code at build time
(``_ext/generate.py``); the tutorial notebook is executed on every build (myst-nb).
"""

from __future__ import annotations

import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE / "_ext"))

import generate  # noqa: E402

import cevns_fit  # noqa: E402

project = "cevns-fit"
author = "the cevns-fit developers"
release = version = cevns_fit.__version__

extensions = ["myst_nb", "sphinx.ext.autodoc", "sphinx.ext.mathjax", "sphinx.ext.viewcode"]
myst_enable_extensions = ["dollarmath", "colon_fence"]
myst_heading_anchors = 3

exclude_patterns = ["_build", "_generated/*.md", "**.ipynb_checkpoints", "_ext"]
html_theme = "alabaster"
html_theme_options = {"description": "CEvNS detector sensitivity and fitting"}

autodoc_default_options = {"members": True, "member-order": "bysource"}
autodoc_typehints = "none"  # the signatures show them; docstrings name the units
autodoc_mock_imports: list[str] = []
# ARCHITECTURE.md shows signatures with units (cm², E²) in python blocks: highlighting only
suppress_warnings = ["misc.highlighting_failure"]

# The tutorial runs on every build: a notebook that fails breaks the build.
nb_execution_mode = "force"
nb_execution_raise_on_error = True
nb_execution_timeout = 600
nb_merge_streams = True

generate.write_generated(HERE / "_generated")

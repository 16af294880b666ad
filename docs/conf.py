"""Sphinx configuration for sklearn-teracon.

The build needs no network, and neither do the pages it makes: formulas are
typeset by the copy of MathJax 3 that ``sphinx-mathjax-offline`` (in the
``docs`` extra) ships and copies into ``_static/mathjax``, never by one from a
CDN. Intersphinx links to Python, scikit-learn and skorch are made only when
``SKLEARN_TERACON_DOCS_INTERSPHINX=1`` is set (the inventories are downloaded
then). The example gallery runs the ``plot_*.py`` scripts of ``examples/``
(synthetic data, seconds each); the other examples need MovieLens or minutes
and are shown without running.
"""

import os

# The gallery's tiny models gain nothing from intra-op threads, and torch's
# threads slow down sharply when the build shares its cores (set before torch
# is imported).
os.environ.setdefault("OMP_NUM_THREADS", "1")

import sklearn_teracon  # noqa: E402

project = "sklearn-teracon"
author = "sklearn-teracon developers"
copyright = "2026, sklearn-teracon developers"
release = sklearn_teracon.__version__
version = release

extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.autosummary",
    "sphinx.ext.doctest",
    "sphinx.ext.mathjax",
    # Copies its MathJax into _static/mathjax, which mathjax_path names.
    "sphinx-mathjax-offline",
    "numpydoc",
    "sphinx_gallery.gen_gallery",
]
# Relative to _static: the local MathJax (the extension sets the same path).
mathjax_path = "mathjax/tex-chtml.js"
autosummary_generate = True
# The estimator is one class assembled from mixins (training, inference, checks).
templates_path = ["_templates"]
numpydoc_show_class_members = False
autodoc_default_options = {"members": True, "inherited-members": False}

if os.environ.get("SKLEARN_TERACON_DOCS_INTERSPHINX") == "1":
    extensions.append("sphinx.ext.intersphinx")
    intersphinx_mapping = {
        "python": ("https://docs.python.org/3", None),
        "sklearn": ("https://scikit-learn.org/stable", None),
        "skorch": ("https://skorch.readthedocs.io/en/stable", None),
    }

sphinx_gallery_conf = {
    "examples_dirs": "../examples",
    "gallery_dirs": "auto_examples",
    # Executed at build: the fast, offline plot_*.py scripts only.
    "filename_pattern": r"/plot_",
    "within_subsection_order": "FileNameSortKey",
    "download_all_examples": False,
    "remove_config_comments": True,
}

exclude_patterns = ["_build", "auto_examples/*.ipynb", "auto_examples/*.py"]
# scikit-learn's generated set_*_request docstrings point into its own glossary.
suppress_warnings = ["ref.term", "ref.ref"]
html_theme = "alabaster"

"""Sphinx configuration for sklearn-teracon."""

import sklearn_teracon

project = "sklearn-teracon"
author = "sklearn-teracon developers"
copyright = "2026, sklearn-teracon developers"
release = sklearn_teracon.__version__
version = release

extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.autosummary",
    "sphinx.ext.doctest",
    "sphinx.ext.intersphinx",
    "sphinx.ext.mathjax",
    "numpydoc",
]
autosummary_generate = True
numpydoc_show_class_members = False
autodoc_default_options = {"members": True, "inherited-members": False}
intersphinx_mapping = {
    "python": ("https://docs.python.org/3", None),
    "sklearn": ("https://scikit-learn.org/stable", None),
    "skorch": ("https://skorch.readthedocs.io/en/stable", None),
}
exclude_patterns = ["_build"]
# scikit-learn's generated set_*_request docstrings point into its own glossary.
suppress_warnings = ["ref.term", "ref.ref"]
html_theme = "alabaster"

"""The package version, in a module of its own.

``pyproject.toml`` reads it (``[tool.setuptools.dynamic]``), the package
re-exports it, and the modules that record it (model files, the command line)
import it from here rather than from the package, which imports them.
"""

__version__ = "0.1.0.dev0"

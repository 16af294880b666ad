"""matplotlib on demand: the figures of the package import it when they draw.

matplotlib is an optional dependency (``pip install sklearn-teracon[plotting]``).
"""

from __future__ import annotations

__all__ = ["import_pyplot"]


def import_pyplot():
    """``matplotlib.pyplot``, or an ImportError that says how to install it."""
    try:
        import matplotlib.pyplot as plt
    except ImportError as exc:
        raise ImportError(
            "sklearn_teracon.plotting requires matplotlib, which is not installed. "
            "Install it with `pip install sklearn-teracon[plotting]` "
            "(or `pip install matplotlib`)."
        ) from exc
    return plt

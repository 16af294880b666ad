"""What the reports over replicates share.

:class:`~sklearn_teracon.evaluation.ReplicatedReport` and
:class:`~sklearn_teracon.transfer.LabelScarceReport` both hold one score per
replicate (a seed, or a user fold): their cells read ``mean ± std``, their
JSON opens with the same header, and their ``to_frame`` needs pandas.
"""

from __future__ import annotations

import numpy as np

from ._report_format import _fmt

__all__ = ["import_pandas", "json_header", "mean_std"]


def mean_std(value: float, std: float, signed: bool = False) -> str:
    """``0.1234 ± 0.0050``; the mean alone when the std is NaN (one replicate)."""
    text = _fmt(value, signed)
    return text + (f" ± {std:.4f}" if np.isfinite(std) and text != "n/a" else "")


def json_header(format_name: str, version: int, report) -> dict:
    """The first keys of a report's JSON: its format, version, stream, tasks
    and metrics."""
    return {
        "format": format_name,
        "version": version,
        "stream": report.stream,
        "tasks": report.task_names,
        "metrics": report.metrics,
    }


def import_pandas(owner: str):
    """pandas, or an ImportError that says ``owner`` (``"X.to_frame"``) needs
    it and what works without it."""
    try:
        import pandas as pd
    except ImportError as exc:
        raise ImportError(
            f"{owner} requires pandas, which is not installed (pip install "
            "pandas); to_text(), to_markdown() and to_json() work without it."
        ) from exc
    return pd

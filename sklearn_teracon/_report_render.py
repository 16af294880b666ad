"""A :class:`~sklearn_teracon.evaluation.ContinualReport` as text, Markdown or a
pandas DataFrame.

Each function takes the report and reads its fields and derived quantities
only; the report's ``to_text``, ``to_markdown`` and ``to_frame`` call them.
"""

from __future__ import annotations

import numpy as np

from ._report_format import (
    _fmt,
    _fmt_gap,
    _markdown_table,
    _summary_text,
    _text_table,
    _verdict_parts,
)
from ._report_json import GAP_KEYS, _jsonable

__all__ = ["report_frame", "report_markdown", "report_text"]

_GAP_HEADER = "final - best baseline [95% CI]"


def _rows(report) -> list[list[str]]:
    return [
        [
            name,
            metric,
            _fmt(report.R[j, j]),
            _fmt(report.R[-1, j]),
            _fmt(report.single_task_scores[j]),
            *(_fmt(scores[j]) for scores in report.baseline_scores.values()),
            *([_fmt_gap(report.vs_best_baseline[j])] if report._has_gaps else []),
        ]
        for j, (name, metric) in enumerate(zip(report.task_names, report.metrics))
    ]


def _header(report) -> tuple[str, ...]:
    return (
        "task",
        "metric",
        "after own",
        "final",
        "single",
        *report.baseline_scores,
        *([_GAP_HEADER] if report._has_gaps else []),
    )


def _verdict_sentence(report) -> str | None:
    """The report's ``baseline_verdict`` in words; None without baselines."""
    if not report._has_gaps:
        return None
    parts = _verdict_parts(report.baseline_verdict())
    return (
        "Against the best baseline (95 % interval over the test users): "
        + "; ".join(parts)
        + "."
    )


def _summary_lines(report) -> list[tuple[str, str, str]]:
    fwt_note = "after own training - single task, mean over tasks 2..T"
    if not np.all(np.isfinite(report.single_task_scores[1:])):
        fwt_note = "needs single-task scores"
    return [
        (
            "BWT",
            _fmt(report.bwt, signed=True),
            "final - after own training, mean over tasks 1..T-1",
        ),
        ("FWT", _fmt(report.fwt, signed=True), fwt_note),
        (
            "forgetting",
            _fmt(report.forgetting, signed=True),
            "best earlier score - final, mean over tasks 1..T-1",
        ),
    ]


def report_text(report) -> str:
    """The paper-shaped table of ``report`` as plain text; see its ``to_text``."""
    header_cells = _header(report)
    # Names left, numbers right; the comparison cell ends in a name.
    left = {0, 1, len(header_cells) - 1} if report._has_gaps else {0, 1}
    header, *rows = _text_table([list(header_cells), *_rows(report)], left)
    rule = "-" * len(header)
    plural = "" if report.n_tasks == 1 else "s"
    title = f"Continual evaluation: {report.n_tasks} task{plural}"
    if report.stream:
        title += f" of {report.stream!r}"
    lines = [title, header, rule, *rows, rule]
    lines += _summary_text(_summary_lines(report))
    verdict = _verdict_sentence(report)
    if verdict:
        lines.append(verdict)
    return "\n".join(lines)


def report_markdown(report) -> str:
    """``report`` in Markdown; see its ``to_markdown``."""
    out = []
    title = "Continual evaluation"
    if report.stream:
        title += f" of `{report.stream}`"
    out += [f"## {title}", ""]
    header = [
        "task",
        "metric",
        "after own training",
        "final",
        "single task",
        *_header(report)[5:],
    ]
    out += _markdown_table(header, _rows(report), 2)
    out.append("")
    for label, value, note in _summary_lines(report):
        out.append(f"- **{label}**: {value} ({note})")
    verdict = _verdict_sentence(report)
    if verdict:
        out.append(f"- {verdict}")
    out.append("")

    names = report.task_names
    out += ["### Transfer matrix R", ""]
    out.append(
        "Row: after training through the task; column: score on the task; "
        "`-`: not learned yet."
    )
    out.append("")
    out.append("| after \\ on | " + " | ".join(names) + " |")
    out.append("|---|" + "---:|" * len(names))
    for i, name in enumerate(names):
        cells = [_fmt(v) if np.isfinite(v) else "-" for v in report.R[i].tolist()]
        out.append(f"| {name} | " + " | ".join(cells) + " |")
    out.append("")

    out += ["### Training time (s)", ""]
    out.append("| task | continual | single task |")
    out.append("|---|---:|---:|")
    for j, name in enumerate(names):
        single = report.single_task_fit_times[j]
        out.append(
            f"| {name} | {report.fit_times[j]:.1f} | "
            f"{f'{single:.1f}' if np.isfinite(single) else '-'} |"
        )
    out.append("")
    if np.isfinite(report.total_time):
        out += [f"Total wall time: {report.total_time:.1f} s.", ""]

    if report.params:
        out += ["### Encoder parameters", ""]
        out.append(
            ", ".join(
                f"`{k}={v!r}`" for k, v in sorted(_jsonable(report.params).items())
            )
        )
        out.append("")
    return "\n".join(out)


def report_frame(report):
    """One row per task of ``report`` as a DataFrame; see its ``to_frame``."""
    try:
        import pandas as pd
    except ImportError as exc:
        raise ImportError(
            "ContinualReport.to_frame requires pandas, which is not installed. "
            "Install it with `pip install pandas`, or use to_text(), "
            "to_markdown() or to_json()."
        ) from exc
    frame = pd.DataFrame(
        {
            "metric": report.metrics,
            "after_own_training": report.diagonal,
            "final": report.final,
            "single_task": report.single_task_scores,
            "fit_time": report.fit_times,
            "single_task_fit_time": report.single_task_fit_times,
            **report.baseline_scores,
        },
        index=pd.Index(report.task_names, name="task"),
    )
    if report._has_gaps:
        gaps = [entry or {} for entry in report.vs_best_baseline]
        frame["best_baseline"] = [entry.get("baseline") for entry in gaps]
        for key in GAP_KEYS:
            column = "vs_best_baseline" + ("" if key == "difference" else f"_{key}")
            frame[column] = [entry.get(key, np.nan) for entry in gaps]
    frame.attrs.update(bwt=report.bwt, fwt=report.fwt, forgetting=report.forgetting)
    return frame

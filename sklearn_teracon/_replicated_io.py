"""A replicated report's Markdown, DataFrame and JSON.

The renderings of :class:`~sklearn_teracon.evaluation.ReplicatedReport` that
its text table does not need; its methods of the same names call them.
"""

from __future__ import annotations

import json

import numpy as np

from ._replicated_common import import_pandas, json_header
from ._report import ContinualReport
from ._report_format import _fmt, _markdown_table
from ._report_json import GAP_KEYS, _jsonable, _nan_if_none, json_object

__all__ = ["as_dict", "frame", "from_json", "markdown", "replicates_text"]

FORMAT = "sklearn-teracon/replicated-report"
FORMAT_VERSION = 1
PER_TASK = ("after_own_training", "final", "single_task", "fit_time")
SCALARS = ("bwt", "fwt", "forgetting")


def replicates_text(replicates: list[dict]) -> str:
    """``"3 seeds (0, 1, 2)"`` or ``"5 user folds (seed 0)"``."""
    n = len(replicates)
    seeds = list(dict.fromkeys(r["seed"] for r in replicates if r["seed"] is not None))
    listed = ", ".join(map(str, seeds))
    if any(r.get("fold") is not None for r in replicates):
        return f"{n} user folds" + (f" (seed {listed})" if seeds else "")
    return f"{n} seed{'' if n == 1 else 's'}" + (f" ({listed})" if seeds else "")


def markdown(report) -> str:
    """:meth:`ReplicatedReport.to_markdown`."""
    header, rows = report._table()
    title = "Continual evaluation" + (f" of `{report.stream}`" if report.stream else "")
    out = [
        f"## {title}",
        "",
        f"{replicates_text(report.replicates)}; scores: "
        "mean ± std over the replicates.",
        "",
    ]
    out += _markdown_table(header, rows, 2)
    out.append("")
    out += [
        f"- **{label}**: {value} ({note})" for label, value, note in report._summary()
    ]
    sentence = report.verdict_sentence()
    out += [f"- {sentence}"] if sentence else []
    out += [f"- note: {note}" for note in report.notes]
    out += ["", "### Replicates", ""]
    out.append(
        "| replicate | seed | fold | "
        + " | ".join(report.task_names)
        + " | BWT | FWT |"
    )
    out.append("|---:|---:|---:|" + "---:|" * (report.n_tasks + 2))
    for r, (info, one) in enumerate(zip(report.replicates, report.reports)):
        cells = [
            str(r),
            *("-" if info[k] is None else str(info[k]) for k in ("seed", "fold")),
        ]
        cells += [_fmt(v) for v in one.final]
        cells += [_fmt(one.bwt, True), _fmt(one.fwt, True)]
        out.append("| " + " | ".join(cells) + " |")
    out += ["", "### Transfer matrix R (mean over the replicates)", ""]
    out.append("| after \\ on | " + " | ".join(report.task_names) + " |")
    out.append("|---|" + "---:|" * report.n_tasks)
    for name, row in zip(report.task_names, report.R):
        cells = [_fmt(v) if np.isfinite(v) else "-" for v in row.tolist()]
        out.append(f"| {name} | " + " | ".join(cells) + " |")
    out.append("")
    if np.isfinite(report.total_time):
        out += [f"Total wall time: {report.total_time:.1f} s.", ""]
    if report.params:
        params = ", ".join(f"`{k}={v!r}`" for k, v in sorted(report.params.items()))
        out += ["### Encoder parameters", "", params, ""]
    return "\n".join(out)


def frame(report, per_replicate: bool = False):
    """:meth:`ReplicatedReport.to_frame`."""
    pd = import_pandas("ReplicatedReport.to_frame")
    if per_replicate:
        frames = [
            one.to_frame().reset_index().assign(replicate=r, **info)
            for r, (info, one) in enumerate(zip(report.replicates, report.reports))
        ]
        return pd.concat(frames, ignore_index=True)
    columns: dict = {"metric": report.metrics}
    for q in (*PER_TASK, *report.baselines):
        columns[q] = report.mean(q)
        columns[f"{q}_std"] = report.std(q)
    out = pd.DataFrame(columns, index=pd.Index(report.task_names, name="task"))
    if any(gap is not None for gap in report.vs_best_baseline):
        gaps = [gap or {} for gap in report.vs_best_baseline]
        out["best_baseline"] = [gap.get("baseline") for gap in gaps]
        for key in GAP_KEYS:
            column = "vs_best_baseline" + ("" if key == "difference" else f"_{key}")
            out[column] = [gap.get(key, np.nan) for gap in gaps]
    for q in SCALARS:
        out.attrs.update({q: float(report.mean(q)), f"{q}_std": float(report.std(q))})
    out.attrs["n_replicates"] = report.n_replicates
    return out


def as_dict(report) -> dict:
    """:meth:`ReplicatedReport.to_dict`."""
    return _jsonable(
        {
            **json_header(FORMAT, FORMAT_VERSION, report),
            "replicates": report.replicates,
            "mean": {q: report.mean(q) for q in (*PER_TASK, *SCALARS)},
            "std": {q: report.std(q) for q in (*PER_TASK, *SCALARS)},
            "vs_best_baseline": report.vs_best_baseline,
            "notes": report.notes,
            "params": report.params,
            "total_time": report.total_time,
            "reports": [one.to_dict() for one in report.reports],
        }
    )


def from_json(cls, text: str):
    """:meth:`ReplicatedReport.from_json`: a ``cls`` from ``text``."""
    data = json_object(text, FORMAT, "replicated report")
    try:
        gaps = [
            None
            if gap is None
            else {
                "baseline": gap["baseline"],
                **{k: _nan_if_none(gap[k]) for k in GAP_KEYS},
                "n_replicates": gap.get("n_replicates"),
            }
            for gap in data["vs_best_baseline"]
        ]
        return cls(
            reports=[ContinualReport.from_json(json.dumps(r)) for r in data["reports"]],
            replicates=data["replicates"],
            vs_best_baseline=gaps,
            params=dict(data.get("params") or {}),
            total_time=_nan_if_none(data.get("total_time")),
            notes=list(data.get("notes") or []),
        )
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        raise ValueError(f"not a valid replicated report: {exc!r}") from exc

"""A label-scarce report's text, Markdown, DataFrame and JSON.

The renderings of :class:`~sklearn_teracon.transfer.LabelScarceReport`; its
methods of the same names call them.
"""

from __future__ import annotations

import numpy as np

from ._replicated_common import import_pandas, json_header, mean_std
from ._report_format import _fmt_gap, _markdown_table, _text_table
from ._report_json import GAP_KEYS, _jsonable, _nan_if_none, json_object

__all__ = ["as_dict", "frame", "from_json", "markdown", "summary_text", "table"]

FORMAT = "sklearn-teracon/label-scarce-report"
FORMAT_VERSION = 1


def _label(n: int | None) -> str:
    """How a number of labelled users reads: ``"all"`` for None."""
    return "all" if n is None else str(n)


def _n_key(n) -> int | None:
    return None if n is None else int(n)


def _replicates_text(report) -> str:
    """``"3 seeds (0, 1, 2)"`` or ``"5 user folds (seed 0)"``."""
    seeds = sorted({r["seed"] for r in report.replicates if r["seed"] is not None})
    if any(r["fold"] is not None for r in report.replicates):
        return f"{report.n_replicates} user folds (seed {', '.join(map(str, seeds))})"
    plural = "" if report.n_replicates == 1 else "s"
    return f"{report.n_replicates} seed{plural} ({', '.join(map(str, seeds))})"


def table(report) -> tuple[list[str], list[list[str]]]:
    """The header and the rows of the table: one row per (task, N)."""
    agg = report.aggregate()
    header = ["task", "metric", "N", *report.methods]
    gaps = bool(report.vs_best_baseline)
    if gaps:
        header.append(f"{report.encoder_method} - best baseline [95% CI]")
    rows = []
    for task, metric in zip(report.task_names, report.metrics):
        for n in report.n_labelled:
            cells = [task, metric, _label(n)]
            for method in report.methods:
                mean, std, _ = agg.get((task, n, method), (np.nan, np.nan, 0))
                cells.append(mean_std(mean, std))
            if gaps:
                cells.append(_fmt_gap(report.vs_best_baseline.get((task, n))))
            rows.append(cells)
    return header, rows


def summary_text(report) -> str:
    """:meth:`LabelScarceReport.summary`."""
    header, rows = table(report)
    left = {0, 1, len(header) - 1} if report.vs_best_baseline else {0, 1}
    header, *rows = _text_table([header, *rows], left)
    rule = "-" * len(header)
    title = f"Label-scarce evaluation: {len(report.task_names)} task"
    title += "" if len(report.task_names) == 1 else "s"
    if report.stream:
        title += f" of {report.stream!r}"
    lines = [
        f"{title}, {_replicates_text(report)}",
        "Test score after training the task on N labelled users (earlier tasks "
        "on all of theirs); mean ± std over replicates.",
        header,
        rule,
        *rows,
        rule,
    ]
    verdict = report._verdict_sentence()
    lines += [verdict] if verdict else []
    lines += [f"note: {note}" for note in report.notes]
    return "\n".join(lines)


def markdown(report) -> str:
    """:meth:`LabelScarceReport.to_markdown`."""
    header, rows = table(report)
    title = "Label-scarce evaluation" + (
        f" of `{report.stream}`" if report.stream else ""
    )
    out = [
        f"## {title}",
        "",
        f"{_replicates_text(report)}. "
        + (
            "Test score after training each task on N labelled users (earlier "
            "tasks on all of theirs), mean ± std over replicates."
        ),
        "",
    ]
    out += _markdown_table(header, rows, 3)
    out.append("")
    verdict = report._verdict_sentence()
    out += [verdict, ""] if verdict else []
    if report.labelled_users:
        out += [
            "Labelled users per replicate (every method saw the same ids): "
            + "; ".join(
                f"{t}@{_label(n)}: "
                + ", ".join(
                    str(len(report.labelled_users[(r, t, n)]))
                    for r in range(report.n_replicates)
                    if (r, t, n) in report.labelled_users
                )
                for t in report.task_names
                for n in report.n_labelled
            )
            + ".",
            "",
        ]
    out += [f"- note: {note}" for note in report.notes]
    if np.isfinite(report.total_time):
        out += ["", f"Total wall time: {report.total_time:.1f} s."]
    if report.params:
        params = ", ".join(f"`{k}={v!r}`" for k, v in sorted(report.params.items()))
        out += ["", "Encoder parameters: " + params]
    return "\n".join(out) + "\n"


def frame(report):
    """:meth:`LabelScarceReport.to_frame`."""
    pd = import_pandas("LabelScarceReport.to_frame")
    metric = dict(zip(report.task_names, report.metrics))
    records = []
    for (task, n, method, r), score in report.scores.items():
        users = report.labelled_users.get((r, task, n))
        records.append(
            {
                "task": task,
                "metric": metric.get(task),
                "n_labelled": n,
                "labels": _label(n),
                "n_users": None if users is None else len(users),
                "method": method,
                "replicate": r,
                "seed": report.replicates[r]["seed"],
                "fold": report.replicates[r]["fold"],
                "score": score,
                "fit_time": report.fit_times.get((task, n, method, r), np.nan),
            }
        )
    frame = pd.DataFrame.from_records(records)
    if len(frame):
        frame["n_labelled"] = pd.array(frame["n_labelled"], dtype="Int64")
        frame["n_users"] = pd.array(frame["n_users"], dtype="Int64")
    return frame


def as_dict(report) -> dict:
    """:meth:`LabelScarceReport.to_dict`."""
    return _jsonable(
        {
            **json_header(FORMAT, FORMAT_VERSION, report),
            "n_labelled": report.n_labelled,
            "methods": report.methods,
            "encoder_method": report.encoder_method,
            "baselines": report.baselines,
            "replicates": report.replicates,
            "scores": [
                {
                    "task": t,
                    "n_labelled": n,
                    "method": m,
                    "replicate": r,
                    "score": v,
                    "fit_time": report.fit_times.get((t, n, m, r)),
                }
                for (t, n, m, r), v in report.scores.items()
            ],
            "labelled_users": [
                {"replicate": r, "task": t, "n_labelled": n, "users": users}
                for (r, t, n), users in report.labelled_users.items()
            ],
            "vs_best_baseline": [
                {"task": t, "n_labelled": n, **gap}
                for (t, n), gap in report.vs_best_baseline.items()
            ],
            "notes": report.notes,
            "params": report.params,
            "total_time": report.total_time,
        }
    )


def from_json(cls, text: str):
    """:meth:`LabelScarceReport.from_json`: a ``cls`` from ``text``."""
    data = json_object(text, FORMAT, "label-scarce report")
    try:
        keys = [
            (s["task"], s["n_labelled"], s["method"], s["replicate"])
            for s in data["scores"]
        ]
        return cls(
            task_names=data["tasks"],
            metrics=data["metrics"],
            n_labelled=data["n_labelled"],
            methods=data["methods"],
            encoder_method=data["encoder_method"],
            baselines=data["baselines"],
            replicates=data["replicates"],
            scores={k: _nan_if_none(s["score"]) for k, s in zip(keys, data["scores"])},
            fit_times={
                k: _nan_if_none(s.get("fit_time")) for k, s in zip(keys, data["scores"])
            },
            labelled_users={
                (u["replicate"], u["task"], u["n_labelled"]): u["users"]
                for u in data["labelled_users"]
            },
            vs_best_baseline={
                (g["task"], g["n_labelled"]): {
                    "baseline": g["baseline"],
                    **{k: _nan_if_none(g[k]) for k in GAP_KEYS},
                    "n_replicates": g.get("n_replicates"),
                }
                for g in data["vs_best_baseline"]
            },
            notes=list(data.get("notes", [])),
            stream=str(data.get("stream", "")),
            params=dict(data.get("params") or {}),
            total_time=_nan_if_none(data.get("total_time")),
        )
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        raise ValueError(f"not a valid label-scarce report: {exc!r}") from exc

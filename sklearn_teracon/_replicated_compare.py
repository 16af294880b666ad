"""The cells of a strategy comparison repeated over several seeds or user folds.

:func:`~sklearn_teracon.compare.compare_strategies` with several ``seeds`` or
with ``n_folds`` gathers per strategy a
:class:`~sklearn_teracon.evaluation.ReplicatedReport`. The helpers here render
the :class:`~sklearn_teracon.compare.StrategyComparison` of such reports:
``mean ± std`` cells and the table of each strategy against the best baseline.
"""

from __future__ import annotations

from ._replicated_common import mean_std
from ._replicated_report import ReplicatedReport, replicates_text
from ._report_format import _fmt, _fmt_gap, _markdown_table, _text_table
from ._report_json import _jsonable

__all__ = ["cell", "gap_lines", "replicated_dict", "title_suffix"]


def cell(report, quantity: str, j: int | None = None, signed: bool = False) -> str:
    """A table cell: the value of a report, ``mean ± std`` over replicates."""
    if isinstance(report, ReplicatedReport):
        mean, std = report.mean(quantity), report.std(quantity)
        return mean_std(*((mean, std) if j is None else (mean[j], std[j])), signed)
    value = getattr(report, quantity)
    return _fmt(value if j is None else value[j], signed)


def title_suffix(comparison) -> str:
    if not comparison.replicated:
        return ""
    return f", mean ± std over {replicates_text(comparison.replicates)}"


def gap_lines(comparison, markdown: bool = False) -> list[str]:
    """Each strategy's final score minus the best baseline's, with the pooled
    paired interval, and one verdict sentence per strategy; [] for a single
    run or without baselines."""
    reports = comparison.reports
    if not comparison.replicated or all(
        gap is None for r in reports.values() for gap in r.vs_best_baseline
    ):
        return []
    header = ["strategy", *comparison.task_names]
    rows = [
        [name, *(_fmt_gap(gap) for gap in report.vs_best_baseline)]
        for name, report in reports.items()
    ]
    intro = (
        "Final score - best baseline (highest mean) [95% interval over the test "
        "users, pooled over the replicates]:"
    )
    verdicts = [report.verdict_sentence(who=name) for name, report in reports.items()]
    if markdown:
        table = _markdown_table(header, rows, 1)
        return ["", intro, "", *table, "", *(f"- {v}" for v in verdicts)]
    table = _text_table([header, *rows], left=range(len(header)))
    return ["", intro, *table, *verdicts]


def replicated_dict(comparison) -> dict:
    """:meth:`StrategyComparison.to_dict` over replicates (NaN as None)."""
    first = next(iter(comparison.reports.values()))
    return _jsonable(
        {
            "stream": comparison.stream,
            "task_names": comparison.task_names,
            "metrics": comparison.metrics,
            "replicates": comparison.replicates,
            "single_task_scores": comparison.single_task_scores,
            "total_time": comparison.total_time,
            "params": comparison.params,
            "baselines": {
                b: {"mean": first.mean(b), "std": first.std(b)} for b in first.baselines
            },
            "strategies": {
                name: {
                    **{q: report.mean(q) for q in ("final", "bwt", "fwt")},
                    **{f"{q}_std": report.std(q) for q in ("final", "bwt", "fwt")},
                    "R": report.R,
                    "fit_times": report.fit_times,
                    "n_parameters": int(comparison.n_parameters[name]),
                    "vs_best_baseline": report.vs_best_baseline,
                    "per_replicate": [
                        {"final": r.final, "R": r.R, "bwt": r.bwt, "fwt": r.fwt}
                        for r in report.reports
                    ],
                }
                for name, report in comparison.reports.items()
            },
        }
    )

"""A strategy comparison repeated over several seeds or user folds.

:func:`~sklearn_teracon.compare.compare_strategies` with several ``seeds`` or
with ``n_folds`` runs :func:`compare_replicates`: the comparison once per
replicate, the baselines on each replicate's split, and per strategy a
:class:`~sklearn_teracon.evaluation.ReplicatedReport`. The helpers here render
the :class:`~sklearn_teracon.compare.StrategyComparison` of such reports:
``mean ± std`` cells and the table of each strategy against the best baseline.
"""

from __future__ import annotations

import dataclasses
import time

import numpy as np

from ._replicated_report import FINAL, ReplicatedReport, mean_std, replicates_text
from ._replicates import Replicate, replicate_rows
from ._report import _fmt, _fmt_gap, _markdown_table, _text_table
from ._report_json import _jsonable
from ._vs_baseline import _against_best_baseline, score_baselines

__all__ = ["cell", "compare_replicates", "gap_lines", "replicated_dict"]


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


def compare_replicates(
    encoder, plan: list[Replicate], strategies, n_jobs, on_progress, verbose: int
):
    """The comparison once per replicate of ``plan``, then the baselines on
    the replicate's split; returns the :class:`StrategyComparison` of one
    :class:`ReplicatedReport` per strategy (``on_progress`` gets it after
    each replicate)."""
    from .compare import StrategyComparison, _compare_once

    start = time.perf_counter()
    done: list[tuple] = []  # (comparison, per-row scores, baselines, rows, replicate)
    simple = (int, float, str, bool, type(None))
    params = {
        k: v for k, v in encoder.get_params(deep=False).items() if isinstance(v, simple)
    }

    def say(message: str) -> None:
        if verbose:
            print(message, flush=True)

    def combined() -> StrategyComparison:
        infos = [rep.info for *_, rep in done]
        reports = {}
        for name in done[0][0].strategies:
            per, rows, users = [], {}, {}
            for r, (comp, test_rows, scores, b_rows, rep) in enumerate(done):
                by_task = {
                    t.name: {
                        FINAL: test_rows[name][t.name][FINAL],
                        **{b: by[j] for b, by in b_rows.items() if j in by},
                    }
                    for j, t in enumerate(rep.tasks)
                }
                gaps = [
                    _against_best_baseline(by_task[t.name][FINAL], scores, b_rows, j, t)
                    for j, t in enumerate(rep.tasks)
                ]
                per.append(
                    dataclasses.replace(
                        comp.reports[name],
                        baseline_scores=scores,
                        vs_best_baseline=gaps,
                    )
                )
                replicate_rows(r, rep.tasks, by_task, rows, users)
            reports[name] = ReplicatedReport(
                per, infos, rows=rows, test_users=users, params=_jsonable(params)
            )
        return StrategyComparison(
            reports=reports,
            n_parameters={
                name: int(round(np.mean([d[0].n_parameters[name] for d in done])))
                for name in reports
            },
            single_task_scores=np.mean([d[0].single_task_scores for d in done], axis=0),
            stream=done[0][0].stream,
            total_time=time.perf_counter() - start,
            params=params,
            replicates=infos,
        )

    for r, rep in enumerate(plan):
        say(f"[replicate {r + 1}/{len(plan)}: {rep.describe()}]")
        comp, test_rows = _compare_once(
            rep.encoder, rep.stream, strategies, n_jobs, None, verbose
        )
        scores, b_rows = score_baselines(rep.tasks, comp.metrics, say)
        done.append((comp, test_rows, scores, b_rows, rep))
        if on_progress is not None:
            on_progress(combined())
    return combined()

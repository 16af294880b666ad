"""Replicates of the continual protocol: several seeds, or user-disjoint folds.

:class:`~sklearn_teracon.evaluation.ContinualEvaluator` and
:func:`~sklearn_teracon.compare.compare_strategies` take ``seeds`` and
``n_folds``; :func:`plan_replicates` turns them into the list of runs to make,
each with its encoder (``random_state=seed``) and its stream (the whole stream,
or one fold of :meth:`TaskStream.user_folds
<sklearn_teracon.datasets.TaskStream.user_folds>`), and
:func:`evaluate_replicates` runs the protocol once per replicate and gathers
the reports into a :class:`~sklearn_teracon.evaluation.ReplicatedReport`.
The choices follow :class:`~sklearn_teracon.transfer.LabelScarceEvaluator`: with
folds, every fold uses the first seed.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from sklearn.base import clone

from ._protocol import EvaluationInterrupted, int_like, sequence, unique
from ._replicated_report import ReplicatedReport, replicates_text
from ._report_json import _jsonable
from .datasets import TaskStream

__all__ = [
    "Replicate",
    "check_replicates",
    "evaluate_replicates",
    "is_replicated",
    "plan_replicates",
    "replicate_rows",
]


@dataclass(frozen=True)
class Replicate:
    """One run of the protocol: who it is, its encoder and its tasks."""

    info: dict  # {"seed": int or None, "fold": int or None}
    encoder: Any
    tasks: list
    stream: Any  # names the stream in the report

    def describe(self) -> str:
        return ", ".join(f"{k} {v}" for k, v in self.info.items() if v is not None)


def check_replicates(
    seeds: Sequence[int] | None, n_folds: int | None
) -> tuple[list[int] | None, int | None]:
    """``seeds`` (None, or distinct ints >= 0) and ``n_folds`` (None or >= 2)."""
    if seeds is not None:
        seeds = sequence("seeds", seeds)
        if any(not (int_like(s) and s >= 0) for s in seeds):
            raise ValueError(f"seeds must be None or ints >= 0, got {seeds!r}")
        unique("seeds", seeds)
        seeds = [int(s) for s in seeds]
    if n_folds is not None and not (int_like(n_folds) and n_folds >= 2):
        raise ValueError(f"n_folds must be None or an int >= 2, got {n_folds!r}")
    return seeds, None if n_folds is None else int(n_folds)


def is_replicated(seeds: list[int] | None, n_folds: int | None) -> bool:
    """Whether the arguments ask for more than the single run of old."""
    return n_folds is not None or (seeds is not None and len(seeds) > 1)


def plan_replicates(
    encoder, stream, tasks: list, seeds: list[int] | None, n_folds: int | None
) -> list[Replicate]:
    """The replicates to run, every fold drawn (and checked) before any training.

    Seeds: one replicate per seed on the whole stream, the encoder cloned
    with ``random_state=seed``. Folds: one replicate per fold of
    ``user_folds(n_folds, seed)``, every fold with the first seed (without
    seeds: the encoder's own ``random_state``, and folds drawn with it when
    it is an int, else with 0).
    """
    if n_folds is None:
        return [
            Replicate(
                {"seed": seed, "fold": None},
                clone(encoder).set_params(random_state=seed),
                tasks,
                stream,
            )
            for seed in seeds
        ]
    if seeds:
        seed, enc = seeds[0], clone(encoder).set_params(random_state=seeds[0])
    else:
        own = encoder.get_params(deep=False).get("random_state")
        seed = int(own) if isinstance(own, int | np.integer) else None
        enc = encoder
    source = stream if isinstance(stream, TaskStream) else TaskStream(tasks)
    folds = list(source.user_folds(n_folds, 0 if seed is None else seed))
    return [
        Replicate({"seed": seed, "fold": f}, enc, list(fold), fold)
        for f, fold in enumerate(folds)
    ]


def replicate_rows(
    r: int, tasks: list, test_rows: dict, rows: dict, users: dict
) -> None:
    """Add replicate ``r``'s per-row test scores (``evaluator.test_rows_``) to
    ``rows[(task, method, r)]`` and its test users to ``users[(task, r)]``."""
    for task in tasks:
        for method, scores in test_rows.get(task.name, {}).items():
            rows[(task.name, method, r)] = scores
        task_users = getattr(task, "users", None)
        if isinstance(task_users, dict) and "test" in task_users:
            users[(task.name, r)] = np.asarray(task_users["test"])


def evaluate_replicates(evaluator, plan: list[Replicate], single) -> ReplicatedReport:
    """Run ``evaluator``'s protocol once per replicate of ``plan``.

    Ctrl-C raises :class:`~sklearn_teracon.evaluation.EvaluationInterrupted`
    with the report of the finished replicates, or, while the first runs,
    with that replicate's partial report (as a single run would).
    """
    start = time.perf_counter()
    reports, rows, users = [], {}, {}

    def report() -> ReplicatedReport:
        return ReplicatedReport(
            reports=list(reports),
            replicates=[rep.info for rep in plan[: len(reports)]],
            rows=rows,
            test_users=users,
            params=_jsonable(evaluator.encoder.get_params(deep=False)),
            total_time=time.perf_counter() - start,
        )

    for r, rep in enumerate(plan):
        evaluator._say(f"[replicate {r + 1}/{len(plan)}: {rep.describe()}]")
        try:
            reports.append(
                evaluator._evaluate_once(rep.encoder, rep.tasks, single, rep.stream)
            )
        except EvaluationInterrupted as exc:
            if not reports:
                raise
            evaluator.report_ = report()
            raise EvaluationInterrupted(evaluator.report_) from exc
        replicate_rows(r, rep.tasks, evaluator.test_rows_, rows, users)
        if len(plan) > 1:
            evaluator._say(
                f"    replicate {r + 1}: BWT {reports[-1].bwt:+.4f}, FWT "
                f"{reports[-1].fwt:+.4f}"
            )
    evaluator.report_ = report()
    evaluator._say(f"[{replicates_text(evaluator.report_.replicates)} done]")
    return evaluator.report_

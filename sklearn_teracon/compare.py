"""Every strategy over the same task stream: the paper's table of systems.

:func:`compare_strategies` runs the continual protocol
(:class:`~sklearn_teracon.evaluation.ContinualEvaluator`) once per strategy on
one stream, with the same encoder parameters, split and seed, and gathers the
reports into a :class:`StrategyComparison`: rows are strategies; columns each
task's final score, backward and forward transfer, training time and model
size. With several ``seeds`` or with ``n_folds`` it repeats that once per
replicate: the cells are mean ± std over the replicates, and each strategy's
final scores are compared with the best baseline, paired over the test users
of every replicate. ``python -m sklearn_teracon compare`` is its command line.
"""

from __future__ import annotations

import dataclasses
import time

import numpy as np
from joblib import Parallel, delayed
from sklearn.base import clone

from ._comparison import StrategyComparison
from ._protocol import check_stream, order_seed, reorder_stream
from ._replicated_report import FINAL, ReplicatedReport
from ._replicates import (
    Replicate,
    check_replicates,
    is_replicated,
    plan_replicates,
    replicate_rows,
)
from ._report_format import _fmt
from ._report_json import _jsonable
from ._vs_baseline import _against_best_baseline, score_baselines
from .datasets._reorder import parse_order, task_orders
from .evaluation import ContinualEvaluator
from .strategies import STRATEGIES

__all__ = ["StrategyComparison", "compare_strategies"]

# The reference of forward transfer: each task trained alone from scratch.
SINGLE = "single"


def _simple_params(encoder) -> dict:
    """The encoder's parameters that are plain numbers, strings or None."""
    simple = (int, float, str, bool, type(None))
    return {
        k: v for k, v in encoder.get_params(deep=False).items() if isinstance(v, simple)
    }


def _evaluate_strategy(
    encoder, stream, name: str, single_scores, verbose: int, position: str
):
    """``(name, continual report, number of serving parameters, per-row test
    scores)`` of a strategy."""
    if verbose:
        print(f"[strategy {position}] {name}", flush=True)
    evaluator = ContinualEvaluator(
        clone(encoder).set_params(strategy=name, strategy_params=None),
        single_task=single_scores,
        baselines=False,
        verbose=verbose,
    )
    report = evaluator.evaluate(stream)
    if single_scores is None:  # the single-task run itself: FWT is 0
        report.single_task_scores = report.diagonal.copy()
        report.single_task_source = "computed"
    net = evaluator.encoder_.net_
    if verbose:
        print(
            f"    {name}: BWT {_fmt(report.bwt, True)}, FWT "
            f"{_fmt(report.fwt, True)}, {float(np.sum(report.fit_times)):.1f}s",
            flush=True,
        )
    return name, report, net.module_.n_serving_parameters(), evaluator.test_rows_


def compare_strategies(
    encoder,
    stream,
    strategies=None,
    *,
    seeds=None,
    n_folds: int | None = None,
    n_jobs: int | None = None,
    on_progress=None,
    verbose: int = 0,
    order: str = "given",
) -> StrategyComparison | list[StrategyComparison]:
    """Run the continual protocol once per strategy on ``stream``.

    Parameters
    ----------
    encoder : ContinualUserEncoder
        Its parameters serve every strategy (cloned; never modified), except
        ``strategy`` and ``strategy_params``: each strategy runs with its
        defaults.
    stream : TaskStream or iterable of Task
    strategies : list of str or None, default=None
        Names from :data:`~sklearn_teracon.strategies.STRATEGIES`, in the
        table's order (default: all). The single-task models (``"single"``)
        are trained first in any case: forward transfer compares with them.
    seeds : sequence of int or None, default=None
        Several: the comparison is repeated once per seed (every model's
        ``random_state``), the baselines are scored on the same test users,
        and each report is a :class:`~sklearn_teracon.evaluation.
        ReplicatedReport`; one: a single run with that ``random_state``; as
        :class:`~sklearn_teracon.evaluation.ContinualEvaluator`'s ``seeds``.
    n_folds : int or None, default=None
        The replicates are user folds instead, every user tested once (as
        :class:`~sklearn_teracon.evaluation.ContinualEvaluator`'s
        ``n_folds``).
    n_jobs : int or None, default=None
        Strategies run in parallel processes (joblib) after the single-task
        models; ``None`` means 1, ``-1`` all cores. Each worker's torch uses its
        share of the cores. On a GPU several workers keep the device busy,
        since one small model leaves it mostly idle.
    on_progress : callable or None, default=None
        Called with the :class:`StrategyComparison` of the strategies finished
        so far each time one finishes (over replicates: of the replicates
        finished so far, each time one finishes); the command line saves it,
        so that an interrupted comparison keeps its finished rows.
    verbose : int, default=0
        1 prints a line per strategy and per task.
    order : str, default="given"
        The order of the tasks, as :class:`~sklearn_teracon.evaluation.
        ContinualEvaluator`'s ``order``: ``"given"``, ``"reversed"`` (the
        first task kept first) or ``"random:K"`` (K seeded permutations
        after the first task; one comparison per order, and
        ``on_progress`` hears of each in turn).
        :func:`~sklearn_teracon.robustness.compare_orders` sets them side
        by side with the given order.

    Returns
    -------
    StrategyComparison or list of StrategyComparison
        A list of K with ``order="random:K"``, its tasks in each order.

    Examples
    --------
    >>> from sklearn_teracon import ContinualUserEncoder
    >>> from sklearn_teracon.compare import compare_strategies
    >>> from sklearn_teracon.datasets import make_synthetic_stream
    >>> stream = make_synthetic_stream(200, 60, max_len=12, random_state=0)
    >>> stream = stream.select(["next_item", "category"])
    >>> enc = ContinualUserEncoder(embedding_dim=8, n_blocks=1, max_len=12,
    ...                            max_epochs=1, random_state=0)
    >>> table = compare_strategies(enc, stream, ["teracon", "finetune"],
    ...                            seeds=[0, 1])
    >>> table.strategies, table.reports["teracon"].n_replicates
    (['teracon', 'finetune'], 2)
    >>> print(table)  # doctest: +SKIP
    """
    strategies = list(STRATEGIES) if strategies is None else list(strategies)
    unknown = [s for s in strategies if s not in STRATEGIES]
    if unknown or not strategies:
        raise ValueError(
            f"strategies must name some of {sorted(STRATEGIES)}; got {strategies!r}"
        )
    repeated = sorted({s for s in strategies if strategies.count(s) > 1})
    if repeated:
        raise ValueError(f"each strategy may be named once; repeated: {repeated}")
    seeds, n_folds = check_replicates(seeds, n_folds)
    kind, _ = parse_order(order)
    if kind != "given":
        tasks = check_stream(stream)
        orders = task_orders([t.name for t in tasks], order, order_seed(encoder, seeds))
        done = [
            compare_strategies(
                encoder,
                reorder_stream(stream, tasks, names),
                strategies,
                seeds=seeds,
                n_folds=n_folds,
                n_jobs=n_jobs,
                on_progress=on_progress,
                verbose=verbose,
            )
            for names in orders
        ]
        return done if kind == "random" else done[0]
    if is_replicated(seeds, n_folds):
        tasks = check_stream(stream)
        plan = plan_replicates(encoder, stream, tasks, seeds, n_folds)
        return _compare_replicates(
            encoder, plan, strategies, n_jobs, on_progress, verbose
        )
    if seeds is not None:
        encoder = clone(encoder).set_params(random_state=seeds[0])
    return _compare_once(encoder, stream, strategies, n_jobs, on_progress, verbose)[0]


def _compare_once(
    encoder, stream, strategies: list[str], n_jobs, on_progress, verbose: int
) -> tuple[StrategyComparison, dict]:
    """One comparison, and each strategy's per-row test scores."""
    start = time.perf_counter()
    rest = [name for name in strategies if name != SINGLE]
    total = len(rest) + 1
    _, single, single_size, single_rows = _evaluate_strategy(
        encoder, stream, SINGLE, None, verbose, f"1/{total}"
    )
    single_scores = single.single_task_scores
    reports, sizes = {SINGLE: single}, {SINGLE: single_size}
    test_rows = {SINGLE: single_rows}

    def comparison() -> StrategyComparison:
        done = [name for name in strategies if name in reports]
        return StrategyComparison(
            reports={name: reports[name] for name in done},
            n_parameters={name: sizes[name] for name in done},
            single_task_scores=single_scores,
            stream=str(getattr(stream, "name", "") or ""),
            total_time=time.perf_counter() - start,
            params=_simple_params(encoder),
        )

    if on_progress is not None and SINGLE in strategies:
        on_progress(comparison())
    finished = Parallel(n_jobs=n_jobs, return_as="generator_unordered")(
        delayed(_evaluate_strategy)(
            encoder, stream, name, single_scores, verbose, f"{number}/{total}"
        )
        for number, name in enumerate(rest, start=2)
    )
    for name, report, size, rows in finished:
        reports[name], sizes[name], test_rows[name] = report, size, rows
        if on_progress is not None:
            on_progress(comparison())
    return comparison(), test_rows


def _compare_replicates(
    encoder, plan: list[Replicate], strategies, n_jobs, on_progress, verbose: int
):
    """The comparison once per replicate of ``plan``, then the baselines on
    the replicate's split; returns the :class:`StrategyComparison` of one
    :class:`ReplicatedReport` per strategy (``on_progress`` gets it after
    each replicate)."""
    start = time.perf_counter()
    done: list[tuple] = []  # (comparison, per-row scores, baselines, rows, replicate)
    params = _simple_params(encoder)

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

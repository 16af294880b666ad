"""The continual evaluation protocol: train over a task stream, fill the matrix R.

:class:`ContinualEvaluator` trains a copy of an encoder task after task over a
:class:`~sklearn_teracon.datasets.TaskStream` and, after each task, scores every
task learned so far on its test split. The result, a :class:`ContinualReport`,
holds the continual matrix ``R`` (``R[i, j]``: score on task ``j`` after training
through task ``i``), backward and forward transfer, forgetting, the single-task
("SinMo") scores, training times, the encoder's history and task relations, and
renders as a text table, Markdown, JSON or a pandas DataFrame. With several
``seeds`` or with ``n_folds`` it repeats the protocol once per replicate and
returns a :class:`ReplicatedReport`: mean ± standard deviation over the
replicates, and a paired interval against the best baseline that pools them.

This module talks to the encoder's public API only; it never imports torch.
"""

from __future__ import annotations

import numbers
import sys
import time
from collections.abc import Mapping, Sequence

import numpy as np
from sklearn.base import clone

from ._protocol import (
    EvaluationInterrupted,
    check_stream,
    order_seed,
    reorder_stream,
)
from ._replicated_report import FINAL, ReplicatedReport
from ._replicates import (
    check_replicates,
    evaluate_replicates,
    is_replicated,
    plan_replicates,
)
from ._report import ContinualReport
from ._report_json import _jsonable
from ._vs_baseline import _against_best_baseline, score_baselines
from .datasets._reorder import parse_order, task_orders
from .metrics._continual import check_single_task_scores

__all__ = [
    "ContinualEvaluator",
    "ContinualReport",
    "EvaluationInterrupted",
    "ReplicatedReport",
]


class ContinualEvaluator:
    """Train an encoder over a task stream and measure the continual matrix R.

    The protocol of the paper (see :doc:`/evaluation`): a copy of ``encoder``
    learns the tasks of a stream one after the other with
    ``partial_fit(*task.train, task=task.name)`` (the encoder holds out its
    own validation users; the stream's validation split is not used). After
    each task ``i`` every task ``j <= i`` is scored on its **test** split with
    the encoder's ``score`` (the mean of ``score_rows``), each in its own metric
    (``encoder.tasks_[name].metric``: accuracy, or MRR@5 with full ranking):
    that is ``R[i, j]``. The report also compares each task's final score
    with its best baseline's on the same test users, paired over users
    (``ContinualReport.vs_best_baseline``).

    Parameters
    ----------
    encoder : ContinualUserEncoder
        The estimator to evaluate. It is cloned (``sklearn.base.clone``):
        the object given is never trained or modified.
    single_task : "compute", None or array-like of shape (T,), default="compute"
        Single-task ("SinMo") scores, needed for forward transfer.
        ``"compute"``: every task is also trained alone from scratch on a
        fresh clone and scored on its test split (the first task's single-task
        model is the continual run's first model, so its score is
        ``R[0, 0]``). An array (or a mapping of task name to score) gives
        them; entry 0 is not used by FWT and may be NaN. None: no
        single-task scores, FWT is NaN.
    baselines : bool, default=True
        Also train and score the simple baselines of each task kind on the
        same split (:func:`sklearn_teracon.baselines.baselines_for`):
        popularity and item co-occurrence for item tasks, the majority class
        and a bag-of-items logistic regression for profile tasks. The report
        shows them beside the encoder.
    seeds : sequence of int or None, default=None
        Distinct ints >= 0. Several: one replicate per seed (a clone with
        ``random_state=seed``) and :meth:`evaluate` returns a
        :class:`ReplicatedReport`. One: a single run with that
        ``random_state``. None: a single run as the encoder is. With
        ``n_folds`` only the first seed is used.
    n_folds : int or None, default=None
        At least 2: the replicates are user folds
        (:meth:`TaskStream.user_folds
        <sklearn_teracon.datasets.TaskStream.user_folds>`, drawn with the
        first seed, else the encoder's int ``random_state``, else 0): every
        user of the stream is a test user exactly once.
    verbose : int, default=0
        1 prints one line when a task starts and its scores when it ends.
        The encoder's own ``verbose`` controls its progress bars.
    order : str, default="given"
        The order in which the tasks are learned. ``"given"``: the stream's.
        ``"reversed"``: the first task stays first and the others come in
        reverse, as in the paper's order study. ``"random:K"``: K random
        permutations of the tasks after the first (the first stays first),
        seeded by the first of ``seeds``, else the encoder's int
        ``random_state``, else 0; :meth:`evaluate` then returns a list of K
        reports, one per order (see
        :func:`~sklearn_teracon.datasets._reorder.task_orders`).

    Attributes
    ----------
    report_ : ContinualReport or ReplicatedReport
        The report of the last :meth:`evaluate` call.
    encoder_ : ContinualUserEncoder
        The clone trained over the whole stream by the last call (of its
        last replicate).
    single_task_encoders_ : dict of str to ContinualUserEncoder
        The single-task models trained by the last call (``"compute"`` only;
        of its last replicate).
    test_rows_ : dict of str to dict of str to ndarray
        Per task, the per-row test scores of the final encoder (``"final"``)
        and of each baseline, as ``vs_best_baseline`` pairs them (of the
        last replicate).
    orders_ : list of list of str
        The task orders the last call ran (one, or K for ``"random:K"``).

    Examples
    --------
    >>> from sklearn_teracon import ContinualUserEncoder
    >>> from sklearn_teracon.datasets import make_synthetic_stream
    >>> from sklearn_teracon.evaluation import ContinualEvaluator
    >>> stream = make_synthetic_stream(200, 60, max_len=12, random_state=0)
    >>> stream = stream.select(["next_item", "category", "related"])
    >>> enc = ContinualUserEncoder(embedding_dim=8, n_blocks=1, max_len=12,
    ...                            max_epochs=1, random_state=0)
    >>> report = ContinualEvaluator(enc).evaluate(stream)
    >>> report.R.shape
    (3, 3)
    >>> print(report)  # doctest: +SKIP

    Two seeds: mean ± std over the replicates.

    >>> evaluator = ContinualEvaluator(enc, single_task=None, seeds=[0, 1])
    >>> replicated = evaluator.evaluate(stream)
    >>> replicated.n_replicates, [len(r.task_names) for r in replicated.reports]
    (2, [3, 3])
    >>> replicated.std("final").shape
    (3,)

    The order reversed after the first task:

    >>> evaluator = ContinualEvaluator(enc, single_task=None, order="reversed")
    >>> evaluator.evaluate(stream).task_names
    ['next_item', 'related', 'category']
    """

    def __init__(
        self,
        encoder,
        *,
        single_task: str | Sequence[float] | Mapping[str, float] | None = "compute",
        baselines: bool = True,
        seeds: Sequence[int] | None = None,
        n_folds: int | None = None,
        verbose: int = 0,
        order: str = "given",
    ):
        self.encoder = encoder
        self.single_task = single_task
        self.baselines = baselines
        self.seeds = seeds
        self.n_folds = n_folds
        self.verbose = verbose
        self.order = order

    # -- validation --------------------------------------------------------------
    def _check_single_task(self, names: list[str]):
        """ "compute", None, or a float array of shape (T,)."""
        single = self.single_task
        if single is None:
            return None
        if isinstance(single, str):
            if single != "compute":
                raise ValueError(
                    f'single_task must be "compute", None or an array of scores, '
                    f"got {single!r}"
                )
            return single
        T = len(names)
        if isinstance(single, Mapping):
            unknown = sorted(set(single) - set(names))
            if unknown:
                raise ValueError(
                    f"single_task names tasks not in the stream: {unknown}; the "
                    f"stream has {names}"
                )
            missing = [n for n in names[1:] if n not in single]
            if missing:
                raise ValueError(
                    f"single_task lacks a score for {missing} (every task but the "
                    "first needs one)"
                )
            single = [single.get(name, np.nan) for name in names]
        return check_single_task_scores(single, T, name="single_task", task_names=names)

    def _say(self, message: str) -> None:
        if self.verbose:
            print(message, file=sys.stdout, flush=True)

    # -- the protocol ------------------------------------------------------------
    def evaluate(self, stream) -> ContinualReport | ReplicatedReport:
        """Run the protocol over ``stream`` and return the report.

        Parameters
        ----------
        stream : TaskStream or iterable of Task
            Tasks in training order; each has ``name``, ``train`` and ``test``
            as ``(X, y)`` (``y`` None for next-item tasks).

        Returns
        -------
        ContinualReport, ReplicatedReport or list of them
            A :class:`ReplicatedReport` with several seeds or with
            ``n_folds``; otherwise the :class:`ContinualReport` of one run.
            With ``order="random:K"``, a list of K of them, one per order
            (its tasks in that order).
        """
        if not isinstance(self.verbose, numbers.Integral):
            raise TypeError(f"verbose must be an int, got {self.verbose!r}")
        kind, _ = parse_order(self.order)
        seeds, n_folds = check_replicates(self.seeds, self.n_folds)
        tasks = check_stream(stream)
        names = [task.name for task in tasks]
        single = self._check_single_task(names)
        self.orders_ = task_orders(names, self.order, order_seed(self.encoder, seeds))
        if kind != "given":
            reports = []
            for order in self.orders_:
                self._say(f"[order] {', '.join(order)}")
                at = [names.index(name) for name in order]
                # Given single-task scores follow their tasks to the new order.
                moved = single[at] if isinstance(single, np.ndarray) else single
                reports.append(
                    self._evaluate_order(
                        reorder_stream(stream, tasks, order),
                        [tasks[i] for i in at],
                        moved,
                        seeds,
                        n_folds,
                    )
                )
            return reports if kind == "random" else reports[0]
        return self._evaluate_order(stream, tasks, single, seeds, n_folds)

    def _evaluate_order(self, stream, tasks, single, seeds, n_folds):
        """The protocol over ``tasks`` in their order (replicated or not)."""
        if is_replicated(seeds, n_folds):
            plan = plan_replicates(self.encoder, stream, tasks, seeds, n_folds)
            return evaluate_replicates(self, plan, single)
        encoder = self.encoder
        if seeds is not None:
            encoder = clone(encoder).set_params(random_state=seeds[0])
        return self._evaluate_once(encoder, tasks, single, stream)

    def _evaluate_once(self, encoder, tasks, single, stream) -> ContinualReport:
        """One run of the protocol with ``encoder`` (cloned) over ``tasks``."""
        names = [task.name for task in tasks]
        T = len(tasks)
        start = time.perf_counter()

        enc = clone(encoder)
        R = np.full((T, T), np.nan)
        fit_times = np.zeros(T)
        n_done = 0  # tasks trained and scored, for the report of an interruption
        try:
            for i, task in enumerate(tasks):
                self._say(self._task_line("task", i, T, task))
                tic = time.perf_counter()
                enc.partial_fit(*task.train, task=task.name)
                fit_times[i] = time.perf_counter() - tic
                # Each row's score; after the last task, the final model's,
                # which the comparison with the baselines pairs.
                final_rows = [
                    enc.score_rows(*tasks[j].test, task=tasks[j].name)
                    for j in range(i + 1)
                ]
                R[i, : i + 1] = [float(np.mean(rows)) for rows in final_rows]
                self._say(
                    f"    trained in {fit_times[i]:.1f}s; test scores: "
                    + ", ".join(f"{tasks[j].name}={R[i, j]:.4f}" for j in range(i + 1))
                )
                n_done = i + 1
        except KeyboardInterrupt as exc:
            raise self._interrupted(
                encoder, enc, tasks[:n_done], R, fit_times, single, stream
            ) from exc
        metrics = [enc.tasks_[name].metric for name in names]

        single_fit_times = np.full(T, np.nan)
        single_encoders = {}
        if single is None:
            single_scores, source = np.full(T, np.nan), None
        elif isinstance(single, str):  # "compute"
            source = "computed"
            single_scores = np.full(T, np.nan)
            # The continual run's first model was trained alone from scratch.
            single_scores[0], single_fit_times[0] = R[0, 0], fit_times[0]
            try:
                for j, task in enumerate(tasks[1:], start=1):
                    self._say(self._task_line("single task", j, T, task))
                    alone = clone(encoder)
                    tic = time.perf_counter()
                    alone.partial_fit(*task.train, task=task.name)
                    single_fit_times[j] = time.perf_counter() - tic
                    single_scores[j] = alone.score(*task.test, task=task.name)
                    single_encoders[task.name] = alone
                    self._say(
                        f"    trained in {single_fit_times[j]:.1f}s; test score "
                        f"{single_scores[j]:.4f} (continual: {R[j, j]:.4f})"
                    )
            except KeyboardInterrupt as exc:
                raise self._interrupted(
                    encoder, enc, tasks, R, fit_times, None, stream
                ) from exc
        else:
            single_scores, source = single, "given"
        baseline_scores, baseline_rows = (
            self._score_baselines(tasks, metrics) if self.baselines else ({}, {})
        )
        vs_best_baseline = [
            _against_best_baseline(
                final_rows[j], baseline_scores, baseline_rows, j, task
            )
            for j, task in enumerate(tasks)
        ]

        report = ContinualReport(
            task_names=names,
            metrics=metrics,
            R=R,
            single_task_scores=single_scores,
            fit_times=fit_times,
            task_kinds=[str(getattr(task, "kind", "")) or "-" for task in tasks],
            single_task_source=source,
            single_task_fit_times=single_fit_times,
            task_relations=np.asarray(enc.task_relations_, dtype=np.float64),
            history=_jsonable(enc.history_),
            params=_jsonable(encoder.get_params(deep=False)),
            stream=str(getattr(stream, "name", "") or ""),
            n_test=[len(task.test[0]) for task in tasks],
            total_time=time.perf_counter() - start,
            baseline_scores=baseline_scores,
            vs_best_baseline=vs_best_baseline,
        )
        self.encoder_ = enc
        self.single_task_encoders_ = single_encoders
        self.test_rows_ = {
            task.name: {
                FINAL: np.asarray(final_rows[j], dtype=np.float64),
                **{b: rows[j] for b, rows in baseline_rows.items() if j in rows},
            }
            for j, task in enumerate(tasks)
        }
        self.report_ = report
        return report

    def _score_baselines(self, tasks, metrics) -> tuple[dict, dict]:
        """The baselines' scores and per-row scores (:func:`score_baselines`)."""
        return score_baselines(tasks, metrics, self._say)

    def _interrupted(
        self, encoder, enc, done, R, fit_times, single, stream
    ) -> EvaluationInterrupted:
        """The interruption to raise, with the report over the ``done`` tasks."""
        n = len(done)
        if n == 0:
            return EvaluationInterrupted(None)
        given = single is not None and not isinstance(single, str)
        report = ContinualReport(
            task_names=[task.name for task in done],
            metrics=[enc.tasks_[task.name].metric for task in done],
            R=R[:n, :n],
            single_task_scores=single[:n] if given else np.full(n, np.nan),
            fit_times=fit_times[:n],
            task_kinds=[str(getattr(task, "kind", "")) or "-" for task in done],
            single_task_source="given" if given else None,
            task_relations=np.asarray(enc.task_relations_, dtype=np.float64)[:n, :n],
            history=_jsonable(enc.history_),
            params=_jsonable(encoder.get_params(deep=False)),
            stream=str(getattr(stream, "name", "") or ""),
            n_test=[len(task.test[0]) for task in done],
        )
        self.encoder_ = enc
        self.report_ = report
        return EvaluationInterrupted(report)

    @staticmethod
    def _task_line(what: str, i: int, T: int, task) -> str:
        kind = getattr(task, "kind", None)
        rows = len(task.train[0])
        detail = f"{kind}, {rows} training rows" if kind else f"{rows} training rows"
        return f"[{what} {i + 1}/{T}] {task.name} ({detail})"

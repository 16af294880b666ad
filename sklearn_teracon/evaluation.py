"""The continual evaluation protocol: train over a task stream, fill the matrix R.

:class:`ContinualEvaluator` trains a copy of an encoder task after task over a
:class:`~sklearn_teracon.datasets.TaskStream` and, after each task, scores every
task learned so far on its test split. The result, a :class:`ContinualReport`,
holds the continual matrix ``R`` (``R[i, j]``: score on task ``j`` after training
through task ``i``), backward and forward transfer, forgetting, the single-task
("SinMo") scores, training times, the encoder's history and task relations, and
renders as a text table, Markdown, JSON or a pandas DataFrame.

This module talks to the encoder's public API only; it never imports torch.
"""

from __future__ import annotations

import numbers
import sys
import time
from collections.abc import Iterable, Mapping

import numpy as np
from sklearn.base import clone

from ._report import ContinualReport
from ._report_json import _jsonable
from .baselines import baselines_for
from .metrics import paired_difference

__all__ = ["ContinualEvaluator", "ContinualReport", "EvaluationInterrupted"]


# --------------------------------------------------------------------------- #
# the evaluator
# --------------------------------------------------------------------------- #
class EvaluationInterrupted(KeyboardInterrupt):
    """A :class:`KeyboardInterrupt` (Ctrl-C) during :meth:`ContinualEvaluator.evaluate`.

    It is a ``KeyboardInterrupt``, so code that does not know it stops as
    before; code that does can keep what was finished.

    Attributes
    ----------
    report : ContinualReport or None
        The report over the tasks whose training and scoring had finished
        (without single-task scores unless they were given); None when no
        task had.
    """

    def __init__(self, report: ContinualReport | None):
        super().__init__("evaluation interrupted")
        self.report = report


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
    verbose : int, default=0
        1 prints one line when a task starts and its scores when it ends.
        The encoder's own ``verbose`` controls its progress bars.

    Attributes
    ----------
    report_ : ContinualReport
        The report of the last :meth:`evaluate` call.
    encoder_ : ContinualUserEncoder
        The clone trained over the whole stream by the last call.
    single_task_encoders_ : dict of str to ContinualUserEncoder
        The single-task models trained by the last call (``"compute"`` only).

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
    """

    def __init__(self, encoder, *, single_task="compute", baselines=True, verbose=0):
        self.encoder = encoder
        self.single_task = single_task
        self.baselines = baselines
        self.verbose = verbose

    # -- validation --------------------------------------------------------------
    @staticmethod
    def _check_stream(stream) -> list:
        if isinstance(stream, str | bytes) or not isinstance(stream, Iterable):
            raise TypeError(
                "stream must be a TaskStream (or an iterable of Task objects), got "
                f"{type(stream).__name__}"
            )
        tasks = list(stream)
        if not tasks:
            raise ValueError("stream has no task: nothing to evaluate")
        for task in tasks:
            missing = [a for a in ("name", "train", "test") if not hasattr(task, a)]
            if missing:
                raise TypeError(
                    "stream must hold Task objects with name, train and test; got "
                    f"{type(task).__name__} without {', '.join(missing)}"
                )
        names = [task.name for task in tasks]
        repeated = sorted({n for n in names if names.count(n) > 1})
        if repeated:
            raise ValueError(f"task names must be unique; repeated: {repeated}")
        return tasks

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
        try:
            scores = np.asarray(single, dtype=np.float64)
        except (TypeError, ValueError) as exc:
            raise TypeError(
                f"single_task must be an array of real scores: {exc}"
            ) from exc
        if scores.shape != (T,):
            raise ValueError(
                f"single_task must hold one score per task: shape ({T},) for "
                f"{names}, got shape {scores.shape}"
            )
        bad = [names[j] for j in range(1, T) if not np.isfinite(scores[j])]
        if bad:
            raise ValueError(
                f"single_task scores must be finite (except the first task's); "
                f"not finite for {bad}"
            )
        return scores

    def _say(self, message: str) -> None:
        if self.verbose:
            print(message, file=sys.stdout, flush=True)

    # -- the protocol ------------------------------------------------------------
    def evaluate(self, stream) -> ContinualReport:
        """Run the protocol over ``stream`` and return the report.

        Parameters
        ----------
        stream : TaskStream or iterable of Task
            Tasks in training order; each has ``name``, ``train`` and ``test``
            as ``(X, y)`` (``y`` None for next-item tasks).

        Returns
        -------
        ContinualReport
        """
        if not isinstance(self.verbose, numbers.Integral):
            raise TypeError(f"verbose must be an int, got {self.verbose!r}")
        tasks = self._check_stream(stream)
        names = [task.name for task in tasks]
        single = self._check_single_task(names)
        T = len(tasks)
        start = time.perf_counter()

        enc = clone(self.encoder)
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
                enc, tasks[:n_done], R, fit_times, single, stream
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
                    alone = clone(self.encoder)
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
                raise self._interrupted(enc, tasks, R, fit_times, None, stream) from exc
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
            params=_jsonable(self.encoder.get_params(deep=False)),
            stream=str(getattr(stream, "name", "") or ""),
            n_test=[len(task.test[0]) for task in tasks],
            total_time=time.perf_counter() - start,
            baseline_scores=baseline_scores,
            vs_best_baseline=vs_best_baseline,
        )
        self.encoder_ = enc
        self.single_task_encoders_ = single_encoders
        self.report_ = report
        return report

    def _score_baselines(self, tasks, metrics) -> tuple[dict, dict]:
        """Every applicable baseline trained on each task's training split and
        scored on its test split, in the task's metric.

        Returns the scores (baseline name to one score per task, NaN where
        it does not apply) and each baseline's per-row scores by task index.
        """
        scores: dict[str, np.ndarray] = {}
        rows: dict[str, dict[int, np.ndarray]] = {}
        for j, task in enumerate(tasks):
            kind = str(getattr(task, "kind", "")) or (
                "next_item" if task.train[1] is None else "profile"
            )
            for name, baseline in baselines_for(kind).items():
                baseline.fit(*task.train)
                task_rows = baseline.score_rows(*task.test, metric=metrics[j])
                rows.setdefault(name, {})[j] = task_rows
                row = scores.setdefault(name, np.full(len(tasks), np.nan))
                row[j] = float(np.mean(task_rows))
            self._say(
                f"[baselines] {task.name}: "
                + ", ".join(
                    f"{n}={s[j]:.4f}" for n, s in scores.items() if s[j] == s[j]
                )
            )
        return scores, rows

    def _interrupted(
        self, enc, done, R, fit_times, single, stream
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
            params=_jsonable(self.encoder.get_params(deep=False)),
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


def _against_best_baseline(
    rows, baseline_scores, baseline_rows, j: int, task
) -> dict | None:
    """The final encoder against task ``j``'s best-scoring baseline, paired over
    its test users (one user per row unless the task says whose rows they
    are); None when no baseline applies."""
    applicable = [name for name, by_task in baseline_rows.items() if j in by_task]
    if not applicable:
        return None
    best = max(applicable, key=lambda name: baseline_scores[name][j])
    users = getattr(task, "users", None)
    groups = users.get("test") if isinstance(users, Mapping) else None
    difference = paired_difference(rows, baseline_rows[best][j], groups)
    return {"baseline": best, **difference._asdict()}

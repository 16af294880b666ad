"""The work of one replicate of the label-scarce protocol.

:class:`~sklearn_teracon.transfer.LabelScarceEvaluator` checks its arguments,
draws the labelled users (:func:`_draws`) and runs each replicate (a seed, or
a user fold), in this process or in a joblib worker (:func:`_in_worker`): the
prefix run of each strategy, with a copy of the encoder trained on each draw
before an evaluated task (:func:`_continual`), the linear probe
(:func:`_probe`), then the single-task model and the baselines on the same
rows; every score lands in a :class:`_Found`.
"""

from __future__ import annotations

import copy
import multiprocessing
import time

import numpy as np
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from threadpoolctl import threadpool_limits

from ._transfer_io import _label
from .metrics._scoring import _row_scores_with_metric, default_metric

SINGLE, PROBE = "single", "probe"
_PROBE_MAX_CLASSES = 50  # a linear probe of a profile task; item tasks have thousands


def _in_worker(evaluator, threads: int, *job) -> tuple[int, _Found]:
    """One replicate in a joblib worker, on ``threads`` threads (torch's
    OpenMP pool and BLAS) in a worker process."""
    limit = threads if multiprocessing.parent_process() is not None else None
    with threadpool_limits(limits=limit):
        found = evaluator._replicate(*job)
    found.say = None  # not the evaluator back
    return job[0], found


class _Found:
    """The scores found so far: per-row, mean, training time, test users."""

    def __init__(self, say):
        self.say, self.scores, self.rows, self.fit_times = say, {}, {}, {}
        self.test_users = {}

    @classmethod
    def merged(cls, parts: list[_Found]) -> _Found:
        """One ``_Found`` holding ``parts`` in order (say is not kept)."""
        out = cls(None)
        for part in parts:
            for name in ("scores", "rows", "fit_times", "test_users"):
                getattr(out, name).update(getattr(part, name))
        return out

    def add(self, r: int, task, ns: list, method: str, scored, tic: float) -> None:
        """Keep a model's (or the given) per-row test scores for each N of
        ``ns`` (several when they all mean every user), timed from ``tic``."""
        seconds = time.perf_counter() - tic
        if not isinstance(scored, np.ndarray):
            scored = scored.score_rows(*task.test, task=task.name)
        self.test_users[(task.name, r)] = np.asarray(task.users["test"])
        for n in ns:
            key = (task.name, n, method, r)
            self.rows[key] = np.asarray(scored, dtype=np.float64)
            self.fit_times[key] = seconds
            self.scores[key] = float(np.mean(scored))
        labels = ",".join(_label(n) for n in ns)
        self.say(
            f"    {task.name} N={labels}: {method} {float(np.mean(scored)):.4f} "
            f"(trained in {seconds:.1f}s)"
        )


def _continual(enc, method: str, r: int, tasks_r, draws, probe: bool, found) -> None:
    """One prefix run: every task on all its users; before an evaluated task, a
    copy of the encoder learns it on each draw of labelled users."""
    for task in tasks_r:
        by_draw = _by_draw(draws.get((r, task.name), {}))
        for ns, rows in by_draw:
            if rows is not None:
                model, tic = copy.deepcopy(enc), time.perf_counter()
                X, y = _subset(task, rows)
                model.partial_fit(X, y, task=task.name, **_classes(task))
                found.add(r, task, ns, method, model, tic)
        if by_draw and probe and _probe_applies(task):
            _probe(enc, r, task, by_draw, found)
        tic = time.perf_counter()
        enc.partial_fit(*task.train, task=task.name, **_classes(task))
        for ns, rows in by_draw:
            if rows is None:  # every user: the prefix run's own score
                found.add(r, task, ns, method, enc, tic)


def _probe(enc, r: int, task, by_draw, found) -> None:
    """A standardised logistic regression on the representation before ``task``."""
    classes, y_train = np.unique(task.train[1]), np.asarray(task.train[1])
    Z_train, Z_test = enc.transform(task.train[0]), enc.transform(task.test[0])
    y_test = np.asarray(task.test[1])
    pos = np.clip(np.searchsorted(classes, y_test), 0, len(classes) - 1)
    targets = np.where(classes[pos] == y_test, pos, -1)
    for ns, rows in by_draw:
        rows = np.arange(len(Z_train)) if rows is None else rows
        tic = time.perf_counter()
        model = make_pipeline(StandardScaler(), LogisticRegression(max_iter=1000))
        model.fit(Z_train[rows], y_train[rows])
        scores = np.zeros((len(Z_test), len(classes)))
        proba = model.predict_proba(Z_test)
        scores[:, np.searchsorted(classes, model.classes_)] = proba
        row_scores = _row_scores_with_metric(_metric(task), scores, targets)
        found.add(r, task, ns, PROBE, row_scores, tic)


def _by_draw(by_n: dict) -> list[tuple[list, np.ndarray | None]]:
    """``(Ns, rows)`` per distinct draw: every N that means all users shares one."""
    every = [n for n, (_, rows) in by_n.items() if rows is None]
    drawn = [([n], rows) for n, (_, rows) in by_n.items() if rows is not None]
    return drawn + ([(every, None)] if every else [])


def _kind(task) -> str:
    kind = str(getattr(task, "kind", "") or "")
    return kind or ("next_item" if task.train[1] is None else "profile")


def _metric(task) -> str:
    """The task's metric, as the encoder sets it from the task's classes."""
    if task.train[1] is None:
        return "mrr@5"
    return default_metric(len(np.unique(task.train[1])))


def _classes(task) -> dict:
    """``classes=`` for a labelled task: the labels of its whole training split."""
    return {} if task.train[1] is None else {"classes": np.unique(task.train[1])}


def _probe_applies(task) -> bool:
    return (
        _kind(task) == "profile" and len(np.unique(task.train[1])) <= _PROBE_MAX_CLASSES
    )


def _subset(task, rows: np.ndarray) -> tuple:
    X, y = task.train
    return [X[i] for i in rows.tolist()], None if y is None else np.asarray(y)[rows]


def _draws(info: dict, position: int, task, sizes: list, clipped: dict) -> dict:
    """For each N, the labelled users and their training rows (None: all rows).

    One seeded permutation of the task's training users per replicate and
    task; N users are its first N, so the draws are nested.
    """
    row_users = np.asarray(task.users["train"])
    pool = np.unique(row_users)
    fold = info["fold"]
    rng = np.random.default_rng(
        [info["seed"], 0 if fold is None else fold + 1, position]
    )
    order = rng.permutation(pool)
    out = {}
    for n in sizes:
        if n is None or n >= pool.size:
            if n is not None and n > pool.size:
                clipped[(task.name, n)] = min(clipped.get((task.name, n), n), pool.size)
            out[n] = (pool, None)
            continue
        users = np.sort(order[:n])
        rows = np.flatnonzero(np.isin(row_users, users))
        if (
            task.train[1] is not None
            and np.unique(np.asarray(task.train[1])[rows]).size < 2
        ):
            raise ValueError(
                f"task {task.name!r}: the {n} labelled users drawn (seed "
                f"{info['seed']}) have only one label; a labelled task needs at "
                "least 2: use a larger N"
            )
        out[n] = (users, rows)
    return out

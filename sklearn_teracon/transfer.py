"""Label-scarce evaluation: how well a later task learns from only N labelled users.

A platform launches a new service whose task (age, gender, ...) has labels for
only a few users, while the earlier tasks of the stream were learned from all
of theirs. :class:`LabelScarceEvaluator` measures each later task's test score
when it is trained on N labelled users, for several N, for the encoder (on top
of its continual prefix), other strategies, the encoder trained on that task
alone (``"single"``), a linear probe of the prefix representation
(``"probe"``) and the simple baselines, all on the same users. The result, a
:class:`LabelScarceReport`, holds each score per replicate (seed or user
fold) and per test row, and compares the encoder with the best baseline,
paired over test users.

This module talks to the encoder's public API only; it never imports torch.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Sequence

import numpy as np
from joblib import Parallel, delayed, effective_n_jobs
from joblib.parallel import get_active_backend
from sklearn.base import clone

from ._protocol import EvaluationInterrupted, check_stream, int_like, sequence, unique
from ._report_json import _jsonable
from ._transfer_report import LabelScarceReport, _label
from ._transfer_runs import (
    PROBE,
    SINGLE,
    _by_draw,
    _classes,
    _continual,
    _draws,
    _Found,
    _in_worker,
    _kind,
    _metric,
    _subset,
)
from .baselines import baselines_for
from .datasets import TaskStream
from .strategies import STRATEGIES

__all__ = ["LabelScarceEvaluator", "LabelScarceReport"]


class LabelScarceEvaluator:
    """Score later tasks of a stream trained on only N labelled users.

    For each replicate (a seed, or a user fold) a clone of ``encoder`` with
    ``random_state=seed`` learns the stream task after task on **all** of each
    task's training users (``partial_fit(*task.train, task=task.name)``); this
    prefix run is shared by every N and every evaluated task. Just before an
    evaluated task ``k``, for each N, N of task ``k``'s training users are
    drawn (by user id, so all rows of a user come along; the draws of one
    replicate and task are nested: the first N of one seeded permutation),
    a deep copy of the encoder learns task ``k`` on those users' rows only,
    and is scored with ``score_rows`` on every test row of task ``k``. N=None
    ("all") is the prefix run's own score right after task ``k``. On exactly
    the same rows are trained: each other strategy (its own prefix run),
    ``"single"`` (a fresh clone learning task ``k`` alone), ``"probe"`` (a
    standardised logistic regression on the prefix encoder's ``transform``,
    for profile tasks of at most 50 classes) and the baselines of the task's
    kind (:func:`~sklearn_teracon.baselines.baselines_for`). The ids are in
    ``report.labelled_users[(replicate, task, N)]``.

    Labelled tasks are learned with ``classes=task.classes`` (the labels of
    the whole training split), so a task's output layer and metric do not
    depend on which users were drawn; a class no drawn user has is never
    predicted by the baselines and the probe.

    Parameters
    ----------
    encoder : ContinualUserEncoder
        Cloned (``sklearn.base.clone``); never trained or modified.
    n_labelled : sequence of int or None, default=(100, 300, 1000, None)
        The values of N; None (or ``"all"``) is every training user. An N at
        least a task's number of training users means all of them for that
        task: it reuses the "all" run, and the report notes it. A draw whose
        users hold a single label of a labelled task is a ValueError, raised
        (like every argument error) before any training.
    seeds : sequence of int, default=(0, 1, 2)
        One replicate per seed (``random_state`` of every model and the draw
        of the N users). With ``n_folds``, only the first is used.
    n_folds : int or None, default=None
        Replicates are user folds instead (:meth:`TaskStream.user_folds
        <sklearn_teracon.datasets.TaskStream.user_folds>`, seeded by the first
        seed): every user of the stream is a test user exactly once; the
        stream's validation users join the pool, and its test split is
        replaced by each fold's.
    strategies : sequence of str or None, default=None
        Other strategies to run the same protocol for, by name
        (``clone(encoder).set_params(strategy=name, strategy_params=None)``).
    baselines, probe, single_task : bool, default=True
        Whether to train the baselines, the probe and the single-task model.
        The single-task model is skipped when a strategy named ``"single"``
        runs (the same model).
    n_jobs : int or None, default=None
        Replicates run in parallel processes (joblib); ``None`` means 1 (unless
        in a :func:`joblib.parallel_config` context), ``-1`` all cores. The
        report is the sequential run's, whatever the order replicates finish
        in. Each worker's torch (and BLAS) uses 1 thread, or the
        ``inner_max_num_threads`` of :func:`joblib.parallel_config`.
    verbose : int, default=0
        1 prints a line per trained model.

    Attributes
    ----------
    report_ : LabelScarceReport
        The report of the last :meth:`evaluate` call.

    Examples
    --------
    >>> from sklearn_teracon import ContinualUserEncoder
    >>> from sklearn_teracon.datasets import make_synthetic_stream
    >>> from sklearn_teracon.transfer import LabelScarceEvaluator
    >>> stream = make_synthetic_stream(200, 60, max_len=12, random_state=0)
    >>> stream = stream.select(["next_item", "category"])
    >>> enc = ContinualUserEncoder(embedding_dim=8, n_blocks=1, max_len=12,
    ...                            max_epochs=1, random_state=0)
    >>> evaluator = LabelScarceEvaluator(enc, n_labelled=[20, None], seeds=[0])
    >>> report = evaluator.evaluate(stream)
    >>> report.methods
    ['teracon', 'single', 'probe', 'popularity', 'bow_lr']
    >>> len(report.labelled_users[(0, "category", 20)])
    20
    >>> print(report)  # doctest: +SKIP
    """

    def __init__(
        self,
        encoder,
        *,
        n_labelled: Sequence[int | None] = (100, 300, 1000, None),
        seeds: Sequence[int] = (0, 1, 2),
        n_folds: int | None = None,
        strategies: Sequence[str] | None = None,
        baselines: bool = True,
        probe: bool = True,
        single_task: bool = True,
        n_jobs: int | None = None,
        verbose: int = 0,
    ):
        self.encoder = encoder
        self.n_labelled = n_labelled
        self.seeds = seeds
        self.n_folds = n_folds
        self.strategies = strategies
        self.baselines = baselines
        self.probe = probe
        self.single_task = single_task
        self.n_jobs = n_jobs
        self.verbose = verbose

    # -- validation --------------------------------------------------------------
    def _check_params(self) -> tuple[list, list[int], list[str]]:
        """The sorted N values, the seeds and the strategies (the encoder's first)."""
        for name in ("baselines", "probe", "single_task"):
            if not isinstance(getattr(self, name), bool | np.bool_):
                raise TypeError(
                    f"{name} must be True or False, got {getattr(self, name)!r}"
                )
        if not int_like(self.verbose):
            raise TypeError(f"verbose must be an int, got {self.verbose!r}")
        if self.n_jobs is not None and not (int_like(self.n_jobs) and self.n_jobs):
            raise ValueError(
                f"n_jobs must be None or a nonzero int, got {self.n_jobs!r}"
            )
        sizes = [
            None if n in (None, "all") else n
            for n in sequence("n_labelled", self.n_labelled)
        ]
        bad = [n for n in sizes if n is not None and not (int_like(n) and n >= 1)]
        if bad:
            raise ValueError(
                f"n_labelled must hold ints >= 1 or None ('all'), got {bad[0]!r}"
            )
        unique("n_labelled", [_label(n) for n in sizes])
        seeds = sequence("seeds", self.seeds)
        if any(not (int_like(s) and s >= 0) for s in seeds):
            raise ValueError(f"seeds must be ints >= 0, got {seeds!r}")
        unique("seeds", seeds)
        folds = self.n_folds
        if folds is not None and not (int_like(folds) and folds >= 2):
            raise ValueError(f"n_folds must be None or an int >= 2, got {folds!r}")
        others = (
            []
            if self.strategies is None
            else sequence("strategies", self.strategies, True)
        )
        unknown = [s for s in others if s not in STRATEGIES]
        if unknown:
            raise ValueError(
                f"unknown strategy {unknown[0]!r}; choose among {sorted(STRATEGIES)}"
            )
        unique("strategies", others)
        own = self.encoder.get_params(deep=False)["strategy"]
        sizes = sorted(sizes, key=lambda n: (n is None, n or 0))
        return sizes, [int(s) for s in seeds], [own, *(s for s in others if s != own)]

    @staticmethod
    def _check_tasks(tasks, all_tasks) -> list[str]:
        names = [task.name for task in all_tasks]
        if tasks is None:
            chosen = names[1:]
        else:
            chosen = [tasks] if isinstance(tasks, str) else list(tasks)
            unknown = [t for t in chosen if t not in names]
            if unknown:
                raise ValueError(f"unknown task {unknown[0]!r}; the stream has {names}")
            unique("tasks", chosen)
            if names[0] in chosen:
                raise ValueError(
                    f"{names[0]!r} is the stream's first task: no earlier task can "
                    "help it, so it has no label-scarce question; name later tasks"
                )
        if not chosen:
            raise ValueError(
                "the stream has one task: there is no later task to evaluate"
            )
        for task in all_tasks:
            users = getattr(task, "users", None)
            if not isinstance(users, dict) or not {"train", "test"} <= set(users):
                raise TypeError(
                    f"task {task.name!r} lacks users['train'] and users['test']: the "
                    "protocol draws labelled users by id"
                )
        return sorted(chosen, key=names.index)

    def _say(self, message: str) -> None:
        if self.verbose:
            print(message, file=sys.stdout, flush=True)

    # -- the protocol ------------------------------------------------------------
    def evaluate(self, stream, tasks: Sequence[str] | None = None) -> LabelScarceReport:
        """Run the protocol over ``stream`` and return the report.

        Every argument, and every draw of labelled users, is checked before
        any training starts.

        Parameters
        ----------
        stream : TaskStream or iterable of Task
            Tasks in training order, with ``name``, ``kind``, ``train``,
            ``test`` and ``users``.
        tasks : sequence of str or None, default=None
            The later tasks to evaluate (default: every task after the first).

        Returns
        -------
        LabelScarceReport

        Raises
        ------
        EvaluationInterrupted
            On Ctrl-C (a ``KeyboardInterrupt``); its ``report`` holds every
            score finished so far.
        """
        sizes, seeds, methods = self._check_params()
        all_tasks = check_stream(stream)
        chosen = self._check_tasks(tasks, all_tasks)
        start = time.perf_counter()
        replicates = [({"seed": s, "fold": None}, all_tasks) for s in seeds]
        if self.n_folds is not None:
            folds = TaskStream(all_tasks).user_folds(self.n_folds, seeds[0])
            replicates = [
                ({"seed": seeds[0], "fold": f}, list(fold))
                for f, fold in enumerate(folds)
            ]
        clipped: dict[tuple, int] = {}
        draws = {
            (r, task.name): _draws(info, k, task, sizes, clipped)
            for r, (info, tasks_r) in enumerate(replicates)
            for k, task in enumerate(tasks_r)
            if task.name in chosen
        }
        single = self.single_task and SINGLE not in methods
        kinds = [_kind(task) for task in all_tasks if task.name in chosen]
        baseline_names = list(dict.fromkeys(b for k in kinds for b in baselines_for(k)))
        baseline_names = baseline_names if self.baselines else []
        extra = [SINGLE] * single + [PROBE] * bool(self.probe)
        done: dict[int, _Found] = {}  # per replicate: what it found so far
        by_name = {task.name: task for task in all_tasks}

        def report() -> LabelScarceReport:
            found = _Found.merged([done[r] for r in sorted(done)])
            return LabelScarceReport(
                task_names=chosen,
                metrics=[_metric(by_name[name]) for name in chosen],
                n_labelled=sizes,
                methods=[*methods, *extra, *baseline_names],
                encoder_method=methods[0],
                baselines=baseline_names,
                replicates=[info for info, _ in replicates],
                scores=found.scores,
                rows=found.rows,
                test_users=found.test_users,
                labelled_users={
                    (r, name, n): users
                    for (r, name), by_n in draws.items()
                    for n, (users, _) in by_n.items()
                },
                fit_times=found.fit_times,
                notes=[
                    f"{task}: N={n} is more than its {users} training users; all "
                    "of them were used (the 'all' run)"
                    for (task, n), users in clipped.items()
                ],
                stream=str(getattr(stream, "name", "") or ""),
                params=_jsonable(self.encoder.get_params(deep=False)),
                total_time=time.perf_counter() - start,
            )

        def job(r: int):
            info, tasks_r = replicates[r]
            mine = {key: d for key, d in draws.items() if key[0] == r}
            return (r, info, tasks_r, mine, methods, single, len(replicates))

        try:
            if effective_n_jobs(self.n_jobs) == 1:
                for r in range(len(replicates)):
                    done[r] = _Found(self._say)  # kept, however far it gets
                    self._replicate(*job(r), done[r])
            else:
                backend = get_active_backend()[0]
                threads = getattr(backend, "inner_max_num_threads", None) or 1
                finished = Parallel(
                    n_jobs=self.n_jobs, return_as="generator_unordered"
                )(
                    delayed(_in_worker)(self, threads, *job(r))
                    for r in range(len(replicates))
                )
                for r, found in finished:
                    done[r] = found
        except KeyboardInterrupt as exc:
            self.report_ = report()
            raise EvaluationInterrupted(self.report_) from exc
        self.report_ = report()
        return self.report_

    def _replicate(
        self, r, info, tasks_r, draws, methods, single, total, found=None
    ) -> _Found:
        """Every method of replicate ``r``; its scores are added to ``found``."""
        found = _Found(self._say) if found is None else found
        where = ", ".join(f"{k} {v}" for k, v in info.items() if v is not None)
        for method in methods:
            self._say(f"[replicate {r + 1}/{total}, {where}] {method}")
            enc = clone(self.encoder).set_params(random_state=info["seed"])
            if method != methods[0]:
                enc.set_params(strategy=method, strategy_params=None)
            probe = self.probe and method == methods[0]
            _continual(enc, method, r, tasks_r, draws, probe, found)
        for task in tasks_r:
            if (r, task.name) in draws:
                self._references(r, info["seed"], task, draws, single, found)
        return found

    def _references(self, r: int, seed: int, task, draws, single: bool, found) -> None:
        """The single-task model and the baselines, on each draw's rows."""
        for ns, rows in _by_draw(draws[(r, task.name)]):
            X, y = task.train if rows is None else _subset(task, rows)
            if single:
                alone = clone(self.encoder).set_params(random_state=seed)
                tic = time.perf_counter()
                alone.partial_fit(X, y, task=task.name, **_classes(task))
                found.add(r, task, ns, SINGLE, alone, tic)
            chosen = baselines_for(_kind(task)) if self.baselines else {}
            for name, baseline in chosen.items():
                tic = time.perf_counter()
                baseline.fit(X, y)
                row_scores = baseline.score_rows(*task.test, metric=_metric(task))
                found.add(r, task, ns, name, row_scores, tic)

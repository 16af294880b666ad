"""The report of a continual evaluation: the matrix R, transfer, baselines.

:class:`ContinualReport` holds what
:class:`~sklearn_teracon.evaluation.ContinualEvaluator` measured and renders it
as a text table, Markdown, JSON or a pandas DataFrame.
"""

from __future__ import annotations

import json
import reprlib
from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np

from . import _report_json
from ._report_format import _fmt, _verdict
from ._report_json import (
    FORMAT,
    FORMAT_VERSION,
    GAP_KEYS,
    _jsonable,
    _nan_if_none,
    report_fields_from_json,
)
from ._report_render import report_frame, report_markdown, report_text
from .metrics import backward_transfer, forgetting, forward_transfer

__all__ = ["ContinualReport"]


def _gap(entry) -> dict | None:
    """A task's comparison with its best baseline, checked, floats as floats."""
    if entry is None:
        return None
    if not isinstance(entry, Mapping) or not isinstance(entry.get("baseline"), str):
        raise ValueError(
            "vs_best_baseline entries must be None or mappings with a 'baseline' "
            f"name and {', '.join(GAP_KEYS)}, got {reprlib.repr(entry)}"
        )
    return {
        "baseline": entry["baseline"],
        **{k: _nan_if_none(entry.get(k)) for k in GAP_KEYS},
    }


# --------------------------------------------------------------------------- #
# the report
# --------------------------------------------------------------------------- #
@dataclass(eq=False)
class ContinualReport:
    """What a continual evaluation measured.

    Usually made by :meth:`ContinualEvaluator.evaluate` or read back with
    :meth:`from_json` / :meth:`load_json`.

    Parameters
    ----------
    task_names : list of str
        Tasks in training order.
    metrics : list of str
        Metric of each task (``"accuracy"``, ``"mrr@5"``, ...), as the
        encoder scores it.
    R : ndarray of shape (T, T)
        ``R[i, j]`` is the test score on task ``j`` after training through
        task ``i``; NaN above the diagonal.
    single_task_scores : ndarray of shape (T,)
        Test score of each task trained alone from scratch (SinMo); all NaN
        when not available.
    fit_times : ndarray of shape (T,)
        Seconds spent training each task in the continual run.
    task_kinds : list of str, default=None
        Kind of each task (``"next_item"``, ``"item"``, ``"profile"``).
    single_task_source : {"computed", "given"} or None, default=None
        Where the single-task scores came from; None when there are none.
    single_task_fit_times : ndarray of shape (T,), default=None
        Seconds spent training each single-task model (NaN where none was
        trained).
    task_relations : ndarray of shape (T, T), default=None
        The final encoder's ``task_relations_`` (mask cosine similarity).
    history : dict, default=None
        The final encoder's ``history_``: per task, one record per epoch.
    params : dict, default=None
        The encoder's parameters (``get_params(deep=False)``), JSON-friendly.
    stream : str, default=""
        Name of the task stream.
    n_test : list of int, default=None
        Test rows of each task.
    total_time : float, default=nan
        Wall-clock seconds of the whole evaluation.
    baseline_scores : dict of str to ndarray of shape (T,), default=None
        Test score of each simple baseline on each task, in the task's metric
        (NaN where a baseline does not apply); see
        :mod:`sklearn_teracon.baselines`.
    vs_best_baseline : list of dict or None, default=None
        Per task, the final score against the best-scoring baseline on the
        same test users: ``{"baseline": name, "difference": final - baseline,
        "low": ..., "high": ...}``, the bounds a 95 % bootstrap interval over
        users (:func:`~sklearn_teracon.metrics.paired_difference`); None
        where no baseline applies. An interval that holds 0 is a difference
        within noise.

    Attributes
    ----------
    n_tasks : int
    diagonal : ndarray of shape (T,)
        ``R[j, j]``, each task's score right after its own training.
    final : ndarray of shape (T,)
        ``R[T-1, :]``, each task's score at the end of the stream.
    bwt : float
        Backward transfer (:func:`~sklearn_teracon.metrics.backward_transfer`).
    fwt : float
        Forward transfer (:func:`~sklearn_teracon.metrics.forward_transfer`);
        NaN without single-task scores.
    forgetting : float
        Average forgetting (:func:`~sklearn_teracon.metrics.forgetting`).

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_teracon.evaluation import ContinualReport
    >>> report = ContinualReport(
    ...     task_names=["next_item", "age"], metrics=["mrr@5", "accuracy"],
    ...     R=np.array([[0.10, np.nan], [0.09, 0.40]]),
    ...     single_task_scores=np.array([0.10, 0.35]), fit_times=np.array([1.0, 2.0]),
    ... )
    >>> round(report.bwt, 4), round(report.fwt, 4)
    (-0.01, 0.05)
    >>> print(report)  # doctest: +NORMALIZE_WHITESPACE
    Continual evaluation: 2 tasks
    task       metric    after own  final   single
    ----------------------------------------------
    next_item  mrr@5        0.1000  0.0900  0.1000
    age        accuracy     0.4000  0.4000  0.3500
    ----------------------------------------------
    BWT         -0.0100  (final - after own training, mean over tasks 1..T-1)
    FWT         +0.0500  (after own training - single task, mean over tasks 2..T)
    forgetting  +0.0100  (best earlier score - final, mean over tasks 1..T-1)
    """

    task_names: list[str]
    metrics: list[str]
    R: np.ndarray
    single_task_scores: np.ndarray
    fit_times: np.ndarray
    task_kinds: list[str] | None = None
    single_task_source: str | None = None
    single_task_fit_times: np.ndarray | None = None
    task_relations: np.ndarray | None = None
    history: dict = field(default_factory=dict)
    params: dict = field(default_factory=dict)
    stream: str = ""
    n_test: list[int] | None = None
    total_time: float = float("nan")
    baseline_scores: dict = field(default_factory=dict)
    vs_best_baseline: list | None = None

    def __post_init__(self) -> None:
        self.task_names = [str(name) for name in self.task_names]
        T = len(self.task_names)
        self.metrics = [str(m) for m in self.metrics]
        self.R = np.asarray(self.R, dtype=np.float64).reshape(T, T)
        self.single_task_scores = np.asarray(
            self.single_task_scores, dtype=np.float64
        ).reshape(T)
        self.fit_times = np.asarray(self.fit_times, dtype=np.float64).reshape(T)
        if self.single_task_fit_times is None:
            self.single_task_fit_times = np.full(T, np.nan)
        self.single_task_fit_times = np.asarray(
            self.single_task_fit_times, dtype=np.float64
        ).reshape(T)
        if self.task_relations is None:
            self.task_relations = np.full((T, T), np.nan)
        self.task_relations = np.asarray(self.task_relations, dtype=np.float64)
        if self.task_kinds is not None:
            self.task_kinds = [str(k) for k in self.task_kinds]
        self.baseline_scores = {
            str(name): np.asarray(
                [_nan_if_none(v) for v in scores], dtype=np.float64
            ).reshape(T)
            for name, scores in (self.baseline_scores or {}).items()
        }
        gaps = self.vs_best_baseline or [None] * T
        if len(gaps) != T:
            raise ValueError(
                f"vs_best_baseline has {len(gaps)} entries for {T} tasks; give one "
                "per task (None where no baseline applies)."
            )
        self.vs_best_baseline = [_gap(entry) for entry in gaps]
        if len(self.metrics) != T:
            raise ValueError(
                f"metrics has {len(self.metrics)} entries for {T} tasks; give one "
                "per task."
            )

    # -- derived quantities ----------------------------------------------------
    @property
    def n_tasks(self) -> int:
        return len(self.task_names)

    @property
    def diagonal(self) -> np.ndarray:
        return np.diag(self.R).copy()

    @property
    def final(self) -> np.ndarray:
        return self.R[-1].copy()

    @property
    def bwt(self) -> float:
        return backward_transfer(self.R)

    @property
    def fwt(self) -> float:
        if not np.all(np.isfinite(self.single_task_scores[1:])):
            return float("nan")
        return forward_transfer(self.R, self.single_task_scores)

    @property
    def forgetting(self) -> float:
        return forgetting(self.R)

    @property
    def _has_gaps(self) -> bool:
        return any(entry is not None for entry in self.vs_best_baseline)

    def baseline_verdict(self) -> dict[str, list[str]]:
        """The tasks whose final score is ahead of, level with or behind the best
        baseline: its 95 % interval (``vs_best_baseline``) above 0, holding 0,
        or below 0.

        Returns
        -------
        dict
            ``{"ahead": [...], "within_noise": [...], "behind": [...]}``, task
            names in training order; tasks without a baseline are in none.

        Examples
        --------
        >>> from sklearn_teracon.evaluation import ContinualReport
        >>> gap = {"baseline": "bow_lr", "difference": 0.02, "low": 0.01, "high": 0.03}
        >>> report = ContinualReport(
        ...     task_names=["next_item", "age"], metrics=["mrr@5", "accuracy"],
        ...     R=[[0.1, None], [0.09, 0.4]], single_task_scores=[None, None],
        ...     fit_times=[1.0, 1.0], vs_best_baseline=[None, gap],
        ... )
        >>> report.baseline_verdict()
        {'ahead': ['age'], 'within_noise': [], 'behind': []}
        """
        return _verdict(zip(self.task_names, self.vs_best_baseline))

    # -- text, Markdown, DataFrame (in _report_render) -------------------------
    def to_text(self) -> str:
        """The paper-shaped table as plain text.

        One row per task (task, metric, score after its own training, final
        score, single-task score), then the BWT, FWT and forgetting lines.
        Missing values read ``n/a``.

        Returns
        -------
        str
        """
        return report_text(self)

    def __str__(self) -> str:
        return self.to_text()

    def __repr__(self) -> str:
        return (
            f"ContinualReport(tasks={self.task_names}, bwt={_fmt(self.bwt)}, "
            f"fwt={_fmt(self.fwt)}, forgetting={_fmt(self.forgetting)})"
        )

    def to_markdown(self) -> str:
        """The report in Markdown: the paper-shaped table, BWT / FWT, R, times.

        Returns
        -------
        str
        """
        return report_markdown(self)

    def to_frame(self):
        """One row per task as a pandas DataFrame.

        Columns: ``metric``, ``after_own_training``, ``final``,
        ``single_task``, ``fit_time``, ``single_task_fit_time``, one per
        baseline, and, when the report has them, ``best_baseline``,
        ``vs_best_baseline`` (final score minus it) and its interval's
        ``vs_best_baseline_low`` and ``vs_best_baseline_high``. BWT, FWT and
        forgetting are in ``frame.attrs``.

        Returns
        -------
        pandas.DataFrame

        Raises
        ------
        ImportError
            If pandas is not installed.
        """
        return report_frame(self)

    # -- JSON ------------------------------------------------------------------
    def to_dict(self) -> dict:
        """A JSON-compatible dict (NaN is None); see :meth:`to_json`."""
        T = self.n_tasks
        tasks = []
        for j in range(T):
            tasks.append(
                {
                    "name": self.task_names[j],
                    "kind": None if self.task_kinds is None else self.task_kinds[j],
                    "metric": self.metrics[j],
                    "after_own_training": self.R[j, j],
                    "final": self.R[-1, j],
                    "single_task": self.single_task_scores[j],
                    "fit_time": self.fit_times[j],
                    "single_task_fit_time": self.single_task_fit_times[j],
                    "n_test": None if self.n_test is None else self.n_test[j],
                    "vs_best_baseline": self.vs_best_baseline[j],
                }
            )
        return _jsonable(
            {
                "format": FORMAT,
                "version": FORMAT_VERSION,
                "stream": self.stream,
                "tasks": tasks,
                "R": self.R,
                "bwt": self.bwt,
                "fwt": self.fwt,
                "forgetting": self.forgetting,
                "single_task_source": self.single_task_source,
                "task_relations": self.task_relations,
                "total_time": self.total_time,
                "baselines": self.baseline_scores,
                "params": self.params,
                "history": self.history,
            }
        )

    def to_json(self, indent: int | None = 2) -> str:
        """The report as strict JSON (NaN and infinities are written as null).

        Read it back with :meth:`from_json`. ``bwt``, ``fwt`` and
        ``forgetting`` are written for convenience and recomputed from ``R``
        on reading.

        Parameters
        ----------
        indent : int or None, default=2

        Returns
        -------
        str
        """
        return json.dumps(self.to_dict(), indent=indent, allow_nan=False)

    save_json = _report_json.save_json

    @classmethod
    def from_json(cls, text: str) -> ContinualReport:
        """Read a report written by :meth:`to_json`.

        Parameters
        ----------
        text : str
            The JSON text.

        Returns
        -------
        ContinualReport

        Raises
        ------
        ValueError
            If the text is not a continual report.
        """
        fields = report_fields_from_json(text)
        try:
            return cls(**fields)
        except (ValueError, OverflowError) as exc:
            raise ValueError(f"not a valid continual report: {exc}") from exc

    load_json = classmethod(_report_json.load_json)

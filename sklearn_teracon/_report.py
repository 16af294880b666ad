"""The report of a continual evaluation: the matrix R, transfer, baselines.

:class:`ContinualReport` holds what
:class:`~sklearn_teracon.evaluation.ContinualEvaluator` measured and renders it
as a text table, Markdown, JSON or a pandas DataFrame.
"""

from __future__ import annotations

import json
import math
import numbers
import os
import reprlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .metrics import backward_transfer, forgetting, forward_transfer

__all__ = ["ContinualReport"]

_FORMAT = "sklearn-teracon/continual-report"
_FORMAT_VERSION = 1


# --------------------------------------------------------------------------- #
# JSON helpers
# --------------------------------------------------------------------------- #
def _jsonable(value: Any) -> Any:
    """A JSON-compatible copy of ``value``; non-finite floats become None.

    Objects JSON has no word for (callbacks, RandomState instances, ...) are
    kept as their ``repr``.
    """
    if value is None or isinstance(value, bool | str):
        return value
    if isinstance(value, np.bool_):
        return bool(value)
    if isinstance(value, numbers.Integral):
        return int(value)
    if isinstance(value, numbers.Real):
        value = float(value)
        return value if math.isfinite(value) else None
    if isinstance(value, np.ndarray):
        return [_jsonable(v) for v in value.tolist()]
    if isinstance(value, Mapping):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    return repr(value)


def _float_array(values, shape: tuple[int, ...]) -> np.ndarray:
    """A float array of ``shape`` from JSON lists in which None stands for NaN."""
    flat = np.array(values, dtype=object).ravel().tolist()
    return np.array(
        [np.nan if v is None else v for v in flat], dtype=np.float64
    ).reshape(shape)


def _nan_if_none(value) -> float:
    return float("nan") if value is None else float(value)


def _fmt(value: float, signed: bool = False, digits: int = 4) -> str:
    if value is None or not np.isfinite(value):
        return "n/a"
    return f"{value:+.{digits}f}" if signed else f"{value:.{digits}f}"


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

    # -- text ------------------------------------------------------------------
    def _rows(self) -> list[list[str]]:
        return [
            [
                name,
                metric,
                _fmt(self.R[j, j]),
                _fmt(self.R[-1, j]),
                _fmt(self.single_task_scores[j]),
                *(_fmt(scores[j]) for scores in self.baseline_scores.values()),
            ]
            for j, (name, metric) in enumerate(zip(self.task_names, self.metrics))
        ]

    @property
    def _header(self) -> tuple[str, ...]:
        return (
            "task",
            "metric",
            "after own",
            "final",
            "single",
            *self.baseline_scores,
        )

    def _summary_lines(self) -> list[tuple[str, str, str]]:
        fwt_note = "after own training - single task, mean over tasks 2..T"
        if not np.all(np.isfinite(self.single_task_scores[1:])):
            fwt_note = "needs single-task scores"
        return [
            (
                "BWT",
                _fmt(self.bwt, signed=True),
                "final - after own training, mean over tasks 1..T-1",
            ),
            ("FWT", _fmt(self.fwt, signed=True), fwt_note),
            (
                "forgetting",
                _fmt(self.forgetting, signed=True),
                "best earlier score - final, mean over tasks 1..T-1",
            ),
        ]

    def to_text(self) -> str:
        """The paper-shaped table as plain text.

        One row per task (task, metric, score after its own training, final
        score, single-task score), then the BWT, FWT and forgetting lines.
        Missing values read ``n/a``.

        Returns
        -------
        str
        """
        rows = [list(self._header), *self._rows()]
        widths = [max(len(row[c]) for row in rows) for c in range(len(rows[0]))]

        def fmt(row):
            cells = [
                cell.ljust(w) if c < 2 else cell.rjust(w)
                for c, (cell, w) in enumerate(zip(row, widths))
            ]
            return "  ".join(cells).rstrip()

        rule = "-" * len(fmt(rows[0]))
        plural = "" if self.n_tasks == 1 else "s"
        title = f"Continual evaluation: {self.n_tasks} task{plural}"
        if self.stream:
            title += f" of {self.stream!r}"
        lines = [title, fmt(rows[0]), rule, *(fmt(r) for r in rows[1:]), rule]
        summary = self._summary_lines()
        label_width = max(len(label) for label, _, _ in summary)
        value_width = max(len(value) for _, value, _ in summary)
        for label, value, note in summary:
            lines.append(
                f"{label.ljust(label_width)}  {value.rjust(value_width)}  ({note})"
            )
        return "\n".join(lines)

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
        out = []
        title = "Continual evaluation"
        if self.stream:
            title += f" of `{self.stream}`"
        out += [f"## {title}", ""]
        baselines = list(self.baseline_scores)
        out.append(
            "| task | metric | after own training | final | single task | "
            + "".join(f"{name} | " for name in baselines)
        )
        out.append("|---|---|---:|---:|---:|" + "---:|" * len(baselines))
        for row in self._rows():
            out.append("| " + " | ".join(row) + " |")
        out.append("")
        for label, value, note in self._summary_lines():
            out.append(f"- **{label}**: {value} ({note})")
        out.append("")

        names = self.task_names
        out += ["### Transfer matrix R", ""]
        out.append(
            "Row: after training through the task; column: score on the task; "
            "`-`: not learned yet."
        )
        out.append("")
        out.append("| after \\ on | " + " | ".join(names) + " |")
        out.append("|---|" + "---:|" * len(names))
        for i, name in enumerate(names):
            cells = [_fmt(v) if np.isfinite(v) else "-" for v in self.R[i].tolist()]
            out.append(f"| {name} | " + " | ".join(cells) + " |")
        out.append("")

        out += ["### Training time (s)", ""]
        out.append("| task | continual | single task |")
        out.append("|---|---:|---:|")
        for j, name in enumerate(names):
            single = self.single_task_fit_times[j]
            out.append(
                f"| {name} | {self.fit_times[j]:.1f} | "
                f"{f'{single:.1f}' if np.isfinite(single) else '-'} |"
            )
        out.append("")
        if np.isfinite(self.total_time):
            out += [f"Total wall time: {self.total_time:.1f} s.", ""]

        if self.params:
            out += ["### Encoder parameters", ""]
            out.append(
                ", ".join(
                    f"`{k}={v!r}`" for k, v in sorted(_jsonable(self.params).items())
                )
            )
            out.append("")
        return "\n".join(out)

    def to_frame(self):
        """One row per task as a pandas DataFrame.

        Columns: ``metric``, ``after_own_training``, ``final``,
        ``single_task``, ``fit_time``, ``single_task_fit_time``, then one per
        baseline. BWT, FWT and
        forgetting are in ``frame.attrs``.

        Returns
        -------
        pandas.DataFrame

        Raises
        ------
        ImportError
            If pandas is not installed.
        """
        try:
            import pandas as pd
        except ImportError as exc:
            raise ImportError(
                "ContinualReport.to_frame requires pandas, which is not installed. "
                "Install it with `pip install pandas`, or use to_text(), "
                "to_markdown() or to_json()."
            ) from exc
        frame = pd.DataFrame(
            {
                "metric": self.metrics,
                "after_own_training": self.diagonal,
                "final": self.final,
                "single_task": self.single_task_scores,
                "fit_time": self.fit_times,
                "single_task_fit_time": self.single_task_fit_times,
                **self.baseline_scores,
            },
            index=pd.Index(self.task_names, name="task"),
        )
        frame.attrs.update(bwt=self.bwt, fwt=self.fwt, forgetting=self.forgetting)
        return frame

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
                }
            )
        return _jsonable(
            {
                "format": _FORMAT,
                "version": _FORMAT_VERSION,
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

    def save_json(self, path: str | os.PathLike) -> None:
        """Write :meth:`to_json` to ``path`` (UTF-8)."""
        with open(path, "w", encoding="utf-8") as f:
            f.write(self.to_json())
            f.write("\n")

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
        if not isinstance(text, str | bytes | bytearray):
            raise TypeError(f"text must be a JSON string, got {type(text).__name__}")
        try:
            data = json.loads(text)
        except (ValueError, RecursionError) as exc:
            raise ValueError(f"not a continual report: invalid JSON ({exc})") from exc
        if not isinstance(data, dict) or data.get("format") != _FORMAT:
            raise ValueError(
                f"not a continual report: expected a JSON object with format "
                f"{_FORMAT!r}"
            )

        def invalid(where: str, expected: str, value) -> ValueError:
            shown = reprlib.repr(value)
            return ValueError(
                f"not a valid continual report: {where} must be {expected}, got {shown}"
            )

        def is_number(value) -> bool:  # or None, which stands for NaN
            if value is None:
                return True
            return isinstance(value, int | float) and not isinstance(value, bool)

        version = data.get("version", 0)
        if not isinstance(version, int) or isinstance(version, bool):
            raise invalid("version", "an integer", version)
        if version > _FORMAT_VERSION:
            raise ValueError(
                f"continual report version {version} is newer than this "
                f"library understands ({_FORMAT_VERSION}); upgrade sklearn-teracon"
            )
        tasks = data.get("tasks")
        if not isinstance(tasks, list) or not tasks:
            raise invalid("tasks", "a non-empty list of task objects", tasks)
        T = len(tasks)
        for j, task in enumerate(tasks):
            if not isinstance(task, dict):
                raise invalid(f"tasks[{j}]", "an object", task)
            for key in ("name", "metric"):
                if not isinstance(task.get(key), str):
                    raise invalid(f"tasks[{j}].{key}", "a string", task.get(key))
            if not isinstance(task.get("kind"), str | None):
                raise invalid(f"tasks[{j}].kind", "a string or null", task["kind"])
            for key in ("single_task", "fit_time", "single_task_fit_time"):
                if not is_number(task.get(key)):
                    raise invalid(f"tasks[{j}].{key}", "a number or null", task[key])
            n = task.get("n_test")
            if n is not None and (not isinstance(n, int) or isinstance(n, bool)):
                raise invalid(f"tasks[{j}].n_test", "an integer or null", n)
        for key in ("R", "task_relations"):
            matrix = data.get(key)
            if matrix is None and key == "task_relations":
                continue
            if not (
                isinstance(matrix, list)
                and len(matrix) == T
                and all(
                    isinstance(row, list)
                    and len(row) == T
                    and all(is_number(v) for v in row)
                    for row in matrix
                )
            ):
                raise invalid(key, f"a {T}×{T} list of numbers or nulls", matrix)
        for key in ("history", "params", "baselines"):
            if not isinstance(data.get(key), dict | None):
                raise invalid(key, "an object", data[key])
        for name, scores in (data.get("baselines") or {}).items():
            if not (
                isinstance(scores, list)
                and len(scores) == T
                and all(is_number(v) for v in scores)
            ):
                raise invalid(f"baselines[{name!r}]", f"{T} numbers or nulls", scores)
        for key in ("stream", "single_task_source"):
            if not isinstance(data.get(key), str | None):
                raise invalid(key, "a string or null", data[key])
        if not is_number(data.get("total_time")):
            raise invalid("total_time", "a number or null", data["total_time"])
        kinds = [t.get("kind") for t in tasks]
        n_test = [t.get("n_test") for t in tasks]
        relations = data.get("task_relations")
        try:
            return cls(
                task_names=[t["name"] for t in tasks],
                metrics=[t["metric"] for t in tasks],
                R=_float_array(data["R"], (T, T)),
                single_task_scores=np.array(
                    [_nan_if_none(t.get("single_task")) for t in tasks]
                ),
                fit_times=np.array([_nan_if_none(t.get("fit_time")) for t in tasks]),
                task_kinds=None if any(k is None for k in kinds) else kinds,
                single_task_source=data.get("single_task_source"),
                single_task_fit_times=np.array(
                    [_nan_if_none(t.get("single_task_fit_time")) for t in tasks]
                ),
                task_relations=None
                if relations is None
                else _float_array(relations, (T, T)),
                history=data.get("history") or {},
                params=data.get("params") or {},
                stream=data.get("stream") or "",
                n_test=None if any(n is None for n in n_test) else n_test,
                total_time=_nan_if_none(data.get("total_time")),
                baseline_scores=data.get("baselines") or {},
            )
        except (ValueError, OverflowError) as exc:  # e.g. an int beyond float range
            raise ValueError(f"not a valid continual report: {exc}") from exc

    @classmethod
    def load_json(cls, path: str | os.PathLike) -> ContinualReport:
        """Read a report file written by :meth:`save_json`."""
        with open(path, encoding="utf-8") as f:
            return cls.from_json(f.read())

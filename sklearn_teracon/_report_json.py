"""A continual report's JSON: NaN as null, and every field checked on reading.

:meth:`ContinualReport.to_json <sklearn_teracon.evaluation.ContinualReport.to_json>`
writes this format and :meth:`~sklearn_teracon.evaluation.ContinualReport.from_json`
reads it through :func:`report_fields_from_json`, which names the first field
that is not what the format says. :func:`json_object` opens every report
format; :func:`save_json` and :func:`load_json` are every report's file
methods, :func:`to_json` the replicated and label-scarce reports'.
"""

from __future__ import annotations

import json
import math
import numbers
import os
import reprlib
from collections.abc import Mapping
from typing import Any

import numpy as np

FORMAT = "sklearn-teracon/continual-report"
FORMAT_VERSION = 2
# A task's comparison with its best baseline: its numbers, beside the name.
GAP_KEYS = ("difference", "low", "high")


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


def json_object(text: str, format: str, what: str) -> dict:
    """The JSON object that ``text`` holds, of format ``format``.

    Raises ValueError, ``"not a <what>: ..."``, for text that is not JSON or
    not such an object.
    """
    try:
        data = json.loads(text)
    except (TypeError, ValueError, RecursionError) as exc:
        raise ValueError(f"not a {what}: invalid JSON ({exc})") from exc
    if not isinstance(data, dict) or data.get("format") != format:
        raise ValueError(f"not a {what}: expected a JSON object with format {format!r}")
    return data


# A report's JSON methods: a report class binds these in its body (so that they
# are documented as its own) beside its ``to_dict`` and ``from_json``.
def to_json(self, indent: int | None = 2) -> str:
    """The report as strict JSON (NaN as null); :meth:`from_json` reads it back
    (without per-row scores: the intervals stored are the ones read)."""
    return json.dumps(self.to_dict(), indent=indent, allow_nan=False)


def save_json(self, path: str | os.PathLike) -> None:
    """Write :meth:`to_json` to ``path`` (UTF-8)."""
    with open(path, "w", encoding="utf-8") as f:
        f.write(self.to_json() + "\n")


def load_json(cls, path: str | os.PathLike):
    """Read a report file written by :meth:`save_json`."""
    with open(path, encoding="utf-8") as f:
        return cls.from_json(f.read())


def report_fields_from_json(text: str) -> dict:
    """The keyword arguments of a ``ContinualReport`` that ``text`` holds.

    Raises ValueError (TypeError for a non-string) naming the first field
    that is missing or of the wrong kind.
    """
    if not isinstance(text, str | bytes | bytearray):
        raise TypeError(f"text must be a JSON string, got {type(text).__name__}")
    data = json_object(text, FORMAT, "continual report")

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
    if version > FORMAT_VERSION:
        raise ValueError(
            f"continual report version {version} is newer than this "
            f"library understands ({FORMAT_VERSION}); upgrade sklearn-teracon"
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
        gap = task.get("vs_best_baseline")
        if gap is not None and not (
            isinstance(gap, dict)
            and isinstance(gap.get("baseline"), str)
            and all(is_number(gap.get(k)) for k in GAP_KEYS)
        ):
            raise invalid(
                f"tasks[{j}].vs_best_baseline",
                "null or an object with a baseline name and numbers "
                + ", ".join(GAP_KEYS),
                gap,
            )
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
        return dict(
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
            vs_best_baseline=[t.get("vs_best_baseline") for t in tasks],
        )
    except (ValueError, OverflowError) as exc:  # e.g. an int beyond float range
        raise ValueError(f"not a valid continual report: {exc}") from exc

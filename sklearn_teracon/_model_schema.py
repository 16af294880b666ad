"""The schema of a model file's description: every value checked before use.

``check_description`` validates a parsed description (see ``_model_file``)
and raises ``InvalidDescription`` naming the first problem; it never lets a
``KeyError``, ``TypeError``, ``OverflowError`` or ``RecursionError`` through.
"""

from __future__ import annotations

import dataclasses
import math
import reprlib

import numpy as np

from ._tasks import TaskRecord
from ._vocabulary import N_RESERVED
from .metrics import score_with_metric
from .nn import HEAD_KINDS, NEXT_ITEM
from .strategies.teracon import MAX_SCALE
from .training._precision import PRECISIONS

FORMAT_NAME = "sklearn-teracon"

_TOP_KEYS = set(
    "format format_version versions params net structure tensors vocabulary "
    "tasks history last_task n_partial_fits task_relations".split()
)
# Written only when set (``set_output(transform=...)``), so that a file which
# does not use it stays readable by versions that predate it.
_OPTIONAL_KEYS = {"set_output"}
_OUTPUT_CONTAINERS = ("default", "pandas", "polars")
_MAX_COUNT = 2**63 - 1
_MAX_ROWS = 2**31 - 1
# History rows hold skorch's numbers, flags and event names; callbacks may add
# small lists or dicts, never deep structures.
_MAX_HISTORY_DEPTH = 8
# Class labels of a string task: numpy's width of the longest label, or the
# width of the array they came in, which no real label set comes near.
_MAX_LABEL_CHARS = 4096
# Keys added to format 2 after files of it were written, with the value that
# such a file was written with: a file without one loads as it was saved.
_ADDED_PARAMS = {
    "precision": "float32",
    "next_item_dropout": 0.0,
    "head_init": "prior",
    "majority_fallback": False,
    "bag_weight": 0.0,
    "loss": "full",
    "n_negatives": 1024,
    "backbone": "nextitnet",
}
_ADDED_NET = {"precision": "float32"}
SHORT = reprlib.Repr()  # short reprs of untrusted values in error messages
SHORT.maxlevel, SHORT.maxstring, SHORT.maxother = 2, 40, 40


class InvalidDescription(Exception):
    """A description that breaks the schema; the caller says where it came from."""


def check_description(description, cls):
    """Validate a parsed description; return an unfitted encoder of its params.

    Raises ``InvalidDescription`` naming the first problem. Nothing here trusts a type:
    every value is checked before it is used.
    """
    _check_keys(description, _TOP_KEYS, "the description", _OPTIONAL_KEYS)
    if description["format"] != FORMAT_NAME:
        raise InvalidDescription(f"format is {SHORT.repr(description['format'])}")
    versions = description["versions"]
    _require(
        isinstance(versions, dict)
        and all(isinstance(v, str) for v in versions.values()),
        "versions",
        "an object of strings",
        versions,
    )
    _add_missing(description["params"], _ADDED_PARAMS)
    enc = _check_params(description["params"], cls)
    net = description["net"]
    _add_missing(net, _ADDED_NET)
    _check_keys(net, {"s", "batch_size", "precision"}, "net")
    _require(
        _is_finite_real(net["s"]) and 1 <= net["s"] <= MAX_SCALE,
        "net.s",
        f"a number in [1, {MAX_SCALE:g}]",
        net["s"],
    )
    _check_int(net["batch_size"], "net.batch_size", 1, _MAX_COUNT)
    _require(
        net["precision"] in PRECISIONS,
        "net.precision",
        f"one of {PRECISIONS}",
        net["precision"],
    )
    n_tasks, structure = _check_structure(description["structure"])
    _check_tensor_table(description["tensors"])
    _check_vocabulary(description["vocabulary"], structure["n_embeddings"])
    names = _check_tasks(description["tasks"], structure)
    _check_history(description["history"], names)
    _require(
        description["last_task"] in names,
        "last_task",
        "a task name",
        description["last_task"],
    )
    _check_int(description["n_partial_fits"], "n_partial_fits", n_tasks, _MAX_COUNT)
    relations = description["task_relations"]
    _require(
        isinstance(relations, list)
        and len(relations) == n_tasks
        and all(
            isinstance(row, list)
            and len(row) == n_tasks
            and all(_is_finite_real(v) and abs(v) <= 1 + 1e-5 for v in row)
            for row in relations
        ),
        "task_relations",
        f"a {n_tasks}×{n_tasks} list of numbers in [-1, 1]",
        relations,
    )
    if "set_output" in description:
        output = description["set_output"]
        _check_keys(output, {"transform"}, "set_output")
        container = output["transform"]
        where = "set_output.transform"
        expected = f"one of {_OUTPUT_CONTAINERS}"
        _require(container in _OUTPUT_CONTAINERS, where, expected, container)
        enc.set_output(transform=container)
    return enc


def _check_params(params, cls):
    names = set(cls._get_param_names())
    _check_keys(params, names, "params")
    if params["callbacks"] is not None:
        raise InvalidDescription(
            "params.callbacks must be null (callbacks are not saved)"
        )
    padding = params["padding_value"]
    _require(
        padding is None
        or isinstance(padding, str | bool | int)
        or _is_finite_real(padding),
        "params.padding_value",
        "a string, a finite number, a boolean or null",
        padding,
    )
    enc = cls(**params)
    try:
        enc._validate_params()
        enc._dilations()
    except (ValueError, TypeError) as exc:
        raise InvalidDescription(f"params: {exc}") from None
    return enc


def _check_structure(structure) -> tuple[int, dict]:
    _check_keys(
        structure,
        {"n_embeddings", "head_kinds", "head_sizes", "strategy_state"},
        "structure",
    )
    # The strategy checks its own state's sizes when it rebuilds it.
    state = structure["strategy_state"]
    _require(
        isinstance(state, dict) and _is_shallow(state),
        "structure.strategy_state",
        f"an object nested at most {_MAX_HISTORY_DEPTH} deep",
        state,
    )
    _check_int(
        structure["n_embeddings"], "structure.n_embeddings", N_RESERVED, _MAX_ROWS
    )
    kinds, sizes = structure["head_kinds"], structure["head_sizes"]
    _require(
        isinstance(kinds, list)
        and len(kinds) >= 1
        and all(k in HEAD_KINDS for k in kinds),
        "structure.head_kinds",
        f"a non-empty list of {HEAD_KINDS}",
        kinds,
    )
    _require(
        isinstance(sizes, list) and len(sizes) == len(kinds),
        "structure.head_sizes",
        f"a list of {len(kinds)} sizes, one per head",
        sizes,
    )
    for i, (kind, size) in enumerate(zip(kinds, sizes)):
        high = structure["n_embeddings"] if kind == NEXT_ITEM else _MAX_ROWS
        _check_int(size, f"structure.head_sizes[{i}]", 1, high)
    return len(kinds), structure


def _check_tensor_table(table) -> None:
    _require(isinstance(table, dict) and table, "tensors", "a non-empty object", table)
    for name, entry in table.items():
        where = f"tensors[{name!r}]"
        _check_keys(entry, {"dtype", "shape", "sha256"}, where)
        _require(
            isinstance(entry["dtype"], str),
            f"{where}.dtype",
            "a string",
            entry["dtype"],
        )
        shape = entry["shape"]
        _require(
            isinstance(shape, list)
            and len(shape) <= 4
            and all(
                isinstance(n, int) and not isinstance(n, bool) and 0 <= n <= _MAX_ROWS
                for n in shape
            ),
            f"{where}.shape",
            "a list of at most 4 sizes",
            shape,
        )
        digest = entry["sha256"]
        _require(
            isinstance(digest, str)
            and len(digest) == 64
            and all(ch in "0123456789abcdef" for ch in digest),
            f"{where}.sha256",
            "64 hexadecimal digits",
            digest,
        )


def _check_vocabulary(items, n_embeddings: int) -> None:
    _require(isinstance(items, list), "vocabulary", "a list of item ids", items)
    if len(items) != n_embeddings - N_RESERVED:
        raise InvalidDescription(
            f"the vocabulary has {len(items)} items but structure.n_embeddings="
            f"{n_embeddings} needs {n_embeddings - N_RESERVED} (plus {N_RESERVED} "
            "reserved rows)"
        )
    for i, item in enumerate(items):
        _require(
            isinstance(item, str | bool)
            or (isinstance(item, int) and -(2**63) <= item < 2**63)
            or _is_finite_real(item),
            f"vocabulary[{i}]",
            "a string, a boolean, an int64 or a finite number",
            item,
        )
    if len(set(items)) != len(items):
        raise InvalidDescription("the vocabulary lists an item id twice")


def _check_tasks(tasks, structure: dict) -> list[str]:
    fields = {f.name for f in dataclasses.fields(TaskRecord)} | {"classes_dtype"}
    kinds, sizes = structure["head_kinds"], structure["head_sizes"]
    _require(
        isinstance(tasks, list) and len(tasks) == len(kinds),
        "tasks",
        f"a list of {len(kinds)} tasks, one per head",
        tasks,
    )
    names = []
    for i, rec in enumerate(tasks):
        where = f"tasks[{i}]"
        _check_keys(rec, fields, where)
        name = rec["name"]
        _require(
            isinstance(name, str) and name and name not in names,
            f"{where}.name",
            "a new non-empty string",
            name,
        )
        names.append(name)
        _require(
            rec["kind"] == kinds[i],
            f"{where}.kind",
            f"{kinds[i]!r} (structure.head_kinds[{i}])",
            rec["kind"],
        )
        _require(
            rec["index"] == i and not isinstance(rec["index"], bool),
            f"{where}.index",
            str(i),
            rec["index"],
        )
        _check_classes(rec, kinds[i], sizes[i], where)
        _check_metric(rec["metric"], f"{where}.metric")
        _check_int(rec["n_samples_seen"], f"{where}.n_samples_seen", 0, _MAX_COUNT)
        _check_int(rec["n_fits"], f"{where}.n_fits", 0, _MAX_COUNT)
        _require(
            _is_finite_real(rec["fit_time"]) and rec["fit_time"] >= 0,
            f"{where}.fit_time",
            "a number of seconds",
            rec["fit_time"],
        )
    return names


def _check_classes(rec: dict, kind: str, size: int, where: str) -> None:
    classes, dtype = rec["classes_"], rec["classes_dtype"]
    if kind == NEXT_ITEM:
        _require(
            classes is None and dtype is None,
            f"{where}.classes_",
            "null for a next-item task",
            classes,
        )
        return
    _require(
        isinstance(classes, list)
        and len(classes) == size
        and all(isinstance(c, str | int | float | bool) for c in classes),
        f"{where}.classes_",
        f"a list of {size} labels (the head's size)",
        classes,
    )
    try:
        dtype = np.dtype(dtype) if isinstance(dtype, str) else None
    except TypeError:
        dtype = None
    _require(
        dtype is not None
        and dtype.kind in "biufUO"
        and (dtype.kind != "U" or dtype.itemsize <= 4 * _MAX_LABEL_CHARS),
        f"{where}.classes_dtype",
        "a numpy dtype of numbers, strings or objects",
        rec["classes_dtype"],
    )
    try:
        values = np.asarray(classes, dtype=dtype)
        unique = np.unique(values)
    except (ValueError, TypeError, OverflowError) as exc:
        raise InvalidDescription(
            f"{where}.classes_ are not of dtype {dtype}: {exc}"
        ) from None
    if len(unique) != len(values) or not np.array_equal(unique, values):
        raise InvalidDescription(f"{where}.classes_ must be sorted and distinct")
    if values.tolist() != classes:
        raise InvalidDescription(f"{where}.classes_ change when given dtype {dtype}")


def _check_metric(metric, where: str) -> None:
    try:
        score_with_metric(metric, np.zeros((1, 2)), np.zeros(1, dtype=np.int64))
    except (ValueError, TypeError):
        raise InvalidDescription(
            f"{where} is not a metric: {SHORT.repr(metric)}"
        ) from None


def _check_history(history, names: list[str]) -> None:
    _require(
        isinstance(history, dict) and set(history) <= set(names),
        "history",
        "an object whose keys are task names",
        history,
    )
    for task, rows in history.items():
        _require(
            isinstance(rows, list)
            and all(isinstance(row, dict) and _is_shallow(row) for row in rows),
            f"history[{task!r}]",
            f"a list of epoch records nested at most {_MAX_HISTORY_DEPTH} deep",
            rows,
        )


def _is_shallow(value, depth: int = 0) -> bool:
    """A JSON value nested at most ``_MAX_HISTORY_DEPTH`` deep."""
    if isinstance(value, dict | list):
        if depth >= _MAX_HISTORY_DEPTH:
            return False
        children = value.values() if isinstance(value, dict) else value
        return all(_is_shallow(child, depth + 1) for child in children)
    return True


# -- small checks ---------------------------------------------------------------
def _require(condition: bool, where: str, expected: str, value) -> None:
    if not condition:
        raise InvalidDescription(f"{where} must be {expected}, got {SHORT.repr(value)}")


def _add_missing(value, added: dict) -> None:
    """Give an object of the description the keys that were added to it later."""
    if isinstance(value, dict):
        for key, default in added.items():
            value.setdefault(key, default)


def _check_keys(value, keys: set, where: str, optional: set = frozenset()) -> None:
    _require(isinstance(value, dict), where, "an object", value)
    missing, extra = sorted(keys - set(value)), sorted(set(value) - keys - optional)
    if missing or extra:
        raise InvalidDescription(
            f"{where} has missing keys {missing} and unexpected keys "
            f"{[SHORT.repr(k) for k in extra]}"
        )


def _check_int(value, where: str, low: int, high: int) -> None:
    _require(
        isinstance(value, int) and not isinstance(value, bool) and low <= value <= high,
        where,
        f"an integer in [{low}, {high}]",
        value,
    )


def _is_finite_real(value) -> bool:
    if isinstance(value, bool):
        return False
    return isinstance(value, int) or (isinstance(value, float) and math.isfinite(value))

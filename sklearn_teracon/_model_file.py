"""Model files: an encoder as safetensors weights plus a checked JSON description.

A model file is a safetensors file whose metadata holds two strings: the
description (JSON: parameters, structure, tasks, vocabulary, history, and the
dtype, shape and sha256 digest of every tensor) and the sha256 digest of the
description itself. ``load`` verifies both digests and validates the
description against a schema before it builds anything, so a modified,
truncated or hand-edited file is refused with a ``ValueError`` instead of
loading wrong weights or failing deep inside. The digests detect corruption
and edits; they do not authenticate the author (anyone can recompute them).

Format history: 1 (development versions only, never released) had no digests
and is refused with a message saying so; 2 is the current format.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import math
import numbers
import reprlib
from pathlib import Path

import numpy as np

from ._sequences import N_RESERVED, ItemVocabulary
from .metrics import score_with_metric
from .nn import HEAD_KINDS, NEXT_ITEM
from .training._device import check_device
from .training.callbacks import non_finite_parameters
from .training.persistence import (
    build_module,
    fill_module,
    module_tensors,
    read_metadata,
    read_tensors,
    save_tensors,
    tensor_digest,
    tensor_layout,
)

# Version of the model file layout written by ``save``; ``load`` reads only it.
FORMAT_VERSION = 2
FORMAT_NAME = "sklearn-teracon"
DESCRIPTION_KEY = "sklearn_teracon"
DIGEST_KEY = "sklearn_teracon_sha256"

_TOP_KEYS = {
    "format",
    "format_version",
    "versions",
    "params",
    "structure",
    "tensors",
    "vocabulary",
    "tasks",
    "history",
    "last_task",
    "n_partial_fits",
    "task_relations",
}
_MAX_COUNT = 2**63 - 1
_MAX_ROWS = 2**31 - 1
# History rows hold skorch's numbers, flags and event names; callbacks may add
# small lists or dicts, never deep structures.
_MAX_HISTORY_DEPTH = 8
# Class labels of a string task: numpy's width of the longest label, or the
# width of the array they came in, which no real label set comes near.
_MAX_LABEL_CHARS = 4096
_SHORT = reprlib.Repr()  # short reprs of untrusted values in error messages
_SHORT.maxlevel, _SHORT.maxstring, _SHORT.maxother = 2, 40, 40


class _Invalid(Exception):
    """A description that breaks the schema; the caller adds where it came from."""


def save_encoder(enc, path) -> None:
    """Write the fitted encoder ``enc`` to ``path`` (``ContinualUserEncoder.save``).

    Everything that ``load`` checks is checked here first, so ``save`` never
    writes a file that ``load`` refuses.
    """
    enc._validate_params()
    enc._check_architecture()
    non_finite = non_finite_parameters(enc.net_.module_)
    if non_finite:
        raise ValueError(
            f"cannot save this encoder: the weights {non_finite[:3]} hold NaN or "
            "infinity"
        )
    tensors = module_tensors(enc.net_.module_)
    layout = tensor_layout(tensors)
    for name, tensor in tensors.items():
        layout[name]["sha256"] = tensor_digest(tensor)
    text = _dumps(_describe(enc, layout))
    try:
        _check_description(json.loads(text), type(enc))
    except _Invalid as exc:
        raise ValueError(f"cannot save this encoder: {exc}") from None
    metadata = {DESCRIPTION_KEY: text, DIGEST_KEY: _digest(text)}
    save_tensors(tensors, path, metadata)


def load_encoder(cls, path, *, device: str | None = None):
    """An encoder of class ``cls`` from ``path`` (``ContinualUserEncoder.load``)."""
    from .encoder import TaskRecord

    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"no model file at {path}")
    description = _read_description(path)
    try:
        enc = _check_description(description, cls)
    except _Invalid as exc:
        raise _tampered(path, f"invalid model description: {exc}") from None
    if device is not None:
        enc.set_params(device=device)._validate_params()
    try:
        check_device(enc.device)
    except ValueError as exc:
        raise ValueError(f"{exc}; load(path, device=...) chooses another") from None
    tensors = read_tensors(path)
    module = _check_tensors(path, tensors, description, enc)
    module = fill_module(module, tensors, enc.device)
    tasks = {}
    for rec in description["tasks"]:
        dtype = rec.pop("classes_dtype")
        if rec["classes_"] is not None:
            rec["classes_"] = np.asarray(rec["classes_"], dtype=dtype)
        tasks[rec["name"]] = TaskRecord(**rec)
    vocabulary = ItemVocabulary(description["vocabulary"])
    enc.net_ = enc._build_net(module, len(vocabulary), 0.0, seed=0)
    enc.tasks_ = tasks
    enc.item_vocabulary_ = vocabulary
    enc.history_ = cls._history_from_records(description["history"])
    enc.last_task_ = description["last_task"]
    enc.n_partial_fits_ = description["n_partial_fits"]
    enc.task_relations_ = np.asarray(description["task_relations"], dtype=np.float64)
    return enc


# -- writing ------------------------------------------------------------------
def _describe(enc, layout: dict) -> dict:
    params = enc.get_params(deep=False)
    params["callbacks"] = None
    if not isinstance(params["random_state"], numbers.Integral | None):
        params["random_state"] = None
    return {
        "format": FORMAT_NAME,
        "format_version": FORMAT_VERSION,
        "versions": _versions(),
        "params": params,
        "structure": enc.net_.module_.structure(),
        "tensors": layout,
        "vocabulary": _json_items(enc.item_vocabulary_.items),
        "tasks": [
            {
                **dataclasses.asdict(rec),
                "classes_": None if rec.classes_ is None else rec.classes_.tolist(),
                "classes_dtype": None
                if rec.classes_ is None
                else rec.classes_.dtype.str,
            }
            for rec in enc.tasks_.values()
        ],
        "history": enc.history_,
        "last_task": enc.last_task_,
        "n_partial_fits": enc.n_partial_fits_,
        "task_relations": enc.task_relations_.tolist(),
    }


def _dumps(description: dict) -> str:
    try:
        return json.dumps(description, default=_to_builtin)
    except RecursionError:
        raise ValueError(
            "cannot save this encoder: its history holds too deeply nested values"
        ) from None


def _digest(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def _versions() -> dict:
    import sklearn
    import skorch
    import torch

    from . import __version__

    return {
        "sklearn_teracon": __version__,
        "scikit-learn": sklearn.__version__,
        "skorch": skorch.__version__,
        "torch": torch.__version__,
    }


def _to_builtin(value):
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    raise TypeError(f"cannot save a value of type {type(value).__name__}")


def _json_items(items: list) -> list:
    for item in items:
        if not isinstance(item, str | int | float | bool):
            raise TypeError(
                f"cannot save item id {item!r} of type {type(item).__name__}: "
                "saved item ids must be strings or numbers"
            )
    return items


# -- reading ------------------------------------------------------------------
def _tampered(path: Path, problem: str) -> ValueError:
    return ValueError(f"{path} is tampered or corrupt: {problem}")


def _read_description(path: Path) -> dict:
    """The parsed description, its format and digest checked."""
    metadata = read_metadata(path)
    if DESCRIPTION_KEY not in metadata:
        raise ValueError(
            f"{path} is a safetensors file but not an sklearn-teracon model"
        )
    text = metadata[DESCRIPTION_KEY]
    try:
        description = json.loads(text)
    except (ValueError, RecursionError) as exc:
        raise _tampered(path, f"unreadable model description: {exc}") from None
    version = (
        description.get("format_version") if isinstance(description, dict) else None
    )
    if not isinstance(version, int) or isinstance(version, bool):
        raise _tampered(path, f"format_version is {_SHORT.repr(version)}")
    if version > FORMAT_VERSION:
        written_by = description.get("versions")
        if isinstance(written_by, dict):
            written_by = written_by.get("sklearn_teracon")
        raise ValueError(
            f"{path} was written in model format {version} by sklearn-teracon "
            f"{_SHORT.repr(written_by)}; this version reads format "
            f"{FORMAT_VERSION}: upgrade sklearn-teracon"
        )
    if version < FORMAT_VERSION:
        raise ValueError(
            f"{path} is in model format {version}, written by a development "
            f"version of sklearn-teracon before model files carried integrity "
            f"digests; this version reads format {FORMAT_VERSION} only: train and "
            "save the model again"
        )
    if set(metadata) != {DESCRIPTION_KEY, DIGEST_KEY}:
        raise _tampered(
            path,
            f"its metadata keys are {sorted(metadata)}, expected "
            f"{sorted({DESCRIPTION_KEY, DIGEST_KEY})}",
        )
    if metadata[DIGEST_KEY] != _digest(text):
        raise _tampered(path, "the model description does not match its digest")
    return description


def _check_tensors(path: Path, tensors: dict, description: dict, enc):
    """Check the file's tensors against the description; return the module to fill.

    The tensors must be exactly those the description lists (dtype, shape,
    digest) and those the structure needs.
    """
    structure, described = description["structure"], description["tensors"]
    dim, n_blocks = enc.embedding_dim, enc.n_blocks
    # A lower bound of the weights the structure needs (embedding, heads and
    # convolutions), checked before that module is built: a description that
    # asks for more than the file holds is refused without allocating it.
    needed = (structure["n_embeddings"] + sum(structure["head_sizes"])) * dim
    needed += 2 * n_blocks * dim * dim * enc.kernel_size
    held = sum(tensor.numel() for tensor in tensors.values())
    if needed > held:
        raise _tampered(
            path,
            f"the description needs at least {needed} weights, the file holds {held}",
        )
    module = build_module(
        structure, dim=dim, dilations=enc._dilations(), kernel_size=enc.kernel_size
    )
    expected = tensor_layout(module.state_dict())
    listed = {
        name: {k: v for k, v in entry.items() if k != "sha256"}
        for name, entry in described.items()
    }
    for what, layout in (
        ("the file holds", tensor_layout(tensors)),
        ("the description lists", listed),
    ):
        if layout != expected:
            raise _tampered(
                path,
                "the weights do not match the model the file describes: "
                f"{what} {_layout_difference(layout, expected)}",
            )
    for name, tensor in tensors.items():
        if tensor_digest(tensor) != described[name]["sha256"]:
            raise _tampered(path, f"tensor {name!r} does not match its digest")
    non_finite = [name for name, t in tensors.items() if not t.isfinite().all()]
    if non_finite:
        raise _tampered(path, f"the weights {non_finite[:3]} hold NaN or infinity")
    return module


def _layout_difference(layout: dict, expected: dict) -> str:
    missing = sorted(set(expected) - set(layout))
    extra = sorted(set(layout) - set(expected))
    if missing or extra:
        return f"missing tensors {missing[:3]}, unexpected tensors {extra[:3]}"
    name = next(n for n in expected if layout[n] != expected[n])
    return f"tensor {name!r} as {layout[name]}, but the model needs {expected[name]}"


# -- the schema ---------------------------------------------------------------
def _check_description(description, cls):
    """Validate a parsed description; return an unfitted encoder of its params.

    Raises ``_Invalid`` naming the first problem. Nothing here trusts a type:
    every value is checked before it is used.
    """
    _check_keys(description, _TOP_KEYS, "the description")
    if description["format"] != FORMAT_NAME:
        raise _Invalid(f"format is {_SHORT.repr(description['format'])}")
    versions = description["versions"]
    _require(
        isinstance(versions, dict)
        and all(isinstance(v, str) for v in versions.values()),
        "versions",
        "an object of strings",
        versions,
    )
    enc = _check_params(description["params"], cls)
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
    return enc


def _check_params(params, cls):
    names = set(cls._get_param_names())
    _check_keys(params, names, "params")
    if params["callbacks"] is not None:
        raise _Invalid("params.callbacks must be null (callbacks are not saved)")
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
        raise _Invalid(f"params: {exc}") from None
    return enc


def _check_structure(structure) -> tuple[int, dict]:
    _check_keys(structure, {"n_embeddings", "head_kinds", "head_sizes"}, "structure")
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
        raise _Invalid(
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
        raise _Invalid("the vocabulary lists an item id twice")


def _check_tasks(tasks, structure: dict) -> list[str]:
    from .encoder import TaskRecord

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
        raise _Invalid(f"{where}.classes_ are not of dtype {dtype}: {exc}") from None
    if len(unique) != len(values) or not np.array_equal(unique, values):
        raise _Invalid(f"{where}.classes_ must be sorted and distinct")
    if values.tolist() != classes:
        raise _Invalid(f"{where}.classes_ change when given dtype {dtype}")


def _check_metric(metric, where: str) -> None:
    try:
        score_with_metric(metric, np.zeros((1, 2)), np.zeros(1, dtype=np.int64))
    except (ValueError, TypeError):
        raise _Invalid(f"{where} is not a metric: {_SHORT.repr(metric)}") from None


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
        raise _Invalid(f"{where} must be {expected}, got {_SHORT.repr(value)}")


def _check_keys(value, keys: set, where: str) -> None:
    _require(isinstance(value, dict), where, "an object", value)
    missing, extra = sorted(keys - set(value)), sorted(set(value) - keys)
    if missing or extra:
        raise _Invalid(
            f"{where} has missing keys {missing} and unexpected keys "
            f"{[_SHORT.repr(k) for k in extra]}"
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

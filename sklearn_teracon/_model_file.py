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
and is refused with a message saying so; 2 is the current format. A file of
format 2 may carry ``set_output`` (written only when it is set); one without
it loads as it was saved. How a file is read and written (one read, atomic
and durable writes): ``_model_io``.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import numbers
import os
from pathlib import Path

import numpy as np
from skorch.history import History

from ._model_io import read_model_file, write_model_file
from ._model_schema import (
    FORMAT_NAME,
    SHORT,
    InvalidDescription,
    check_description,
)
from ._tasks import TaskRecord
from ._version import __version__
from ._vocabulary import ItemVocabulary
from .training._device import check_device
from .training.callbacks import non_finite_parameters
from .training.persistence import (
    build_module,
    fill_module,
    min_backbone_weights,
    module_tensors,
    tensor_digest,
    tensor_layout,
)

# Version of the model file layout written by ``save``; ``load`` reads only it.
FORMAT_VERSION = 2
DESCRIPTION_KEY = "sklearn_teracon"
DIGEST_KEY = "sklearn_teracon_sha256"


def save_encoder(enc, path) -> None:
    """Write the fitted encoder ``enc`` to ``path`` (``ContinualUserEncoder.save``).

    Everything that ``load`` checks is checked here first, so ``save`` never
    writes a file that ``load`` refuses.
    """
    path = _check_path(path)
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
        check_description(json.loads(text), type(enc))
    except InvalidDescription as exc:
        raise ValueError(f"cannot save this encoder: {exc}") from None
    metadata = {DESCRIPTION_KEY: text, DIGEST_KEY: _digest(text)}
    write_model_file(path, tensors, metadata)


def load_encoder(cls, path, *, device: str | None = None):
    """An encoder of class ``cls`` from ``path`` (``ContinualUserEncoder.load``).

    The description and the tensors come from one read of the file.
    """
    path = _check_path(path)
    if not path.is_file():
        raise FileNotFoundError(f"no model file at {path}")
    metadata, tensors = read_model_file(path)
    description = _read_description(path, metadata)
    try:
        enc = check_description(description, cls)
    except InvalidDescription as exc:
        raise _tampered(path, f"invalid model description: {exc}") from None
    if device is not None:
        enc.set_params(device=device)._validate_params()
    try:
        check_device(enc.device)
    except ValueError as exc:
        raise ValueError(f"{exc}; load(path, device=...) chooses another") from None
    strategy = enc._strategy()
    module = _check_tensors(path, tensors, description, enc, strategy)
    module = fill_module(module, tensors, enc.device)
    tasks = {}
    for rec in description["tasks"]:
        dtype = rec.pop("classes_dtype")
        if rec["classes_"] is not None:
            rec["classes_"] = np.asarray(rec["classes_"], dtype=dtype)
        tasks[rec["name"]] = TaskRecord(**rec)
    vocabulary = ItemVocabulary(description["vocabulary"])
    net = enc._build_net(module, len(vocabulary), 0.0, 0, strategy)
    net.s = description["net"]["s"]
    net.batch_size = description["net"]["batch_size"]
    net.precision = description["net"]["precision"]
    return enc._commit(
        net,
        tasks,
        vocabulary,
        {task: History(rows) for task, rows in description["history"].items()},
        last_task=description["last_task"],
        n_partial_fits=description["n_partial_fits"],
        task_relations=description["task_relations"],
    )


def _check_path(path) -> Path:
    if not isinstance(path, str | os.PathLike):
        raise TypeError(
            f"path must be a string or path-like, got {type(path).__name__}"
        )
    return Path(path)


# -- writing ------------------------------------------------------------------
def _describe(enc, layout: dict) -> dict:
    params = enc.get_params(deep=False)
    params["callbacks"] = None
    if not isinstance(params["random_state"], numbers.Integral | None):
        params["random_state"] = None
    output = getattr(enc, "_sklearn_output_config", {}).get("transform")
    return {
        # Only when set: a file without it stays readable by older versions.
        **({"set_output": {"transform": output}} if output is not None else {}),
        "format": FORMAT_NAME,
        "format_version": FORMAT_VERSION,
        "versions": _versions(),
        "params": params,
        # What the fitted net predicts with; the parameters may have changed
        # since (set_params after fitting), and a round trip keeps predictions.
        "net": {
            "s": float(enc.net_.s),
            "batch_size": int(enc.net_.batch_size),
            "precision": enc.net_.precision,
        },
        "structure": enc.net_.structure(),
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


def _read_description(path: Path, metadata: dict[str, str]) -> dict:
    """The parsed description in ``metadata``, its format and digest checked."""
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
        raise _tampered(path, f"format_version is {SHORT.repr(version)}")
    if version > FORMAT_VERSION:
        written_by = description.get("versions")
        if isinstance(written_by, dict):
            written_by = written_by.get("sklearn_teracon")
        raise ValueError(
            f"{path} was written in model format {version} by sklearn-teracon "
            f"{SHORT.repr(written_by)}; this version reads format "
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


def _check_tensors(path: Path, tensors: dict, description: dict, enc, strategy):
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
    needed += min_backbone_weights(
        enc.backbone, dim=dim, n_blocks=n_blocks, kernel_size=enc.kernel_size
    )
    held = sum(tensor.numel() for tensor in tensors.values())
    if needed > held:
        raise _tampered(
            path,
            f"the description needs at least {needed} weights, the file holds {held}",
        )
    try:
        module = build_module(
            structure,
            dim=dim,
            dilations=enc._dilations(),
            kernel_size=enc.kernel_size,
            strategy=strategy,
            backbone=enc.backbone,
            n_positions=enc.max_len,
        )
    except ValueError as exc:
        raise _tampered(path, f"invalid strategy state: {exc}") from None
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

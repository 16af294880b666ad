"""Model files: an encoder as safetensors weights plus a JSON description."""

from __future__ import annotations

import json
import numbers
from dataclasses import asdict
from pathlib import Path

import numpy as np

from ._sequences import ItemVocabulary
from .training.persistence import load_module, read_metadata, save_module

# Version of the model file layout written by ``save``; ``load`` reads up to it.
FORMAT_VERSION = 1


def save_encoder(enc, path) -> None:
    """Write the fitted encoder ``enc`` to ``path`` (``ContinualUserEncoder.save``)."""
    params = enc.get_params(deep=False)
    params["callbacks"] = None
    if not isinstance(params["random_state"], numbers.Integral | None):
        params["random_state"] = None
    description = {
        "format": "sklearn-teracon",
        "format_version": FORMAT_VERSION,
        "versions": _versions(),
        "params": params,
        "structure": enc.net_.module_.structure(),
        "vocabulary": _json_items(enc.item_vocabulary_.items),
        "tasks": [
            {
                **asdict(rec),
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
    text = json.dumps(description, default=_to_builtin)
    save_module(enc.net_.module_, path, {"sklearn_teracon": text})


def load_encoder(cls, path, *, device: str | None = None):
    """An encoder of class ``cls`` from ``path`` (``ContinualUserEncoder.load``)."""
    from .encoder import TaskRecord

    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"no model file at {path}")
    description = _read_description(path)
    params = description["params"]
    if device is not None:
        params["device"] = device
    enc = cls(**params)
    enc._validate_params()
    structure = description["structure"]
    module = load_module(
        path,
        structure=structure,
        dim=enc.embedding_dim,
        dilations=enc._dilations(),
        kernel_size=enc.kernel_size,
        device=enc.device,
    )
    vocabulary = ItemVocabulary(description["vocabulary"])
    if len(vocabulary) != structure["n_embeddings"]:
        raise ValueError(
            f"{path}: the vocabulary has {len(vocabulary)} rows but the weights "
            f"have {structure['n_embeddings']} (tampered or corrupt file)"
        )
    tasks = {}
    for rec in description["tasks"]:
        dtype = rec.pop("classes_dtype")
        if rec["classes_"] is not None:
            rec["classes_"] = np.asarray(rec["classes_"], dtype=dtype)
        tasks[rec["name"]] = TaskRecord(**rec)
    enc.net_ = enc._build_net(module, len(vocabulary), 0.0, seed=0)
    enc.tasks_ = tasks
    enc.item_vocabulary_ = vocabulary
    enc.history_ = cls._history_from_records(description["history"])
    enc.last_task_ = description["last_task"]
    enc.n_partial_fits_ = description["n_partial_fits"]
    enc.task_relations_ = np.asarray(description["task_relations"])
    return enc


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


def _read_description(path: Path) -> dict:
    metadata = read_metadata(path)
    if "sklearn_teracon" not in metadata:
        raise ValueError(
            f"{path} is a safetensors file but not an sklearn-teracon model"
        )
    try:
        description = json.loads(metadata["sklearn_teracon"])
        version = int(description["format_version"])
    except (ValueError, KeyError, TypeError) as exc:
        raise ValueError(f"{path}: unreadable model description: {exc}") from exc
    if version > FORMAT_VERSION:
        raise ValueError(
            f"{path} was written in model format {version} by sklearn-teracon "
            f"{description.get('versions', {}).get('sklearn_teracon', '?')}; this "
            f"version reads formats up to {FORMAT_VERSION}: upgrade sklearn-teracon"
        )
    return description

"""Weights on disk as safetensors: a format that runs no code when it is read."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import torch
from safetensors import SafetensorError, safe_open
from safetensors.torch import save_file

from ..nn import TeraconModule


def save_module(module: TeraconModule, path, metadata: dict[str, str]) -> None:
    """Write the weights and string metadata to ``path``, atomically.

    The file appears whole or not at all: it is written beside ``path`` and
    renamed over it, so an interrupt never leaves half a model.
    """
    path = Path(path)
    tensors = {k: v.detach().cpu().contiguous() for k, v in module.state_dict().items()}
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    os.close(fd)
    try:
        save_file(tensors, tmp, metadata=metadata)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def read_metadata(path) -> dict[str, str]:
    """The string metadata of a weights file; a clear error if it is not one."""
    try:
        with safe_open(str(path), framework="pt") as f:
            return f.metadata() or {}
    except FileNotFoundError:
        raise
    except (SafetensorError, OSError, ValueError) as exc:
        raise ValueError(
            f"{path} is not a readable sklearn-teracon model file (corrupt or "
            f"truncated?): {exc}"
        ) from exc


def load_module(
    path, *, structure: dict, dim: int, dilations, kernel_size: int, device: str
) -> TeraconModule:
    """Rebuild the module that ``structure`` describes and load its weights."""
    module = TeraconModule(structure["n_embeddings"], dim, dilations, kernel_size)
    for kind, size in zip(structure["head_kinds"], structure["head_sizes"]):
        module.add_task(kind, size)
    try:
        with safe_open(str(path), framework="pt", device="cpu") as f:
            state = {key: f.get_tensor(key) for key in f.keys()}
    except SafetensorError as exc:
        raise ValueError(f"{path}: corrupt weights: {exc}") from exc
    try:
        module.load_state_dict(state, strict=True)
    except RuntimeError as exc:
        raise ValueError(
            f"{path}: the weights do not match the model the file describes "
            f"(tampered or corrupt file): {exc}"
        ) from exc
    return module.to(torch.device(device))

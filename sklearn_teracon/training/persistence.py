"""Weights on disk as safetensors: a format that runs no code when it is read."""

from __future__ import annotations

import hashlib
import os
import tempfile
from pathlib import Path

import torch
from safetensors import SafetensorError, safe_open
from safetensors.torch import save_file

from ..nn import TeraconModule


def module_tensors(module: TeraconModule) -> dict[str, torch.Tensor]:
    """The weights of ``module`` as contiguous CPU tensors, by state-dict name."""
    return {
        name: tensor.detach().cpu().contiguous()
        for name, tensor in module.state_dict().items()
    }


def tensor_digest(tensor: torch.Tensor) -> str:
    """sha256 of the tensor's bytes (its dtype and shape are checked apart)."""
    data = tensor.detach().cpu().contiguous().reshape(-1).view(torch.uint8)
    return hashlib.sha256(data.numpy()).hexdigest()


def tensor_layout(tensors: dict[str, torch.Tensor]) -> dict[str, dict]:
    """Name → ``{"dtype": "float32", "shape": [...]}`` of each tensor."""
    return {
        name: {
            "dtype": str(tensor.dtype).removeprefix("torch."),
            "shape": list(tensor.shape),
        }
        for name, tensor in tensors.items()
    }


def save_tensors(tensors: dict[str, torch.Tensor], path, metadata: dict) -> None:
    """Write ``tensors`` and string ``metadata`` to ``path``, atomically.

    The file appears whole or not at all: it is written beside ``path`` and
    renamed over it, so an interrupt never leaves half a model.
    """
    path = Path(path)
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


def read_tensors(path) -> dict[str, torch.Tensor]:
    """Every tensor of a weights file, on the CPU."""
    try:
        with safe_open(str(path), framework="pt", device="cpu") as f:
            return {key: f.get_tensor(key) for key in f.keys()}
    except (SafetensorError, OSError, ValueError, RuntimeError) as exc:
        raise ValueError(
            f"{path} is tampered or corrupt: unreadable weights: {exc}"
        ) from exc


def build_module(
    structure: dict, *, dim: int, dilations, kernel_size: int, strategy
) -> TeraconModule:
    """A module as ``structure`` and the size parameters describe it (new weights).

    ``strategy`` adds its per-task state from ``structure["strategy_state"]``
    (raising ``ValueError`` if that is not what it wrote).
    """
    module = TeraconModule(structure["n_embeddings"], dim, dilations, kernel_size)
    for kind, size in zip(structure["head_kinds"], structure["head_sizes"]):
        module.add_task(kind, size)
    strategy.rebuild(module, structure["strategy_state"])
    return module


def fill_module(
    module: TeraconModule, tensors: dict[str, torch.Tensor], device: str
) -> TeraconModule:
    """``module`` holding ``tensors`` (of exactly its layout), moved to ``device``."""
    module.load_state_dict(tensors, strict=True)
    return module.to(torch.device(device))


def module_architecture(module: TeraconModule) -> dict:
    """The size parameters ``module`` was built with (what its weights need).

    ``dilations`` and ``kernel_size`` are not visible in the weights' shapes
    alone, so they are read from the convolutions.
    """
    blocks = module.backbone.blocks
    return {
        "embedding_dim": module.backbone.dim,
        "n_blocks": len(blocks),
        "kernel_size": blocks[0].conv1.conv.kernel_size[0] if blocks else None,
        "dilations": [block.conv1.conv.dilation[0] for block in blocks],
    }

"""Weights on disk as safetensors: a format that runs no code when it is read."""

from __future__ import annotations

import hashlib

import safetensors.torch
import torch

from ..nn import TeraconModule, check_backbone


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


def tensors_to_bytes(tensors: dict[str, torch.Tensor], metadata: dict) -> bytes:
    """A safetensors file's bytes holding ``tensors`` and string ``metadata``."""
    return safetensors.torch.save(tensors, metadata=metadata)


def tensors_from_bytes(data: bytes) -> dict[str, torch.Tensor]:
    """Every tensor of a safetensors file's bytes, on the CPU.

    Raises ``SafetensorError``, ``ValueError`` or ``RuntimeError`` when the
    bytes are not such a file.
    """
    return safetensors.torch.load(data)


def build_module(
    structure: dict,
    *,
    dim: int,
    dilations,
    kernel_size: int,
    strategy,
    backbone: str = "nextitnet",
    n_positions: int | None = None,
) -> TeraconModule:
    """A module as ``structure`` and the size parameters describe it (new weights).

    ``strategy``'s task state serves its tasks, sized by
    ``structure["strategy_state"]`` (``ValueError`` if that is not what the
    state writes). ``backbone`` names the network (``n_positions``: a
    SASRec's positions).
    """
    module = TeraconModule(
        structure["n_embeddings"],
        dim,
        dilations,
        kernel_size,
        task_state=strategy.task_state(),
        backbone=backbone,
        n_positions=n_positions,
    )
    for kind, size in zip(structure["head_kinds"], structure["head_sizes"]):
        module.add_task(kind, size)
    module.strategy_state.rebuild(module, structure["strategy_state"])
    return module


def fill_module(
    module: TeraconModule, tensors: dict[str, torch.Tensor], device: str
) -> TeraconModule:
    """``module`` holding ``tensors`` (of exactly its layout), moved to ``device``."""
    module.load_state_dict(tensors, strict=True)
    return module.to(torch.device(device))


def module_architecture(module: TeraconModule) -> dict:
    """The estimator parameters ``module`` was built with (what its weights need).

    ``backbone`` and the parameters that shape that backbone: for NextItNet
    ``embedding_dim``, ``n_blocks``, ``kernel_size`` and ``dilations``; for
    SASRec ``embedding_dim``, ``n_blocks`` and ``max_len`` (its positions).
    """
    return module.backbone.architecture()


def min_backbone_weights(
    backbone: str, *, dim: int, n_blocks: int, kernel_size: int
) -> int:
    """A lower bound of the block weights of a ``backbone`` of these sizes.

    A model file's tensors are checked against it before the module is built.
    """
    return n_blocks * check_backbone(backbone).block_weights(dim, kernel_size)

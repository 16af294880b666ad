"""Serving graphs of one task: the task's constant masks folded into the weights.

At prediction the mask scale ``s`` is fixed, so whatever a task state derives
from its parameters to serve a task (TERACON's relation-aware masks
``σ(s·…)``, HAT's, Piggyback's binarised weights, Conure's owned weights, a
task's own backbone) is a constant. :func:`serving_model` asks the module for
the task's hidden states once, with a hook on the backbone that records what
the pass runs on: the backbone's weights as the task state substituted them
(``functional_call``), its masks ``[K, d]`` and its adapters. It then builds a
plain module of those constants:

- substituted convolution weights are stored as they were computed;
- a slot's mask, applied after its LayerNorm and ReLU, is folded into that
  LayerNorm's affine weight and bias: ``relu(LN(x))·m = relu(LN'(x))`` with
  ``γ' = γ·m`` and ``β' = β·m``, exact in real arithmetic for masks ≥ 0
  (sigmoids are); a mask with a negative entry stays a constant multiply;
- adapters (PeterRec) are kept as the small modules they are.

A task state whose pass is not one backbone pass of a :class:`NextItNet`, or
whose folded graph does not reproduce the module's hidden states on a probe
batch, is served by a copy of the whole module instead (nothing folded; the
exporter's constant folding may still fold the masks).
"""

from __future__ import annotations

import copy
import itertools

import torch
import torch.nn.functional as F
from torch import nn

from .backbone import CausalConv1d, MaskedResidualBlock, NextItNet, causal_shifts
from .model import read_out

OUTPUTS = ("scores", "embedding")
# A folded pass must give the module's hidden states to this tolerance on the
# probe batch (folding only reorders float32 products).
PROBE_RTOL, PROBE_ATOL = 1e-4, 1e-5


class FoldedSlot(nn.Module):
    """One mask slot with constant weights: causal convolution, LayerNorm, ReLU."""

    def __init__(self, weight, bias, norm, kernel_size, dilation, mask, adapter):
        super().__init__()
        self.weight, self.bias = weight, bias
        self.norm_weight, self.norm_bias, self.eps = norm
        # A constant shape, not one read at run time: a simpler graph (the
        # TorchScript-based ONNX exporter even requires it).
        self.width = (int(self.norm_weight.shape[0]),)
        self.kernel_size, self.dilation = kernel_size, dilation
        # None when folded into the LayerNorm.
        self.register_buffer("mask", mask)
        self.adapter = adapter

    def forward(self, h: torch.Tensor, keep: torch.Tensor) -> torch.Tensor:
        # As CausalConv1d: the dilated shifts side by side, one matrix multiply.
        shifted = causal_shifts(h, self.kernel_size, self.dilation)
        x = F.linear(shifted, self.weight, self.bias)
        if self.adapter is not None:
            x = self.adapter(x, h)
        x = F.layer_norm(x, self.width, self.norm_weight, self.norm_bias, self.eps)
        x = F.relu(x)
        if self.mask is not None:
            x = x * self.mask
        return x * keep


class FoldedBackbone(nn.Module):
    """A NextItNet pass of one task: item embedding and folded residual blocks."""

    def __init__(self, embedding: nn.Parameter, slots: list[FoldedSlot]):
        super().__init__()
        self.embedding = embedding
        self.slots = nn.ModuleList(slots)

    def forward(self, items: torch.Tensor) -> torch.Tensor:
        keep = (items != 0).unsqueeze(-1).to(self.embedding.dtype)
        h = F.embedding(items, self.embedding)
        for b in range(0, len(self.slots), 2):
            x = self.slots[b](h, keep)
            h = h + self.slots[b + 1](x, keep)
        return h


class ModulePass(nn.Module):
    """The hidden states of one task from a copy of the whole module (unfolded)."""

    def __init__(self, module: nn.Module, task: int, s: float):
        super().__init__()
        self.module, self.task, self.s = module, task, s

    def forward(self, items: torch.Tensor) -> torch.Tensor:
        return self.module.hidden(items, self.task, self.s)


class ServingModel(nn.Module):
    """Padded item indices ``[batch, length]`` to scores or representations.

    ``passes`` hold one hidden-state pass per task. With a head (``weight``,
    ``bias``): ``rows`` (``"last"`` position or the ``readout``) through it.
    Without: the mean over the passes of their ``readout`` representations.
    """

    def __init__(self, passes, readout: str, rows=None, weight=None, bias=None):
        super().__init__()
        self.passes = nn.ModuleList(passes)
        self.readout, self.rows = readout, rows
        self.weight, self.bias = weight, bias

    def forward(self, items: torch.Tensor) -> torch.Tensor:
        if self.weight is None:
            users = [read_out(p(items), items, self.readout) for p in self.passes]
            return users[0] if len(users) == 1 else torch.stack(users).mean(0)
        hidden = self.passes[0](items)
        rows = (
            hidden[:, -1] if self.rows == "last" else read_out(hidden, items, self.rows)
        )
        return F.linear(rows, self.weight, self.bias)


def _frozen(tensor: torch.Tensor) -> nn.Parameter:
    return nn.Parameter(tensor.detach().to("cpu", torch.float32).clone(), False)


class _Constants:
    """One frozen parameter per distinct source tensor (and derivation), so that
    tasks reading the same weights share them in the exported file."""

    def __init__(self):
        self._made: dict = {}

    def get(self, tensor: torch.Tensor, derive: str = "", make=None) -> nn.Parameter:
        key = (tensor.data_ptr(), tuple(tensor.shape), tensor.stride(), derive)
        if key not in self._made:
            value = make(tensor) if make is not None else tensor
            # The source is held too: its memory is never reused for another key.
            self._made[key] = (_frozen(value), tensor)
        return self._made[key][0]


def _record_pass(module, items, task: int, s: float):
    """The module's hidden states of ``task`` and what its backbone passes ran on."""
    seen = []

    def record(backbone, args, kwargs):
        named = itertools.chain(backbone.named_parameters(), backbone.named_buffers())
        masks = args[1] if len(args) > 1 else kwargs.get("masks")
        adapters = args[2] if len(args) > 2 else kwargs.get("adapters")
        seen.append((backbone, {n: t.detach() for n, t in named}, masks, adapters))

    handles = [
        m.register_forward_pre_hook(record, with_kwargs=True)
        for m in module.modules()
        if isinstance(m, NextItNet)
    ]
    try:
        with torch.no_grad():
            hidden = module.hidden(items, task, s)
    finally:
        for handle in handles:
            handle.remove()
    return hidden, seen


def _plain_backbone(backbone) -> bool:
    """Whether ``backbone`` runs exactly NextItNet's pass (nothing overridden)."""
    return (
        type(backbone).forward is NextItNet.forward
        and all(type(b).forward is MaskedResidualBlock.forward for b in backbone.blocks)
        and all(
            type(conv).forward is CausalConv1d.forward
            for b in backbone.blocks
            for conv in (b.conv1, b.conv2)
        )
    )


def _folded_pass(record, constants: _Constants) -> tuple[FoldedBackbone, bool]:
    """A :class:`FoldedBackbone` of one recorded pass; whether every mask folded."""
    backbone, tensors, masks, adapters = record
    masks = masks.detach()
    slots, all_folded = [], True
    for b, block in enumerate(backbone.blocks):
        for j, (conv, norm) in enumerate(
            ((block.conv1, "norm1"), (block.conv2, "norm2"))
        ):
            k = 2 * b + j
            name = f"blocks.{b}.conv{j + 1}.conv"
            weight = constants.get(
                tensors[f"{name}.weight"],
                "flat",
                lambda w: w.transpose(1, 2).flatten(1),  # tap-major, as CausalConv1d
            )
            bias = constants.get(tensors[f"{name}.bias"])
            gamma = tensors[f"blocks.{b}.{norm}.weight"]
            beta = tensors[f"blocks.{b}.{norm}.bias"]
            mask = masks[k]
            if bool(torch.all(mask == 1)):
                norm_params, kept = (constants.get(gamma), constants.get(beta)), None
            elif bool(torch.all(mask >= 0)):
                norm_params, kept = (_frozen(gamma * mask), _frozen(beta * mask)), None
            else:  # relu(z)·m ≠ relu(z·m) where m < 0
                norm_params, kept = (constants.get(gamma), constants.get(beta)), mask
                all_folded = False
            adapter = None
            if adapters is not None and adapters[k] is not None:
                adapter = copy.deepcopy(adapters[k]).to("cpu", torch.float32)
                adapter.requires_grad_(False)
            eps = getattr(block, norm).eps
            slots.append(
                FoldedSlot(
                    weight,
                    bias,
                    (*norm_params, eps),
                    conv.kernel_size,
                    conv.dilation,
                    None if kept is None else kept.to("cpu", torch.float32).clone(),
                    adapter,
                )
            )
    embedding = constants.get(tensors["item_embedding.weight"])
    return FoldedBackbone(embedding, slots), all_folded


def probe_items(n_embeddings: int, length: int, n_users: int = 8) -> torch.Tensor:
    """Seeded item indices, left-padded as the encoder pads (the last user: none)."""
    gen = torch.Generator().manual_seed(0)
    items = torch.randint(1, max(n_embeddings, 2), (n_users, length), generator=gen)
    real = torch.randint(1, length + 1, (n_users,), generator=gen)
    real[-1] = 0  # an all-padding row
    for row, n in zip(items, real):
        row[: length - int(n)] = 0
    return items


def task_pass(module, task: int, s: float, probe, constants) -> tuple[nn.Module, str]:
    """A constant module for ``task``'s hidden states, and what was folded."""
    expected, seen = _record_pass(module, probe, task, s)
    if len(seen) == 1 and _plain_backbone(seen[0][0]):
        folded, all_folded = _folded_pass(seen[0], constants)
        with torch.no_grad():
            got = folded(probe.cpu())
        if torch.allclose(got, expected.cpu().float(), PROBE_RTOL, PROBE_ATOL):
            return folded, "masks" if all_folded else "weights"
    copied = copy.deepcopy(module).to("cpu", torch.float32).requires_grad_(False)
    return ModulePass(copied, task, s), "none"


def serving_model(
    module,
    tasks: list[int],
    s: float,
    readout: str,
    output: str,
    *,
    rows: str | None = None,
    first_column: int = 0,
    length: int = 12,
) -> tuple[ServingModel, list[str]]:
    """A CPU float32 module of ``tasks`` as ``module`` serves them at scale ``s``.

    Parameters
    ----------
    module : TeraconModule
    tasks : list of int
        One task for ``"scores"``; for ``"embedding"``, the tasks whose
        ``readout`` representations are averaged.
    s : float
    readout : {"last", "mean"}
    output : {"scores", "embedding"}
    rows : {"last", "mean"} or None
        What the head reads (``"scores"`` only).
    first_column : int
        Head columns before it are left out.
    length : int
        Positions of the probe batch the folded passes are checked on (at
        most what the backbone reads: SASRec's positions).

    Returns
    -------
    ServingModel
        In eval mode, without gradients.
    list of str
        Per task what was folded: ``"masks"`` (masks and substituted weights),
        ``"weights"`` (substituted weights; a mask stays a multiply) or
        ``"none"`` (the whole module, masks computed in the graph).
    """
    if output not in OUTPUTS:
        raise ValueError(f"output must be one of {OUTPUTS}, got {output!r}")
    probe = probe_items(module.backbone.n_embeddings, length)
    device = next(module.parameters()).device
    was_training = module.training
    module.eval()
    try:
        constants = _Constants()
        made = [task_pass(module, t, s, probe.to(device), constants) for t in tasks]
        if output == "embedding":
            served = ServingModel([p for p, _ in made], readout)
        else:
            head = module.heads[tasks[0]]
            served = ServingModel(
                [made[0][0]],
                readout,
                rows,
                _frozen(head.weight[first_column:]),
                _frozen(head.bias[first_column:]),
            )
    finally:
        module.train(was_training)
    return served.eval(), [what for _, what in made]


__all__ = [
    "OUTPUTS",
    "FoldedBackbone",
    "FoldedSlot",
    "ModulePass",
    "ServingModel",
    "probe_items",
    "serving_model",
    "task_pass",
]

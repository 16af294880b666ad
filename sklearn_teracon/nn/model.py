"""The whole TERACON network: backbone, mask bank and one head per task."""

from __future__ import annotations

import torch
from torch import nn

from .backbone import NextItNet
from .masks import TaskMaskBank

NEXT_ITEM = "next_item"
LABELS = "labels"
HEAD_KINDS = (NEXT_ITEM, LABELS)
READOUTS = ("last", "mean")


class TeraconModule(nn.Module):
    """A masked NextItNet shared by a growing list of tasks.

    Each task owns a mask per slot (in :class:`TaskMaskBank`) and a linear head:
    a next-item head scores every item at every position; a label head scores
    the task's classes from the last position, which holds the user
    representation.

    Parameters
    ----------
    n_embeddings : int
        Item embedding rows (padding and unknown included).
    dim : int
        Width d.
    dilations : sequence of int
        Dilation of each residual block.
    kernel_size : int
        Convolution width.
    """

    def __init__(self, n_embeddings: int, dim: int, dilations, kernel_size: int):
        super().__init__()
        self.backbone = NextItNet(n_embeddings, dim, dilations, kernel_size)
        self.masks = TaskMaskBank(self.backbone.n_slots, dim)
        self.heads = nn.ModuleList()
        self.head_kinds: list[str] = []

    @property
    def n_tasks(self) -> int:
        return len(self.heads)

    def structure(self) -> dict:
        """What rebuilding this module needs besides the weights."""
        return {
            "n_embeddings": self.backbone.n_embeddings,
            "head_kinds": list(self.head_kinds),
            "head_sizes": [h.out_features for h in self.heads],
        }

    def add_task(
        self, kind: str, n_outputs: int, log_prior=None, s: float = 1.0
    ) -> int:
        """Register a task with its masks (run at scale ``s``) and head.

        Returns the task's index.

        ``log_prior`` (one value per output) starts the head's bias at the
        classes' log frequencies, so the new head predicts the prior from its
        first step instead of spending its first epochs learning it.
        """
        if kind not in HEAD_KINDS:
            raise ValueError(f"unknown head kind {kind!r}")
        index = self.masks.add_task(s)
        device = self.masks.task_embeddings[index].device
        head = nn.Linear(self.backbone.dim, n_outputs).to(device)
        if log_prior is not None:
            with torch.no_grad():
                head.bias.copy_(torch.as_tensor(log_prior, dtype=head.bias.dtype))
        self.heads.append(head)
        self.head_kinds.append(kind)
        return index

    def grow_head(self, task: int, n_outputs: int) -> None:
        """Give a next-item head rows for new items, old rows kept."""
        old = self.heads[task]
        if n_outputs <= old.out_features:
            return
        new = nn.Linear(old.in_features, n_outputs).to(old.weight.device)
        with torch.no_grad():
            new.weight[: old.out_features] = old.weight
            new.bias[: old.out_features] = old.bias
        self.heads[task] = new

    def hidden(self, items: torch.Tensor, task: int, s: float) -> torch.Tensor:
        """Hidden states ``[batch, length, d]`` under ``task``'s masks."""
        return self.backbone(items, self.masks(task, s))

    def represent(
        self, items: torch.Tensor, task: int, s: float, readout: str = "last"
    ) -> torch.Tensor:
        """User representations ``[batch, d]`` under ``task``'s masks.

        ``"last"``: the hidden state at the last position (the paper's);
        ``"mean"``: the mean hidden state over the user's real positions,
        which weighs the whole history alike instead of its latest items.
        """
        return read_out(self.hidden(items, task, s), items, readout)

    def forward(
        self, items: torch.Tensor, task: int, s: float, readout: str = "last"
    ) -> torch.Tensor:
        """Logits of ``task`` for the user representation."""
        return self.heads[task](self.represent(items, task, s, readout))

    def position_logits(
        self, items: torch.Tensor, task: int, s: float, positions: torch.Tensor
    ) -> torch.Tensor:
        """Logits at the selected positions only ``[n_selected, n_outputs]``.

        Running the head on the selected rows alone skips the padding
        positions, which would be most of a full-vocabulary head's work.
        """
        return self.heads[task](self.hidden(items, task, s)[positions])


def read_out(hidden: torch.Tensor, items: torch.Tensor, readout: str) -> torch.Tensor:
    """User representations ``[batch, d]`` from hidden states ``[batch, length, d]``.

    ``readout`` is ``"last"`` or ``"mean"`` (see ``TeraconModule.represent``);
    the strategies read out the hidden states they serve a task with here too.
    """
    if readout == "last":
        return hidden[:, -1]
    if readout != "mean":
        raise ValueError(f"readout must be one of {READOUTS}, got {readout!r}")
    keep = (items != 0).unsqueeze(-1).to(hidden.dtype)
    return (hidden * keep).sum(1) / keep.sum(1).clamp(min=1.0)

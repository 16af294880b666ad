"""The whole TERACON network: backbone, mask bank and one head per task."""

from __future__ import annotations

import torch
from torch import nn

from .backbone_registry import make_backbone
from .masks import TaskMaskBank
from .task_state import TaskState

NEXT_ITEM = "next_item"
LABELS = "labels"
HEAD_KINDS = (NEXT_ITEM, LABELS)
READOUTS = ("last", "mean")


class TeraconModule(nn.Module):
    """A masked NextItNet shared by a growing list of tasks.

    Each task owns a mask per slot (in :class:`TaskMaskBank`) and a linear head:
    a next-item head scores every item at every position; a label head scores
    the task's classes from the last position, which holds the user
    representation. How a task is served (which masks, which weights) is its
    ``strategy_state``'s to say (:mod:`~sklearn_teracon.nn.task_state`): the
    module answers :meth:`hidden` for any task by itself.

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
    task_state : TaskState or None
        How tasks are served, with its per-task state (None: TERACON's masks).
    backbone : {"nextitnet", "sasrec"}, default="nextitnet"
        The network under the masks (:data:`~sklearn_teracon.nn.BACKBONES`).
    n_positions : int or None
        Positions of a SASRec backbone (the estimator's ``max_len``).
    """

    def __init__(
        self,
        n_embeddings: int,
        dim: int,
        dilations,
        kernel_size: int,
        task_state: TaskState | None = None,
        backbone: str = "nextitnet",
        n_positions: int | None = None,
    ):
        super().__init__()
        self.backbone = make_backbone(
            backbone, n_embeddings, dim, dilations, kernel_size, n_positions
        )
        self.masks = TaskMaskBank(self.backbone.n_slots, dim)
        self.heads = nn.ModuleList()
        self.head_kinds: list[str] = []
        # The name the per-task state has had in saved files since 0.1.
        self.strategy_state = task_state if task_state is not None else TaskState()

    @property
    def n_tasks(self) -> int:
        return len(self.heads)

    def structure(self) -> dict:
        """What rebuilding this module needs besides the weights."""
        return {
            "n_embeddings": self.backbone.n_embeddings,
            "head_kinds": list(self.head_kinds),
            "head_sizes": [h.out_features for h in self.heads],
            "strategy_state": self.strategy_state.structure(self),
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
        self.strategy_state.add_task(self, index)
        return index

    def grow_items(self, n_embeddings: int) -> None:
        """Embedding rows for new items, in the backbone and the per-task state."""
        self.backbone.grow_items(n_embeddings)
        self.strategy_state.grow_items(self, n_embeddings)

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

    def task_masks(self, task: int, s: float) -> torch.Tensor:
        """The channel masks ``[K, d]`` that serve ``task`` at scale ``s``."""
        return self.strategy_state.masks(self, task, s)

    def hidden(self, items: torch.Tensor, task: int, s: float) -> torch.Tensor:
        """Hidden states ``[batch, length, d]`` of ``items`` as ``task`` is served."""
        return self.strategy_state.hidden(self, items, task, s)

    def unused_parameters(self) -> list[nn.Parameter]:
        """Parameters that serve no task (e.g. the mask bank without masks)."""
        return self.strategy_state.unused_parameters(self)

    def n_serving_parameters(self) -> int:
        """Numbers of the model that serve some task (its size, as compared)."""
        unused = {id(p) for p in self.unused_parameters()}
        return sum(p.numel() for p in self.parameters() if id(p) not in unused)

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

"""DITTO's per-task state: each task's item centroid and catalogue size.

DITTO (Choi et al., SIGIR 2025) serves every task as TERACON does (the mask
bank's relation-aware masks), so :class:`DittoState` keeps
:class:`~sklearn_teracon.nn.task_state.TaskState`'s serving. What it adds is
what DITTO's knowledge transfer reads about an earlier task ``k`` when a
later one trains:

- the *centroid* ``E[I^{T_k}]``: the mean item embedding at the end of task
  ``k``'s training (the reference code's ``mean_embedding_k``), which stands
  for the item distribution task ``k`` learned on;
- the *catalogue size*: how many embedding rows (padding and unknown
  included) there were when task ``k`` finished, so that the items that came
  later are known (the reference code's ``past_target_list``).

Both are buffers, saved with the model like every weight.
"""

from __future__ import annotations

import torch
from torch import nn

from .task_state import PerTask, TaskState

# Rows 0 (padding) and 1 (unknown item) are no item: they are left out of
# the centroid (the reference averages its whole table, padding included).
FIRST_ITEM_ROW = 2


class DittoRecord(nn.Module):
    """One task's centroid ``[d]`` and catalogue size (0 until it has trained)."""

    def __init__(self, dim: int):
        super().__init__()
        self.register_buffer("centroid", torch.zeros(dim))
        self.register_buffer("n_items", torch.zeros((), dtype=torch.long))


class DittoState(TaskState):
    """TERACON's serving, plus every task's :class:`DittoRecord`."""

    def __init__(self):
        super().__init__()
        self.records = PerTask()

    def add_task(self, model, task: int) -> None:
        backbone = model.backbone
        record = DittoRecord(backbone.dim)
        self.records.add(task, record.to(backbone.item_embedding.weight.device))

    def record(self, model, task: int) -> None:
        """Store ``task``'s centroid and catalogue size as the model has them now."""
        weight = model.backbone.item_embedding.weight
        rows = weight[FIRST_ITEM_ROW:]
        with torch.no_grad():
            entry = self.records.of(task)
            if len(rows):
                entry.centroid.copy_(rows.mean(0).to(entry.centroid.dtype))
            entry.n_items.fill_(int(weight.shape[0]))

    def centroid(self, task: int) -> torch.Tensor:
        """The item centroid ``[d]`` recorded for ``task``."""
        return self.records.of(task).centroid

    def n_items(self, task: int) -> int:
        """The embedding rows there were when ``task`` last finished (0: never)."""
        return int(self.records.of(task).n_items)


__all__ = ["DittoRecord", "DittoState"]

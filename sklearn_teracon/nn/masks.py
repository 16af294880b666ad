"""Task masks: one embedding per task and slot, made relation-aware from task 2 on."""

from __future__ import annotations

import torch
from torch import nn


class TaskMaskBank(nn.Module):
    """Soft channel masks for every task and mask slot (DESIGN.md §4.2).

    Task 1 (index 0): ``m^k = σ(s·e^k)``. Task i ≥ 2:
    ``m_i^k = σ(s·f_i^k([tanh(s·e_i^k) ‖ p_j^k for every other task j]))`` with
    ``p_j^k = [tanh(s·e_j^k) ‖ tanh(-s·e_j^k)]``. ``f_i^k`` is a linear map over
    the stacked rows, shared by the d channels: a weight per (slot, row) and a
    bias per slot.

    When a task arrives, every older relation map gains two zero columns for
    it, so old masks are exactly unchanged at that moment (the reference code
    re-initialised them instead).

    Parameters
    ----------
    n_slots : int
        Mask slots K (two per residual block).
    dim : int
        Channels d.
    """

    def __init__(self, n_slots: int, dim: int):
        super().__init__()
        self.n_slots = n_slots
        self.dim = dim
        self.task_embeddings = nn.ParameterList()
        # relation_weights[i - 1] belongs to task i ≥ 1: [K, 1 + 2 (n_tasks - 1)].
        self.relation_weights = nn.ParameterList()
        self.relation_biases = nn.ParameterList()

    @property
    def n_tasks(self) -> int:
        return len(self.task_embeddings)

    def add_task(self) -> int:
        """Register a task; return its index."""
        device = self._device()
        new_task = self.n_tasks
        for i, weight in enumerate(self.relation_weights):
            zeros = torch.zeros(self.n_slots, 2, device=device)
            self.relation_weights[i] = nn.Parameter(torch.cat([weight.data, zeros], 1))
        self.task_embeddings.append(
            nn.Parameter(torch.randn(self.n_slots, self.dim, device=device))
        )
        if new_task > 0:
            weight = torch.zeros(self.n_slots, 1 + 2 * new_task, device=device)
            # Start from the task's own embedding; relations are learned.
            weight[:, 0] = 1.0
            self.relation_weights.append(nn.Parameter(weight))
            self.relation_biases.append(
                nn.Parameter(torch.zeros(self.n_slots, device=device))
            )
        return new_task

    def _device(self) -> torch.device:
        for p in self.parameters():
            return p.device
        return torch.device("cpu")

    def forward(self, task: int, s: float) -> torch.Tensor:
        """The masks ``[K, d]`` of ``task`` at scale ``s``."""
        own = self.task_embeddings[task]
        if task == 0:
            return torch.sigmoid(s * own)
        rows = [torch.tanh(s * own)]
        for j, other in enumerate(self.task_embeddings):
            if j != task:
                rows += [torch.tanh(s * other), torch.tanh(-s * other)]
        stacked = torch.stack(rows, dim=1)  # [K, rows, d]
        weight = self.relation_weights[task - 1]
        mixed = torch.einsum("kr,krd->kd", weight, stacked)
        return torch.sigmoid(s * (mixed + self.relation_biases[task - 1][:, None]))

    def all_masks(self, s: float) -> torch.Tensor:
        """Masks of every task ``[n_tasks, K, d]``."""
        return torch.stack([self(t, s) for t in range(self.n_tasks)])

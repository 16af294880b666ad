"""Task masks: one embedding per task and slot, made relation-aware from task 2 on."""

from __future__ import annotations

import torch
from torch import nn

# The reference code's start for the relation maps: small weights and a
# positive bias put σ(s·(W·rows + b)) near 1 but off saturation (σ(5) at
# s = 50), so a new task starts using every channel and its masks still get
# gradient. An identity start on the task's own row sat at σ(±s), exactly 0 or
# 1 in float32: no gradient, and the masks never moved.
RELATION_WEIGHT_STD = 0.01
RELATION_BIAS = 0.1

# A mask entry under this is exactly 0. Trained masks saturate: σ(z) falls
# below float32's smallest normal number (1.2e-38) for z < -87, and subnormal
# operands make x86 matrix multiplies and elementwise kernels 10-100x slower.
# On MovieLens-1M, where 0.8 % of the liked task's entries had gone subnormal, a
# later task's epoch took 34 s with them and 23 s with this floor
# (docs/performance.rst). An entry this small switches its channel off anyway,
# and its gradient (σ' ≈ σ) was as negligible.
MASK_FLOOR = 1e-20


def soft_mask(pre_activation: torch.Tensor) -> torch.Tensor:
    """``σ(pre_activation)``, with entries under :data:`MASK_FLOOR` set to 0."""
    mask = torch.sigmoid(pre_activation)
    return mask.masked_fill(mask < MASK_FLOOR, 0.0)


class TaskMaskBank(nn.Module):
    """Soft channel masks for every task and mask slot.

    Task 1 (index 0): ``m^k = σ(s·e^k)``. Task i ≥ 2:
    ``m_i^k = σ(s·f_i^k([tanh(s·e_i^k) ‖ p_j^k for every other task j]))`` with
    ``p_j^k = [tanh(s·e_j^k) ‖ tanh(-s·e_j^k)]``. ``f_i^k`` is a linear map over
    the stacked rows, shared by the d channels: a weight per (slot, row) and a
    bias per slot.

    Task embeddings start at ``N(0, 1/s²)``, so ``s·e`` is of order one: the
    sigmoids and tanhs start in their sensitive range and the masks learn
    (``N(0, 1)`` at s = 50 saturates them, leaving a frozen random half-mask).

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

    def add_task(self, s: float = 1.0) -> int:
        """Register a task whose masks run at scale ``s``; return its index."""
        device = self._device()
        new_task = self.n_tasks
        for i, weight in enumerate(self.relation_weights):
            zeros = torch.zeros(self.n_slots, 2, device=device)
            self.relation_weights[i] = nn.Parameter(torch.cat([weight.data, zeros], 1))
        self.task_embeddings.append(
            nn.Parameter(torch.randn(self.n_slots, self.dim, device=device) / s)
        )
        if new_task > 0:
            weight = torch.randn(self.n_slots, 1 + 2 * new_task, device=device)
            self.relation_weights.append(nn.Parameter(weight * RELATION_WEIGHT_STD))
            self.relation_biases.append(
                nn.Parameter(torch.full((self.n_slots,), RELATION_BIAS, device=device))
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
            return soft_mask(s * own)
        rows = [torch.tanh(s * own)]
        for j, other in enumerate(self.task_embeddings):
            if j != task:
                rows += [torch.tanh(s * other), torch.tanh(-s * other)]
        stacked = torch.stack(rows, dim=1)  # [K, rows, d]
        weight = self.relation_weights[task - 1]
        mixed = torch.einsum("kr,krd->kd", weight, stacked)
        return soft_mask(s * (mixed + self.relation_biases[task - 1][:, None]))

    def all_masks(self, s: float) -> torch.Tensor:
        """Masks of every task ``[n_tasks, K, d]``."""
        return torch.stack([self(t, s) for t in range(self.n_tasks)])

"""PeterRec (Yuan et al., SIGIR 2020): per-task adapters on a frozen backbone."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from .simple import SequentialStrategy

ADAPTERS = "adapters"


class Adapter(nn.Module):
    """A residual bottleneck ``x + up(relu(down(x)))``, d → d/4 → d.

    ``up`` starts at zero, so a new adapter starts as the identity: the task
    starts from the pretrained backbone's own representation.
    """

    def __init__(self, dim: int):
        super().__init__()
        self.down = nn.Linear(dim, max(1, dim // 4))
        self.up = nn.Linear(max(1, dim // 4), dim)
        nn.init.zeros_(self.up.weight)
        nn.init.zeros_(self.up.bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.up(F.relu(self.down(x)))


class PeterRecStrategy(SequentialStrategy):
    """PeterRec: the first task's backbone frozen, small adapters per later task.

    The first task trains the backbone as usual. From then on the backbone is
    frozen, and each later task inserts its own adapter (a residual
    d → d/4 → d bottleneck, PeterRec's model patch) after every convolution
    of every block, before its LayerNorm, and trains only its adapters and
    its head. Earlier tasks' predictions are exactly preserved. Stores per
    task ``2 · n_blocks`` adapters (about ``n_blocks · d²`` numbers) and a
    head. Takes no ``strategy_params``.
    """

    name = "peterrec"

    def on_task_added(self, module, task):
        if task == 0:
            return
        state = self.state(module)
        if ADAPTERS not in state:
            state[ADAPTERS] = nn.ModuleDict()
        backbone = module.backbone
        device = backbone.item_embedding.weight.device
        state[ADAPTERS][str(task)] = nn.ModuleList(
            Adapter(backbone.dim) for _ in range(backbone.n_slots)
        ).to(device)

    def on_task_start(self, net, task):
        net.module_.requires_grad_(True)
        if net.module_.n_tasks > 1:
            net.module_.backbone.requires_grad_(False)

    def hidden(self, module, items, task, s):
        backbone = module.backbone
        if task == 0:
            return backbone(items, self.masks(module, task, s))
        adapters = self.state(module)[ADAPTERS][str(task)]
        keep = (items != 0).unsqueeze(-1).to(backbone.item_embedding.weight.dtype)
        h = backbone.item_embedding(items)
        for b, block in enumerate(backbone.blocks):
            x = F.relu(block.norm1(adapters[2 * b](block.conv1(h)))) * keep
            x = F.relu(block.norm2(adapters[2 * b + 1](block.conv2(x)))) * keep
            h = h + x
        return h


__all__ = ["Adapter", "PeterRecStrategy"]

"""PeterRec (Yuan et al., SIGIR 2020): per-task adapters on a frozen backbone."""

from __future__ import annotations

from ..nn.task_state import AdapterState
from ..training.strategy import Strategy
from .base import freeze_backbone_after_first_task


class PeterRecStrategy(Strategy):
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

    def task_state(self):
        return AdapterState()

    def before_task(self, context):
        freeze_backbone_after_first_task(context)


__all__ = ["PeterRecStrategy"]

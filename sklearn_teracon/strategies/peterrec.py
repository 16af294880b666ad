"""PeterRec (Yuan et al., SIGIR 2020): per-task adapters on a frozen backbone."""

from __future__ import annotations

import numbers

from sklearn.utils._param_validation import Interval

from ..nn.task_state import AdapterState
from ..training.strategy import Strategy
from .base import freeze_backbone_after_first_task


class PeterRecStrategy(Strategy):
    """PeterRec: the first task's backbone frozen, small adapters per later task.

    The first task trains the backbone as usual. From then on the backbone
    (item embedding, convolutions, LayerNorms) is frozen, and each later
    task adds its own model patch to every slot of every block and trains
    only its patches and its head. A patch is a bottleneck d → d/4 → d
    beside the slot's frozen convolution: it reads the slot's input ``h``
    and ``up(relu(down(h)))`` is added to the convolution's output before
    the slot's LayerNorm (the reference's parallel insertion). ``up`` starts
    at zero, so a task starts from the pretrained representation. The
    patches train at ``adapter_lr_scale`` times the learning rate of the
    head. Earlier tasks' predictions are exactly preserved. Stores per task
    ``2 · n_blocks`` patches (about ``n_blocks · d²`` numbers) and a head.

    Parameters
    ----------
    adapter_lr_scale : float, default=5.0
        Learning rate of the patches, as a multiple of ``lr``. Started at
        zero, they have to grow their whole contribution within the task's
        steps, in which Adam moves a weight by about its learning rate each.
    """

    name = "peterrec"
    _defaults = {"adapter_lr_scale": 5.0}
    _parameter_constraints = {
        "adapter_lr_scale": [Interval(numbers.Real, 0, None, closed="neither")],
    }

    def task_state(self):
        return AdapterState()

    def before_task(self, context):
        freeze_backbone_after_first_task(context)

    def param_groups(self, context):
        pattern = f"strategy_state.adapters.{context.task}.*"
        return [(pattern, {"lr": context.net.lr * self.adapter_lr_scale})]


__all__ = ["PeterRecStrategy"]

"""Strategies without masks: sequential fine-tuning, FineAll and SinMo.

They share the backbone architecture and the heads with TERACON, and serve
every task with masks of all ones (every channel kept).
"""

from __future__ import annotations

import copy

from torch import nn

from ..nn import NextItNet
from ..training.persistence import module_architecture
from .base import Strategy, unit_masks

BACKBONES = "backbones"


class SequentialStrategy(Strategy):
    """One model fine-tuned task after task, with no protection at all.

    Every task trains the shared backbone and its own head; nothing keeps the
    earlier tasks: the forgetting lower bound. Stores nothing per task beyond
    its head. Takes no ``strategy_params``.
    """

    name = "sequential"

    def masks(self, module, task, s):
        return unit_masks(module)

    def unused_parameters(self, module):
        return list(module.masks.parameters())  # TERACON's mask bank


class _OwnBackbonePerTask(SequentialStrategy):
    """Task 0 is served by the module's backbone, task t ≥ 1 by its own copy.

    The copies live in ``module.strategy_state["backbones"]`` (key ``str(t)``),
    so only the trained task's backbone is in a training step's graph: the
    other tasks' weights get no gradient and stay exactly as they were.
    """

    def new_backbone(self, module) -> NextItNet:
        raise NotImplementedError

    def on_task_added(self, module, task):
        if task == 0:
            return
        backbones = self.state(module)
        if BACKBONES not in backbones:
            backbones[BACKBONES] = nn.ModuleDict()
        backbones[BACKBONES][str(task)] = self.new_backbone(module)

    def backbone(self, module, task: int) -> NextItNet:
        if task == 0:
            return module.backbone
        return self.state(module)[BACKBONES][str(task)]

    def grow_items(self, module, n_embeddings):
        for task in range(1, module.n_tasks):
            self.backbone(module, task).grow_items(n_embeddings)

    def hidden(self, module, items, task, s):
        return self.backbone(module, task)(items, unit_masks(module))


class FineTuneStrategy(_OwnBackbonePerTask):
    """FineAll: per task a copy of the first-task model, everything fine-tuned.

    When task t ≥ 1 arrives, the first task's backbone (embedding and blocks)
    is copied and fine-tuned on task t alone. Stores one backbone per task:
    the model grows by a whole backbone with every task. Takes no
    ``strategy_params``.
    """

    name = "finetune"

    def new_backbone(self, module):
        return copy.deepcopy(module.backbone)


class SingleStrategy(_OwnBackbonePerTask):
    """SinMo: one model per task, trained from scratch on that task alone.

    Task t ≥ 1 gets a freshly initialised backbone. It is the reference of
    forward transfer: what a task reaches with no earlier task. Stores one
    backbone per task. Takes no ``strategy_params``.
    """

    name = "single"

    def new_backbone(self, module):
        first = module.backbone
        shape = module_architecture(module)
        return NextItNet(
            first.n_embeddings, first.dim, shape["dilations"], shape["kernel_size"]
        ).to(first.item_embedding.weight.device)


__all__ = ["FineTuneStrategy", "SequentialStrategy", "SingleStrategy"]

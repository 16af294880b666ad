"""Strategies without masks: sequential fine-tuning, FineAll and SinMo.

They share the backbone architecture and the heads with TERACON, and serve
every task with masks of all ones (every channel kept).
"""

from __future__ import annotations

from ..nn.task_state import BackbonePerTaskState, UnitMaskState
from ..training.strategy import Strategy


class SequentialStrategy(Strategy):
    """One model fine-tuned task after task, with no protection at all.

    Every task trains the shared backbone and its own head; nothing keeps the
    earlier tasks: the forgetting lower bound. Stores nothing per task beyond
    its head. Takes no ``strategy_params``.
    """

    name = "sequential"

    def task_state(self):
        return UnitMaskState()


class FineTuneStrategy(Strategy):
    """FineAll: per task a copy of the first-task model, everything fine-tuned.

    When task t ≥ 1 arrives, the first task's backbone (embedding and blocks)
    is copied and fine-tuned on task t alone. Stores one backbone per task:
    the model grows by a whole backbone with every task. Takes no
    ``strategy_params``.
    """

    name = "finetune"

    def task_state(self):
        return BackbonePerTaskState(copy_first=True)


class SingleStrategy(Strategy):
    """SinMo: one model per task, trained from scratch on that task alone.

    Task t ≥ 1 gets a freshly initialised backbone. It is the reference of
    forward transfer: what a task reaches with no earlier task. Stores one
    backbone per task. Takes no ``strategy_params``.
    """

    name = "single"

    def task_state(self):
        return BackbonePerTaskState(copy_first=False)


__all__ = ["FineTuneStrategy", "SequentialStrategy", "SingleStrategy"]

"""MTL: every task seen so far trained together on all of its data."""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from ..nn.task_state import PerTask, UnitMaskState
from ..training.strategy import Strategy


class TaskData(nn.Module):
    """One task's training data as buffers: encoded sequences and class targets.

    Buffers, not a Python attribute, so that the estimator's save/load and its
    copy-on-train rollback keep the data with the model. A next-item task's
    targets are -1 (its targets are the sequences themselves).
    """

    def __init__(self, n_rows: int = 0, length: int = 0):
        super().__init__()
        self.register_buffer("items", torch.zeros(n_rows, length, dtype=torch.long))
        self.register_buffer("targets", torch.full((n_rows,), -1, dtype=torch.long))

    def append(self, items: np.ndarray, targets: np.ndarray | None) -> None:
        """Add rows; shorter rows are left padded (padding changes no output)."""
        device = self.items.device
        new = torch.as_tensor(np.asarray(items), dtype=torch.long, device=device)
        length = max(self.items.shape[1], new.shape[1])
        old = F.pad(self.items, (length - self.items.shape[1], 0))
        new = F.pad(new, (length - new.shape[1], 0))
        self.items = torch.cat([old, new])
        targets = (
            torch.full((len(new),), -1, dtype=torch.long, device=device)
            if targets is None
            else torch.as_tensor(np.asarray(targets), dtype=torch.long, device=device)
        )
        self.targets = torch.cat([self.targets, targets])


class StoredDataState(UnitMaskState):
    """All-ones masks, and each task's training data kept in the model."""

    def __init__(self):
        super().__init__()
        self.data = PerTask()

    def add_task(self, model, task):
        device = model.backbone.item_embedding.weight.device
        self.data.add(task, TaskData().to(device))

    def structure(self, model):
        return {"data_shapes": [list(d.items.shape) for d in self.data.values()]}

    def rebuild(self, model, structure):
        shapes = structure.get("data_shapes") if isinstance(structure, dict) else None
        valid = (
            set(structure) == {"data_shapes"}
            and isinstance(shapes, list)
            and len(shapes) == model.n_tasks
            and all(
                isinstance(shape, list)
                and len(shape) == 2
                and all(
                    isinstance(n, int) and not isinstance(n, bool) and 0 <= n < 2**31
                    for n in shape
                )
                for shape in shapes
            )
        )
        if not valid:
            raise ValueError(
                f"the joint strategy's state structure must be {{'data_shapes': "
                f"[[rows, length] per task]}} for {model.n_tasks} tasks"
            )
        for task, (n_rows, length) in enumerate(shapes):
            self.data.add(task, TaskData(n_rows, length))


class JointStrategy(Strategy):
    """MTL: one shared model trained on every task seen so far at once.

    Not continual: the upper bound. The model keeps each task's training data
    (encoded sequences and targets, in ``module.strategy_state.data``; 8
    bytes per position: ``n_users × max_len × 8`` bytes per call, 40 MB for
    100,000 users of 50 items). While task i trains, every batch of task i's
    users adds, for each task seen so far (task i's earlier calls included),
    the loss of an equally large random batch of that task's stored users, so
    every step descends the sum of all tasks' losses. Masks are all ones;
    each task has its own head. Takes no ``strategy_params``.
    """

    name = "joint"

    def task_state(self):
        return StoredDataState()

    def loss_terms(self, context):
        if not context.training:
            return None
        net, X = context.net, context.batch
        loss = None
        for task, data in context.model.strategy_state.data.items():
            n_rows = len(data.items)
            if n_rows == 0:
                continue
            rows = torch.randperm(n_rows, device=data.items.device)[: len(X)]
            task_loss = net.task_loss(data.items[rows], data.targets[rows], int(task))
            loss = task_loss if loss is None else loss + task_loss
        return loss

    def after_task(self, context):
        context.model.strategy_state.data.of(context.task).append(context.X, context.y)


__all__ = ["JointStrategy", "StoredDataState", "TaskData"]

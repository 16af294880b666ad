"""CONURE (Yuan et al., SIGIR 2021): each task owns the weights it kept."""

from __future__ import annotations

import math
import numbers

import torch
from sklearn.utils._param_validation import Interval

from ..nn.task_state import FREE, WeightOwnerState
from ..training.strategy import Strategy


class ConureStrategy(Strategy):
    """CONURE: magnitude pruning; every task keeps its own part of the convolutions.

    Every convolution weight is owned by one task or free. Task t trains the
    free weights and reads the weights of tasks before it frozen. After its
    training, the ``prune_ratio`` smallest of the weights it trained (by
    magnitude, per layer) are released for later tasks, the rest become
    task t's, and task t retrains on its kept weights alone
    (``retrain_epochs``). Task t is served by the weights of tasks ≤ t only,
    so earlier tasks' predictions are exactly preserved. What the first task
    trains besides the convolution weights (item embedding, biases,
    LayerNorms) stays frozen after it. A task that is not the newest can be
    continued, but only its head trains. Stores one owner per convolution
    weight (shared by all tasks) and a head per task: the model does not grow.

    Parameters
    ----------
    prune_ratio : float, default=0.5
        Share of a task's trained weights released after it.
    retrain_epochs : int or None, default=None
        Epochs of retraining after pruning (None: the call's ``max_epochs``).
    """

    name = "conure"
    _defaults = {"prune_ratio": 0.5, "retrain_epochs": None}
    _parameter_constraints = {
        "prune_ratio": [Interval(numbers.Real, 0, 1, closed="neither")],
        "retrain_epochs": [Interval(numbers.Integral, 1, None, closed="left"), None],
    }
    reads_gradients = True

    # The weights the task may change while it trains (None: only its head).
    trainable_: list | None = None

    def task_state(self):
        return WeightOwnerState()

    def before_task(self, context):
        model, task = context.model, context.task
        state = model.strategy_state
        owners = state.owner_maps()
        newest = max(int(o.max()) for o in owners)
        # The newest task (or a new one) may train free weights and its own.
        self.trainable_ = (
            [(o == FREE) | (o == task) for o in owners] if task >= newest else None
        )
        state.training_task, state.training_weights = task, self.trainable_
        model.requires_grad_(True)
        if newest >= 0:  # the first task has finished: what it shaped stays
            model.backbone.requires_grad_(False)
            if self.trainable_ is not None:
                for _, weight in model.backbone.maskable_weights():
                    weight.requires_grad_(True)

    def after_backward(self, context):
        if not self.trainable_:
            return
        with torch.no_grad():
            for (_, weight), trainable in zip(
                context.model.backbone.maskable_weights(), self.trainable_
            ):
                if weight.grad is not None:
                    weight.grad.mul_(trainable.to(weight.grad.dtype))

    def after_task(self, context):
        if not self.trainable_:
            return
        model, task = context.model, context.task
        state = model.strategy_state
        with torch.no_grad():
            for (_, weight), owner, trainable in zip(
                model.backbone.maskable_weights(), state.owner_maps(), self.trainable_
            ):
                n_kept = math.ceil((1 - self.prune_ratio) * int(trainable.sum()))
                magnitude = torch.where(trainable, weight.abs(), -1.0).flatten()
                kept = torch.topk(magnitude, n_kept).indices
                owner.view(-1)[trainable.flatten()] = FREE
                owner.view(-1)[kept] = task
        # Retraining serves the task by what it now owns, and steps only that.
        self.trainable_ = [o == task for o in state.owner_maps()]
        state.training_weights = None
        context.net.initialize_optimizer()
        context.net.train_epochs(
            context.X, context.y, self.retrain_epochs or context.epochs
        )

    def release(self, context):
        self.trainable_ = None
        state = context.model.strategy_state
        state.training_task, state.training_weights = None, None


__all__ = ["ConureStrategy"]

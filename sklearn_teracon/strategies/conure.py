"""CONURE (Yuan et al., SIGIR 2021): each task owns the weights it kept."""

from __future__ import annotations

import math
import numbers

import torch
from sklearn.utils._param_validation import Interval
from torch import nn
from torch.func import functional_call

from .base import conv_weights, unit_masks
from .simple import SequentialStrategy

OWNERS = "owners"
FREE = -1


class ConureStrategy(SequentialStrategy):
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

    # Outside a task's training every task is served by the weights it owns.
    phase_: str | None = None
    trainable_: list | None = None

    def on_task_added(self, module, task):
        state = self.state(module)
        if OWNERS in state:
            return
        owners = nn.Module()
        for i, (_, weight) in enumerate(conv_weights(module.backbone)):
            owners.register_buffer(
                f"layer{i}", torch.full_like(weight, FREE, dtype=torch.long)
            )
        state[OWNERS] = owners

    def _owners(self, module) -> list[torch.Tensor]:
        return list(self.state(module)[OWNERS].buffers())

    def on_task_start(self, net, task):
        module = net.module_
        owners = self._owners(module)
        newest = max(int(o.max()) for o in owners)
        self.task_, self.phase_ = task, "train"
        # The newest task (or a new one) may train free weights and its own.
        self.trainable_ = (
            [(o == FREE) | (o == task) for o in owners] if task >= newest else None
        )
        module.requires_grad_(True)
        if newest >= 0:  # the first task has finished: what it shaped stays
            module.backbone.requires_grad_(False)
            if self.trainable_ is not None:
                for _, weight in conv_weights(module.backbone):
                    weight.requires_grad_(True)

    def _used(self, owners: list[torch.Tensor], task: int) -> list[torch.Tensor]:
        if self.phase_ == "train" and task == self.task_ and self.trainable_:
            return [(o >= 0) & (o < task) | t for o, t in zip(owners, self.trainable_)]
        return [(o >= 0) & (o <= task) for o in owners]

    def hidden(self, module, items, task, s):
        used = self._used(self._owners(module), task)
        weights = conv_weights(module.backbone)
        masked = {name: w * u.to(w.dtype) for (name, w), u in zip(weights, used)}
        return functional_call(module.backbone, masked, (items, unit_masks(module)))

    def on_grad_computed(self, net, named_parameters):
        if not self.trainable_:
            return
        with torch.no_grad():
            for (_, weight), trainable in zip(
                conv_weights(net.module_.backbone), self.trainable_
            ):
                if weight.grad is not None:
                    weight.grad.mul_(trainable.to(weight.grad.dtype))

    def on_task_end(self, net, X, y, epochs):
        if not self.trainable_:
            return
        weights = conv_weights(net.module_.backbone)
        with torch.no_grad():
            for (_, weight), owner, trainable in zip(
                weights, self._owners(net.module_), self.trainable_
            ):
                n_kept = math.ceil((1 - self.prune_ratio) * int(trainable.sum()))
                magnitude = torch.where(trainable, weight.abs(), -1.0).flatten()
                kept = torch.topk(magnitude, n_kept).indices
                owner.view(-1)[trainable.flatten()] = FREE
                owner.view(-1)[kept] = self.task_
        self.trainable_ = [o == self.task_ for o in self._owners(net.module_)]
        self.phase_ = "retrain"
        net.initialize_optimizer()
        net.train_epochs(X, y, self.retrain_epochs or epochs)

    def finish(self, net):
        self.phase_, self.trainable_ = None, None


__all__ = ["ConureStrategy"]

"""Piggyback (Mallya et al., ECCV 2018): binary weight masks over a frozen backbone."""

from __future__ import annotations

import numbers

import torch
from sklearn.utils._param_validation import Interval
from torch import nn
from torch.func import functional_call

from .base import conv_weights, unit_masks
from .simple import SequentialStrategy

SCORES = "scores"


class PiggybackStrategy(SequentialStrategy):
    """Piggyback: the first task's backbone, frozen, masked per task by binary masks.

    The first task trains the backbone as usual. From then on the backbone
    (item embedding, convolutions, LayerNorms) is frozen. Every later task t
    learns a real-valued score per convolution weight; the weights it uses
    are ``W ⊙ 1[score > threshold]``, trained through the binarisation with a
    straight-through gradient, and its own head. Scores start at
    ``initial_score`` above the threshold (every weight kept). Earlier tasks'
    weights, scores and heads are never touched, so their predictions are
    exactly preserved. Stores per task one score per convolution weight
    (``n_blocks · 2 · d² · kernel_size`` numbers; 1 bit each once
    binarised) and a head.

    Parameters
    ----------
    threshold : float, default=5e-3
        Scores above it keep their weight.
    initial_score : float, default=1e-2
        Start of every score (the reference's ``mask_scale``).
    """

    name = "piggyback"
    _defaults = {"threshold": 5e-3, "initial_score": 1e-2}
    _parameter_constraints = {
        "threshold": [Interval(numbers.Real, None, None, closed="neither")],
        "initial_score": [Interval(numbers.Real, None, None, closed="neither")],
    }

    def on_task_added(self, module, task):
        if task == 0:
            return
        state = self.state(module)
        if SCORES not in state:
            state[SCORES] = nn.ModuleDict()
        state[SCORES][str(task)] = nn.ParameterList(
            nn.Parameter(torch.full_like(weight, self.initial_score))
            for _, weight in conv_weights(module.backbone)
        )

    def on_task_start(self, net, task):
        net.module_.requires_grad_(True)
        if net.module_.n_tasks > 1:
            net.module_.backbone.requires_grad_(False)

    def hidden(self, module, items, task, s):
        masks = unit_masks(module)
        if task == 0:
            return module.backbone(items, masks)
        scores = self.state(module)[SCORES][str(task)]
        masked = {}
        for (name, weight), score in zip(conv_weights(module.backbone), scores):
            binary = (score > self.threshold).to(weight.dtype)
            # Straight-through: the value is the binary mask, the gradient
            # reaches the real-valued score unchanged.
            masked[name] = weight * (binary + score - score.detach())
        return functional_call(module.backbone, masked, (items, masks))


__all__ = ["PiggybackStrategy"]

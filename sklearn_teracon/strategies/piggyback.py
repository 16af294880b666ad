"""Piggyback (Mallya et al., ECCV 2018): binary weight masks over a frozen backbone."""

from __future__ import annotations

import numbers

from sklearn.utils._param_validation import Interval

from ..nn.task_state import WeightScoreState
from ..training.strategy import Strategy
from .base import freeze_backbone_after_first_task


class PiggybackStrategy(Strategy):
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

    def task_state(self):
        return WeightScoreState(self.threshold, self.initial_score)

    def before_task(self, context):
        freeze_backbone_after_first_task(context)


__all__ = ["PiggybackStrategy"]

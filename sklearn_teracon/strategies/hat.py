"""HAT: hard attention to the task (Serrà et al., ICML 2018) on TERACON's mask slots."""

from __future__ import annotations

import numbers

import torch
from sklearn.utils._param_validation import Interval

from ..nn.task_state import IndependentMaskState
from ..training.strategy import Strategy

# HAT's reference code: gradients of s·e beyond ±50 would overflow cosh.
COSH_CLAMP = 50.0


class HatStrategy(Strategy):
    """HAT: a unit mask per task and slot; gradients kept off earlier tasks' units.

    - Task t's mask on slot k is ``σ(s·e_t^k)`` (no relation maps); s is
      annealed within each epoch from 1/s to s, and ``s`` (the estimator's)
      is HAT's ``s_max``.
    - The cumulative mask of the earlier tasks, ``a^{<t} = max_j σ(s_max·e_j)``,
      conditions the gradient of every convolution weight by
      ``1 − min(a_out, a_in)`` (and of its bias and LayerNorm by
      ``1 − a_out``). A block's first convolution reads the residual stream,
      which has no mask, so its input side counts as fully used.
    - Adam divides out the scale of a gradient, so after each step the change
      of every conditioned weight is scaled by the same factor once more:
      under HAT's SGD the conditioned gradient alone gives this step.
    - The task embedding's gradient is compensated for the annealing
      (``s_max/s · (cosh(s·e) + 1)/(cosh(e) + 1)``) and e is clamped to
      ``±clamp`` after each step, as in the reference code.
    - The attention regulariser ``lamb · Σ a_t·(1 − a^{<t}) / Σ (1 − a^{<t})``
      keeps the new task off units that are still free.

    The item embedding and the residual path have no mask slot: they stay
    shared and trainable, so earlier tasks can still drift through them.
    Stores per task one embedding per slot (``K × d`` numbers) and a head.

    Parameters
    ----------
    lamb : float, default=0.75
        Weight of the attention regulariser (HAT's c).
    clamp : float, default=6.0
        Bound of the task embeddings.
    """

    name = "hat"
    _defaults = {"lamb": 0.75, "clamp": 6.0}
    _parameter_constraints = {
        "lamb": [Interval(numbers.Real, 0, None, closed="left")],
        "clamp": [Interval(numbers.Real, 0, None, closed="neither")],
    }

    reads_gradients = True

    def task_state(self):
        return IndependentMaskState()

    @staticmethod
    def cumulative_mask(model, task: int, s: float) -> torch.Tensor | None:
        """Max over the tasks other than ``task`` of their masks at ``s``."""
        others = [model.task_masks(j, s) for j in range(model.n_tasks) if j != task]
        if not others:
            return None
        return torch.stack(others).amax(0)

    def before_task(self, context):
        net, task = context.net, context.task
        with torch.no_grad():
            self.cumulative_ = self.cumulative_mask(net.module_, task, net.s)
        self.factors_ = {}
        if self.cumulative_ is None:
            return
        # Which weights feed which slot's units is the backbone's to say.
        self.factors_ = net.module_.backbone.gradient_factors(self.cumulative_)

    def loss_terms(self, context):
        net = context.net
        masks = net.module_.task_masks(context.task, context.scale)
        if self.cumulative_ is None:
            regulariser = masks.sum() / masks.numel()
        else:
            free = 1.0 - self.cumulative_
            regulariser = (masks * free).sum() / free.sum().clamp(min=1e-12)
        net.history.record_batch("hat_regulariser", regulariser.item())
        return self.lamb * regulariser

    def after_backward(self, context):
        net = context.net
        with torch.no_grad():
            for param, factor in self.factors_.items():
                if param.grad is not None:
                    param.grad.mul_(factor)
            self.before_step_ = {p: p.detach().clone() for p in self.factors_}
            embedding = net.module_.masks.task_embeddings[context.task]
            if embedding.grad is not None:
                s = net.s_current_
                scaled = torch.clamp(s * embedding, -COSH_CLAMP, COSH_CLAMP)
                compensation = (torch.cosh(scaled) + 1) / (torch.cosh(embedding) + 1)
                embedding.grad.mul_(net.s / s * compensation)

    def after_batch(self, context):
        if not context.training:
            return
        with torch.no_grad():
            for param, before in getattr(self, "before_step_", {}).items():
                param.copy_(before + self.factors_[param] * (param - before))
            self.before_step_ = {}
            context.model.masks.task_embeddings[context.task].clamp_(
                -self.clamp, self.clamp
            )

    def release(self, context):
        self.cumulative_, self.factors_, self.before_step_ = None, {}, {}


__all__ = ["HatStrategy"]

"""TERACON: relation-aware task masks and knowledge retention (see :doc:`/model`)."""

from __future__ import annotations

import copy
import numbers

import numpy as np
import torch
from sklearn.utils._param_validation import Interval, StrOptions

from ..nn import NEXT_ITEM
from ..training.retention import (
    RELATION_MEASURES,
    Teacher,
    floored_ratio,
    mask_similarity,
    relation_aware_ratio,
    retention_loss,
    retention_sample_size,
)
from ..training.strategy import Strategy

# Bound of s, c and alpha: σ(s·…) and σ(c·cos) are saturated in float32 long
# before it (|x| > 17), and beyond float32's range (3.4e38) s·0 is NaN.
MAX_SCALE = 1e4


class TeraconStrategy(Strategy):
    """TERACON (Kim et al., KDD 2023): the library's default strategy.

    Masks come from :class:`~sklearn_teracon.nn.TaskMaskBank` (relation-aware
    from the second task on). Before a task trains, a frozen copy of the model
    (the teacher) is kept; on every training batch, for each earlier task j, a
    share ρ_j of the batch gets the teacher's logits as pseudo-labels and the
    loss gains ``alpha · Σ_j (ρ_j / Σ_k ρ_k) · MSE(student_j, teacher_j)``.

    Its parameters are the estimator's ``c``, ``alpha``, ``rho_min``,
    ``relation`` and ``sampling`` (documented there); it takes no
    ``strategy_params``.
    """

    name = "teracon"
    estimator_params = (
        "c",
        "alpha",
        "rho_min",
        "relation",
        "sampling",
        "retained_positions",
    )
    _defaults = {
        "c": 6.0,
        "alpha": 2.0,
        "rho_min": 0.1,
        "relation": "centered",
        "sampling": "relation_aware",
        "retained_positions": "all",
    }
    _parameter_constraints = {
        "c": [Interval(numbers.Real, 0, MAX_SCALE, closed="right")],
        "alpha": [Interval(numbers.Real, 0, MAX_SCALE, closed="both")],
        "rho_min": [Interval(numbers.Real, 0, 1, closed="right")],
        "relation": [StrOptions(set(RELATION_MEASURES))],
        "sampling": [StrOptions({"relation_aware", "uniform"})],
        "retained_positions": [StrOptions({"all", "last"})],
    }

    teacher_: Teacher | None = None

    def before_task(self, context) -> None:
        """Freeze the teacher for the other tasks (none when ``alpha`` is 0)."""
        net, task = context.net, context.task
        self.teacher_ = None
        self.retained_tasks_ = [t for t in range(net.module_.n_tasks) if t != task]
        if self.alpha > 0 and self.retained_tasks_:
            frozen = copy.deepcopy(net.module_).eval().requires_grad_(False)
            with torch.no_grad():
                self.teacher_ = Teacher(frozen, frozen.masks.all_masks(net.s))

    def release(self, context) -> None:
        """Drop the teacher: it is only needed while a task trains."""
        self.teacher_ = None

    def loss_terms(self, context):
        if not (context.training and self.teacher_ is not None):
            return None
        net = context.net
        retention = self.retention_loss(net, context.batch)
        net.history.record_batch("retention_loss", retention.item())
        return self.alpha * retention

    def retention_ratios(self, net) -> tuple[list[float], list[float]]:
        """Raw and floored ρ of every retained task against the current task."""
        if self.sampling == "uniform":
            raw = [self.rho_min] * len(self.retained_tasks_)
        else:
            with torch.no_grad():
                own_masks = net.module_.masks(net.task_, net.s)
                raw = [
                    float(
                        relation_aware_ratio(
                            own_masks,
                            self.teacher_.masks[j],
                            self.c,
                            measure=self.relation,
                        )
                    )
                    for j in self.retained_tasks_
                ]
        return raw, [floored_ratio(r, self.rho_min) for r in raw]

    def retention_loss(self, net, X: torch.Tensor) -> torch.Tensor:
        """α-free retention term: Σ_j (ρ_j / Σ_k ρ_k) · MSE(student_j, teacher_j)."""
        batch_size = len(X)
        raw, ratios = self.retention_ratios(net)
        for j, r, rho in zip(self.retained_tasks_, raw, ratios):
            name = net.task_names_[j]
            net.history.record_batch(f"rho_raw[{name}]", r)
            net.history.record_batch(f"rho[{name}]", rho)
        net.history.record_batch("rho", float(np.mean(ratios)))
        total = sum(ratios)
        loss = X.new_zeros((), dtype=torch.float32)
        for j, ratio in zip(self.retained_tasks_, ratios):
            size = retention_sample_size(ratio, batch_size)
            users = X[torch.randperm(batch_size, device=X.device)[:size]]
            loss = loss + (ratio / total) * self._retention_mse(net, users, j)
        return loss

    def _retention_mse(self, net, users: torch.Tensor, task: int) -> torch.Tensor:
        # Student and teacher both at s itself, not the annealed s.
        teacher = self.teacher_.module
        if net.module_.head_kinds[task] != NEXT_ITEM:
            with torch.no_grad():
                pseudo_labels = net.task_logits(teacher, users, task, net.s)
            student = net.task_logits(net.module_, users, task, net.s, dropout=False)
            return retention_loss(student, pseudo_labels)
        # The student runs without dropout, like the teacher: dropout's noise
        # in its outputs would be a part of the MSE that no weight can remove.
        # A next-item task is retained at every real position ("all") or, as
        # the reference code does, at the last one only ("last"). Its logits
        # span the vocabulary: beyond one chunk they are compared chunk by
        # chunk, never all positions × items at once.
        positions = users > 0 if self.retained_positions == "all" else None
        with torch.no_grad():
            teacher_rows = net.task_rows(teacher, users, task, net.s, positions)
        rows = net.task_rows(net.module_, users, task, net.s, positions, dropout=False)
        return net.retention_logit_mse(
            rows, net.module_.heads[task], teacher_rows, teacher.heads[task]
        )

    def task_relations(self, module, s: float) -> torch.Tensor:
        """Mask similarity as ρ measures it (``relation``)."""
        return mask_similarity(module.masks.all_masks(s), measure=self.relation)


__all__ = ["TeraconStrategy"]

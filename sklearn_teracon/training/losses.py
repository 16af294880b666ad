"""The task losses of :class:`~sklearn_teracon.training.ContinualNet`: exact or sampled.

``loss="full"`` is the exact softmax over every column of a head (in
vocabulary chunks where the logits would not fit). ``loss="sampled"`` trains
next-item tasks and item-target tasks (more than ``MAX_EXACT_CLASSES``
classes) on a sampled softmax with log-Q correction
(:mod:`sklearn_teracon.nn.sampled`), and retains earlier next-item tasks on
the same sampled columns; validation and every prediction stay exact.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

from ..nn import NEXT_ITEM
from ..nn.chunked import bag_cross_entropy, head_cross_entropy, head_logit_mse
from ..nn.sampled import PopularitySampler, sampled_cross_entropy, sampled_logit_mse

LOSSES = ("full", "sampled")
# Labelled heads wider than this are item-target tasks (metric MRR@5), as
# the estimator's default metric decides; narrower ones stay exact. The
# training layer may not import ``metrics``: a test keeps the two equal.
MAX_EXACT_CLASSES = 20


class TaskLossesMixin:
    """Losses of a task's batch: what ``infer`` returns and how it is scored."""

    item_sampler_: PopularitySampler | None = None
    class_sampler_: PopularitySampler | None = None
    negatives_: tuple | None = None

    def start_sampling(self, X: np.ndarray, y) -> None:
        """Proposals from this call's data (items of ``X``; classes of ``y``)."""
        self.item_sampler_ = self.class_sampler_ = self.negatives_ = None
        if self.loss != "sampled":
            return
        device = torch.device(self.device)
        n_items = self.module_.backbone.n_embeddings
        if hasattr(X, "item_counts"):  # rows kept on disk count themselves
            counts = torch.as_tensor(X.item_counts(n_items))
        else:
            counts = torch.bincount(
                torch.as_tensor(np.asarray(X)).flatten(), minlength=n_items
            )
        allowed = torch.ones(n_items, dtype=torch.bool)
        allowed[:2] = False  # padding and the unknown item are never a target
        self.item_sampler_ = PopularitySampler(
            counts.to(device),
            self.n_negatives,
            allowed.to(device),
        )
        head = self.module_.heads[self.task_]
        item_targets = head.out_features > MAX_EXACT_CLASSES
        if self._kind(self.task_) != NEXT_ITEM and item_targets:
            classes = torch.as_tensor(np.asarray(y))
            self.class_sampler_ = PopularitySampler(
                torch.bincount(classes, minlength=head.out_features).to(device),
                self.n_negatives,
            )

    def stop_sampling(self) -> None:
        self.item_sampler_ = self.class_sampler_ = self.negatives_ = None

    def draw_negatives(self) -> None:
        """This training batch's negatives, shared by its loss and retention."""
        if self.item_sampler_ is None:
            return
        classes = self.class_sampler_.draw() if self.class_sampler_ else None
        self.negatives_ = (self.item_sampler_.draw(), classes)

    def _sampler(self, task: int) -> tuple | None:
        """``(sampler, negatives)`` when ``task``'s loss is sampled now, else None."""
        if self.negatives_ is None or task != self.task_ or not self.module_.training:
            return None
        if self._kind(task) == NEXT_ITEM:
            return self.item_sampler_, self.negatives_[0]
        if self.class_sampler_ is not None:
            return self.class_sampler_, self.negatives_[1]
        return None

    def _infer(self, x: torch.Tensor, task: int, s: float) -> torch.Tensor:
        # A next-item task (and a sampled one) returns the rows its head
        # reads, not logits: the loss applies the head in vocabulary chunks
        # when positions × items logits would not fit, or on the sampled
        # columns only (``_cross_entropy``).
        if self._kind(task) == NEXT_ITEM:
            inputs, _, positions = self._next_item_positions(x)
            with_users = self.bag_weight > 0 and self.module_.training
            return self.task_rows(
                self.module_, inputs, task, s, positions, with_users=with_users
            )
        if self._sampler(task) is not None:
            return self.task_rows(self.module_, x, task, s)
        return self.task_logits(self.module_, x, task, s)

    def _cross_entropy(self, y_pred, y_true, X: torch.Tensor, task: int):
        """Cross-entropy of ``_infer``'s output: logits, or a head's rows.

        A next-item task's output may also hold the users' representations
        (``bag_weight``): their bag-of-items loss is added.
        """
        if isinstance(y_pred, tuple):
            y_pred, users = y_pred
            bag = bag_cross_entropy(users, self.module_.heads[task], X)
            return self._cross_entropy(y_pred, y_true, X, task) + self.bag_weight * bag
        if self._kind(task) == NEXT_ITEM:
            _, targets, positions = self._next_item_positions(X)
            y_true = targets[positions]
        else:
            y_true = y_true.to(self.device)
        if not len(y_true):
            return y_pred.sum() * 0.0
        head = self.module_.heads[task]
        sampled = self._sampler(task)
        if sampled is not None:
            sampler, negatives = sampled
            return sampled_cross_entropy(
                y_pred, head, y_true, negatives, sampler.log_expected
            )
        if self._kind(task) != NEXT_ITEM:
            return F.cross_entropy(y_pred, y_true)
        return head_cross_entropy(y_pred, head, y_true)

    def task_loss(self, X: torch.Tensor, y, task: int) -> torch.Tensor:
        """The plain loss of any learned ``task`` on a batch, at the current scale."""
        X = X.to(self.device)
        return self._cross_entropy(
            self._infer(X, task, self.current_scale()), y, X, task
        )

    def retention_logit_mse(self, rows, head, teacher_rows, teacher_head):
        """MSE of a retained next-item head's logits against the teacher's:
        on every column, or on this batch's sampled items (``loss="sampled"``)."""
        if self.negatives_ is not None:
            columns = self.negatives_[0]
            return sampled_logit_mse(rows, head, teacher_rows, teacher_head, columns)
        return head_logit_mse(rows, head, teacher_rows, teacher_head)


__all__ = ["LOSSES", "MAX_EXACT_CLASSES", "TaskLossesMixin"]

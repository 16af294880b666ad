"""A training batch too large for memory, trained as micro-batches of users.

Each part of the batch runs its forward and backward pass in turn, its loss
weighted by its share of the batch's loss terms, and the gradients add up in
the weights' ``.grad`` before the one optimizer step: memory holds one part's
activations at a time and no forward pass runs twice. (Checkpointing each
pass, the other way to bound that memory, recomputes every forward pass in
backward: the paper's later task at batch 1024 ran at 78 seq/s that way and
125 in micro-batches on the 2-core CPU; docs/performance.rst).

The weights' gradient is the batch's for every loss that is a mean over the
task's terms (positions of a next-item task, users of a labelled one) and for
terms that do not depend on the users (HAT's regulariser). A strategy's other
means (retention over a sample of users, the bag of items over every item)
become the share-weighted mean of the parts' means: the same estimate, as
with the batch split between processes under DDP.
"""

from __future__ import annotations

import numbers

import torch

from ..nn.chunked import users_per_pass
from ._precision import autocast

__all__ = ["MicroBatchMixin", "PartRecords", "batch_parts", "joined_outputs"]


class MicroBatchMixin:
    """The net's training step over a batch in parts (see the module's notes)."""

    def users_per_part(self, X: torch.Tensor) -> int:
        """Users of training batch ``X`` that one forward and backward pass takes.

        All of them while their backbone activations fit
        :data:`~sklearn_teracon.nn.chunked.ACTIVATION_CHUNK_BYTES`; else the
        batch trains in parts of that many (:meth:`train_in_parts`). Under
        DDP, and while the largest weights step inside the backward pass, a
        step's gradient must come from one backward pass: the batch then
        trains whole, its passes checkpointed (``task_rows``).
        """
        # ``in_backward_steps_`` is None or a (possibly empty) set of weights.
        if self.ddp_ is not None or self.in_backward_steps_:
            return len(X)
        backbone = self.module_.backbone
        return users_per_pass(len(X), X.shape[-1], backbone.dim, backbone.n_slots)

    def train_in_parts(self, X: torch.Tensor, y, users: int) -> dict:
        """skorch's step result for batch ``(X, y)`` trained ``users`` at a time:
        the gradients accumulate, the loss is the parts' weighted sum."""
        total = float(self.loss_terms_count(X))
        records = PartRecords(self.history)
        loss, outputs = 0.0, []
        for X_part, y_part in batch_parts(X, y, users):
            share = float(self.loss_terms_count(X_part)) / max(total, 1.0)
            with autocast(self.precision, self.device):
                part_loss, to_backward, y_pred = self.forward_loss(X_part, y_part)
            (to_backward * share).backward()
            records.add(share)
            loss = loss + part_loss.detach() * share
            outputs.append(y_pred)
        records.write()
        return {"loss": loss, "y_pred": joined_outputs(outputs)}


def batch_parts(X: torch.Tensor, y, users: int) -> list[tuple]:
    """``(X, y)`` in consecutive parts of at most ``users`` rows (``y`` may be None)."""
    return [
        (X[start : start + users], None if y is None else y[start : start + users])
        for start in range(0, len(X), users)
    ]


def joined_outputs(outputs: list):
    """The parts' ``infer`` outputs (tensors, or tuples of them) as one, detached."""
    if isinstance(outputs[0], tuple):
        return tuple(joined_outputs(list(part)) for part in zip(*outputs))
    return torch.cat([output.detach() for output in outputs])


class PartRecords:
    """What a batch's parts record in the history, as their share-weighted mean.

    A strategy records per batch what it computed on the batch it saw (the
    retention loss, ρ); with the batch in parts each part overwrites the
    last. :meth:`add` after each part sums the numbers recorded since
    :meth:`__init__`, weighted by the part's share; :meth:`write` puts the
    sums in the batch's row.
    """

    def __init__(self, history):
        self._row = history[-1]["batches"][-1]
        self._before = dict(self._row)
        self._sums: dict[str, float] = {}

    def add(self, share: float) -> None:
        for key, value in self._row.items():
            if key in self._before and value is self._before[key]:
                continue
            if isinstance(value, numbers.Real) and not isinstance(value, bool):
                self._sums[key] = self._sums.get(key, 0.0) + share * float(value)

    def write(self) -> None:
        self._row.update(self._sums)

"""The data-parallel side of :class:`~sklearn_teracon.training.ContinualNet`.

Outside ``torch.distributed`` (one process) every method here is the plain
single-process step. See :mod:`.distributed` for how the work is split.
"""

from __future__ import annotations

import contextlib
import inspect
import math

import numpy as np
import torch
from torch import nn
from torch.nn.parallel import DistributedDataParallel
from torch.utils.data import DataLoader

from ..nn import NEXT_ITEM
from .distributed import (
    GlobalBatchShards,
    agree,
    all_reduce_sum,
    global_share,
    world_size,
)
from .distributed import rank as process_rank

# torch 2.13 renamed DDP's ``broadcast_buffers`` to ``forward_sync_buffers``.
_NO_BUFFER_SYNC = (
    {"forward_sync_buffers": False}
    if "forward_sync_buffers" in inspect.signature(DistributedDataParallel).parameters
    else {"broadcast_buffers": False}
)


class _NetLoss(nn.Module):
    """The net's whole training loss as a module's ``forward``, for DDP to wrap."""

    def __init__(self, net):
        super().__init__()
        self.model = net.module_
        self._net = [net]  # not a submodule: only the model's weights are DDP's

    def forward(self, X: torch.Tensor, y):
        net = self._net[0]
        y_pred = net.infer(X)
        return net.get_loss(y_pred, y, X=X, training=True), y_pred


class _DataParallelLoss:
    """The DDP-wrapped loss, held apart from skorch's registry of modules
    (which would save it and move it between devices as a part of the net)."""

    def __init__(self, ddp: DistributedDataParallel):
        self.ddp = ddp

    def __call__(self, X, y):
        return self.ddp(X, y)


class DataParallelMixin:
    """Training steps that are DDP steps when several processes train together."""

    ddp_: _DataParallelLoss | None = None

    def start_data_parallel(self) -> None:
        """Wrap the loss for this task (its trainable weights are set by now)."""
        self.ddp_ = None
        if world_size() == 1:
            return
        device = torch.device(self.device)
        ddp = DistributedDataParallel(
            _NetLoss(self),
            device_ids=[device.index] if device.type == "cuda" else None,
            # Which weights a step reaches depends on the strategy and the
            # task (other tasks' heads, per-task state), but it is the same
            # on every step of a task: DDP learns it on the first one.
            static_graph=True,
            # Every rank computes the same buffers (CONURE's owners): no
            # broadcast before each forward.
            **_NO_BUFFER_SYNC,
        )
        self.ddp_ = _DataParallelLoss(ddp)

    def stop_data_parallel(self) -> None:
        self.ddp_ = None

    def forward_loss(self, X: torch.Tensor, y):
        """``(loss, what to back-propagate, y_pred)`` of a training batch."""
        if self.ddp_ is None:
            y_pred = self.infer(X)
            loss = self.get_loss(y_pred, y, X=X, training=True)
            return loss, loss, y_pred
        # Agreed before DDP's backward all-reduce: whether any rank failed in
        # the forward pass, and the global batch's number of loss terms.
        count = float(self.loss_terms_count(X))
        error, out = None, None
        try:
            out = self.ddp_(X, y)
        except BaseException as exc:  # every rank must hear of it first
            error = exc
        total = agree(error, count)
        loss, y_pred = out
        return loss, loss * global_share(count, total), y_pred

    def loss_terms_count(self, X: torch.Tensor) -> torch.Tensor:
        """How many terms the task's loss on batch ``X`` averages."""
        if self._kind(self.task_) == NEXT_ITEM:
            return self._next_item_positions(X)[2].sum()
        return torch.tensor(len(X), device=X.device)

    @contextlib.contextmanager
    def agreed(self):
        """Raise on every rank if the block raises on any (one collective).

        A failure that a rank had alone before it (:meth:`failing_alone`) is
        heard here too.
        """
        if self.ddp_ is None:
            yield
            return
        error = None
        try:
            yield
        except BaseException as exc:
            error = exc
        agree(error)

    @contextlib.contextmanager
    def failing_alone(self):
        """A batch's work after its backward pass: if it raises, this rank
        tells the others and raises; they hear it at their next agreement
        (the next batch's start, or the epoch's end), where they have made
        no collective since. DDP's forward pass may make one (rebuilding its
        buckets), so every rank agrees before it."""
        if self.ddp_ is None:
            yield
            return
        try:
            yield
        except BaseException as exc:
            agree(exc)

    def agree_epoch_loss(self) -> None:
        """Make the epoch's ``train_loss`` the mean over every rank's batches
        (an agreement first: outside any other, as it may raise)."""
        if self.ddp_ is None:
            return
        # First a failure a rank had alone at the last batch's end.
        agree(None)
        batches = [row for row in self.history[-1, "batches"] if "train_loss" in row]
        weights = np.array([row["train_batch_size"] for row in batches], float)
        losses = np.array([row["train_loss"] for row in batches], float)
        total, count = all_reduce_sum([(losses * weights).sum(), weights.sum()])
        self.history.record("train_loss", float(total / max(count, 1.0)))

    def get_iterator(self, dataset, training=False):
        if not (training and self.ddp_ is not None):
            return super().get_iterator(dataset, training=training)
        params = self.get_params_for("iterator_train")
        params.pop("shuffle", None)
        batch_size = params.pop("batch_size", self.batch_size)
        sampler = GlobalBatchShards(dataset, batch_size, process_rank(), world_size())
        return DataLoader(dataset, batch_size=batch_size, sampler=sampler, **params)

    def n_train_batches(self, dataset) -> int:
        """Training batches of an epoch over ``dataset``, on this rank."""
        batch_size = self.get_params_for("iterator_train").get(
            "batch_size", self.batch_size
        )
        if self.ddp_ is not None:
            shards = GlobalBatchShards(dataset, batch_size, 0, world_size())
            return max(1, shards.n_batches())
        return max(1, math.ceil(len(dataset) / batch_size))


__all__ = ["DataParallelMixin"]

"""The skorch net that trains one task at a time on the shared TERACON module."""

from __future__ import annotations

import contextlib

import numpy as np
import torch
from skorch import NeuralNet
from skorch.callbacks import Callback, EarlyStopping
from skorch.dataset import unpack_data
from torch.utils.checkpoint import checkpoint

from ..nn import NEXT_ITEM
from ..nn.chunked import users_per_pass
from ..nn.model import read_out
from . import backward_step
from ._precision import at_precision, autocast
from .data_parallel import DataParallelMixin
from .inference import InferenceMixin
from .losses import TaskLossesMixin
from .micro_batches import MicroBatchMixin
from .strategy import Strategy, TaskContext

# skorch's events and the strategy hooks they run (after the net's own
# handler and every callback, so a hook sees the batch's history row and the
# annealed scale).
SKORCH_EVENTS = {
    "on_train_begin": "before_epochs",
    "on_batch_begin": "before_batch",
    "on_grad_computed": "after_backward",
    "on_batch_end": "after_batch",
    "on_train_end": "after_epochs",
}
# Events after a batch's backward pass, which DDP agrees on at the next batch.
AFTER_BACKWARD_EVENTS = frozenset({"on_grad_computed", "on_batch_end"})


class ContinualNet(
    TaskLossesMixin, DataParallelMixin, MicroBatchMixin, InferenceMixin, NeuralNet
):
    """A :class:`skorch.NeuralNet` that learns the tasks of a ``TeraconModule``.

    The net is told which task it trains (:meth:`start_task`); ``infer`` and
    ``get_loss`` then run that task's head on the hidden states the model
    serves it with (``TeraconModule.hidden``), and ``get_loss`` adds the
    strategy's loss terms (TERACON's knowledge retention, HAT's regulariser,
    ...). Everything that differs between continual learners is in
    ``strategy``, whose hooks (:mod:`~sklearn_teracon.training.strategy`) the
    net runs from one place, :meth:`run_hook`.

    Parameters
    ----------
    module : TeraconModule class or instance
    strategy : Strategy
        The continual-learning strategy (:mod:`sklearn_teracon.strategies`).
    s : float
        Mask scale; annealed over each epoch by ``ScaleAnnealing``.
    readout : {"last", "mean"}
        How a user's hidden states become the representation that labelled
        heads read and ``embed`` returns (see ``TeraconModule.represent``).
    precision : {"float32", "bfloat16"}
        The arithmetic of the forward passes in training and inference
        (see :func:`~sklearn_teracon.training._precision.autocast`).
    bag_weight : float
        Weight of the bag-of-items term of a next-item task's loss
        (:func:`~sklearn_teracon.nn.chunked.bag_cross_entropy`): the user
        representation, read out as labelled heads read it, predicts the
        user's items through the next-item head. 0 leaves it out.
    loss : {"full", "sampled"}
        The exact softmax, or a sampled one with log-Q correction for
        next-item and item-target tasks (:mod:`.losses`).
    n_negatives : int
        Columns a sampled loss draws per batch.
    **kwargs
        Everything :class:`skorch.NeuralNet` takes.
    """

    def __init__(
        self,
        module,
        *args,
        strategy: Strategy,
        s: float = 50.0,
        readout: str = "last",
        precision: str = "float32",
        bag_weight: float = 0.0,
        loss: str = "full",
        n_negatives: int = 1024,
        **kwargs,
    ):
        super().__init__(module, *args, **kwargs)
        self.strategy = strategy
        self.s = s
        self.readout = readout
        self.precision = precision
        self.bag_weight = bag_weight
        self.loss = loss
        self.n_negatives = n_negatives

    # -- task bookkeeping ---------------------------------------------------
    def start_task(self, task: int, task_names: list[str] | None = None) -> None:
        """Train ``task`` next; the strategy prepares it (a teacher, freezing).

        ``task_names`` (by index) name the per-task entries of the history.
        """
        self.task_ = task
        self.task_names_ = task_names or [str(t) for t in range(self.module_.n_tasks)]
        self.s_current_ = self.s
        self.context_ = TaskContext(self, task)
        self.run_hook("before_task")
        groups = self.run_hook("param_groups")
        self.optimizer__param_groups = [*groups, *self.optimizer__param_groups]
        self.start_data_parallel()
        self.initialize_optimizer()
        self._step_largest_in_backward()
        self.initialize_history()

    def end_task(self) -> None:
        """Let the strategy drop what only training needed (a teacher)."""
        try:
            self.run_hook("release")
        finally:
            self.context_ = None
            self.stop_data_parallel()

    def run_hook(self, hook: str, **event):
        """Run the strategy's ``hook`` on the task's context, updated by ``event``.

        Outside a task (between ``end_task`` and the next ``start_task``) no
        hook runs: a step taken then trains no task.
        """
        if getattr(self, "context_", None) is None:
            return None
        for field, value in event.items():
            setattr(self.context_, field, value)
        return getattr(self.strategy, hook)(self.context_)

    def notify(self, method_name, **cb_kwargs):
        # Under DDP the events after a batch's backward pass are not agreed
        # on by themselves: a rank that fails in one tells the others at
        # their next agreement (two collectives a step, beside DDP's).
        if method_name == "on_epoch_end":
            self.agree_epoch_loss()
        alone = method_name in AFTER_BACKWARD_EVENTS
        with self.failing_alone() if alone else self.agreed():
            super().notify(method_name, **cb_kwargs)
            hook = SKORCH_EVENTS.get(method_name)
            if hook is not None:
                event = {k: v for k, v in cb_kwargs.items() if k == "training"}
                self.run_hook(hook, **event)

    def initialize_optimizer(self, triggered_directly=None):
        """skorch's optimizer; while a task trains, its largest weights step
        inside the backward pass (:meth:`_step_largest_in_backward`)."""
        training = self._drop_in_backward_steps()
        super().initialize_optimizer(triggered_directly)
        if training:
            self._step_largest_in_backward()
        return self

    def _step_largest_in_backward(self) -> None:
        # A huge vocabulary's item embedding and head then never hold their
        # gradients at once (see training/backward_step.py); not when
        # something reads gradients between backward and the step.
        # Nor under DDP, whose all-reduce must finish before any step.
        if (
            self.in_backward_steps_ is None
            and self.ddp_ is None
            and not self._reads_gradients()
        ):
            self.in_backward_steps_ = backward_step.InBackwardSteps(
                self.optimizer_, backward_step.MIN_ELEMENTS
            )

    def _reads_gradients(self) -> bool:
        # A user's callback says so only by having the hook.
        return self.strategy.reads_gradients or any(
            type(cb).on_grad_computed is not Callback.on_grad_computed
            for _, cb in self.callbacks_
        )

    def _drop_in_backward_steps(self) -> bool:
        """Unhook the largest weights, drop their optimizers; were they hooked?"""
        steps = getattr(self, "in_backward_steps_", None)
        self.in_backward_steps_ = None
        if steps is None:
            return False
        steps.remove()
        return True

    def _kind(self, task: int) -> str:
        return self.module_.head_kinds[task]

    def fit_task(self, X: np.ndarray, y: np.ndarray | None, epochs: int) -> None:
        """Train the current task for up to ``epochs`` epochs.

        Unlike ``NeuralNet.partial_fit`` this does not swallow
        ``KeyboardInterrupt``: an interrupt by the user propagates so that
        the caller can roll back; only early stopping ends training early.
        After training, the strategy's ``after_task`` runs (pruning,
        consolidation); its ``release`` runs whatever happens, and
        the gradients and the optimizer's moments are dropped: each as large as
        the weights (1.3 GB at 646 K items, d = 256), they are never read
        again, as the next task starts a new optimizer (``start_task``).
        """
        self.context_.X, self.context_.y, self.context_.epochs = X, y, epochs
        try:
            self.start_sampling(X, y)
            self.train_epochs(X, y, epochs)
            self.run_hook("after_task")
        finally:
            self.end_task()
            self.stop_sampling()
            self.module_.zero_grad(set_to_none=True)
            self.optimizer_.state.clear()
            self._drop_in_backward_steps()

    def train_epochs(self, X: np.ndarray, y: np.ndarray | None, epochs: int) -> None:
        """skorch's training loop, from ``on_train_begin`` to ``on_train_end``."""
        self.notify("on_train_begin", X=X, y=y)
        try:
            self.fit_loop(X, y, epochs=epochs)
        except KeyboardInterrupt:
            if not self._early_stopping_fired():
                raise
        self.notify("on_train_end", X=X, y=y)

    def _early_stopping_fired(self) -> bool:
        # skorch's EarlyStopping stops training by raising KeyboardInterrupt.
        return any(
            isinstance(cb, EarlyStopping) and cb.misses_ >= cb.patience
            for _, cb in self.callbacks_
        )

    # -- skorch's steps -----------------------------------------------------
    def train_step_single(self, batch, **fit_params):
        # skorch's step with the forward passes (the loss's too: retention
        # runs the teacher and the student) at ``precision``, and the
        # backward pass outside autocast, as torch recommends.
        self._set_training(True)
        Xi, yi = unpack_data(batch)
        # Once: ``infer`` and ``get_loss`` both read it.
        Xi = Xi.to(self.device, non_blocking=True)
        self.draw_negatives()
        users = self.users_per_part(Xi)
        if users < len(Xi):
            return self.train_in_parts(Xi, yi, users)
        with autocast(self.precision, self.device):
            loss, to_backward, y_pred = self.forward_loss(Xi, yi)
        to_backward.backward()
        return {"loss": loss, "y_pred": y_pred}

    @at_precision
    def validation_step(self, batch, **fit_params):
        Xi, yi = unpack_data(batch)
        return super().validation_step((Xi.to(self.device), yi), **fit_params)

    @at_precision
    def evaluation_step(self, batch, training=False):
        return super().evaluation_step(batch, training)

    def current_scale(self) -> float:
        """The mask scale now: annealed while training, else ``s``."""
        return self.s_current_ if self.module_.training else self.s

    @staticmethod
    def _next_item_positions(X: torch.Tensor):
        inputs, targets = X[:, :-1], X[:, 1:]
        # Only predict a real item from a real position: padding never counts.
        return inputs, targets, (inputs > 0) & (targets > 0)

    def represent(self, module, items: torch.Tensor, task: int, s: float):
        """User representations ``[batch, d]`` of ``task`` as ``module`` serves it."""
        return module.represent(items, task, s, self.readout)

    def task_rows(
        self,
        module,
        items: torch.Tensor,
        task: int,
        s: float,
        positions=None,
        dropout: bool = True,
        with_users: bool = False,
    ):
        """The hidden rows ``task``'s head reads: at ``positions`` or one per user.

        A next-item head always reads the last position (the next item
        follows it); labelled heads read the ``readout`` representation.
        ``dropout=False`` runs the pass without the backbone's dropout even in
        training mode (retention compares with a teacher that has none).
        ``with_users`` also returns the ``readout`` representation of each
        user from the same pass: ``(rows, users)``.

        Under autograd, a batch whose backbone activations would pass
        :data:`~sklearn_teracon.nn.chunked.ACTIVATION_CHUNK_BYTES` runs in
        user chunks, each under ``torch.utils.checkpoint``: backward recomputes
        one chunk's forward at a time, so memory stops growing with the batch
        for the price of one more forward pass. A training batch only gets
        here whole under DDP or in-backward steps (``users_per_part``);
        else its micro-batches fit.
        """
        backbone = module.backbone
        step = users_per_pass(
            len(items), items.shape[-1], backbone.dim, backbone.n_slots
        )
        if step >= len(items) or not torch.is_grad_enabled():
            return self._rows(module, items, task, s, positions, dropout, with_users)
        parts = [
            # ``dropout`` is an argument, so the recomputation in backward
            # runs the pass exactly as the forward did.
            checkpoint(
                self._rows,
                module,
                items[start : start + step],
                task,
                s,
                None if positions is None else positions[start : start + step],
                dropout,
                with_users,
                use_reentrant=False,
            )
            for start in range(0, len(items), step)
        ]
        if with_users:
            return tuple(torch.cat(part) for part in zip(*parts))
        return torch.cat(parts)

    def _rows(self, module, items, task, s, positions, dropout, with_users=False):
        with contextlib.nullcontext() if dropout else module.backbone.no_dropout():
            hidden = module.hidden(items, task, s)
        if positions is not None:
            rows = hidden[positions]
        elif self._kind(task) == NEXT_ITEM:
            rows = hidden[:, -1]
        else:
            rows = read_out(hidden, items, self.readout)
        if with_users:
            return rows, read_out(hidden, items, self.readout)
        return rows

    def task_logits(
        self,
        module,
        items: torch.Tensor,
        task: int,
        s: float,
        positions=None,
        dropout: bool = True,
    ) -> torch.Tensor:
        """``task``'s logits of ``module`` on :meth:`task_rows`."""
        rows = self.task_rows(module, items, task, s, positions, dropout)
        return module.heads[task](rows)

    def infer(self, x, **fit_params):
        return self._infer(x.to(self.device), self.task_, self.current_scale())

    def get_loss(self, y_pred, y_true, X=None, training=False):
        X = X.to(self.device)
        loss = self._cross_entropy(y_pred, y_true, X, self.task_)
        extra = self.run_hook("loss_terms", batch=X, training=training)
        if extra is not None:
            loss = loss + extra
        return loss

    # -- growth -----------------------------------------------------------------
    def add_task(self, kind: str, n_outputs: int, log_prior=None) -> int:
        """Register a task in the model (its masks, head and per-task state)."""
        task = self.module_.add_task(kind, n_outputs, log_prior, s=self.s)
        self._to_device()
        return task

    def _to_device(self) -> None:
        # Growth and the strategies create parameters and buffers on the CPU
        # (a first task's masks have no device to follow); ``to`` leaves the
        # ones already on the device as they are.
        self.module_.to(self.device)

    def grow(self, n_embeddings: int, task: int | None = None) -> None:
        """Embedding rows for new items, and the next-item head of ``task``."""
        self.module_.grow_items(n_embeddings)
        if task is not None and self._kind(task) == NEXT_ITEM:
            self.module_.grow_head(task, n_embeddings)
        self._to_device()


__all__ = ["ContinualNet"]

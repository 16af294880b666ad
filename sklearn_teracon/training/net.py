"""The skorch net that trains one task at a time on the shared TERACON module."""

from __future__ import annotations

import contextlib
import copy
import re

import numpy as np
import torch
import torch.nn.functional as F
from skorch import NeuralNet
from skorch.callbacks import Callback, EarlyStopping
from skorch.dataset import Dataset, ValidSplit, unpack_data
from torch.utils.checkpoint import checkpoint

from ..nn import NEXT_ITEM, TeraconModule
from ..nn.chunked import (
    bag_cross_entropy,
    chunked_logits_finite,
    chunked_target_ranks,
    chunked_top_k,
    head_cross_entropy,
    logits_chunk_size,
    users_per_pass,
)
from ..nn.model import read_out
from ..strategies.base import Strategy, StrategyCallback
from . import backward_step
from ._precision import at_precision, autocast, check_precision
from .callbacks import ScaleAnnealing, StopOnNonFinite
from .few_labels import (
    START_MARGIN,
    EarlyStoppingFromStart,
    MajorityFallback,
    ProbeHeadInit,
)
from .progress import BatchProgressBar, EpochTable, TaskLine


def trim_padding_collate(batch):
    """Stack a batch and drop the columns that are padding for every user.

    Rows are left padded, so the leading all-padding columns carry nothing:
    cutting them changes no output (padding is zeroed in the backbone) and
    saves their work.
    """
    X = torch.as_tensor(np.stack([np.asarray(x) for x, _ in batch]))
    y = torch.as_tensor(np.stack([np.asarray(t) for _, t in batch]))
    nonpad = (X != 0).any(dim=0).nonzero()
    first = int(nonpad[0]) if len(nonpad) else X.shape[1] - 1
    # Next-item training needs an input and a target position.
    first = min(first, max(X.shape[1] - 2, 0))
    return X[:, first:], y


class ContinualNet(NeuralNet):
    """A :class:`skorch.NeuralNet` that learns the tasks of a ``TeraconModule``.

    The net is told which task it trains (:meth:`start_task`); ``infer`` and
    ``get_loss`` then run that task's head on the weights and masks that the
    strategy serves it with, and ``get_loss`` adds the strategy's extra terms
    (TERACON's knowledge retention, HAT's regulariser, ...). Everything that
    differs between continual learners is in ``strategy`` (see
    :doc:`/strategies`).

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
        **kwargs,
    ):
        super().__init__(module, *args, **kwargs)
        self.strategy = strategy
        self.s = s
        self.readout = readout
        self.precision = precision
        self.bag_weight = bag_weight

    # -- task bookkeeping ---------------------------------------------------
    def start_task(self, task: int, task_names: list[str] | None = None) -> None:
        """Train ``task`` next; the strategy prepares it (a teacher, freezing).

        ``task_names`` (by index) name the per-task entries of the history.
        """
        self.task_ = task
        self.task_names_ = task_names or [str(t) for t in range(self.module_.n_tasks)]
        self.s_current_ = self.s
        self.strategy.on_task_start(self, task)
        self.initialize_optimizer()
        self._step_largest_in_backward()
        self.initialize_history()

    def end_task(self) -> None:
        """Let the strategy drop what only training needed (a teacher)."""
        self.strategy.finish(self)

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
        if self.in_backward_steps_ is None and not self._reads_gradients():
            self.in_backward_steps_ = backward_step.InBackwardSteps(
                self.optimizer_, backward_step.MIN_ELEMENTS
            )

    def _reads_gradients(self) -> bool:
        if type(self.strategy).on_grad_computed is not Strategy.on_grad_computed:
            return True
        return any(
            type(cb).on_grad_computed is not Callback.on_grad_computed
            for _, cb in self.callbacks_
            if not isinstance(cb, StrategyCallback)
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
        After training, the strategy's ``on_task_end`` runs (pruning,
        consolidation); the strategy's ``finish`` runs whatever happens, and
        the gradients and the optimizer's moments are dropped: each as large as
        the weights (1.3 GB at 646 K items, d = 256), they are never read
        again, as the next task starts a new optimizer (``start_task``).
        """
        try:
            self.train_epochs(X, y, epochs)
            self.strategy.on_task_end(self, X, y, epochs)
        finally:
            self.end_task()
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
        Xi = Xi.to(self.device)  # once: ``infer`` and ``get_loss`` both read it
        with autocast(self.precision, self.device):
            y_pred = self.infer(Xi, **fit_params)
            loss = self.get_loss(y_pred, yi, X=Xi, training=True)
        loss.backward()
        return {"loss": loss, "y_pred": y_pred}

    @at_precision
    def validation_step(self, batch, **fit_params):
        Xi, yi = unpack_data(batch)
        return super().validation_step((Xi.to(self.device), yi), **fit_params)

    @at_precision
    def evaluation_step(self, batch, training=False):
        return super().evaluation_step(batch, training)

    def _scale(self) -> float:
        return self.s_current_ if self.module_.training else self.s

    @staticmethod
    def _next_item_positions(X: torch.Tensor):
        inputs, targets = X[:, :-1], X[:, 1:]
        # Only predict a real item from a real position: padding never counts.
        return inputs, targets, (inputs > 0) & (targets > 0)

    def represent(self, module, items: torch.Tensor, task: int, s: float):
        """User representations ``[batch, d]`` of ``task`` as the strategy serves it."""
        hidden = self.strategy.hidden(module, items, task, s)
        return read_out(hidden, items, self.readout)

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
        for the price of one more forward pass.
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
            hidden = self.strategy.hidden(module, items, task, s)
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
        return self._infer(x.to(self.device), self.task_, self._scale())

    def _infer(self, x: torch.Tensor, task: int, s: float) -> torch.Tensor:
        # A next-item task returns the rows its head reads, not logits: the
        # loss applies the head in vocabulary chunks when positions × items
        # logits would not fit (``_cross_entropy``).
        if self._kind(task) == NEXT_ITEM:
            inputs, _, positions = self._next_item_positions(x)
            with_users = self.bag_weight > 0 and self.module_.training
            return self.task_rows(
                self.module_, inputs, task, s, positions, with_users=with_users
            )
        return self.task_logits(self.module_, x, task, s)

    def _cross_entropy(self, y_pred, y_true, X: torch.Tensor, task: int):
        """Cross-entropy of ``_infer``'s output: logits, or a next-item task's rows.

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
        if self._kind(task) != NEXT_ITEM:
            return F.cross_entropy(y_pred, y_true)
        return head_cross_entropy(y_pred, self.module_.heads[task], y_true)

    def task_loss(self, X: torch.Tensor, y, task: int) -> torch.Tensor:
        """The plain loss of any learned ``task`` on a batch, at the current scale."""
        X = X.to(self.device)
        return self._cross_entropy(self._infer(X, task, self._scale()), y, X, task)

    def get_loss(self, y_pred, y_true, X=None, training=False):
        X = X.to(self.device)
        loss = self._cross_entropy(y_pred, y_true, X, self.task_)
        extra = self.strategy.extra_loss(self, X, training)
        if extra is not None:
            loss = loss + extra
        return loss

    # -- inference ------------------------------------------------------------
    def _eval_batches(self, X: np.ndarray):
        self.module_.eval()
        for Xi, _ in self.get_iterator(Dataset(X, None), training=False):
            yield Xi.to(self.device)

    @at_precision
    @torch.no_grad()
    def predict_logits(self, X: np.ndarray, task: int) -> np.ndarray:
        """Logits of ``task`` at the last position, ``[n_users, n_outputs]``."""
        out = [
            self.task_logits(self.module_, x, task, self.s).float().cpu()
            for x in self._eval_batches(X)
        ]
        return torch.cat(out).numpy()

    @at_precision
    @torch.no_grad()
    def outputs_finite(self, X: np.ndarray, task: int) -> bool:
        """Whether every output of ``task`` on ``X`` is finite.

        What :meth:`predict_logits` would give, checked without building it:
        a next-item head's logits in vocabulary chunks
        (:func:`~sklearn_teracon.nn.chunked.chunked_logits_finite`).
        """
        weight, bias = self._head_columns(task, 0)
        for x in self._eval_batches(X):
            rows = self.task_rows(self.module_, x, task, self.s)
            chunk_size = logits_chunk_size(len(rows), len(weight))
            if not chunked_logits_finite(rows, weight, bias, chunk_size):
                return False
        return True

    def _head_columns(self, task: int, first_column: int):
        head = self.module_.heads[task]
        return head.weight[first_column:], head.bias[first_column:]

    @at_precision
    @torch.no_grad()
    def top_columns(
        self, X: np.ndarray, task: int, k: int, first_column: int = 0
    ) -> np.ndarray:
        """The ``k`` best columns of ``task`` per user, best first.

        Columns before ``first_column`` are left out; column ``0`` of the
        result is ``first_column``. Ranked in vocabulary chunks
        (:func:`~sklearn_teracon.nn.chunked.chunked_top_k`): no
        ``[n_users, n_outputs]`` matrix is built.
        """
        weight, bias = self._head_columns(task, first_column)
        out = []
        for x in self._eval_batches(X):
            rows = self.task_rows(self.module_, x, task, self.s)
            chunk_size = logits_chunk_size(len(rows), len(weight))
            out.append(chunked_top_k(rows, weight, bias, k, chunk_size).cpu())
        return torch.cat(out).numpy()

    @at_precision
    @torch.no_grad()
    def target_ranks(
        self, X: np.ndarray, task: int, targets: np.ndarray, first_column: int = 0
    ) -> np.ndarray:
        """Pessimistic 1-based rank of each user's target column (``-1``: ``inf``).

        As :func:`~sklearn_teracon.metrics.target_ranks` on the columns from
        ``first_column`` on, computed in vocabulary chunks
        (:func:`~sklearn_teracon.nn.chunked.chunked_target_ranks`).
        """
        weight, bias = self._head_columns(task, first_column)
        targets = torch.as_tensor(np.asarray(targets, dtype=np.int64))
        out, start = [], 0
        for x in self._eval_batches(X):
            rows = self.task_rows(self.module_, x, task, self.s)
            chunk_size = logits_chunk_size(len(rows), len(weight))
            batch_targets = targets[start : start + len(rows)].to(self.device)
            ranks = chunked_target_ranks(rows, weight, bias, batch_targets, chunk_size)
            out.append(ranks.cpu())
            start += len(rows)
        return torch.cat(out).numpy()

    @at_precision
    @torch.no_grad()
    def embed(self, X: np.ndarray, task: int) -> np.ndarray:
        """User representations of ``task``, ``[n_users, d]``."""
        out = [
            self.represent(self.module_, x, task, self.s).float().cpu()
            for x in self._eval_batches(X)
        ]
        return torch.cat(out).numpy()

    @torch.no_grad()
    def mask_similarity(self) -> np.ndarray:
        """Mean over slots of the cosine similarity between the tasks' masks.

        As the strategy measures it (TERACON: as ρ does, ``relation``).
        """
        return self.strategy.task_relations(self.module_, self.s).cpu().numpy()

    def structure(self) -> dict:
        """What rebuilding the module needs besides the weights (strategy state too)."""
        return {
            **self.module_.structure(),
            "strategy_state": self.strategy.state_structure(self.module_),
        }

    # -- growth -----------------------------------------------------------------
    def add_task(self, kind: str, n_outputs: int, log_prior=None) -> int:
        task = self.module_.add_task(kind, n_outputs, log_prior, s=self.s)
        self.strategy.on_task_added(self.module_, task)
        self._to_device()
        return task

    def _to_device(self) -> None:
        # Growth and the strategies create parameters and buffers on the CPU
        # (a first task's masks have no device to follow); ``to`` leaves the
        # ones already on the device as they are.
        self.module_.to(self.device)

    def grow(self, n_embeddings: int, task: int | None = None) -> None:
        """Embedding rows for new items, and the next-item head of ``task``."""
        self.module_.backbone.grow_items(n_embeddings)
        self.strategy.grow_items(self.module_, n_embeddings)
        if task is not None and self._kind(task) == NEXT_ITEM:
            self.module_.grow_head(task, n_embeddings)
        self._to_device()


def build_net(
    module: TeraconModule | None,
    *,
    n_embeddings: int,
    embedding_dim: int,
    dilations,
    kernel_size: int,
    strategy: Strategy,
    s: float,
    lr: float,
    backbone_lr: float | None = None,
    readout: str = "last",
    precision: str = "float32",
    dropout: float = 0.0,
    batch_size: int,
    validation_fraction: float,
    patience: int | None,
    callbacks,
    device: str,
    verbose: int,
    seed: int,
    task_name: str | None = None,
    probe_head: bool = False,
    majority_fallback: bool = False,
    bag_weight: float = 0.0,
) -> ContinualNet:
    """An initialised :class:`ContinualNet` around ``module`` (a new one if None).

    A net is cheap: it is built anew for every task with the estimator's
    current parameters and a new ``strategy`` object, while the module, which
    holds every task and the strategy's per-task state, is kept.
    ``backbone_lr`` (None: ``lr``) is the learning rate of the shared
    backbone (item embedding and convolutions); the masks and heads train at
    ``lr``. ``precision`` (``"float32"`` or ``"bfloat16"``) is the arithmetic
    of the net's forward passes (:func:`~sklearn_teracon.training._precision.autocast`).
    ``task_name`` (None for a net that only predicts) names the task in the
    console output and in the files of callbacks with a ``fn_prefix``
    (``Checkpoint``, ``TrainEndCheckpoint``). ``probe_head`` starts the
    task's head as a probe on the frozen representation and
    ``majority_fallback`` ends a task that does worse than its majority
    class on the validation users as that class (:mod:`.few_labels`).
    """
    check_precision(precision)
    train_split = (
        ValidSplit(validation_fraction, stratified=False, random_state=seed)
        if validation_fraction
        else None
    )
    named = [
        ("scale_annealing", ScaleAnnealing()),
        ("stop_on_non_finite", StopOnNonFinite(task_name)),
        ("strategy", StrategyCallback()),
    ]
    # In this order: early stopping's first candidate is the probe, and the
    # fallback judges the weights early stopping restored.
    if probe_head:
        named.append(("probe_head", ProbeHeadInit(random_state=seed)))
    if patience:
        monitor = "valid_loss" if train_split is not None else "train_loss"
        named.append(
            (
                "early_stopping",
                EarlyStoppingFromStart(
                    monitor=monitor,
                    patience=patience,
                    load_best=True,
                    start_margin=START_MARGIN if majority_fallback else None,
                ),
            )
        )
    if majority_fallback and train_split is not None:
        named.append(("majority_fallback", MajorityFallback()))
    if task_name is not None:
        named.append(("task_line", TaskLine(task_name)))
    if verbose >= 2 and task_name is not None:
        named.append(("progress_bar", BatchProgressBar(task_name)))
    file_prefix = re.sub(r"[^\w.-]+", "_", task_name) + "_" if task_name else ""
    for i, cb in enumerate(callbacks or []):
        name, cb = cb if isinstance(cb, tuple) else (f"user_{i}", cb)
        if file_prefix and hasattr(cb, "fn_prefix"):
            # A copy per task: a shared one would overwrite earlier tasks' files.
            cb = copy.copy(cb)
            cb.set_params(fn_prefix=f"{cb.fn_prefix}{file_prefix}")
        named.append((name, cb))
    if module is None:
        module = TeraconModule(n_embeddings, embedding_dim, dilations, kernel_size)
    module.backbone.dropout = dropout
    net = ContinualNet(
        module,
        criterion=torch.nn.CrossEntropyLoss,
        optimizer=torch.optim.Adam,
        # One kernel per step: the default for-each step makes two temporaries
        # as large as the weights (1.3 GB each at 646 K items).
        optimizer__fused=fused_adam_available(device),
        lr=lr,
        optimizer__param_groups=[]
        if backbone_lr is None
        else [("backbone.*", {"lr": backbone_lr})],
        batch_size=batch_size,
        train_split=train_split,
        callbacks=named,
        iterator_train__shuffle=True,
        iterator_train__collate_fn=trim_padding_collate,
        iterator_valid__collate_fn=trim_padding_collate,
        device=device,
        verbose=verbose,
        callbacks__print_log=EpochTable(),
        strategy=strategy,
        s=s,
        readout=readout,
        precision=precision,
        bag_weight=bag_weight,
    )
    return net.initialize()


def fused_adam_available(device: str) -> bool:
    """Whether torch has a fused Adam step for ``device`` (CUDA; CPU since 2.4)."""
    kind = torch.device(device).type
    if kind == "cuda":
        return True
    major, minor = (int(part) for part in torch.__version__.split(".")[:2])
    return kind == "cpu" and (major, minor) >= (2, 4)


@contextlib.contextmanager
def seeded(seed: int, device: str = "cpu"):
    """Seed torch for a block without touching the caller's global RNG state."""
    cuda = torch.device(device).type == "cuda"
    devices = [torch.device(device).index or 0] if cuda else []
    with torch.random.fork_rng(devices=devices):
        torch.manual_seed(seed)
        yield


__all__ = ["ContinualNet", "build_net", "seeded", "trim_padding_collate"]

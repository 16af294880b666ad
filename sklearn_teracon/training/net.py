"""The skorch net that trains one task at a time on the shared TERACON module."""

from __future__ import annotations

import contextlib
import copy
import re

import numpy as np
import torch
import torch.nn.functional as F
from skorch import NeuralNet
from skorch.callbacks import EarlyStopping
from skorch.dataset import Dataset, ValidSplit

from ..nn import NEXT_ITEM, TeraconModule
from .callbacks import ScaleAnnealing, StopOnNonFinite
from .progress import BatchProgressBar, EpochTable, TaskLine
from .retention import (
    Teacher,
    floored_ratio,
    relation_aware_ratio,
    retention_loss,
    retention_sample_size,
)


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
    ``get_loss`` then run that task's masks and head, and while earlier tasks
    exist ``get_loss`` adds the knowledge-retention term against a frozen
    teacher (see :doc:`/model`).

    Parameters
    ----------
    module : TeraconModule class or instance
    s : float
        Mask scale; annealed over each epoch by ``ScaleAnnealing``.
    c : float
        Sharpness of the relation-aware sampling ratio.
    alpha : float
        Weight of the retention loss; 0 switches retention (and the teacher) off.
    rho_min : float
        Floor of the sampling ratio ρ.
    relation : {"centered", "paper"}
        How mask similarity is measured for ρ and ``mask_similarity`` (see
        :func:`~sklearn_teracon.training.retention.mask_cosine`).
    sampling : {"relation_aware", "uniform"}
        ``"uniform"`` retains ``rho_min`` of each batch for every earlier
        task, whatever the relations (the paper's ρ = ρ_min ablation;
        ``rho_min=1`` retains every user).
    **kwargs
        Everything :class:`skorch.NeuralNet` takes.
    """

    def __init__(
        self,
        module,
        *args,
        s: float = 50.0,
        c: float = 6.0,
        alpha: float = 0.7,
        rho_min: float = 0.1,
        relation: str = "centered",
        sampling: str = "relation_aware",
        **kwargs,
    ):
        super().__init__(module, *args, **kwargs)
        self.s = s
        self.c = c
        self.alpha = alpha
        self.rho_min = rho_min
        self.relation = relation
        self.sampling = sampling

    # -- task bookkeeping ---------------------------------------------------
    def start_task(self, task: int, task_names: list[str] | None = None) -> None:
        """Train ``task`` next; freeze the teacher for the other tasks.

        ``task_names`` (by index) name the per-task entries of the history.
        """
        self.task_ = task
        self.task_names_ = task_names or [str(t) for t in range(self.module_.n_tasks)]
        self.s_current_ = self.s
        self.teacher_ = None
        self.retained_tasks_ = [t for t in range(self.module_.n_tasks) if t != task]
        if self.alpha > 0 and self.retained_tasks_:
            frozen = copy.deepcopy(self.module_).eval().requires_grad_(False)
            with torch.no_grad():
                self.teacher_ = Teacher(frozen, frozen.masks.all_masks(self.s))
        self.initialize_optimizer()
        self.initialize_history()

    def end_task(self) -> None:
        """Drop the teacher: it is only needed while a task trains."""
        self.teacher_ = None

    def _kind(self, task: int) -> str:
        return self.module_.head_kinds[task]

    def fit_task(self, X: np.ndarray, y: np.ndarray | None, epochs: int) -> None:
        """Train the current task for up to ``epochs`` epochs.

        Unlike ``NeuralNet.partial_fit`` this does not swallow
        ``KeyboardInterrupt``: an interrupt by the user propagates so that
        the caller can roll back; only early stopping ends training early.
        """
        try:
            self.notify("on_train_begin", X=X, y=y)
            try:
                self.fit_loop(X, y, epochs=epochs)
            except KeyboardInterrupt:
                if not self._early_stopping_fired():
                    raise
            self.notify("on_train_end", X=X, y=y)
        finally:
            self.end_task()

    def _early_stopping_fired(self) -> bool:
        # skorch's EarlyStopping stops training by raising KeyboardInterrupt.
        return any(
            isinstance(cb, EarlyStopping) and cb.misses_ >= cb.patience
            for _, cb in self.callbacks_
        )

    # -- skorch's steps -----------------------------------------------------
    def _scale(self) -> float:
        return self.s_current_ if self.module_.training else self.s

    @staticmethod
    def _next_item_positions(X: torch.Tensor):
        inputs, targets = X[:, :-1], X[:, 1:]
        # Only predict a real item from a real position: padding never counts.
        return inputs, targets, (inputs > 0) & (targets > 0)

    def infer(self, x, **fit_params):
        x = x.to(self.device)
        if self._kind(self.task_) == NEXT_ITEM:
            inputs, _, positions = self._next_item_positions(x)
            return self.module_.position_logits(
                inputs, self.task_, self._scale(), positions
            )
        return self.module_(x, self.task_, self._scale())

    def get_loss(self, y_pred, y_true, X=None, training=False):
        X = X.to(self.device)
        if self._kind(self.task_) == NEXT_ITEM:
            _, targets, positions = self._next_item_positions(X)
            y_true = targets[positions]
        else:
            y_true = y_true.to(self.device)
        if len(y_true):
            loss = F.cross_entropy(y_pred, y_true)
        else:
            loss = y_pred.sum() * 0.0
        if training and self.teacher_ is not None:
            retention = self.retention_loss(X)
            self.history.record_batch("retention_loss", retention.item())
            loss = loss + self.alpha * retention
        return loss

    def retention_ratios(self) -> tuple[list[float], list[float]]:
        """Raw and floored ρ of every retained task against the current task."""
        if self.sampling == "uniform":
            raw = [self.rho_min] * len(self.retained_tasks_)
        else:
            with torch.no_grad():
                own_masks = self.module_.masks(self.task_, self.s)
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

    def retention_loss(self, X: torch.Tensor) -> torch.Tensor:
        """α-free retention term: Σ_j (ρ_j / Σ_k ρ_k) · MSE(student_j, teacher_j)."""
        batch_size = len(X)
        raw, ratios = self.retention_ratios()
        for j, r, rho in zip(self.retained_tasks_, raw, ratios):
            name = self.task_names_[j]
            self.history.record_batch(f"rho_raw[{name}]", r)
            self.history.record_batch(f"rho[{name}]", rho)
        self.history.record_batch("rho", float(np.mean(ratios)))
        total = sum(ratios)
        loss = X.new_zeros((), dtype=torch.float32)
        for j, ratio in zip(self.retained_tasks_, ratios):
            size = retention_sample_size(ratio, batch_size)
            users = X[torch.randperm(batch_size, device=X.device)[:size]]
            student, teacher = self._retention_logits(users, j)
            loss = loss + (ratio / total) * retention_loss(student, teacher)
        return loss

    def _retention_logits(self, users: torch.Tensor, task: int):
        if self._kind(task) == NEXT_ITEM:
            positions = users > 0
            with torch.no_grad():
                teacher = self.teacher_.module.position_logits(
                    users, task, self.s, positions
                )
            student = self.module_.position_logits(users, task, self.s, positions)
        else:
            with torch.no_grad():
                teacher = self.teacher_.module(users, task, self.s)
            student = self.module_(users, task, self.s)
        return student, teacher

    # -- inference ------------------------------------------------------------
    def _eval_batches(self, X: np.ndarray):
        self.module_.eval()
        for Xi, _ in self.get_iterator(Dataset(X, None), training=False):
            yield Xi.to(self.device)

    @torch.no_grad()
    def predict_logits(self, X: np.ndarray, task: int) -> np.ndarray:
        """Logits of ``task`` at the last position, ``[n_users, n_outputs]``."""
        out = [
            self.module_(x, task, self.s).float().cpu() for x in self._eval_batches(X)
        ]
        return torch.cat(out).numpy()

    @torch.no_grad()
    def embed(self, X: np.ndarray, task: int) -> np.ndarray:
        """User representations under ``task``'s masks, ``[n_users, d]``."""
        out = [
            self.module_.hidden(x, task, self.s)[:, -1].float().cpu()
            for x in self._eval_batches(X)
        ]
        return torch.cat(out).numpy()

    @torch.no_grad()
    def mask_similarity(self) -> np.ndarray:
        """Mean over slots of the cosine similarity between task masks.

        Measured as ρ measures it (``relation``): centred masks by default.
        """
        masks = self.module_.masks.all_masks(self.s)  # [T, K, d]
        if self.relation == "centered":
            masks = masks - masks.mean(-1, keepdim=True)
        unit = F.normalize(masks, dim=-1, eps=1e-12)
        return torch.einsum("ikd,jkd->ijk", unit, unit).mean(-1).cpu().numpy()

    # -- growth -----------------------------------------------------------------
    def add_task(self, kind: str, n_outputs: int, log_prior=None) -> int:
        return self.module_.add_task(kind, n_outputs, log_prior, s=self.s)

    def grow(self, n_embeddings: int, task: int | None = None) -> None:
        """Embedding rows for new items, and the next-item head of ``task``."""
        self.module_.backbone.grow_items(n_embeddings)
        if task is not None and self._kind(task) == NEXT_ITEM:
            self.module_.grow_head(task, n_embeddings)


def build_net(
    module: TeraconModule | None,
    *,
    n_embeddings: int,
    embedding_dim: int,
    dilations,
    kernel_size: int,
    s: float,
    c: float,
    alpha: float,
    rho_min: float,
    relation: str,
    sampling: str,
    lr: float,
    batch_size: int,
    validation_fraction: float,
    patience: int | None,
    callbacks,
    device: str,
    verbose: int,
    seed: int,
    task_name: str | None = None,
) -> ContinualNet:
    """An initialised :class:`ContinualNet` around ``module`` (a new one if None).

    A net is cheap: it is built anew for every task with the estimator's
    current parameters, while the module, which holds every task, is kept.
    ``task_name`` (None for a net that only predicts) names the task in the
    console output and in the files of callbacks with a ``fn_prefix``
    (``Checkpoint``, ``TrainEndCheckpoint``).
    """
    train_split = (
        ValidSplit(validation_fraction, stratified=False, random_state=seed)
        if validation_fraction
        else None
    )
    named = [
        ("scale_annealing", ScaleAnnealing()),
        ("stop_on_non_finite", StopOnNonFinite(task_name)),
    ]
    if patience:
        monitor = "valid_loss" if train_split is not None else "train_loss"
        named.append(
            (
                "early_stopping",
                EarlyStopping(monitor=monitor, patience=patience, load_best=True),
            )
        )
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
    net = ContinualNet(
        module,
        criterion=torch.nn.CrossEntropyLoss,
        optimizer=torch.optim.Adam,
        lr=lr,
        batch_size=batch_size,
        train_split=train_split,
        callbacks=named,
        iterator_train__shuffle=True,
        iterator_train__collate_fn=trim_padding_collate,
        iterator_valid__collate_fn=trim_padding_collate,
        device=device,
        verbose=verbose,
        callbacks__print_log=EpochTable(),
        s=s,
        c=c,
        alpha=alpha,
        rho_min=rho_min,
        relation=relation,
        sampling=sampling,
    )
    return net.initialize()


@contextlib.contextmanager
def seeded(seed: int, device: str = "cpu"):
    """Seed torch for a block without touching the caller's global RNG state."""
    cuda = torch.device(device).type == "cuda"
    devices = [torch.device(device).index or 0] if cuda else []
    with torch.random.fork_rng(devices=devices):
        torch.manual_seed(seed)
        yield


__all__ = ["ContinualNet", "build_net", "seeded", "trim_padding_collate"]

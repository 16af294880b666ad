"""Building the net for a task: its callbacks, optimizer, batches and seed."""

from __future__ import annotations

import contextlib
import copy
import re

import numpy as np
import torch
from skorch.dataset import ValidSplit

from ..nn import TeraconModule
from ._precision import check_precision
from .callbacks import ScaleAnnealing, StopOnNonFinite
from .few_labels import (
    START_MARGIN,
    EarlyStoppingFromStart,
    MajorityFallback,
    ProbeHeadInit,
)
from .net import ContinualNet
from .progress import BatchProgressBar, EpochTable, TaskLine
from .strategy import Strategy


def trim_padding_collate(batch):
    """Stack a batch and drop the columns that are padding for every user.

    Rows are left padded, so the leading all-padding columns carry nothing:
    cutting them changes no output (padding is zeroed in the backbone) and
    saves their work.
    """
    # Inputs may be stored as int32; indices and targets are int64 in torch.
    X = torch.as_tensor(np.stack([np.asarray(x) for x, _ in batch])).long()
    y = torch.as_tensor(np.stack([np.asarray(t) for _, t in batch]))
    nonpad = (X != 0).any(dim=0).nonzero()
    first = int(nonpad[0]) if len(nonpad) else X.shape[1] - 1
    # Next-item training needs an input and a target position.
    first = min(first, max(X.shape[1] - 2, 0))
    return X[:, first:], y


def build_net(
    module: TeraconModule | None,
    *,
    n_embeddings: int,
    embedding_dim: int,
    dilations,
    kernel_size: int,
    strategy: Strategy,
    s: float,
    backbone: str = "nextitnet",
    n_positions: int | None = None,
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
    loss: str = "full",
    n_negatives: int = 1024,
) -> ContinualNet:
    """An initialised :class:`ContinualNet` around ``module`` (a new one if None).

    A net is cheap: it is built anew for every task with the estimator's
    current parameters and a new ``strategy`` object, while the module, which
    holds every task and the strategy's per-task state, is kept.
    ``backbone_lr`` (None: ``lr``) is the learning rate of the shared
    backbone (item embedding and convolutions); the masks and heads train at
    ``lr``. ``backbone`` and ``n_positions`` choose a new module's network
    (:func:`~sklearn_teracon.nn.make_backbone`). ``precision``
    (``"float32"`` or ``"bfloat16"``) is the arithmetic of the net's forward
    passes (:func:`~sklearn_teracon.training._precision.autocast`).
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
    # Page-locked batches copy to a GPU asynchronously (``non_blocking``).
    pin_memory = torch.device(device).type == "cuda"
    if module is None:
        module = TeraconModule(
            n_embeddings,
            embedding_dim,
            dilations,
            kernel_size,
            task_state=strategy.task_state(),
            backbone=backbone,
            n_positions=n_positions,
        )
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
        iterator_train__pin_memory=pin_memory,
        iterator_valid__pin_memory=pin_memory,
        device=device,
        verbose=verbose,
        callbacks__print_log=EpochTable(),
        strategy=strategy,
        s=s,
        readout=readout,
        precision=precision,
        bag_weight=bag_weight,
        loss=loss,
        n_negatives=n_negatives,
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


__all__ = ["build_net", "fused_adam_available", "seeded", "trim_padding_collate"]

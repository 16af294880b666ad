"""How the estimator learns a task: one ``partial_fit`` call, then its commit."""

from __future__ import annotations

import copy
import numbers
import time

import numpy as np
from skorch.history import History

from ._sequence_sources import is_lazy_source
from ._sequence_store import SEQUENCE_CHUNK_ROWS
from ._sequences import ItemVocabulary
from ._spilled_rows import SpilledRows
from ._tasks import TaskRecord, _check_task_data, _log_prior
from .metrics._scoring import default_metric
from .nn import LABELS, NEXT_ITEM
from .training import build_net, seeded
from .training._device import check_device
from .training.callbacks import non_finite_outputs
from .training.distributed import (
    check_same_data,
    join_launched_group,
    same_on_every_rank,
)


class EncoderLearning:
    """The training side of :class:`~sklearn_teracon.ContinualUserEncoder`."""

    def _learn(self, X, y, *, task, classes, keep_tasks):
        strategy = self._validate_params()
        check_device(self.device)
        device = join_launched_group(self.device)
        source = self._source(X)
        keep_tasks = keep_tasks and self.__sklearn_is_fitted__()
        if keep_tasks:
            self._check_architecture()
        tasks = copy.deepcopy(self.tasks_) if keep_tasks else {}
        kind = NEXT_ITEM if y is None else LABELS
        name = self._task_name(task, kind, tasks)
        record = tasks.get(name)
        vocabulary = (
            copy.deepcopy(self.item_vocabulary_) if keep_tasks else ItemVocabulary()
        )
        encoded, longest = _encode_growing(vocabulary, source, self.max_len)
        try:
            task_classes, targets = _check_task_data(
                len(encoded),
                longest,
                y,
                classes,
                name,
                record,
                default_name=task is None,
            )
            if record is not None:
                metric = record.metric
            else:  # next items are ranked, however few the items are
                metric = (
                    "mrr@5" if kind == NEXT_ITEM else default_metric(len(task_classes))
                )
            check_same_data(encoded, targets)
            seed = same_on_every_rank(self._next_seed(keep_tasks))
            start = time.perf_counter()
            with seeded(seed, device):
                # Training runs on a copy: nothing is committed unless it succeeds.
                module = copy.deepcopy(self.net_.module_) if keep_tasks else None
                # The first task builds the backbone; later ones adapt it gently.
                first = record.index == 0 if record is not None else not tasks
                net = self._build_net(
                    module,
                    len(vocabulary),
                    self._validation_share(len(encoded)),
                    seed,
                    strategy,
                    task_name=name,
                    backbone_lr=None if first else self.lr * self.backbone_lr_scale,
                    dropout=self.next_item_dropout if kind == NEXT_ITEM else 0.0,
                    # Profile tasks only: a probe over thousands of item classes
                    # would cost more than the task's training.
                    probe_head=record is None
                    and self.head_init == "probe"
                    and metric == "accuracy",
                    majority_fallback=self.majority_fallback and metric == "accuracy",
                    bag_weight=self.bag_weight if kind == NEXT_ITEM else 0.0,
                    device=device,
                )
                if record is None:
                    n_outputs = (
                        len(vocabulary) if kind == NEXT_ITEM else len(task_classes)
                    )
                    record = TaskRecord(
                        name=name,
                        kind=kind,
                        index=net.add_task(
                            kind, n_outputs, _log_prior(targets, n_outputs)
                        ),
                        classes_=task_classes,
                        metric=metric,
                    )
                    tasks[name] = record
                net.grow(len(vocabulary), task=record.index)
                net.start_task(record.index, list(tasks))
                net.fit_task(encoded, targets, epochs=self.max_epochs)
                # Its batches draw from torch's generator: the one seeded here.
                problem = non_finite_outputs(
                    net, encoded[: self.batch_size], list(tasks)
                )
            # The commit below is skipped, so the encoder stays as it was.
            if problem:
                raise ValueError(
                    f"training diverged on task {name!r}: {problem}; lower lr (now "
                    f"{self.lr:g}); the encoder is left as it was"
                )
            record.fit_time += time.perf_counter() - start
            record.n_samples_seen += len(encoded)
            record.n_fits += 1

            history = copy.deepcopy(self.history_) if keep_tasks else {}
            task_history = history.setdefault(name, History())
            task_history.extend(_epoch_records(net.history, len(task_history)))
            return self._commit(
                net,
                tasks,
                vocabulary,
                history,
                last_task=name,
                n_partial_fits=(self.n_partial_fits_ + 1) if keep_tasks else 1,
                task_relations=net.mask_similarity(),
            )
        finally:
            if isinstance(encoded, SpilledRows):
                encoded.close()  # the temporary file goes with it

    def _commit(
        self,
        net,
        tasks: dict,
        vocabulary,
        history: dict,
        *,
        last_task: str,
        n_partial_fits: int,
        task_relations: np.ndarray,
    ):
        """Set the fitted state, all of it, here only (after ``fit`` or ``load``).

        Plain assignments, made after all the work has succeeded: a call that
        fails before them leaves the encoder as it was.
        """
        self.net_ = net
        self.tasks_ = tasks
        self.item_vocabulary_ = vocabulary
        self.history_ = history
        self.last_task_ = last_task
        self.task_relations_ = np.asarray(task_relations, dtype=np.float32)
        self.n_partial_fits_ = n_partial_fits
        return self

    def _build_net(
        self,
        module,
        n_embeddings: int,
        validation: float,
        seed: int,
        strategy,
        task_name: str | None = None,
        backbone_lr: float | None = None,
        dropout: float = 0.0,
        probe_head: bool = False,
        majority_fallback: bool = False,
        bag_weight: float = 0.0,
        device: str | None = None,
    ):
        return build_net(
            module,
            n_embeddings=n_embeddings,
            embedding_dim=self.embedding_dim,
            dilations=self._dilations(),
            kernel_size=self.kernel_size,
            strategy=strategy,
            s=self.s,
            backbone=self.backbone,
            n_positions=self.max_len,
            readout=self.readout,
            precision=self.precision,
            dropout=dropout,
            lr=self.lr,
            backbone_lr=backbone_lr,
            batch_size=self.batch_size,
            validation_fraction=validation,
            patience=self.patience,
            callbacks=self.callbacks,
            device=self.device if device is None else device,
            verbose=self.verbose,
            seed=seed,
            task_name=task_name,
            probe_head=probe_head,
            majority_fallback=majority_fallback,
            bag_weight=bag_weight,
            loss=self.loss,
            n_negatives=self.n_negatives,
        )


def _epoch_records(history, n_earlier_epochs: int = 0) -> list[dict]:
    """skorch's epoch rows, each per-batch value averaged into its epoch's row.

    A numeric per-batch key that skorch does not already put into the epoch
    row (``rho``, ``retention_loss``, ...) gets its mean over the batches that
    recorded it; batch sizes are left out. Epochs are numbered on from
    ``n_earlier_epochs``, the task's epochs in earlier calls.
    """
    records = []
    for number, row in enumerate(history, start=n_earlier_epochs + 1):
        record = {k: v for k, v in row.items() if k != "batches"}
        record["epoch"] = number
        per_batch: dict[str, list[float]] = {}
        for batch in row.get("batches", []):
            for key, value in batch.items():
                numeric = isinstance(value, numbers.Real) and not isinstance(
                    value, bool
                )
                if numeric and key not in record and not key.endswith("batch_size"):
                    per_batch.setdefault(key, []).append(float(value))
        record.update({key: float(np.mean(v)) for key, v in per_batch.items()})
        records.append(record)
    return records


def _encode_growing(vocabulary: ItemVocabulary, source, max_len: int):
    """``source`` encoded as it grows ``vocabulary``, and its longest sequence.

    One pass over the chunks: each chunk's new items join the vocabulary
    before the chunk is encoded, so indices follow first appearance as if
    the users had been read at once. In memory as an int32 matrix (each
    batch becomes int64 when it is stacked); a lazy source's users (maybe
    millions) go to a temporary file (:class:`SpilledRows`), so what
    training holds does not grow with them.
    """
    spilled = is_lazy_source(source)
    encoded = (
        SpilledRows(max_len)
        if spilled
        else np.zeros((len(source), max_len), dtype=np.int32)
    )
    start, longest = 0, 0
    try:
        for store in source.sequence_chunks(SEQUENCE_CHUNK_ROWS):
            vocabulary.extend_values(store.values)
            if len(vocabulary) > np.iinfo(np.int32).max:
                raise ValueError(f"{len(vocabulary):,} items: beyond an int32 index")
            longest = max(longest, int(store.lengths.max()))
            if spilled:
                recent, kept = store.recent(max_len)
                encoded.append(vocabulary.indices(recent), kept)
                continue
            stop = start + len(store)
            vocabulary.encode_store(store, max_len, out=encoded[start:stop])
            start = stop
    except BaseException:
        if spilled:
            encoded.close()
        raise
    return encoded, longest


__all__ = ["EncoderLearning"]

"""One rank of the distributed tests (started by torchrun from test_distributed.py).

``python -m torch.distributed.run --nproc-per-node N tests/distributed_worker.py
CASE OUT`` trains a small encoder on synthetic data and writes, per rank,
``OUT/rank{r}.npz``: every weight, the epochs each task ran, and whether the
case's failure rolled the encoder back. ``CASE``: ``train`` (two tasks),
``stop`` (early stopping), ``fail`` (rank 1 raises mid-task, at
``FAILURES``' points one after the other), ``strategies``
(every strategy, retention on, probe start and validation as by default),
``parquet`` (``train`` from ``OUT/users.parquet``, never held in memory).
"""

from __future__ import annotations

import os
import sys

import numpy as np
import torch
from skorch.callbacks import Callback

from sklearn_teracon import ContinualUserEncoder

PARAMS = dict(
    embedding_dim=8,
    n_blocks=1,
    max_len=10,
    max_epochs=2,
    batch_size=8,
    patience=None,
    validation_fraction=0.0,
    random_state=0,
    head_init="prior",
    # Retention and dropout draw per rank: off where one process is the
    # reference (they still run, and agree across ranks, in "strategies").
    alpha=0.0,
    next_item_dropout=0.0,
)


def toy(n_users: int = 96):
    rng = np.random.default_rng(0)
    groups = rng.integers(0, 2, n_users)
    seqs = []
    for g in groups:
        start, length = rng.integers(0, 12), rng.integers(3, 11)
        seqs.append([int(1 + 12 * g + (start + i) % 12) for i in range(length)])
    return seqs, groups


class FailOnRank(Callback):
    """Raise on one rank in ``event`` of its ``batch``-th training batch."""

    def __init__(self, event: str, batch: int, rank: int = 1):
        self.event, self.batch, self.rank = event, batch, rank

    def on_train_begin(self, net, **kwargs):
        self.batches_ = 0

    def on_batch_begin(self, net, training=False, **kwargs):
        self.batches_ += training
        self._maybe_fail("on_batch_begin", training)

    def on_grad_computed(self, net, named_parameters, **kwargs):
        self._maybe_fail("on_grad_computed", True)

    def on_batch_end(self, net, training=False, **kwargs):
        self._maybe_fail("on_batch_end", training)

    def _maybe_fail(self, event: str, training: bool) -> None:
        planted = (event, self.batch) == (self.event, self.batches_)
        if training and planted and int(os.environ.get("RANK", 0)) == self.rank:
            raise RuntimeError(f"planted failure in {event}")


# Where rank 1 fails: the start of a batch (agreed at once), and after a
# backward pass (heard at the next batch's start, or at the epoch's end
# after the last batch: 96 users, 16 a global batch, 6 batches an epoch).
FAILURES = [("on_batch_begin", 3), ("on_grad_computed", 3), ("on_batch_end", 6)]


def weights(enc) -> dict[str, np.ndarray]:
    return {k: v.cpu().numpy() for k, v in enc.net_.module_.state_dict().items()}


def every_strategy(seqs, groups) -> dict[str, np.ndarray]:
    from sklearn_teracon.strategies import STRATEGIES

    result = {}
    for name in sorted(STRATEGIES):
        # Retention, dropout, the probe start and validation as by default.
        defaults = {"alpha": 2.0, "next_item_dropout": 0.4, "head_init": "probe"}
        enc = ContinualUserEncoder(
            **{**PARAMS, **defaults, "validation_fraction": 0.2, "patience": 1},
            strategy=name,
        )
        enc.partial_fit(seqs).partial_fit(seqs, groups, task="group")
        result.update({f"{name}/{k}": v for k, v in weights(enc).items()})
        result[f"{name}/transform"] = enc.transform(seqs[:10])
    return result


def main(case: str, out: str) -> None:
    torch.set_num_threads(1)
    seqs, groups = toy()
    rank = int(os.environ.get("RANK", 0))
    if case == "strategies":
        np.savez(os.path.join(out, f"rank{rank}.npz"), **every_strategy(seqs, groups))
        return
    params = dict(PARAMS)
    if case == "parquet":  # the users streamed from OUT/users.parquet
        from sklearn_teracon._spilled_rows import SpilledRows
        from sklearn_teracon.datasets import ParquetSequences

        def never(*args, **kwargs):
            raise AssertionError("the spilled rows were read into memory whole")

        SpilledRows.__array__ = never
        seqs = ParquetSequences(os.path.join(out, "users.parquet"))
    if case == "stop":
        params.update(validation_fraction=0.25, patience=2, max_epochs=30)
    enc = ContinualUserEncoder(**params)
    enc.partial_fit(seqs)
    result = {}
    if case == "fail":
        before = weights(enc)
        for event, batch in FAILURES:
            enc.set_params(callbacks=[FailOnRank(event, batch)])
            try:
                enc.partial_fit(seqs, groups, task="group")
            except Exception as exc:  # noqa: BLE001 - the test reads what it was
                result[f"error[{event}]"] = np.array(type(exc).__name__)
            after = weights(enc)
            result[f"rolled_back[{event}]"] = np.array(
                list(before) == list(after)
                and all(np.array_equal(before[k], after[k]) for k in before)
            )
        result["tasks"] = np.array(list(enc.tasks_))
        enc.set_params(callbacks=None).partial_fit(seqs, groups, task="group")
    elif case == "stop":  # labels unrelated to the items: nothing to learn
        noise = np.random.default_rng(1).integers(0, 2, len(seqs))
        enc.partial_fit(seqs, noise, task="group")
    else:
        enc.partial_fit(seqs, groups, task="group")
    for task in enc.tasks_:
        result[f"epochs[{task}]"] = np.array(len(enc.history_[task]))
    result.update({f"weight:{k}": v for k, v in weights(enc).items()})
    result["transform"] = enc.transform(seqs[:10])
    np.savez(os.path.join(out, f"rank{rank}.npz"), **result)
    if case == "train":
        enc.save(os.path.join(out, "model.st"))


if __name__ == "__main__":
    main(*sys.argv[1:3])
    # Every rank done before any tears the group down.
    torch.distributed.barrier()
    torch.distributed.destroy_process_group()

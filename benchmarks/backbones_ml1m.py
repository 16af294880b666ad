"""The strategy comparison on a MovieLens-1M sub-stream, for one backbone.

``python benchmarks/backbones_ml1m.py --backbone sasrec --out DIR`` runs
:func:`~sklearn_teracon.compare.compare_strategies` (what ``sklearn-teracon
compare`` runs) on the ``next_item``, ``age`` and ``gender`` tasks of
MovieLens-1M, each user's ``--max-len`` most recent items, optionally with a
seeded subsample of the training users (``--users``; every task keeps the
same users; validation and test users are all kept), and writes
``compare.json`` and ``compare.md`` into ``DIR``. The command line cannot
subsample a MovieLens stream's users nor shorten its histories, hence this
script; docs/model.rst ("Backbones") holds its table.
"""

from __future__ import annotations

import argparse
import os
import time
from pathlib import Path

import numpy as np

from sklearn_teracon import ContinualUserEncoder
from sklearn_teracon.compare import compare_strategies
from sklearn_teracon.datasets import Task, TaskStream, make_movielens_stream

TASKS = ["next_item", "age", "gender"]
STRATEGIES = ["teracon", "conure", "hat", "finetune"]


def substream(n_train_users: int | None, seed: int, tasks=TASKS) -> TaskStream:
    """``tasks`` of MovieLens-1M with ``n_train_users`` training users drawn once
    (None: all)."""
    stream = make_movielens_stream("1m", random_state=seed).select(list(tasks))
    pool = np.unique(stream[tasks[0]].users["train"])
    size = len(pool) if n_train_users is None else min(n_train_users, len(pool))
    kept = set(np.random.RandomState(seed).choice(pool, size=size, replace=False))
    tasks = []
    for task in stream:
        X, y = task.train
        rows = [i for i, user in enumerate(task.users["train"]) if user in kept]
        train = ([X[i] for i in rows], None if y is None else np.asarray(y)[rows])
        users = {**task.users, "train": np.asarray(task.users["train"])[rows]}
        tasks.append(
            Task(
                task.name,
                task.kind,
                train,
                task.validation,
                task.test,
                users,
                task.classes,
                task.description,
            )
        )
    return TaskStream(tasks, name=f"movielens-1m ({len(kept)} training users)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backbone", choices=("nextitnet", "sasrec"), required=True)
    parser.add_argument("--users", type=int, default=None)
    parser.add_argument("--tasks", default=",".join(TASKS))
    parser.add_argument("--max-len", type=int, default=20)
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--embedding-dim", type=int, default=32)
    parser.add_argument("--n-blocks", type=int, default=2)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--strategies", default=",".join(STRATEGIES))
    parser.add_argument("--out", required=True)
    args = parser.parse_args()

    import torch

    torch.set_num_threads(int(os.environ.get("OMP_NUM_THREADS", "1")))
    stream = substream(args.users, args.seed, args.tasks.split(","))
    print(stream, flush=True)
    encoder = ContinualUserEncoder(
        embedding_dim=args.embedding_dim,
        n_blocks=args.n_blocks,
        max_epochs=args.epochs,
        max_len=args.max_len,
        backbone=args.backbone,
        random_state=args.seed,
    )
    start = time.perf_counter()
    table = compare_strategies(
        encoder, stream, args.strategies.split(","), seeds=[args.seed], verbose=1
    )
    wall = time.perf_counter() - start
    print(table)
    print(f"wall time: {wall:.0f} s")
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    table.save(out, figure=False)
    (out / "wall_time.txt").write_text(f"{wall:.1f}\n")


if __name__ == "__main__":
    main()

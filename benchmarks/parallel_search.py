"""Parallel search without oversubscription (issue #10, item 7).

Wall time of ``GridSearchCV`` over ``s`` on one labelled task of the
synthetic stream, with ``n_jobs=1`` and ``n_jobs=2`` (joblib's loky
processes), and the number of torch intra-op threads each fit saw. On a
machine with C cores, a worker of ``n_jobs=2`` should train with C // 2
threads: with C threads each, two workers oversubscribe the cores.

``--raise-worker-threads`` first sets torch to all cores in joblib's
(reused) worker processes, as any earlier job that calls
``torch.set_num_threads`` leaves them: the case where torch does not follow
the limit joblib gives its workers (``OMP_NUM_THREADS``).

Run (small models; about a minute on 2 cores)::

    nice python benchmarks/parallel_search.py [--users 1200] [--raise-worker-threads]
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time

import torch
from joblib import Parallel, cpu_count, delayed
from sklearn.model_selection import GridSearchCV
from skorch.callbacks import Callback

from sklearn_teracon import ContinualUserEncoder
from sklearn_teracon.datasets import make_synthetic_stream


class RecordTorchThreads(Callback):
    """Append ``pid threads`` to a file when a task starts training."""

    def __init__(self, path: str):
        self.path = path

    def on_train_begin(self, net, **kwargs):
        with open(self.path, "a") as file:
            file.write(f"{os.getpid()} {torch.get_num_threads()}\n")


def raise_torch_threads(_) -> int:
    """Set torch to every core in a worker, as an earlier job may have done."""
    torch.set_num_threads(cpu_count())
    return os.getpid()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--users", type=int, default=1200)
    parser.add_argument("--items", type=int, default=200)
    parser.add_argument("--dim", type=int, default=32)
    parser.add_argument("--blocks", type=int, default=2)
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--cv", type=int, default=2)
    parser.add_argument("--raise-worker-threads", action="store_true")
    args = parser.parse_args()

    stream = make_synthetic_stream(args.users, args.items, max_len=30)
    X_first, _ = stream["next_item"].train
    X, y = stream["category"].train
    with tempfile.TemporaryDirectory() as folder:
        log = os.path.join(folder, "threads.txt")
        encoder = ContinualUserEncoder(
            embedding_dim=args.dim,
            n_blocks=args.blocks,
            max_len=30,
            batch_size=64,
            max_epochs=args.epochs,
            patience=None,
            validation_fraction=0.0,
            random_state=0,
            callbacks=[RecordTorchThreads(log)],
        ).partial_fit(X_first)
        view = encoder.task_estimator("category")
        grid = {"s": [10.0, 50.0, 200.0]}
        print(
            f"{os.cpu_count()} cores; main process: {torch.get_num_threads()} "
            f"torch threads; {len(X)} users, grid {grid}, cv={args.cv}"
        )
        for n_jobs in (1, 2):
            open(log, "w").close()
            if n_jobs > 1 and args.raise_worker_threads:
                Parallel(n_jobs=n_jobs)(
                    delayed(raise_torch_threads)(i) for i in range(8)
                )
            start = time.perf_counter()
            GridSearchCV(view, grid, cv=args.cv, n_jobs=n_jobs).fit(X, y)
            seconds = time.perf_counter() - start
            with open(log) as file:
                seen = sorted({tuple(map(int, line.split())) for line in file})
            workers = sorted({t for pid, t in seen if pid != os.getpid()})
            main_threads = sorted({t for pid, t in seen if pid == os.getpid()})
            print(
                f"n_jobs={n_jobs}: {seconds:6.1f} s; torch threads per fit: "
                f"workers {workers or '-'}, main process (refit) {main_threads}"
            )


if __name__ == "__main__":
    main()

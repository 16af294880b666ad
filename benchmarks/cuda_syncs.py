"""GPU-to-CPU synchronisations per training batch, and where they happen (CUDA only).

Trains a small model's first task (next item) and a later labelled task
that retains it under ``torch.cuda.set_sync_debug_mode("warn")``, and counts
every synchronising call by the innermost line of ``sklearn_teracon`` or
``skorch`` that made it, per training batch.

Run on a machine with a GPU::

    python -m benchmarks.cuda_syncs [--users 512] [--batch 64]
"""

from __future__ import annotations

import argparse
import collections
import traceback
import warnings

import numpy as np
import torch

from sklearn_teracon import ContinualUserEncoder

from .cases import LENGTH, movielens_shaped

OWN_CODE = ("sklearn_teracon", "skorch")


def where(stack) -> str:
    """The innermost frame of the library or skorch: ``file:line (function)``."""
    for frame in reversed(stack):
        if any(f"/{name}/" in frame.filename for name in OWN_CODE):
            path = frame.filename.split("/site-packages/")[-1].split("/main/")[-1]
            return f"{path}:{frame.lineno} ({frame.name})"
    return "elsewhere"


def count_syncs(train, n_batches: int) -> collections.Counter:
    seen = collections.Counter()

    def record(message, category, *args, **kwargs):
        seen[where(traceback.extract_stack()[:-1])] += 1

    with warnings.catch_warnings():
        warnings.simplefilter("always")
        warnings.showwarning = record
        torch.cuda.set_sync_debug_mode("warn")
        try:
            train()
        finally:
            torch.cuda.set_sync_debug_mode("default")
    print(f"{sum(seen.values())} syncs over {n_batches} training batches:")
    for line, count in seen.most_common():
        print(f"  {count / n_batches:6.2f} per batch  {count:5d}  {line}")
    return seen


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--users", type=int, default=512)
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--device", default="cuda")
    args = parser.parse_args()
    rows, targets, genders = movielens_shaped(args.users, 500, 300)
    encoder = ContinualUserEncoder(
        embedding_dim=32,
        n_blocks=2,
        max_len=LENGTH,
        batch_size=args.batch,
        max_epochs=1,
        patience=None,
        validation_fraction=0.0,
        device=args.device,
        random_state=0,
    )
    encoder.fit(rows[:64])  # warm-up: CUDA context, kernels, allocator
    n_batches = int(np.ceil(args.users / args.batch))
    print("first task (next item):")
    count_syncs(lambda: encoder.fit(rows), n_batches)
    print("later task (labels), retaining the first:")
    count_syncs(lambda: encoder.partial_fit(rows, genders, task="gender"), n_batches)


if __name__ == "__main__":
    main()

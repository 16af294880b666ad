"""Training throughput of the first task at the paper's size (DESIGN.md §8).

Sequences per second for next-item training: d=256, 8 blocks, length 30,
batch 32, fp32, on the synthetic stream. The reference code trains ≈158 seq/s
on a 2-core AVX-512 CPU at this size.

Run: ``python benchmarks/train_throughput.py [--users 2000] [--epochs 1]``
"""

import argparse
import time

from sklearn_teracon import ContinualUserEncoder
from sklearn_teracon.datasets import make_synthetic_stream

parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
parser.add_argument("--users", type=int, default=2000)
parser.add_argument("--epochs", type=int, default=1)
parser.add_argument("--dim", type=int, default=256)
parser.add_argument("--blocks", type=int, default=8)
args = parser.parse_args()

stream = make_synthetic_stream(args.users, 1000, max_len=30, random_state=0)
X, _ = stream["next_item"].train
enc = ContinualUserEncoder(
    embedding_dim=args.dim,
    n_blocks=args.blocks,
    max_len=30,
    batch_size=32,
    max_epochs=args.epochs,
    patience=None,
    validation_fraction=0.0,
    random_state=0,
)
enc.partial_fit(X[:64])  # warm-up: library imports and kernel selection
start = time.perf_counter()
enc.fit(X)
seconds = time.perf_counter() - start
rate = len(X) * args.epochs / seconds
print(
    f"{len(X)} sequences x {args.epochs} epoch(s) in {seconds:.1f} s: {rate:.0f} seq/s"
)

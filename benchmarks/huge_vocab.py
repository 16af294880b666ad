"""A first task over 646 K items within a bounded memory (issue #10, item 6).

646,000 items is the size of the paper's TTL data. The script trains one
epoch of a next-item task on synthetic sequences (d=256, 8 blocks, length 30,
batch 256) with the exact full-softmax loss, computed in vocabulary chunks;
then ranks every item for some users, as ``score`` and ``recommend`` do; and
prints the peak resident set size (``ru_maxrss``) and the time of each step.

The encoder builds its vocabulary from the sequences it trains on, and a few
hundred users see only a few thousand items. So the script builds the net the
encoder would build (``_build_net``) with a 646 K-item head and calls the
methods that the encoder's ``fit``, ``score`` and ``recommend`` call:
``fit_task``, ``target_ranks``, ``top_columns``. Memory is mostly the
parameters and Adam's two moments: item embedding and head are each
646 K × 256 float32 = 0.66 GB, three times over (3.7 GiB), plus one of the
two gradients (they step inside the backward pass, one at a time; see
``sklearn_teracon/training/backward_step.py``); the interpreter, torch and the
data take 0.45 GiB more.

Measured on a 2-core CPU (one thread, beside another job), 256 users:
training 95 s (3 seq/s; the head is ~6.5 TFLOP per batch), peak 5.2 GiB
(6.0 GiB with ``--no-backward-steps``, which steps every weight after the
backward pass; 7.0 GiB before Adam was fused, the weights scanned in slices
and the after-training check chunked); 2.1 GiB after training (gradients and
moments dropped); ``score`` of 64 users 0.9 s, ``recommend`` 0.5 s, the check
3.7 s, no rise of the peak.

Run (one thread, at low priority on a shared machine)::

    nice -n 10 python -m benchmarks.huge_vocab [--users 256] [--rank-users 64]
        [--loss full|sampled] [--negatives 1024]
"""

import argparse
import platform
import time

import numpy as np
import torch

from benchmarks.cases import matmul_peak, peak_rss_mib
from sklearn_teracon import ContinualUserEncoder
from sklearn_teracon._sequences import N_RESERVED
from sklearn_teracon.metrics import score_ranks
from sklearn_teracon.nn import NEXT_ITEM
from sklearn_teracon.training import backward_step
from sklearn_teracon.training.callbacks import non_finite_outputs


def cpu_model() -> str:
    """The CPU's model name (Linux ``/proc/cpuinfo``), else the platform's."""
    try:
        with open("/proc/cpuinfo") as info:
            for line in info:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown CPU"


def rss_mib() -> float:
    """Resident set size now, in MiB (Linux ``VmRSS``; elsewhere the peak)."""
    try:
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return peak_rss_mib()


def synthetic_rows(n_users, n_items, max_len, rng):
    """Left-padded encoded rows: lengths 10..max_len, Zipf-like item popularity."""
    rows = np.zeros((n_users, max_len), dtype=np.int64)
    lengths = rng.integers(10, max_len + 1, n_users)
    for row, length in zip(rows, lengths):
        ranks = rng.zipf(1.2, length) % n_items
        row[max_len - length :] = N_RESERVED + ranks
    return rows


parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
parser.add_argument("--users", type=int, default=256, help="training users")
parser.add_argument("--rank-users", type=int, default=64)
parser.add_argument("--items", type=int, default=646_000)
parser.add_argument("--dim", type=int, default=256)
parser.add_argument("--blocks", type=int, default=8)
parser.add_argument("--batch", type=int, default=256)
parser.add_argument("--threads", type=int, default=1)
parser.add_argument("--loss", choices=["full", "sampled"], default="full")
parser.add_argument("--negatives", type=int, default=1024, help="for --loss sampled")
parser.add_argument(
    "--no-backward-steps",
    action="store_true",
    help="step every weight after the backward pass (as before the in-backward steps)",
)
args = parser.parse_args()
torch.set_num_threads(args.threads)
# The machine's own limit, in the same run (benchmarks/cases.py's measure).
peak = matmul_peak({"quick": False, "device": "cpu"})
print(
    f"{cpu_model()}, {args.threads} thread(s): matmul peak fp32 "
    f"{peak['fp32_gflop_per_s']:.1f} GFLOP/s, bf16 {peak['bf16_gflop_per_s']:.1f}"
)
if args.no_backward_steps:
    backward_step.MIN_ELEMENTS = float("inf")

torch.manual_seed(0)  # dropout and shuffling: the encoder's seeding is bypassed here
rng = np.random.default_rng(0)
X = synthetic_rows(args.users, args.items, 30, rng)
X_rank = synthetic_rows(args.rank_users, args.items, 30, rng)
n_embeddings = args.items + N_RESERVED
enc = ContinualUserEncoder(
    embedding_dim=args.dim,
    n_blocks=args.blocks,
    max_len=30,
    batch_size=args.batch,
    max_epochs=1,
    patience=None,
    validation_fraction=0.0,
    random_state=0,
    loss=args.loss,
    n_negatives=args.negatives,
)
net = enc._build_net(None, n_embeddings, 0.0, 0, enc._strategy(), task_name="next_item")
task = net.add_task(NEXT_ITEM, n_embeddings)
print(f"{args.items} items, {args.users} users; model built: {peak_rss_mib():.0f} MiB")

start = time.perf_counter()
net.start_task(task, ["next_item"])
net.fit_task(X, None, epochs=1)
seconds = time.perf_counter() - start
print(
    f"train 1 epoch (batch {args.batch}): {seconds:.1f} s, "
    f"{args.users / seconds:.1f} seq/s, peak RSS {peak_rss_mib():.0f} MiB, "
    f"RSS after training {rss_mib():.0f} MiB"
)

# score: each row's last item ranked among all items from the items before it.
inputs = np.pad(X_rank[:, :-1], ((0, 0), (1, 0)))
targets = X_rank[:, -1] - N_RESERVED
start = time.perf_counter()
ranks = net.target_ranks(inputs, task, targets, N_RESERVED)
mrr = score_ranks("mrr@5", ranks)
print(
    f"score {args.rank_users} users (MRR@5 {mrr:.4f}): "
    f"{time.perf_counter() - start:.1f} s, peak RSS {peak_rss_mib():.0f} MiB"
)
start = time.perf_counter()
top = net.top_columns(X_rank, task, 10, N_RESERVED)
print(
    f"recommend top {top.shape[1]} for {args.rank_users} users: "
    f"{time.perf_counter() - start:.1f} s, peak RSS {peak_rss_mib():.0f} MiB"
)

# What the encoder checks after training: every task's outputs on one batch
# (a next-item head's in vocabulary chunks).
start = time.perf_counter()
problem = non_finite_outputs(net, X[: args.batch], ["next_item"])
print(
    f"encoder's after-training check ({problem or 'finite'}): "
    f"{time.perf_counter() - start:.1f} s, peak RSS {peak_rss_mib():.0f} MiB"
)

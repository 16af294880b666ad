"""Peak memory of a later task that retains a next-item task (issue #10, item 4).

The paper's model (d=256, 8 blocks, length 30) learns a next-item task over
~3.5 k items at batch 256, then a labelled task at batch 1024 while TERACON
retains the next-item task at every position of the retained users. Retention
is what peaks: student and teacher logits over the whole vocabulary. The
script prints the peak resident set size of each task (Linux: ``VmHWM``,
reset between the tasks) and the time each took.

Measured on a 2-core CPU (one thread, shared): 5.3 GiB for the later task
before retention and the next-item loss were chunked, 1.4 GiB after, 1.1–1.2
GiB with fused Adam and gradients and moments dropped after each task. Most
of what remains is freed memory that glibc keeps: tensors under its dynamic
mmap threshold (up to 32 MiB) come from the heap, which is not given back.
With ``MALLOC_MMAP_THRESHOLD_=1000000`` in the environment the later task
peaks at 0.8 GiB, but trains about 35 % slower (each large tensor is then a
new mapping whose pages the kernel zeroes); ``malloc_trim`` after each batch
or task does not lower the peak, which is inside one batch.

Run (one thread, at low priority on a shared machine)::

    nice -n 10 python benchmarks/later_task_memory.py [--users 1024] [--threads 1]
"""

import argparse
import resource
import time

import torch

from sklearn_teracon import ContinualUserEncoder
from sklearn_teracon.datasets import make_synthetic_stream
from sklearn_teracon.nn import chunked


def peak_rss_mib() -> float:
    """Peak resident set size since the last ``reset_peak``, in MiB.

    Linux's ``VmHWM``, which ``reset_peak`` resets; elsewhere ``ru_maxrss``
    (the peak of the whole process).
    """
    try:
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def reset_peak() -> None:
    """Start a new peak (Linux ≥ 4.0: writing 5 to clear_refs resets VmHWM)."""
    try:
        with open("/proc/self/clear_refs", "w") as clear_refs:
            clear_refs.write("5")
    except OSError:
        pass


parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
parser.add_argument("--users", type=int, default=1024, help="training users")
parser.add_argument("--items", type=int, default=3500)
parser.add_argument("--dim", type=int, default=256)
parser.add_argument("--blocks", type=int, default=8)
parser.add_argument("--later-batch", type=int, default=1024)
parser.add_argument("--threads", type=int, default=1)
parser.add_argument(
    "--activation-mib",
    type=int,
    default=chunked.ACTIVATION_CHUNK_BYTES // 2**20,
    help="activations per checkpointed user chunk (ACTIVATION_CHUNK_BYTES)",
)
parser.add_argument(
    "--logits-mib",
    type=int,
    default=chunked.LOGITS_CHUNK_BYTES // 2**20,
    help="logits per vocabulary chunk (LOGITS_CHUNK_BYTES)",
)
args = parser.parse_args()
torch.set_num_threads(args.threads)
chunked.ACTIVATION_CHUNK_BYTES = args.activation_mib * 2**20
chunked.LOGITS_CHUNK_BYTES = args.logits_mib * 2**20

stream = make_synthetic_stream(
    args.users, args.items, max_len=30, test_size=0.0, validation_size=0.0
)
X, _ = stream["next_item"].train
X_later, y_later = stream["category"].train
print(f"{len(X)} users, {stream.n_items} items; after setup {peak_rss_mib():.0f} MiB")

enc = ContinualUserEncoder(
    embedding_dim=args.dim,
    n_blocks=args.blocks,
    max_len=30,
    batch_size=256,
    max_epochs=1,
    patience=None,
    validation_fraction=0.0,
    random_state=0,
)
start = time.perf_counter()
enc.partial_fit(X)
print(
    f"first task (next item, batch 256): {time.perf_counter() - start:.1f} s, "
    f"peak RSS {peak_rss_mib():.0f} MiB"
)

enc.set_params(batch_size=args.later_batch)
reset_peak()
start = time.perf_counter()
enc.partial_fit(X_later, y_later, task="category")
rho = enc.history_["category"][-1].get("rho", float("nan"))
print(
    f"later task (labels, batch {args.later_batch}, retains next item, "
    f"rho {rho:.2f}): {time.perf_counter() - start:.1f} s, "
    f"peak RSS {peak_rss_mib():.0f} MiB"
)

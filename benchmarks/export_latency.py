"""Exported graphs against the library: agreement, file sizes, CPU latency (#20.5).

For each strategy the script trains a d=64 encoder (4 blocks, max_len 50) on
the synthetic stream's ``next_item`` and ``category`` tasks (1,500 users, one
epoch each), exports the next-item scores, the category scores and the universal
embedding to ONNX and TorchScript, and prints for each file the largest
absolute difference from ``decision_function`` / ``transform`` on 1,000 test
users and its size. For the first strategy it then times, on one thread,
1,000 users' next-item scores and universal embeddings: the library (from
item ids, as a user calls it, and from the encoded matrix, which is what the
graphs take), ONNX Runtime and ``torch.jit.load``: the fastest and the median
of ``--repeats`` calls. ``--first-only`` stops after the first strategy.

Run (one thread, at low priority on a shared machine)::

    OMP_NUM_THREADS=1 nice -n 5 python -m benchmarks.export_latency \\
        [--strategies teracon,hat,...] [--users 1000] [--repeats 5]
        [--first-only]
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
import warnings

import numpy as np
import torch

from sklearn_teracon import ContinualUserEncoder
from sklearn_teracon.datasets import make_synthetic_stream
from sklearn_teracon.strategies import STRATEGIES

PARAMS = dict(
    embedding_dim=64,
    n_blocks=4,
    max_len=50,
    max_epochs=1,
    batch_size=128,
    patience=None,
    validation_fraction=0.0,
    head_init="prior",
    random_state=0,
)
TRAIN_USERS = 1500
CASES = (("scores", "next_item"), ("scores", "category"), ("embedding", None))


def train(strategy: str, stream) -> ContinualUserEncoder:
    enc = ContinualUserEncoder(strategy=strategy, **PARAMS)
    X, _ = stream["next_item"].train
    enc.partial_fit(X[:TRAIN_USERS])
    X, y = stream["category"].train
    enc.partial_fit(X[:TRAIN_USERS], y[:TRAIN_USERS], task="category")
    return enc


def onnx_session(path):
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.intra_op_num_threads = 1
    options.inter_op_num_threads = 1
    return ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])


def jit_module(path):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        return torch.jit.load(str(path))


def runner(fmt: str, path):
    if fmt == "onnx":
        session = onnx_session(path)
        return lambda items: session.run(None, {"items": items})[0]
    graph = jit_module(path)

    def run(items):
        with torch.no_grad():
            return graph(torch.from_numpy(items)).numpy()

    return run


def expected(enc, output, task, users):
    if output == "scores":
        return enc.decision_function(users, task=task)
    return enc.transform(users)


def agreement(enc, users, folder) -> list[tuple]:
    """(format, output, task, max |difference|, file size, export seconds)."""
    items = enc.item_vocabulary_.encode(users, enc.max_len)
    rows = []
    for fmt in ("onnx", "torchscript"):
        for output, task in CASES:
            path = os.path.join(folder, f"{fmt}-{output}-{task}")
            start = time.perf_counter()
            enc.export(path, task=task, format=fmt, output=output)
            seconds = time.perf_counter() - start
            got = runner(fmt, path)(items)
            diff = float(np.abs(got - expected(enc, output, task, users)).max())
            rows.append((fmt, output, task, diff, os.path.getsize(path), seconds))
    return rows


def timings_ms(fn, args, repeats: int) -> tuple[float, float]:
    """The fastest and the median of ``repeats`` calls, in milliseconds.

    On a machine shared with other jobs the fastest call is the one least
    slowed by them; the median shows how much they slowed the rest.
    """
    fn(*args)  # warm up: allocations, ONNX Runtime's first run
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn(*args)
        times.append(time.perf_counter() - start)
    return 1e3 * min(times), 1e3 * statistics.median(times)


def latency(enc, users, folder, repeats: int) -> list[tuple]:
    """(what, how, fastest ms, median ms per len(users) users)."""
    items = enc.item_vocabulary_.encode(users, enc.max_len)
    rows = []
    for output, task in (CASES[0], CASES[2]):
        what = f"{output}[{task or 'universal'}]"
        calls = {
            "library, from ids": (expected, (enc, output, task, users)),
            "library, encoded": (expected, (enc, output, task, items)),
        }
        for fmt in ("onnx", "torchscript"):
            run = runner(fmt, os.path.join(folder, f"{fmt}-{output}-{task}"))
            calls[fmt] = (run, (items,))
            calls[f"{fmt}, from ids"] = (encode_and_run, (enc, run, users))
        for how, (fn, fn_args) in calls.items():
            rows.append((what, how, *timings_ms(fn, fn_args, repeats)))
    return rows


def encode_and_run(enc, run, users):
    return run(enc.item_vocabulary_.encode(users, enc.max_len))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--strategies", default=",".join(STRATEGIES))
    parser.add_argument("--users", type=int, default=1000)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--first-only", action="store_true")
    args = parser.parse_args()
    torch.set_num_threads(1)
    # Enough users for the test split; training reads the first TRAIN_USERS.
    stream = make_synthetic_stream(
        n_users=int(args.users / 0.15) + 50, n_items=1000, max_len=50, random_state=0
    )
    users = list(stream["next_item"].test[0])[: args.users]
    print(f"torch {torch.__version__}, {len(users)} test users, d=64, 4 blocks")
    first = None
    for strategy in args.strategies.split(","):
        if first is not None and args.first_only:
            break
        start = time.perf_counter()
        enc = train(strategy, stream)
        fit_s = time.perf_counter() - start
        with tempfile.TemporaryDirectory() as folder:
            for fmt, output, task, diff, size, seconds in agreement(enc, users, folder):
                print(
                    f"{strategy:10s} {fmt:11s} {output:9s} {task or 'universal':10s} "
                    f"max|diff| {diff:.2e}  {size / 1024:8.1f} KiB  "
                    f"export {seconds:5.1f} s  (fit {fit_s:.0f} s)"
                )
            if first is None:
                first = strategy
                for what, how, fast, mid in latency(enc, users, folder, args.repeats):
                    print(
                        f"latency {strategy} {what:20s} {how:22s} "
                        f"fastest {fast:8.1f} ms  median {mid:8.1f} ms"
                    )


if __name__ == "__main__":
    main()

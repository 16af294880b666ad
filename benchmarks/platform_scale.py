"""Platform scale: millions of users streamed from Parquet (issue #20, items 1–2).

Writes a synthetic stream the size of the paper's Tencent TL data to Parquet
(``--users`` up to 1.5 M users, lengths 10–100, 646 K items of Zipf
popularity, an 8-class profile label), then measures, each in a fresh process
so that its peak RSS is its own:

- ``transform``: a saved d = 64 model (1 block, max_len 100, trained once on
  the first 20 K users with the sampled softmax) embeds the first N users of
  the file (``ParquetSequences``) into a Parquet file (``out=``); and, for
  the time per user, the first 100 K of them streamed and as an in-memory
  padded array, one right after the other.
- ``train``: one first-task epoch (sampled softmax, 1,024 negatives, batch
  256) over the first N users read from the file; the epoch's data and model
  are all allocated before its first batch, so the epoch is stopped after
  ``--train-batches`` batches (through a skorch callback; ``partial_fit``
  rolls back) and its peak RSS and seq/s are those of the epoch.

Each line of the JSON written to ``--json`` is one measurement, with the CPU
model and its fp32/bf16 matmul peak measured in the same run. Run (one
heavy job at a time on a shared machine)::

    nice -n 5 python -m benchmarks.platform_scale --users 250000,500000,1500000 \
        [--what transform,train] [--data /tmp/platform] [--json platform.json]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

from sklearn_teracon._sequence_store import left_padded

N_ITEMS = 646_000
MAX_LEN = 100
ROW_GROUP = 65_536
MODEL = dict(
    embedding_dim=64,
    n_blocks=1,
    max_len=MAX_LEN,
    loss="sampled",
    n_negatives=1024,
    batch_size=256,
    validation_fraction=0.0,
    patience=None,
    random_state=0,
)


def write_stream(path: Path, n_users: int, seed: int = 0) -> None:
    """``n_users`` rows of ``items`` (lists of int64 ids) and ``age`` (0–7)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    rng = np.random.default_rng(seed)
    cdf = np.cumsum(1.0 / np.arange(1, N_ITEMS + 1) ** 0.8)
    cdf /= cdf[-1]
    schema = pa.schema([("items", pa.list_(pa.int64())), ("age", pa.int64())])
    with pq.ParquetWriter(path, schema) as writer:
        for start in range(0, n_users, ROW_GROUP):
            n = min(ROW_GROUP, n_users - start)
            lengths = rng.integers(10, MAX_LEN + 1, n)
            ids = np.searchsorted(cdf, rng.random(lengths.sum())) + 1  # 0 pads
            # The profile label follows how popular a user's items are.
            offsets = np.concatenate([[0], np.cumsum(lengths)])
            taste = np.add.reduceat(np.log1p(ids), offsets[:-1]) / lengths
            age = np.clip(((taste - 7.5) * 3).astype(np.int64), 0, 7)
            items = pa.ListArray.from_arrays(
                pa.array(offsets.astype(np.int32)), pa.array(ids)
            )
            writer.write_table(pa.table({"items": items, "age": age}, schema=schema))


def rss_mib(field: str = "VmHWM") -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) / 1024
    raise RuntimeError(f"{field} not in /proc/self/status")


def machine() -> dict:
    from benchmarks.cases import matmul_peak

    cpu = next(
        (
            line.split(":", 1)[1].strip()
            for line in Path("/proc/cpuinfo").read_text().splitlines()
            if line.startswith("model name")
        ),
        "unknown",
    )
    flags = Path("/proc/cpuinfo").read_text()
    peak = matmul_peak({"quick": False, "device": "cpu"})
    return {
        "cpu": cpu,
        "avx512_bf16": "avx512_bf16" in flags,
        "amx": "amx_tile" in flags,
        **{k: round(v, 1) for k, v in peak.items() if k.endswith("per_s")},
    }


def child_transform(data: Path, model: Path, n_users: int, work: Path) -> dict:
    from sklearn_teracon import ContinualUserEncoder
    from sklearn_teracon.datasets import ParquetSequences

    encoder = ContinualUserEncoder.load(model)
    X = ParquetSequences(data)[:n_users]
    before = rss_mib("VmRSS")
    start = time.perf_counter()
    encoder.transform(X, task="next_item", out=work / f"embeddings_{n_users}.parquet")
    streamed = time.perf_counter() - start
    result = {
        "streamed_s": streamed,
        "streamed_peak_mib": rss_mib(),
        "rss_before_mib": before,
    }
    # Time per user against the in-memory path, on the same (at most) 100 K
    # users, one right after the other.
    n_memory = min(n_users, 100_000)
    chunks = ParquetSequences(data)[:n_memory].sequence_chunks(ROW_GROUP)
    padded = np.concatenate([_padded(store) for store in chunks])
    start = time.perf_counter()
    encoder.transform(padded, task="next_item")
    in_memory = time.perf_counter() - start
    start = time.perf_counter()
    encoder.transform(X[:n_memory], task="next_item", out=work / "same_users.parquet")
    same_users = time.perf_counter() - start
    result.update(
        compared_users=n_memory,
        in_memory_s=in_memory,
        streamed_same_users_s=same_users,
        streamed_us_per_user=1e6 * streamed / n_users,
    )
    result["time_ratio"] = same_users / in_memory
    return result
    result["time_ratio"] = (
        result["streamed_us_per_user"] / result["in_memory_us_per_user"]
    )
    return result


def _padded(store) -> np.ndarray:
    """A store's last ``MAX_LEN`` ids, left padded with 0."""
    return left_padded(*store.recent(MAX_LEN), MAX_LEN)


def child_train(data: Path, n_users: int, n_batches: int) -> dict:
    from skorch.callbacks import Callback

    from sklearn_teracon import ContinualUserEncoder
    from sklearn_teracon.datasets import ParquetSequences

    class Enough(Exception):
        pass

    class StopAfter(Callback):
        def initialize(self):
            self.count, self.started = 0, None
            return self

        def on_batch_end(self, net, batch=None, training=None, **kwargs):
            if not training:
                return
            if self.count == 0:
                self.started = time.perf_counter()
            self.count += 1
            if self.count > n_batches:
                raise Enough(time.perf_counter() - self.started)

    encoder = ContinualUserEncoder(**MODEL, max_epochs=1, callbacks=[StopAfter()])
    X = ParquetSequences(data)[:n_users]
    start = time.perf_counter()
    try:
        encoder.partial_fit(X)
    except Enough as stop:
        seconds = float(stop.args[0])
    else:
        seconds = float("nan")
    batch = MODEL["batch_size"]
    return {
        "train_peak_mib": rss_mib(),
        "train_seq_per_s": n_batches * batch / seconds,
        "train_setup_s": time.perf_counter() - start - seconds,
        "batches_timed": n_batches,
    }


def _child(args) -> None:
    torch_threads = int(os.environ.get("OMP_NUM_THREADS", "1"))
    import torch

    torch.set_num_threads(torch_threads)
    data, work = Path(args.data) / "users.parquet", Path(args.data)
    if args.child == "transform":
        result = child_transform(data, work / "model.skt", args.n, work)
    else:
        result = child_train(data, args.n, args.train_batches)
    print(json.dumps(result))


def _fit_model(data: Path, model: Path) -> None:
    from sklearn_teracon import ContinualUserEncoder
    from sklearn_teracon.datasets import ParquetSequences

    X = ParquetSequences(data)[:20_000]
    ContinualUserEncoder(**MODEL, max_epochs=1).partial_fit(X).save(model)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--users", default="250000,500000,1500000")
    parser.add_argument("--what", default="transform,train")
    parser.add_argument("--data", default="/tmp/platform_scale")
    parser.add_argument("--json", default="platform_scale.json")
    parser.add_argument("--train-batches", type=int, default=50)
    parser.add_argument(
        "--child", choices=["transform", "train"], help=argparse.SUPPRESS
    )
    parser.add_argument("--n", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        return _child(args)
    sizes = [int(n) for n in args.users.split(",")]
    work = Path(args.data)
    work.mkdir(parents=True, exist_ok=True)
    data = work / "users.parquet"
    import pyarrow.parquet as pq

    if not data.exists() or pq.ParquetFile(data).metadata.num_rows < max(sizes):
        start = time.perf_counter()
        write_stream(data, max(sizes))
        print(
            f"wrote {max(sizes):,} users in {time.perf_counter() - start:.0f} s",
            flush=True,
        )
    if "transform" in args.what and not (work / "model.skt").exists():
        start = time.perf_counter()
        _fit_model(data, work / "model.skt")
        print(f"fitted the model in {time.perf_counter() - start:.0f} s", flush=True)
    info = {"threads": int(os.environ.get("OMP_NUM_THREADS", "1")), **machine()}
    print(json.dumps(info), flush=True)
    with open(args.json, "a") as out:
        for what in args.what.split(","):
            for n in sizes:
                command = [
                    sys.executable,
                    "-m",
                    "benchmarks.platform_scale",
                    "--child",
                    what,
                    "--n",
                    str(n),
                    "--data",
                    args.data,
                    "--train-batches",
                    str(args.train_batches),
                ]
                start = time.perf_counter()
                done = subprocess.run(command, capture_output=True, text=True)
                if done.returncode:
                    print(done.stderr[-3000:], file=sys.stderr)
                    raise SystemExit(f"{what} at {n} users failed")
                row = {
                    "what": what,
                    "users": n,
                    **json.loads(done.stdout.splitlines()[-1]),
                    "wall_s": time.perf_counter() - start,
                    **info,
                }
                print(json.dumps(row), flush=True)
                out.write(json.dumps(row) + "\n")


if __name__ == "__main__":
    main()

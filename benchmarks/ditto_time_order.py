"""DITTO against TERACON on tasks that arrive in time order (issue #22).

The synthetic stream with ``drift`` (or MovieLens-100K with ``order="time"``)
gives every task its own period: later tasks bring items never seen before and
a shifted item distribution, the setting DITTO (Choi et al., SIGIR 2025) was
made for. Each strategy learns the tasks in order; every task is then scored on
its own period's test users (*final*, and right after its own training for
BWT) and, as in DITTO's evaluation, *re-scored on the shifted stream*: on the
same test users' sequences of the latest period (synthetic only, where every
task has the same users, row by row; MovieLens' periods have other users).

Run (one thread, at low priority on a shared machine)::

    OMP_NUM_THREADS=1 nice -n 5 python benchmarks/ditto_time_order.py \\
        [--dataset synthetic] [--drift 0.5] [--seeds 0,1,2] [--epochs 10] \\
        [--ditto-params '{"fkt_known_only": false}']

The measured tables are in ``docs/strategies.rst`` (section DITTO).
"""

import argparse
import json
import time

import numpy as np
import torch

from sklearn_teracon import ContinualUserEncoder
from sklearn_teracon.datasets import make_movielens_stream, make_synthetic_stream


def learn(stream, strategy, seed, args) -> dict:
    """Scores of one strategy: own-period after its training, final, shifted."""
    params = json.loads(args.ditto_params) if strategy == "ditto" else None
    enc = ContinualUserEncoder(
        strategy=strategy,
        strategy_params=params,
        embedding_dim=args.embedding_dim,
        n_blocks=args.n_blocks,
        max_epochs=args.epochs,
        random_state=seed,
    )
    own, start = {}, time.perf_counter()
    for task in stream:
        enc.partial_fit(*task.train, task=task.name)
        own[task.name] = enc.score(*task.test, task=task.name)
    fit_time = time.perf_counter() - start
    final = {t.name: enc.score(*t.test, task=t.name) for t in stream}
    shifted = {}
    if args.dataset == "synthetic":  # the latest period's sequences, same users
        latest = stream.tasks[-1].test[0]
        shifted = {t.name: enc.score(latest, t.test[1], task=t.name) for t in stream}
    bwt = np.mean([final[n] - own[n] for n in stream.names[:-1]])
    return {"final": final, "shifted": shifted, "bwt": bwt, "time": fit_time}


def _cell(values) -> str:
    values = np.asarray(values, dtype=float)
    if len(values) == 1:
        return f"{values[0]:.4f}"
    return f"{values.mean():.4f} ± {values.std():.4f}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dataset", default="synthetic")
    parser.add_argument("--tasks", default="next_item,category,conflict")
    parser.add_argument("--drift", type=float, default=0.5)
    parser.add_argument("--strategies", default="teracon,ditto")
    parser.add_argument("--ditto-params", default="{}", help="JSON strategy_params")
    parser.add_argument("--seeds", default="0")
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--embedding-dim", type=int, default=32)
    parser.add_argument("--n-blocks", type=int, default=2)
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    if args.dataset == "synthetic":
        stream = make_synthetic_stream(drift=args.drift, random_state=0)
    else:
        stream = make_movielens_stream("100k", order="time", random_state=0)
    stream = stream.select(args.tasks.split(","))
    print(stream)
    seeds = [int(s) for s in args.seeds.split(",")]
    start = time.perf_counter()
    runs = {
        name: [learn(stream, name, seed, args) for seed in seeds]
        for name in args.strategies.split(",")
    }
    columns = [f"{n} ({t.metric})" for n, t in zip(stream.names, stream)]
    shifted = bool(runs[next(iter(runs))][0]["shifted"])
    header = ["strategy", *columns, "BWT", "fit time (s)"]
    if shifted:
        header[len(columns) + 1 : len(columns) + 1] = [
            f"{n} shifted" for n in stream.names
        ]
    print("| " + " | ".join(header) + " |")
    print("|---" + "|---:" * (len(header) - 1) + "|")
    for name, results in runs.items():
        row = [_cell([r["final"][n] for r in results]) for n in stream.names]
        if shifted:
            row += [_cell([r["shifted"][n] for r in results]) for n in stream.names]
        fit = np.mean([r["time"] for r in results])
        row += [_cell([r["bwt"] for r in results]), f"{fit:.1f}"]
        print("| " + " | ".join([name, *row]) + " |")
    print(f"wall time: {time.perf_counter() - start:.0f} s")


if __name__ == "__main__":
    main()

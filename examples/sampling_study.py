"""
Relation-aware sampling against its two extremes
================================================

Relation-aware sampling against its two extremes (the paper's efficiency claim).

Three ways to pick the users that retain the earlier tasks, on the same
stream and seeds:

- ``rho_min``: ρ fixed at ``rho_min`` = 0.1 for every earlier task
  (``sampling="uniform"``), the paper's "ρ = ρ_min" ablation;
- ``relation-aware``: TERACON's ρ from the tasks' centred masks (default);
- ``all users``: ρ = 1, every user of every batch retains every earlier task
  (``sampling="uniform", rho_min=1``).

A fourth setting, ``last position``, is relation-aware sampling that retains
a next-item task at the last position only (``retained_positions="last"``, as
the reference code does) instead of every real position.

For each it prints the mean training seconds per epoch of the later tasks,
every task's final test score, BWT and forgetting, and the mean raw ρ.

Run (synthetic stream, 3 seeds, a few minutes on 2 cores)::

    python examples/sampling_study.py
    python examples/sampling_study.py --dataset movielens-1m --seeds 0 \\
        --tasks next_item,age,gender,occupation
    # all 6 MovieLens-1M tasks, 3 seeds, 12 runs at once on a GPU
    python examples/sampling_study.py --dataset movielens-1m --device cuda \\
        --jobs 12 --json sampling.json
"""

import argparse
import json

import numpy as np
from joblib import Parallel, delayed

from sklearn_teracon import ContinualUserEncoder
from sklearn_teracon.datasets import make_movielens_stream, make_synthetic_stream
from sklearn_teracon.evaluation import ContinualEvaluator

SETTINGS = {
    "rho_min": dict(sampling="uniform", rho_min=0.1),
    "relation-aware": dict(sampling="relation_aware", rho_min=0.1),
    "all users": dict(sampling="uniform", rho_min=1.0),
    "last position": dict(sampling="relation_aware", retained_positions="last"),
}


def make_stream(dataset: str, seed: int):
    if dataset == "synthetic":
        return make_synthetic_stream(random_state=seed), dict(
            embedding_dim=32, n_blocks=2
        )
    return make_movielens_stream(dataset.split("-")[1]), {}


def one_run(dataset, tasks, name, seed, device, params):
    stream, size = make_stream(dataset, seed)
    if tasks:
        stream = stream.select(tasks)
    enc = ContinualUserEncoder(
        random_state=seed, device=device, **size, **SETTINGS[name], **params
    )
    evaluator = ContinualEvaluator(enc, single_task=None, baselines=False)
    report = evaluator.evaluate(stream)
    history = evaluator.encoder_.history_
    later = stream.names[1:]
    seconds = float(np.mean([row["dur"] for t in later for row in history[t]]))
    raw = [
        value
        for t in later
        for key, value in history[t][-1].items()
        if key.startswith("rho_raw[")
    ]
    row = dict(
        setting=name,
        seed=seed,
        tasks=stream.names,
        seconds_per_epoch=seconds,
        epochs=[len(history[t]) for t in stream.names],
        final=[float(v) for v in report.final],
        bwt=float(report.bwt),
        forgetting=float(report.forgetting),
        mean_raw_rho=float(np.mean(raw)),
        # Mask similarity of the second task with every task, and the raw ρ
        # of the second task in the last epoch of each task after it.
        relations=evaluator.encoder_.task_relations_[1].tolist(),
        rho_raw_of_second={
            t: history[t][-1][f"rho_raw[{stream.names[1]}]"] for t in stream.names[2:]
        },
    )
    print(
        f"{name:15s} seed {seed}: {seconds:.2f} s/epoch, final "
        + " ".join(f"{v:.4f}" for v in report.final)
        + f", BWT {report.bwt:+.4f}, mean raw rho {np.mean(raw):.3f}\n"
        + f"{'':15s} {stream.names[1]} relations "
        + " ".join(f"{t}={v:+.3f}" for t, v in zip(stream.names, row["relations"]))
        + "; its raw rho while training "
        + " ".join(f"{t}={v:.3f}" for t, v in row["rho_raw_of_second"].items()),
        flush=True,
    )
    return row


def study(
    dataset, seeds, tasks, settings, device="cpu", n_jobs=1, out=None, params=None
):
    rows = []
    for row in Parallel(n_jobs=n_jobs, return_as="generator_unordered")(
        delayed(one_run)(dataset, tasks, name, seed, device, params or {})
        for seed in seeds
        for name in settings
    ):
        rows.append(row)
        if out:  # after every run: a stopped study keeps what it finished
            with open(out, "w", encoding="utf-8") as f:
                json.dump(rows, f, indent=1)
    names = rows[0]["tasks"]
    print()
    print(
        "| sampling | s/epoch (later tasks) | "
        + " | ".join(names)
        + " | BWT | forgetting | mean raw ρ |"
    )
    print("|---|---:|" + "---:|" * len(names) + "---:|---:|---:|")
    for name in settings:
        mine = [r for r in rows if r["setting"] == name]
        final = np.mean([r["final"] for r in mine], axis=0)
        print(
            f"| {name} | {np.mean([r['seconds_per_epoch'] for r in mine]):.2f} | "
            + " | ".join(f"{v:.4f}" for v in final)
            + f" | {np.mean([r['bwt'] for r in mine]):+.4f}"
            + f" | {np.mean([r['forgetting'] for r in mine]):+.4f}"
            + f" | {np.mean([r['mean_raw_rho'] for r in mine]):.3f} |"
        )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--dataset",
        default="synthetic",
        choices=["synthetic", "movielens-100k", "movielens-1m"],
    )
    parser.add_argument("--seeds", default="0,1,2")
    parser.add_argument("--tasks", default=None, help="comma-separated subset")
    parser.add_argument(
        "--settings", default=",".join(SETTINGS), help="comma-separated subset"
    )
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--jobs", type=int, default=1, help="runs at once")
    parser.add_argument("--json", default=None, help="also write every run here")
    parser.add_argument(
        "--alpha", type=float, default=None, help="retention weight of every setting"
    )
    args = parser.parse_args()
    study(
        args.dataset,
        [int(s) for s in args.seeds.split(",")],
        args.tasks.split(",") if args.tasks else None,
        args.settings.split(","),
        args.device,
        args.jobs,
        args.json,
        {} if args.alpha is None else {"alpha": args.alpha},
    )

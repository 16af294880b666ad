"""
How strongly to retain: the next item's forgetting against a later task's score
===============================================================================

TERACON's ``alpha`` weighs knowledge retention against the task being
learned. This script measures that trade-off on MovieLens: it trains the
next-item task once (the encoder's defaults, ``--seed``), then, for each
setting and seed, a copy of that model learns one later task (``--task``,
``age`` by default) and is scored on

- the next item, on the protocol's last item of each test user and on up to
  10 random prefixes per test user (ten times the targets, so a change of a
  few thousandths shows; see ``next_item_against_itemknn.py``);
- the later task's own test metric, and the epochs it trained.

A setting is a JSON object of encoder parameters; the default settings
compare ``alpha`` 0, 2 (the default) and 10.

Run (MovieLens-1M, 5 minutes for the next-item model, then 0.5–4 minutes per
setting and seed on one core)::

    python examples/retention_weight_study.py --seeds 0 1 2
    python examples/retention_weight_study.py --settings \\
        '{"alpha": 10, "sampling": "uniform"}' '{"alpha": 10}'
"""

import argparse
import copy
import json
import time

import numpy as np
from next_item_against_itemknn import prefixes

from sklearn_teracon import ContinualUserEncoder
from sklearn_teracon.datasets import make_movielens_stream

DEFAULT_SETTINGS = ['{"alpha": 0}', '{"alpha": 2}', '{"alpha": 10}']


def next_item_scores(enc, protocols) -> list[float]:
    return [
        enc.score(inputs, targets, task="next_item") for inputs, targets, _ in protocols
    ]


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[1])
    parser.add_argument("--variant", default="1m", choices=["100k", "1m"])
    parser.add_argument("--task", default="age", help="the later task")
    parser.add_argument("--settings", nargs="+", default=DEFAULT_SETTINGS)
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1])
    parser.add_argument("--seed", type=int, default=0, help="of the next-item model")
    args = parser.parse_args(argv)

    stream = make_movielens_stream(args.variant)
    histories = stream["next_item"].test[0]
    rng = np.random.default_rng(0)
    protocols = [prefixes(histories, None, rng), prefixes(histories, 10, rng)]
    base = ContinualUserEncoder(random_state=args.seed)
    base.partial_fit(stream["next_item"].train[0], task="next_item")
    last, prefix = next_item_scores(base, protocols)
    print(
        f"next item alone: last item {last:.4f}, 10 prefixes {prefix:.4f}", flush=True
    )
    print(f"{'setting':<40} seed  last item  10 prefixes  {args.task:>9}  epochs  s")
    for setting in args.settings:
        params = json.loads(setting)
        for seed in args.seeds:
            start = time.perf_counter()
            enc = copy.deepcopy(base).set_params(random_state=seed, **params)
            enc.partial_fit(*stream[args.task].train, task=args.task)
            last, prefix = next_item_scores(enc, protocols)
            score = enc.score(*stream[args.task].test, task=args.task)
            print(
                f"{setting:<40} {seed:>4}  {last:>9.4f}  {prefix:>11.4f}  "
                f"{score:>9.4f}  {len(enc.history_[args.task]):>6}  "
                f"{time.perf_counter() - start:.0f}",
                flush=True,
            )


if __name__ == "__main__":
    main()

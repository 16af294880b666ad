"""
Next item against item co-occurrence, with a paired confidence interval
=======================================================================

TERACON's next-item model against :class:`~sklearn_teracon.baselines.ItemKNNBaseline`
on the same MovieLens test users, with how sure the difference is.

The stream's test protocol predicts one item per test user (the last of the
history), so an MRR@5 over 906 users has a standard error of about 0.008:
a real difference of 0.01 hides in it. This script scores both models on the
same targets (``score_rows``: each target's reciprocal rank within the top
5, full ranking) and bootstraps the *paired* difference over users (each user
resampled with all their targets, :func:`~sklearn_teracon.metrics.paired_difference`),
in two ways:

- ``last item``: the protocol's one target per user;
- ``10 prefixes``: up to 10 random positions (from the 6th on) of each test
  user's history, the items before each one as the input: ten times the
  targets, still only test users.

For each ``--next-item-dropout`` value it trains the next-item task alone (the
encoder's other defaults, seed 0) and prints both scores, the mean paired
difference and its 95 % interval.

Run (MovieLens-1M, about 5 minutes per dropout value on one core)::

    python examples/next_item_against_itemknn.py --next-item-dropout 0.0 0.4
"""

import argparse

import numpy as np

from sklearn_teracon import ContinualUserEncoder
from sklearn_teracon.baselines import ItemKNNBaseline
from sklearn_teracon.datasets import make_movielens_stream
from sklearn_teracon.metrics import paired_difference


def prefixes(histories, per_user: int, rng):
    """``(inputs, targets, user)``: random prefixes of each history, item after each."""
    inputs, targets, users = [], [], []
    for user, seq in enumerate(histories):
        seq = list(seq)
        if per_user is None:
            positions = [len(seq) - 1]
        else:
            candidates = np.arange(5, len(seq))
            take = min(per_user, len(candidates))
            positions = rng.choice(candidates, size=take, replace=False)
        for p in positions:
            inputs.append(seq[:p])
            targets.append(seq[p])
            users.append(user)
    return inputs, np.asarray(targets), np.asarray(users)


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[1])
    parser.add_argument("--variant", default="1m", choices=["100k", "1m"])
    parser.add_argument(
        "--next-item-dropout", type=float, nargs="+", default=[0.0, 0.4]
    )
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)

    task = make_movielens_stream(args.variant)["next_item"]
    knn = ItemKNNBaseline().fit(task.train[0])
    rng = np.random.default_rng(args.seed)
    protocols = {
        "last item": prefixes(task.test[0], None, rng),
        "10 prefixes": prefixes(task.test[0], 10, rng),
    }
    baseline = {
        name: knn.score_rows(inputs, targets, metric="mrr@5")
        for name, (inputs, targets, _) in protocols.items()
    }
    print(f"{'dropout':>7}  {'targets':<12} {'TERACON':>8} {'ItemKNN':>8}  paired diff")
    for dropout in args.next_item_dropout:
        enc = ContinualUserEncoder(next_item_dropout=dropout, random_state=args.seed)
        enc.partial_fit(task.train[0], task="next_item")
        epochs = len(enc.history_["next_item"])
        for name, (inputs, targets, users) in protocols.items():
            ours = enc.score_rows(inputs, targets, task="next_item")
            diff = paired_difference(ours, baseline[name], users)
            print(
                f"{dropout:>7.2f}  {name:<12} {ours.mean():>8.4f} "
                f"{baseline[name].mean():>8.4f}  {diff.difference:+.4f} "
                f"[{diff.low:+.4f}, {diff.high:+.4f}]  ({len(targets)} targets, "
                f"{epochs} epochs)",
                flush=True,
            )


if __name__ == "__main__":
    main()

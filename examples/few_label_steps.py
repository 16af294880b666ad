"""
What each few-label step does
=============================

One first-task model, one profile task after it. Trains (or loads from
``--cache``) the next-item task on MovieLens, then for each profile task and
each N draws N labelled training users ``--draws`` times and learns the task
on them from a copy of that model, once per setting, beside the majority
class, the bag-of-items regression and the cross-validated probe on the
frozen representation, all on the same users. Scored on every test user.
The table of docs/few_labels.rst ("What each step does") came from::

    python examples/few_label_steps.py --dataset 1m --draws 3

(seed 0, about 40 minutes on one core of a 2-core CPU).
"""

import argparse
import copy
import pickle
from pathlib import Path

import numpy as np
import torch

from sklearn_teracon import ContinualUserEncoder
from sklearn_teracon.baselines import BagOfItemsClassifier, PopularityBaseline
from sklearn_teracon.datasets import make_movielens_stream
from sklearn_teracon.training.few_labels import fit_probe

SETTINGS = {
    "old": {"head_init": "prior", "majority_fallback": False},
    "LP-FT": {},
    "frozen": {"backbone_lr_scale": 0.0},
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split(chr(10))[1])
    parser.add_argument("--dataset", choices=["100k", "1m"], default="1m")
    parser.add_argument("--tasks", default="age,gender")
    parser.add_argument("--labels", default="100,300,1000,all")
    parser.add_argument("--draws", type=int, default=3)
    parser.add_argument("--bag-weight", type=float, default=0.0)
    parser.add_argument("--cache", type=Path, default=None, help="first-task pickle")
    args = parser.parse_args()
    torch.set_num_threads(1)
    stream = make_movielens_stream(args.dataset)
    if args.cache is not None and args.cache.exists():
        first = pickle.loads(args.cache.read_bytes())
    else:
        first = ContinualUserEncoder(random_state=0, bag_weight=args.bag_weight)
        first.partial_fit(stream["next_item"].train[0])
        if args.cache is not None:
            args.cache.write_bytes(pickle.dumps(first))
    print("next item MRR@5", round(first.score(*stream["next_item"].test), 4))
    for name in args.tasks.split(","):
        X, y = stream[name].train
        X_test, y_test = stream[name].test
        y, classes = np.asarray(y), np.unique(y)
        features, test_features = first.transform(X), first.transform(X_test)
        for n in args.labels.split(","):
            scores: dict[str, list[float]] = {}
            for draw in range(args.draws if n != "all" else 1):
                rng = np.random.RandomState(1000 * draw + 7)
                rows = (
                    np.arange(len(X))
                    if n == "all"
                    else rng.choice(len(X), int(n), replace=False)
                )
                X_n, y_n = [X[i] for i in rows], y[rows]
                found = {
                    "majority": PopularityBaseline().fit(X_n, y_n),
                    "bow_lr": BagOfItemsClassifier().fit(X_n, y_n),
                }
                found = {
                    k: m.score(X_test, y_test, metric="accuracy")
                    for k, m in found.items()
                }
                weight, bias = fit_probe(
                    features[rows].astype(float),
                    np.searchsorted(classes, y_n),
                    len(classes),
                    0,
                )
                predicted = classes[(test_features @ weight.T + bias).argmax(1)]
                found["CV probe"] = float(np.mean(predicted == y_test))
                for setting, params in SETTINGS.items():
                    enc = copy.deepcopy(first).set_params(**params)
                    found[setting] = enc.partial_fit(X_n, y_n, task=name).score(
                        X_test, y_test, task=name
                    )
                for key, value in found.items():
                    scores.setdefault(key, []).append(value)
            print(name, n, {k: round(float(np.mean(v)), 3) for k, v in scores.items()})


if __name__ == "__main__":
    main()

"""Cutting users and rows into user-disjoint splits: a stream's train / validation /
test users, its k folds of users, and an added task of random labels."""

from __future__ import annotations

import math
from collections.abc import Iterator, Sequence
from numbers import Integral

import numpy as np
from sklearn.utils import check_random_state

from ._task import SPLITS, Task

__all__: list[str] = []


def split_users(
    users: np.ndarray,
    *,
    test_size: float,
    validation_size: float,
    random_state: int | np.random.RandomState | None,
) -> dict[str, np.ndarray]:
    """Split user ids into disjoint, sorted train / validation / test sets.

    Test and validation sizes are rounded up, as in scikit-learn's
    ``train_test_split``; train keeps the rest and must not be empty.
    """
    for label, size, low in (
        ("test_size", test_size, 0.0),
        ("validation_size", validation_size, 0.0),
    ):
        if not isinstance(size, float | Integral) or not low <= size < 1:
            raise ValueError(f"{label} must be a float in [0, 1), got {size!r}.")
    if test_size + validation_size >= 1:
        raise ValueError(
            f"test_size + validation_size must be < 1, got {test_size} + "
            f"{validation_size}."
        )
    users = np.unique(np.asarray(users, dtype=np.int64))
    n_test = math.ceil(test_size * users.size)
    n_val = math.ceil(validation_size * users.size)
    if users.size - n_test - n_val < 1:
        raise ValueError(
            f"{users.size} users are too few for test_size={test_size} and "
            f"validation_size={validation_size}: no training user is left."
        )
    shuffled = check_random_state(random_state).permutation(users)
    return {
        "test": np.sort(shuffled[:n_test]),
        "validation": np.sort(shuffled[n_test : n_test + n_val]),
        "train": np.sort(shuffled[n_test + n_val :]),
    }


def make_task(
    name: str,
    kind: str,
    *,
    row_users: np.ndarray,
    X: list[list[int]],
    y: np.ndarray | None,
    splits: dict[str, np.ndarray],
    description: str = "",
) -> Task:
    """Cut rows (in their given order) into the splits that own their users."""
    row_users = np.asarray(row_users, dtype=np.int64)
    parts, users = {}, {}
    for split in SPLITS:
        rows = np.flatnonzero(np.isin(row_users, splits[split]))
        parts[split] = (
            [X[r] for r in rows.tolist()],
            None if y is None else np.asarray(y)[rows],
        )
        users[split] = row_users[rows]
    classes = None if y is None else np.unique(parts["train"][1])
    return Task(
        name=name,
        kind=kind,
        train=parts["train"],
        validation=parts["validation"],
        test=parts["test"],
        users=users,
        classes=classes,
        description=description,
    )


def noise_task(
    tasks: Sequence[Task],
    *,
    fraction: float,
    n_classes: int,
    random_state: int | np.random.RandomState | None,
    name: str,
) -> Task:
    """The task of random labels that :meth:`TaskStream.with_noise_task` appends
    to ``tasks``; see there."""
    if not 0 < fraction <= 1:
        raise ValueError(f"fraction must lie in (0, 1], got {fraction!r}.")
    if not isinstance(n_classes, Integral) or n_classes < 2:
        raise ValueError(f"n_classes must be an int >= 2, got {n_classes!r}.")
    if name in [task.name for task in tasks]:
        raise ValueError(
            f"The stream already has a task named {name!r}; pass another name."
        )
    rng = check_random_state(random_state)
    histories = {split: {} for split in SPLITS}
    for task in tasks:
        for split in SPLITS:
            seen = histories[split]
            for user, seq in zip(task.users[split].tolist(), getattr(task, split)[0]):
                seen.setdefault(user, seq)
    parts, users = {}, {}
    for split in SPLITS:
        pool = np.array(sorted(histories[split]), dtype=np.int64)
        n_pick = int(math.floor(fraction * pool.size + 0.5))
        picked = np.sort(rng.choice(pool, size=n_pick, replace=False))
        labels = rng.randint(0, n_classes, size=n_pick)
        parts[split] = ([histories[split][u] for u in picked.tolist()], labels)
        users[split] = picked
    return Task(
        name=name,
        kind="profile",
        train=parts["train"],
        validation=parts["validation"],
        test=parts["test"],
        users=users,
        classes=np.unique(parts["train"][1]),
        description=(
            f"Random labels in 0..{n_classes - 1} for {fraction:.0%} of the users "
            "of each split, independent of everything (robustness check)."
        ),
    )


def fold_tasks(
    tasks: Sequence[Task],
    n_folds: int,
    random_state: int | np.random.RandomState | None,
) -> Iterator[list[Task]]:
    """Per fold, ``tasks`` re-split as :meth:`TaskStream.user_folds` says."""
    everyone: dict[str, list] = {}
    for task in tasks:
        X = [seq for split in SPLITS for seq in getattr(task, split)[0]]
        y = None
        if task.kind != "next_item":
            y = np.concatenate([np.asarray(getattr(task, s)[1]) for s in SPLITS])
        users = np.concatenate([task.users[s] for s in SPLITS]).astype(np.int64)
        everyone[task.name] = [users, X, y]
    pool = np.unique(np.concatenate([u for u, _, _ in everyone.values()]))
    if (
        isinstance(n_folds, bool)
        or not isinstance(n_folds, Integral)
        or not 2 <= n_folds <= pool.size
    ):
        raise ValueError(
            f"n_folds must be an int from 2 to the number of users "
            f"({pool.size}), got {n_folds!r}."
        )
    shuffled = check_random_state(random_state).permutation(pool)
    folds = np.array_split(shuffled, int(n_folds))
    empty = np.zeros(0, dtype=np.int64)
    for f, test in enumerate(folds):
        rest = np.concatenate([fold for g, fold in enumerate(folds) if g != f])
        splits = {
            "train": np.sort(rest),
            "validation": empty,
            "test": np.sort(test),
        }
        resplit = []
        for task in tasks:
            users, X, y = everyone[task.name]
            order = np.argsort(users, kind="stable")  # rows grouped by user
            resplit.append(
                make_task(
                    task.name,
                    task.kind,
                    row_users=users[order],
                    X=[X[r] for r in order.tolist()],
                    y=None if y is None else y[order],
                    splits=splits,
                    description=task.description,
                )
            )
        yield resplit

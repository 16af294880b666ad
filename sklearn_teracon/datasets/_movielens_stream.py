"""MovieLens as a continual stream of six tasks, like the paper's TTL tasks."""

from __future__ import annotations

import os
from numbers import Integral

import numpy as np

from ._interactions import labels_for_users, sequences_from_interactions
from ._movielens import LICENCE, check_variant, fetch_movielens
from ._split import make_task, split_users
from ._stream import TaskStream

__all__ = ["make_movielens_stream"]

# The seven ML-1M age groups (a group is named by its lowest age); 100K's raw ages
# are bucketed into them so that both variants share the labels.
AGE_GROUPS = (1, 18, 25, 35, 45, 50, 56)


def make_movielens_stream(
    variant: str = "100k",
    *,
    max_len: int = 50,
    history_fraction: float = 0.8,
    test_size: float = 0.15,
    validation_size: float = 0.05,
    random_state: int | np.random.RandomState | None = 0,
    data_home: str | os.PathLike | None = None,
    source: str | os.PathLike | None = None,
) -> TaskStream:
    """MovieLens as a six-task continual stream, like the paper's TTL tasks.

    Each user's ratings, in time order, are cut in two: the earlier
    ``history_fraction`` is the user's history (the input ``X`` of every task; the
    most recent ``max_len`` items of it), the rest is only ever a target. Tasks:

    ========== ======= ======================================================
    next_item  next    self-supervised next-item prediction on the history
    liked      item    one row per (user, item rated >= 4 after the cut)
    five_star  item    one row per (user, item rated 5 after the cut)
    age        profile ML-1M's seven age groups 1/18/25/35/45/50/56
    gender     profile "F" / "M"
    occupation profile int code (see ``info["occupation_names"]``)
    ========== ======= ======================================================

    Users are split once into train / validation / test, the same for every task.
    Users with fewer than two ratings (none in MovieLens) are left out.

    Parameters
    ----------
    variant : {"100k", "1m"}, default="100k"
    max_len : int, default=50
        Longest history kept (the most recent items).
    history_fraction : float, default=0.8
        Share of each user's ratings (rounded down, at least one, at most all but
        one) that forms the history.
    test_size, validation_size : float, default=0.15, 0.05
        Shares of users in the test and validation splits (rounded up).
    random_state : int, RandomState instance or None, default=0
        Seeds the user split.
    data_home, source :
        Passed to :func:`fetch_movielens`.

    Returns
    -------
    TaskStream
        ``info`` holds the parameters, the source, the split's user counts,
        ``age_groups`` and ``occupation_names``.

    Notes
    -----
    A target of ``liked`` / ``five_star`` is never in its own input: targets come
    from after the cut only, a (user, item) pair is a row once, and a later rating of
    an item already in the user's history is dropped. All rows of a user share one
    history list object.

    Examples
    --------
    >>> from sklearn_teracon.datasets import make_movielens_stream
    >>> stream = make_movielens_stream("100k")  # doctest: +SKIP
    >>> stream.names  # doctest: +SKIP
    ['next_item', 'liked', 'five_star', 'age', 'gender', 'occupation']
    """
    if not isinstance(max_len, Integral) or max_len < 1:
        raise ValueError(f"max_len must be a positive int, got {max_len!r}.")
    if not 0 < history_fraction < 1:
        raise ValueError(
            f"history_fraction must lie in (0, 1), got {history_fraction!r}."
        )
    variant = check_variant(variant)
    data = fetch_movielens(variant, data_home=data_home, source=source)
    interactions = sequences_from_interactions(
        data.ratings, user="user", item="item", time="timestamp", rating="rating"
    )
    counts = np.fromiter(map(len, interactions.sequences), dtype=np.int64)
    # A user needs one rating of history and one after it.
    interactions = interactions.select(counts >= 2)
    user_ids, counts = interactions.users, counts[counts >= 2]
    starts = np.cumsum(counts) - counts
    # 1e-9 keeps float error from moving the cut (e.g. 0.8 * 35 = 27.999...).
    cuts = np.clip(np.floor(counts * history_fraction + 1e-9), 1, counts - 1)
    cuts = cuts.astype(np.int64)
    row_user = np.repeat(np.arange(user_ids.size), counts)
    position = np.arange(counts.sum()) - starts[row_user]
    later = position >= cuts[row_user]

    histories = [
        sequence[max(cut - max_len, 0) : cut]
        for sequence, cut in zip(interactions.sequences, cuts.tolist())
    ]
    # Every user's interactions, one row each, in time order (flat).
    items = np.fromiter(
        (i for sequence in interactions.sequences for i in sequence),
        dtype=np.int64,
        count=int(counts.sum()),
    )
    stars = np.concatenate(interactions.ratings)
    splits = split_users(
        user_ids,
        test_size=test_size,
        validation_size=validation_size,
        random_state=random_state,
    )

    pair = user_ids.astype(np.int64)[row_user] * (int(items.max()) + 1) + items
    seen_before = np.isin(pair, pair[~later])

    def item_task(name, keep, description):
        rows = np.flatnonzero(later & keep & ~seen_before)
        _, first = np.unique(pair[rows], return_index=True)
        rows = rows[np.sort(first)]
        return make_task(
            name,
            "item",
            row_users=user_ids[row_user[rows]],
            X=[histories[u] for u in row_user[rows].tolist()],
            y=items[rows],
            splits=splits,
            description=description,
        )

    profile = {
        field: labels_for_users(data.users, user_ids, label=field)
        for field in ("age", "gender", "occupation")
    }
    age = np.asarray(AGE_GROUPS)[
        np.searchsorted(AGE_GROUPS[1:], profile["age"], side="right")
    ]

    def profile_task(name, labels, description):
        return make_task(
            name,
            "profile",
            row_users=user_ids,
            X=histories,
            y=labels,
            splits=splits,
            description=description,
        )

    tasks = [
        make_task(
            "next_item",
            "next_item",
            row_users=user_ids,
            X=histories,
            y=None,
            splits=splits,
            description="Predict each next item of the user's earlier history.",
        ),
        item_task(
            "liked",
            stars >= 4,
            "Recommend items the user rated 4 or 5 after the history's end.",
        ),
        item_task(
            "five_star",
            stars == 5,
            "Recommend items the user rated 5 after the history's end.",
        ),
        profile_task("age", age, "Age group: 1, 18, 25, 35, 45, 50 or 56."),
        profile_task("gender", profile["gender"], "Gender: F or M."),
        profile_task(
            "occupation",
            profile["occupation"].astype(np.int64),
            "Occupation code; names in the stream's info['occupation_names'].",
        ),
    ]
    info = {
        "variant": variant,
        "source": data.source,
        "max_len": max_len,
        "history_fraction": history_fraction,
        "test_size": test_size,
        "validation_size": validation_size,
        "random_state": random_state,
        "n_users": {split: int(splits[split].size) for split in splits},
        "age_groups": list(AGE_GROUPS),
        "occupation_names": data.occupation_names,
        "licence": LICENCE,
    }
    return TaskStream(tasks, name=f"movielens-{variant}", info=info)

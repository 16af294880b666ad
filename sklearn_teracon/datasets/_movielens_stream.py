"""MovieLens as a continual stream of six tasks, like the paper's TTL tasks."""

from __future__ import annotations

import os
from numbers import Integral

import numpy as np

from ._interactions import labels_for_users, sequences_from_interactions
from ._movielens import LICENCE, check_variant, fetch_movielens
from ._split import make_task, split_users
from ._stream import TaskStream
from ._task import Task
from ._time_periods import check_order, period_of, time_cutoffs

__all__ = ["make_movielens_stream"]

# The seven ML-1M age groups (a group is named by its lowest age); 100K's raw ages
# are bucketed into them so that both variants share the labels.
AGE_GROUPS = (1, 18, 25, 35, 45, 50, 56)
TASK_NAMES = ("next_item", "liked", "five_star", "age", "gender", "occupation")

_ITEM_DESCRIPTIONS = {
    "liked": "Recommend items the user rated 4 or 5 after the history's end.",
    "five_star": "Recommend items the user rated 5 after the history's end.",
}
_PROFILE_DESCRIPTIONS = {
    "age": "Age group: 1, 18, 25, 35, 45, 50 or 56.",
    "gender": "Gender: F or M.",
    "occupation": "Occupation code; names in the stream's info['occupation_names'].",
}


def make_movielens_stream(
    variant: str = "100k",
    *,
    max_len: int = 50,
    history_fraction: float = 0.8,
    test_size: float = 0.15,
    validation_size: float = 0.05,
    order: str = "given",
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

    With ``order="time"`` the tasks arrive in time order, as in DITTO (Choi et al.,
    SIGIR 2025): the ratings are cut into six periods of about equal size. The
    cut-offs ``c_1 < ... < c_5`` are the 1/6, 2/6, ..., 5/6 quantiles of all
    rating timestamps (numpy's linear interpolation); with ``c_0 = -inf`` and
    ``c_6 = +inf``, period ``t`` (1 to 6) holds the ratings with ``c_{t-1} <=
    timestamp < c_t``. The ``t``-th task of the table above is built exactly as
    described, but from the ratings of period ``t`` only: its users are those with
    at least two ratings in that period, and each user's history and targets are
    cut from those ratings, so every sequence begins and ends inside the period.
    Later tasks so bring items never rated before and a drifted item distribution.
    The user split is the same as with ``order="given"`` (drawn over all users), so
    a test user is never a training user of any task.

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
    order : {"given", "time"}, default="given"
        ``"given"``: every task reads each user's whole history. ``"time"``: task
        ``t`` reads only the ratings of period ``t`` (see above).
    random_state : int, RandomState instance or None, default=0
        Seeds the user split.
    data_home, source :
        Passed to :func:`fetch_movielens`.

    Returns
    -------
    TaskStream
        ``info`` holds the parameters (``order`` among them), the source, the
        split's user counts, ``age_groups`` and ``occupation_names``; with
        ``order="time"`` also ``cutoffs`` (``c_1 .. c_5``) and ``periods`` (task
        name to its ``(c_{t-1}, c_t)``, the end excluded).

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
    order = check_order(order)
    data = fetch_movielens(variant, data_home=data_home, source=source)
    everyone = _Histories(data.ratings, max_len, history_fraction)
    splits = split_users(
        everyone.user_ids,
        test_size=test_size,
        validation_size=validation_size,
        random_state=random_state,
    )
    time_info = {}
    if order == "given":
        tasks = [_build_task(name, everyone, data, splits) for name in TASK_NAMES]
    else:
        cutoffs = time_cutoffs(data.ratings["timestamp"], len(TASK_NAMES))
        period = period_of(data.ratings["timestamp"], cutoffs)
        tasks = []
        for t, name in enumerate(TASK_NAMES):
            ratings = data.ratings[period == t]
            if not np.any(np.unique(ratings["user"], return_counts=True)[1] >= 2):
                raise ValueError(
                    f"order='time': period {t + 1} of 6 (task {name!r}) has no user "
                    "with two ratings or more; the data span too little time."
                )
            histories = _Histories(ratings, max_len, history_fraction)
            tasks.append(_build_task(name, histories, data, splits))
        bounds = [-np.inf, *cutoffs.tolist(), np.inf]
        time_info = {
            "cutoffs": cutoffs.tolist(),
            "periods": {
                n: (bounds[t], bounds[t + 1]) for t, n in enumerate(TASK_NAMES)
            },
        }
    info = {
        "variant": variant,
        "source": data.source,
        "max_len": max_len,
        "history_fraction": history_fraction,
        "test_size": test_size,
        "validation_size": validation_size,
        "random_state": random_state,
        "order": order,
        **time_info,
        "n_users": {split: int(splits[split].size) for split in splits},
        "age_groups": list(AGE_GROUPS),
        "occupation_names": data.occupation_names,
        "licence": LICENCE,
    }
    return TaskStream(tasks, name=f"movielens-{variant}", info=info)


class _Histories:
    """Each user's ratings (of ``ratings``) cut into a history and what follows.

    Users with fewer than two ratings are left out.
    """

    def __init__(self, ratings: np.ndarray, max_len: int, history_fraction: float):
        interactions = sequences_from_interactions(
            ratings, user="user", item="item", time="timestamp", rating="rating"
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
        self.user_ids = user_ids
        self.row_user = row_user
        self.later = position >= cuts[row_user]
        self.histories = [
            sequence[max(cut - max_len, 0) : cut]
            for sequence, cut in zip(interactions.sequences, cuts.tolist())
        ]
        # Every user's interactions, one row each, in time order (flat).
        self.items = np.fromiter(
            (i for sequence in interactions.sequences for i in sequence),
            dtype=np.int64,
            count=int(counts.sum()),
        )
        self.stars = np.concatenate(interactions.ratings)


def _build_task(name: str, h: _Histories, data, splits: dict) -> Task:
    """Task ``name`` of the stream, from the histories ``h``."""
    if name == "next_item":
        return make_task(
            "next_item",
            "next_item",
            row_users=h.user_ids,
            X=h.histories,
            y=None,
            splits=splits,
            description="Predict each next item of the user's earlier history.",
        )
    if name in ("liked", "five_star"):
        pair = h.user_ids.astype(np.int64)[h.row_user] * (int(h.items.max()) + 1)
        pair = pair + h.items
        seen_before = np.isin(pair, pair[~h.later])
        keep = h.stars >= 4 if name == "liked" else h.stars == 5
        rows = np.flatnonzero(h.later & keep & ~seen_before)
        _, first = np.unique(pair[rows], return_index=True)
        rows = rows[np.sort(first)]
        return make_task(
            name,
            "item",
            row_users=h.user_ids[h.row_user[rows]],
            X=[h.histories[u] for u in h.row_user[rows].tolist()],
            y=h.items[rows],
            splits=splits,
            description=_ITEM_DESCRIPTIONS[name],
        )
    labels = labels_for_users(data.users, h.user_ids, label=name)
    if name == "age":
        labels = np.asarray(AGE_GROUPS)[
            np.searchsorted(AGE_GROUPS[1:], labels, side="right")
        ]
    elif name == "occupation":
        labels = labels.astype(np.int64)
    return make_task(
        name,
        "profile",
        row_users=h.user_ids,
        X=h.histories,
        y=labels,
        splits=splits,
        description=_PROFILE_DESCRIPTIONS[name],
    )

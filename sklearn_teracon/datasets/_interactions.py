"""From an interaction table (user, item, time[, rating]) to per-user sequences.

This is how your own data becomes ``X``: one time-ordered sequence of item ids
per user. :func:`labels_for_users` then lines a per-user label table (age,
segment, churned, ...) up with those users, which makes a labelled task.
"""

from __future__ import annotations

import numbers
from collections.abc import Mapping

import numpy as np

from .._labels import _is_missing
from .._user_sequences import UserSequences

__all__ = ["UserSequences", "labels_for_users", "sequences_from_interactions"]


def sequences_from_interactions(
    table,
    *,
    user: str = "user",
    item: str = "item",
    time: str | None = "timestamp",
    rating: str | None = None,
    max_len: int | None = None,
) -> UserSequences:
    """Turn an interaction table into one time-ordered item sequence per user.

    Parameters
    ----------
    table : pandas or polars DataFrame, dict of 1-D arrays, or structured ndarray
        One row per interaction. Anything whose ``table[column]`` is a 1-D
        array of the same length for every column named below.
    user : str, default="user"
        Column of user ids (any sortable ids of one kind).
    item : str, default="item"
        Column of item ids (hashable; integers, strings, ...).
    time : str or None, default="timestamp"
        Column that orders each user's interactions (numbers or datetimes);
        rows with equal times keep their order in the table. None keeps the
        table's row order.
    rating : str or None, default=None
        Optional column of ratings (or any per-interaction value) to carry
        along, aligned with the sequences, e.g. to build item tasks such as
        "items rated 5".
    max_len : int or None, default=None
        Keep only each user's ``max_len`` most recent interactions.

    Returns
    -------
    UserSequences
        ``users`` (sorted ids), ``sequences`` (lists of item ids, oldest
        first) and ``ratings`` (arrays, or None without ``rating``).

    Raises
    ------
    ValueError
        For a missing column, columns of different lengths, an empty table,
        missing values (None, NaN, NaT) in the user, item or time column, or a
        bad ``max_len``.
    TypeError
        For a table that is not a table, or user ids that cannot be sorted.

    See Also
    --------
    labels_for_users : A per-user label for each of these users.

    Examples
    --------
    >>> import pandas as pd
    >>> from sklearn_teracon.datasets import sequences_from_interactions
    >>> ratings = pd.DataFrame({
    ...     "user": ["ann", "bob", "ann", "bob", "ann"],
    ...     "item": ["m1", "m2", "m3", "m1", "m2"],
    ...     "timestamp": [30, 10, 10, 20, 20],
    ...     "rating": [5, 3, 4, 4, 2],
    ... })
    >>> seqs = sequences_from_interactions(ratings, rating="rating")
    >>> seqs.users.tolist(), seqs.sequences
    (['ann', 'bob'], [['m3', 'm2', 'm1'], ['m2', 'm1']])
    >>> seqs.ratings[0].tolist()
    [4, 2, 5]
    """
    if max_len is not None and (
        isinstance(max_len, bool)
        or not isinstance(max_len, numbers.Integral)
        or max_len < 1
    ):
        raise ValueError(f"max_len must be a positive int or None, got {max_len!r}")
    names = {"user": user, "item": item, "time": time, "rating": rating}
    columns = _columns(table, {role: c for role, c in names.items() if c is not None})
    users = columns["user"]
    for role in ("user", "item", "time"):
        if role in columns:
            _check_no_missing(columns[role], names[role])
    try:
        user_ids, user_of_row = np.unique(users, return_inverse=True)
    except TypeError as exc:
        raise TypeError(
            f"the user ids in column {user!r} cannot be sorted ({exc}); use ids of "
            "one kind, e.g. all ints or all strings"
        ) from exc
    user_of_row = user_of_row.ravel()
    if "time" in columns:
        try:
            order = np.lexsort((columns["time"], user_of_row))
        except TypeError as exc:
            raise TypeError(
                f"column {time!r} must hold numbers or datetimes to order the "
                f"interactions by, got dtype {columns['time'].dtype}"
            ) from exc
    else:
        order = np.argsort(user_of_row, kind="stable")
    bounds = np.cumsum(np.bincount(user_of_row, minlength=user_ids.size))[:-1]
    recent = slice(-max_len, None) if max_len is not None else slice(None)
    sequences = [
        part[recent].tolist() for part in np.split(columns["item"][order], bounds)
    ]
    ratings = None
    if "rating" in columns:
        ratings = [part[recent] for part in np.split(columns["rating"][order], bounds)]
    return UserSequences(user_ids, sequences, ratings)


def labels_for_users(table, users, *, label: str, user: str = "user") -> np.ndarray:
    """The label of each user in ``users``, read from a per-user table.

    Parameters
    ----------
    table : pandas or polars DataFrame, dict of 1-D arrays, or structured ndarray
        One row per user (a user may repeat only with the same label).
    users : array-like of shape (n_users,)
        The users to label, e.g. ``UserSequences.users``.
    label : str
        Column of labels.
    user : str, default="user"
        Column of user ids.

    Returns
    -------
    labels : ndarray of shape (n_users,)
        ``labels[i]`` is the label of ``users[i]``: the ``y`` of a labelled task.

    Raises
    ------
    ValueError
        For a missing column, a user that has no row or two rows with different
        labels, or missing values in the user column.

    Examples
    --------
    >>> from sklearn_teracon.datasets import (
    ...     labels_for_users, sequences_from_interactions)
    >>> seqs = sequences_from_interactions(
    ...     {"user": [1, 2, 1], "item": [7, 8, 9], "timestamp": [0, 1, 2]})
    >>> profiles = {"user": [2, 1, 3], "age": [40, 25, 31]}
    >>> labels_for_users(profiles, seqs.users, label="age").tolist()
    [25, 40]
    """
    columns = _columns(table, {"user": user, "label": label})
    _check_no_missing(columns["user"], user)
    users = np.asarray(users)
    if users.ndim != 1:
        raise ValueError(f"users must be 1-D, got shape {users.shape}")
    try:
        order = np.argsort(columns["user"], kind="stable")
        known = columns["user"][order]
        where = np.minimum(np.searchsorted(known, users), max(known.size - 1, 0))
        found = known[where] == users if known.size else np.zeros(users.size, bool)
    except TypeError as exc:
        raise TypeError(
            f"users and the table's column {user!r} hold ids of different kinds: {exc}"
        ) from exc
    if not np.all(found):
        missing = users[~found]
        raise ValueError(
            f"{missing.size} of {users.size} users have no row in the label table "
            f"(e.g. {missing[:3].tolist()}); keep the labelled ones first, e.g. "
            f"seqs.select(np.isin(seqs.users, table[{user!r}]))"
        )
    labels = columns["label"][order]
    # A user repeated in the table must carry one label.
    repeated = known[1:] == known[:-1]
    conflict = repeated & (labels[1:] != labels[:-1])
    if np.any(conflict):
        first = known[1:][conflict][0]
        raise ValueError(
            f"user {first!r} has several different labels in column {label!r}"
        )
    return labels[where]


def _columns(table, names: Mapping[str, str]) -> dict[str, np.ndarray]:
    """The named columns of ``table`` as 1-D arrays of one length, by role."""
    available = _column_names(table)
    if available is None:
        raise TypeError(
            "table must be a pandas or polars DataFrame, a dict of equal-length "
            f"1-D arrays or a structured ndarray, got {type(table).__name__}"
        )
    for column in names.values():
        if not isinstance(column, str):
            raise TypeError(f"column names must be strings, got {column!r}")
    missing = [c for c in names.values() if c not in available]
    if missing:
        raise ValueError(
            f"the table has no column {', '.join(map(repr, missing))}; its columns "
            f"are {available}. Name yours with user=, item=, time=, rating=, label="
        )
    columns = {role: np.asarray(table[c]) for role, c in names.items()}
    lengths = {names[role]: column.shape for role, column in columns.items()}
    if any(len(shape) != 1 for shape in lengths.values()):
        raise ValueError(f"every column must be 1-D; got shapes {lengths}")
    if len({shape[0] for shape in lengths.values()}) > 1:
        raise ValueError(f"the columns have different lengths: {lengths}")
    if next(iter(lengths.values()))[0] == 0:
        raise ValueError("the table is empty: it has no rows")
    return columns


def _column_names(table) -> list[str] | None:
    if isinstance(table, np.ndarray):
        return list(table.dtype.names) if table.dtype.names else None
    if isinstance(table, Mapping):
        return list(table)
    columns = getattr(table, "columns", None)
    return None if columns is None else [str(c) for c in columns]


def _check_no_missing(values: np.ndarray, column: str) -> None:
    if values.dtype.kind == "f":
        bad = ~np.isfinite(values)
    elif values.dtype.kind in "mM":
        bad = np.isnat(values)
    elif values.dtype.kind == "O":
        bad = np.fromiter(map(_is_missing, values), dtype=bool, count=values.size)
    else:
        return
    if np.any(bad):
        raise ValueError(
            f"column {column!r} has missing values (None, NaN or NaT), first in "
            f"row {int(np.flatnonzero(bad)[0])}; drop those rows first"
        )

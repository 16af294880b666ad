"""Time-ordered streams: periods, new-item release schedules and drift figures.

DITTO (Choi et al., SIGIR 2025) lets tasks arrive in time order: each later task
comes from a later period, so it brings items never seen before and a shifted item
distribution. :func:`time_cutoffs` and :func:`period_of` cut event timestamps into
such periods (:func:`make_movielens_stream` with ``order="time"``),
:func:`release_schedule` is the synthetic stream's counterpart (``drift=``), and
:func:`item_drift_table` measures, per task, how many items are new and how far the
item distribution has moved. This module needs numpy only.
"""

from __future__ import annotations

from numbers import Real

import numpy as np

from ._stream import TaskStream
from ._task import SPLITS

__all__ = ["item_drift_table"]

ORDERS = ("given", "time")


def check_order(order: str) -> str:
    """``order`` itself, or a ValueError naming the choices."""
    if not isinstance(order, str) or order not in ORDERS:
        raise ValueError(f"order must be one of {ORDERS}, got {order!r}.")
    return order


def check_drift(drift: float) -> float:
    """``drift`` as a float in [0, 1], or a ValueError."""
    if isinstance(drift, bool) or not isinstance(drift, Real) or not 0 <= drift <= 1:
        raise ValueError(f"drift must be a number in [0, 1], got {drift!r}.")
    return float(drift)


def time_cutoffs(timestamps: np.ndarray, n_periods: int) -> np.ndarray:
    """The ``n_periods - 1`` cut-offs between equal-count periods of ``timestamps``.

    Cut-off ``t`` (``t = 1 .. n_periods - 1``) is the ``t / n_periods`` quantile of
    all the timestamps (numpy's default linear interpolation), so each period holds
    about the same number of events.
    """
    timestamps = np.asarray(timestamps, dtype=np.float64)
    return np.quantile(timestamps, np.arange(1, n_periods) / n_periods)


def period_of(timestamps: np.ndarray, cutoffs: np.ndarray) -> np.ndarray:
    """Each event's period: ``t`` holds ``cutoffs[t - 1] <= timestamp < cutoffs[t]``.

    Period 0 starts at minus infinity and the last one ends at plus infinity; an
    event exactly at a cut-off belongs to the later period.
    """
    return np.searchsorted(cutoffs, np.asarray(timestamps), side="right")


def release_schedule(
    members: np.ndarray, sizes: np.ndarray, drift: float, n_tasks: int
) -> np.ndarray:
    """The task (0-based) from which each item may appear, for the synthetic stream.

    In each cluster (a row of ``members``: item indices in base popularity order,
    padded with -1), the last ``floor(drift * size)`` items (at most ``size - 1``,
    so every cluster keeps an item from task 0 on) are *late*: in base order they
    are released in equal batches at tasks ``1 .. n_tasks - 1``. All other items
    are released at task 0.
    """
    release = np.zeros(int(members.max()) + 1, dtype=np.int64)
    for row, size in zip(members, sizes.tolist()):
        n_late = min(int(np.floor(drift * size + 1e-9)), size - 1)
        late = row[size - n_late : size]
        release[late] = 1 + np.arange(n_late) * (n_tasks - 1) // max(n_late, 1)
    return release


def catalogue_at(
    members: np.ndarray, sizes: np.ndarray, release: np.ndarray, task: int
) -> tuple[np.ndarray, np.ndarray]:
    """Each cluster's items released by ``task``, newest first (members, sizes).

    New releases head the popularity order, as new films do: items sort by release
    task (latest first), then by base popularity order. Rows are padded with -1.
    """
    out = np.full_like(members, -1)
    out_sizes = np.zeros_like(sizes)
    for k, (row, size) in enumerate(zip(members, sizes.tolist())):
        row = row[:size]
        row = row[release[row] <= task]
        # A stable sort on -release keeps the base order inside each batch.
        row = row[np.argsort(-release[row], kind="stable")]
        out[k, : row.size] = row
        out_sizes[k] = row.size
    return out, out_sizes


def _user_sequences(task) -> dict:
    # One input sequence per user: the rows of a user share (or repeat) it.
    sequences = {}
    for split in SPLITS:
        for user, seq in zip(task.users[split].tolist(), getattr(task, split)[0]):
            sequences.setdefault((split, user), seq)
    return sequences


def item_drift_table(stream: TaskStream) -> list[dict]:
    """Per task: its users, the share of its items that are new, and its drift.

    A task's *items* are the item ids of its input sequences (``X`` of all splits,
    each user's sequence counted once); its *item distribution* is their relative
    frequency.

    Parameters
    ----------
    stream : TaskStream

    Returns
    -------
    list of dict
        One dict per task, in stream order: ``task`` (name), ``n_users`` (distinct
        users over all splits), ``n_items`` (distinct items), ``new_items`` (share
        of those items absent from the inputs of every earlier task; 1.0 for the
        first task) and ``tv_to_first`` (total-variation distance, half the L1
        distance, between the task's item distribution and the first task's: 0
        for the same distribution, 1 for disjoint items).

    Examples
    --------
    >>> from sklearn_teracon.datasets import item_drift_table, make_synthetic_stream
    >>> rows = item_drift_table(make_synthetic_stream(n_users=300, drift=0.5))
    >>> rows[0]["tv_to_first"], rows[-1]["new_items"] > 0
    (0.0, True)
    """
    if not isinstance(stream, TaskStream):
        raise TypeError(f"stream must be a TaskStream, got {type(stream)}.")
    rows, seen, first = [], np.zeros(0, dtype=np.int64), None
    for task in stream:
        sequences = _user_sequences(task)
        flat = np.fromiter(
            (item for seq in sequences.values() for item in seq), dtype=np.int64
        )
        items, counts = np.unique(flat, return_counts=True)
        share = counts / max(counts.sum(), 1)
        if first is None:
            first = (items, share)
        # Both supports, aligned: union of item ids, zero where absent.
        union = np.union1d(items, first[0])
        p = np.zeros(union.size)
        q = np.zeros(union.size)
        p[np.searchsorted(union, items)] = share
        q[np.searchsorted(union, first[0])] = first[1]
        new = ~np.isin(items, seen)
        rows.append(
            {
                "task": task.name,
                "n_users": len({user for _, user in sequences}),
                "n_items": int(items.size),
                "new_items": float(new.mean()) if items.size else 0.0,
                "tv_to_first": float(0.5 * np.abs(p - q).sum()),
            }
        )
        seen = np.union1d(seen, items)
    return rows

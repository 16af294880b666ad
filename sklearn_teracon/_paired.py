"""Paired differences of two models' per-row scores, with a confidence interval.

Two models scored on the same test users differ by less than either score's
own standard error suggests, because the users are shared: the noise that
matters is that of the per-user differences. :func:`paired_difference`
bootstraps it, resampling users (``groups``) rather than rows, because a user
with several test rows is one draw, not several.
"""

from __future__ import annotations

import numbers
from typing import NamedTuple

import numpy as np
from numpy.typing import ArrayLike
from scipy import stats
from sklearn.utils import check_random_state

__all__ = ["PairedDifference", "paired_difference", "pooled_difference"]


class PairedDifference(NamedTuple):
    """Mean difference of two paired score vectors and its confidence interval.

    Examples
    --------
    >>> from sklearn_teracon.metrics import PairedDifference
    >>> d = PairedDifference(0.012, -0.004, 0.027)
    >>> d.excludes_zero()  # within noise
    False
    """

    difference: float
    low: float
    high: float

    def excludes_zero(self) -> bool:
        """Whether the interval lies wholly above or below zero."""
        return bool(self.low > 0 or self.high < 0)


def _as_scores(values: ArrayLike, name: str) -> np.ndarray:
    try:
        arr = np.asarray(values, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise TypeError(f"{name} must be a 1-D array of real numbers: {exc}") from exc
    if arr.ndim != 1 or arr.size == 0:
        raise ValueError(f"{name} must be a non-empty 1-D array, got shape {arr.shape}")
    if not np.all(np.isfinite(arr)):
        raise ValueError(f"{name} contains NaN or infinity")
    return arr


def paired_difference(
    a: ArrayLike,
    b: ArrayLike,
    groups: ArrayLike | None = None,
    *,
    confidence_level: float = 0.95,
    n_resamples: int = 2000,
    random_state=0,
) -> PairedDifference:
    """Mean of ``a - b`` over rows, with a percentile bootstrap interval over groups.

    ``a`` and ``b`` are two models' scores of the same rows, for example
    :meth:`ContinualUserEncoder.score_rows
    <sklearn_teracon.ContinualUserEncoder.score_rows>` and a baseline's
    ``score_rows`` on one test split: their means are the two models'
    scores, and the difference of the means is the mean of the differences.
    The interval resamples whole groups (users) with replacement and takes
    the ratio of the resampled differences' sum to their rows' count
    (:func:`scipy.stats.bootstrap`, ``paired=True``, percentile method).

    Parameters
    ----------
    a, b : array-like of shape (n_rows,)
        Finite per-row scores (reciprocal ranks, hits, 0/1 correctness).
    groups : array-like of shape (n_rows,), default=None
        Who each row belongs to (a user id); rows of a group are resampled
        together. None: every row is its own group.
    confidence_level : float in (0, 1), default=0.95
    n_resamples : int, default=2000
        Bootstrap resamples; at least 100.
    random_state : int, RandomState instance or None, default=0
        Seeds the resampling; the default makes the interval reproducible.

    Returns
    -------
    PairedDifference
        ``(difference, low, high)``; ``low`` and ``high`` are NaN with a
        single group (no spread to resample).

    Examples
    --------
    >>> from sklearn_teracon.metrics import paired_difference
    >>> a = [1.0, 0.5, 0.0, 1.0, 0.2, 0.0, 1.0, 0.5]
    >>> b = [0.5, 0.5, 0.0, 0.0, 0.2, 0.0, 0.5, 0.0]
    >>> d = paired_difference(a, b)
    >>> round(d.difference, 4), d.low <= d.difference <= d.high
    (0.3125, True)
    """
    a = _as_scores(a, "a")
    b = _as_scores(b, "b")
    if a.shape != b.shape:
        raise ValueError(
            f"a and b must score the same rows: {a.size} against {b.size} values"
        )
    if groups is None:
        inverse = np.arange(a.size)
    else:
        groups = np.asarray(groups)
        if groups.shape != a.shape:
            raise ValueError(
                f"groups must have one entry per row ({a.size}), got shape "
                f"{groups.shape}"
            )
        inverse = np.unique(groups, return_inverse=True)[1].reshape(-1)
    if not (isinstance(confidence_level, numbers.Real) and 0 < confidence_level < 1):
        raise ValueError(
            f"confidence_level must be in (0, 1), got {confidence_level!r}"
        )
    if (
        isinstance(n_resamples, bool)
        or not isinstance(n_resamples, numbers.Integral)
        or n_resamples < 100
    ):
        raise ValueError(f"n_resamples must be an integer >= 100, got {n_resamples!r}")
    diff = a - b
    sums = np.bincount(inverse, weights=diff)
    counts = np.bincount(inverse).astype(np.float64)
    mean = float(diff.mean())
    if sums.size < 2:
        return PairedDifference(mean, float("nan"), float("nan"))

    def ratio(s, c, axis=-1):
        return s.sum(axis=axis) / c.sum(axis=axis)

    interval = stats.bootstrap(
        (sums, counts),
        ratio,
        paired=True,
        vectorized=True,
        n_resamples=int(n_resamples),
        confidence_level=float(confidence_level),
        method="percentile",
        random_state=check_random_state(random_state),
    ).confidence_interval
    return PairedDifference(mean, float(interval.low), float(interval.high))


def pooled_difference(
    a_rows: list[np.ndarray], b_rows: list[np.ndarray], groups: list[np.ndarray]
) -> PairedDifference:
    """``a - b`` over the rows of every replicate together, each row grouped by
    its user (one array per replicate in each list), as the reports over
    replicates compare two methods: a test user of several replicates is one
    draw, resampled with all its rows."""
    return paired_difference(
        np.concatenate(a_rows), np.concatenate(b_rows), np.concatenate(groups)
    )

"""Metrics by name: a task's default one, and scoring with one given by name."""

from __future__ import annotations

import numbers
import re
from collections.abc import Callable

import numpy as np
from numpy.typing import ArrayLike, NDArray

from ._ranking import RANKING_GAINS, target_ranks
from ._validation import (
    _as_array,
    _check_chunk_size,
    _check_scores,
    _check_targets,
    _raise_if_nan,
)

__all__ = ["default_metric", "score_ranks", "score_with_metric"]

# A task with at most this many classes is scored by accuracy, else by MRR@5.
MAX_ACCURACY_CLASSES = 20


def default_metric(n_classes: int) -> str:
    """The metric a task is scored with: accuracy up to 20 classes, else MRR@5.

    Examples
    --------
    >>> from sklearn_teracon.metrics import default_metric
    >>> default_metric(7), default_metric(1682)
    ('accuracy', 'mrr@5')
    """
    if not isinstance(n_classes, numbers.Integral) or isinstance(n_classes, bool):
        raise TypeError(
            f"n_classes must be an integer, got {type(n_classes).__name__} "
            f"{n_classes!r}"
        )
    if n_classes < 1:
        raise ValueError(f"n_classes must be at least 1, got {n_classes}")
    return "accuracy" if n_classes <= MAX_ACCURACY_CLASSES else "mrr@5"


_METRIC_FORMS = '"accuracy", "mrr@K", "hr@K" or "ndcg@K" (K an integer >= 1)'
_METRIC_PATTERN = re.compile(r"^(mrr|hr|ndcg)@(\d+)$")


def score_with_metric(metric: str, scores: ArrayLike, targets: ArrayLike) -> float:
    """Score a full-ranking score matrix with a metric given by name.

    Parameters
    ----------
    metric : str
        One of ``"accuracy"``, ``"mrr@K"``, ``"hr@K"`` or ``"ndcg@K"`` where
        ``K`` is an integer ``>= 1`` (for example ``"mrr@10"``). Case and
        surrounding spaces are ignored. ``"accuracy"`` is the fraction of rows
        whose arg-max column (the first one on ties, like ``predict``) equals
        the target; a ``-1`` target is always wrong.
    scores : array-like of shape (n_samples, n_candidates)
        A score for every candidate; see :func:`target_ranks`.
    targets : array-like of shape (n_samples,)
        Column index of each row's target, or ``-1`` (always a miss).

    Returns
    -------
    float
        The metric value.

    Raises
    ------
    ValueError
        If the metric name is not one of the forms above, or if the inputs are
        invalid (see :func:`target_ranks`).

    Examples
    --------
    >>> from sklearn_teracon.metrics import score_with_metric
    >>> scores = [[0.1, 0.7, 0.2],
    ...           [0.5, 0.4, 0.0]]
    >>> score_with_metric("accuracy", scores, [1, 1])
    0.5
    >>> score_with_metric("mrr@10", scores, [1, 1])  # ranks 1 and 2
    0.75
    """
    return float(np.mean(_row_scores_with_metric(metric, scores, targets)))


def score_ranks(metric: str, ranks: ArrayLike) -> float:
    """A ranking metric given by name, from the targets' ranks.

    For ranks computed without a score matrix (for example in vocabulary
    chunks by the encoder's ``score``); ``score_with_metric`` on scores is
    ``score_ranks`` on their :func:`target_ranks`.

    Parameters
    ----------
    metric : str
        ``"mrr@K"``, ``"hr@K"`` or ``"ndcg@K"`` (``K`` an integer ``>= 1``).
        ``"accuracy"`` needs the scores (it breaks ties by column) and is
        refused.
    ranks : array-like of shape (n_samples,)
        1-based ranks as :func:`target_ranks` gives them (``inf``: a miss).

    Returns
    -------
    float
        The metric value.

    Examples
    --------
    >>> from sklearn_teracon.metrics import score_ranks
    >>> score_ranks("mrr@10", [1.0, 2.0, float("inf")])
    0.5
    """
    return float(np.mean(_row_scores_of_ranks(metric, ranks)))


def _row_scores_with_metric(
    metric: str, scores: ArrayLike, targets: ArrayLike
) -> NDArray[np.float64]:
    """Each row's term of :func:`score_with_metric`, whose mean it is."""
    _check_metric_type(metric)
    if metric.strip().lower() == "accuracy":
        return _argmax_hits(scores, targets)
    gains, k = _ranking_metric(
        metric, f"Unknown metric {metric!r}; valid forms are {_METRIC_FORMS}."
    )
    return gains(target_ranks(scores, targets), k)


def _row_scores_of_ranks(metric: str, ranks: ArrayLike) -> NDArray[np.float64]:
    """Each row's term of :func:`score_ranks`, whose mean it is."""
    _check_metric_type(metric)
    gains, k = _ranking_metric(
        metric,
        f"{metric!r} is not a ranking metric; valid forms are "
        '"mrr@K", "hr@K" or "ndcg@K" (K an integer >= 1).',
    )
    ranks = _as_array(ranks, "ranks").astype(np.float64)
    if ranks.ndim != 1 or ranks.size == 0 or bool(np.any(~(ranks >= 1))):
        raise ValueError("ranks must be a non-empty 1-D array of ranks >= 1.")
    return gains(ranks, k)


def _check_metric_type(metric: object) -> None:
    if not isinstance(metric, str):
        raise TypeError(f"metric must be a string ({_METRIC_FORMS}), got {metric!r}.")


def _ranking_metric(
    metric: str, unknown: str
) -> tuple[Callable[[NDArray, int], NDArray], int]:
    """The per-row gain function and the cut-off ``K`` of a ranking metric's
    name; ``unknown`` is the error's message when it names none."""
    match = _METRIC_PATTERN.match(metric.strip().lower())
    if match is None:
        raise ValueError(unknown)
    k = int(match.group(2))
    if k < 1:
        raise ValueError(f"Invalid metric {metric!r}: K must be >= 1.")
    return RANKING_GAINS[match.group(1)], k


def _argmax_hits(scores: ArrayLike, targets: ArrayLike) -> NDArray[np.float64]:
    """1.0 where a row's arg-max column (the first on ties) is its target."""
    arr = _check_scores(scores)
    tgt = _check_targets(targets, *arr.shape)
    step = _check_chunk_size(None, arr.shape[1])
    predicted = np.empty(arr.shape[0], dtype=np.int64)
    for start in range(0, arr.shape[0], step):
        block = arr[start : start + step]
        _raise_if_nan(block, start)
        predicted[start : start + step] = block.argmax(axis=1)
    return (predicted == tgt).astype(np.float64)

"""Full-ranking metrics: each target's rank, then MRR, hit rate and NDCG at k.

Ranks are 1-based and pessimistic on ties, and a target of ``-1`` is always a
miss; the package's docstring says why these are not scikit-learn's.
"""

from __future__ import annotations

import re
import textwrap
from collections.abc import Callable

import numpy as np
from numpy.typing import ArrayLike, NDArray

from ._validation import (
    _check_chunk_size,
    _check_k,
    _check_scores,
    _check_targets,
    _raise_if_nan,
)

__all__ = ["hit_rate_at_k", "mrr_at_k", "ndcg_at_k", "target_ranks"]


def target_ranks(
    scores: ArrayLike, targets: ArrayLike, *, chunk_size: int | None = None
) -> NDArray[np.float64]:
    """1-based rank of each row's target among all candidates, pessimistic on ties.

    ``rank = 1 + (number of other candidates whose score is >= the target's
    score)``: a tie counts against the model, so a model that scores every
    candidate the same gets the worst rank, ``n_candidates``.

    Parameters
    ----------
    scores : array-like of shape (n_samples, n_candidates)
        A real score for every candidate (full ranking, no sampled negatives).
        Higher means more likely. ``+inf`` and ``-inf`` are allowed, NaN is not.
    targets : array-like of shape (n_samples,)
        Integer column index of each row's relevant candidate, or ``-1`` when it
        is not among the candidates (for example an item never seen in
        training): such a row gets rank ``inf``, always a miss.
    chunk_size : int, default=None
        Number of rows processed at a time. The largest temporary holds
        ``chunk_size * n_candidates`` booleans. ``None`` picks the chunk so that
        this stays near 4 MiB. The result does not depend on it.

    Returns
    -------
    ranks : ndarray of shape (n_samples,), dtype float64
        Ranks in ``1 .. n_candidates``, or ``inf`` for targets equal to ``-1``.

    Raises
    ------
    ValueError
        If ``scores`` is not 2-D or is empty, if the lengths disagree, if a
        target is out of range, or if ``scores`` contains NaN.
    TypeError
        If ``targets`` are not integers or ``scores`` are not real numbers.

    Examples
    --------
    >>> from sklearn_teracon.metrics import target_ranks
    >>> scores = [[0.1, 0.7, 0.2],
    ...           [0.5, 0.5, 0.0],
    ...           [0.3, 0.3, 0.3]]
    >>> target_ranks(scores, [1, 0, -1])
    array([ 1.,  2., inf])
    """
    scores = _check_scores(scores)
    n_samples, n_candidates = scores.shape
    targets = _check_targets(targets, n_samples, n_candidates)
    step = _check_chunk_size(chunk_size, n_candidates)

    ranks = np.empty(n_samples, dtype=np.float64)
    for start in range(0, n_samples, step):
        stop = min(start + step, n_samples)
        block = scores[start:stop]
        _raise_if_nan(block, start)
        tgt = targets[start:stop]
        rows = np.arange(stop - start)
        # The target's own column is >= itself, so counting every column gives
        # exactly 1 + (number of *other* columns with a score >= the target's).
        target_scores = block[rows, np.maximum(tgt, 0)]
        counts = np.count_nonzero(block >= target_scores[:, None], axis=1)
        ranks[start:stop] = np.where(tgt < 0, np.inf, counts)
    return ranks


# The cut-off metrics take the same arguments and return the same kind of value.
_AT_K_PARAMETERS = """\
Parameters
----------
scores : array-like of shape (n_samples, n_candidates)
    A score for every candidate; see :func:`target_ranks`.
targets : array-like of shape (n_samples,)
    Column index of each row's relevant candidate, or ``-1`` (always a miss).
k : int, default=5
    Cut-off, ``>= 1``. A ``k`` larger than ``n_candidates`` is allowed: every
    finite rank then counts.

Returns
-------
float
    A value in ``[0, 1]``."""
_PARAMETERS_LINE = re.compile(r"^( *)\{parameters\}$", re.MULTILINE)


def _with_at_k_parameters(metric: Callable) -> Callable:
    """Put :data:`_AT_K_PARAMETERS` into ``metric``'s docstring, in place of its
    ``{parameters}`` line and at that line's indentation."""
    if metric.__doc__:  # None under python -OO
        metric.__doc__ = _PARAMETERS_LINE.sub(
            lambda line: textwrap.indent(_AT_K_PARAMETERS, line.group(1)),
            metric.__doc__,
        )
    return metric


def _mean_gain(
    gains: Callable[[NDArray, int], NDArray],
    scores: ArrayLike,
    targets: ArrayLike,
    k: int,
) -> float:
    return float(np.mean(gains(target_ranks(scores, targets), _check_k(k))))


@_with_at_k_parameters
def mrr_at_k(scores: ArrayLike, targets: ArrayLike, k: int = 5) -> float:
    """Mean reciprocal rank cut at ``k``: mean of ``1 / rank`` if ``rank <= k`` else 0.

    {parameters}

    Examples
    --------
    >>> from sklearn_teracon.metrics import mrr_at_k
    >>> scores = [[0.1, 0.7, 0.2],   # target 1 ranked 1st -> 1
    ...           [0.5, 0.4, 0.0],   # target 1 ranked 2nd -> 1/2
    ...           [0.3, 0.2, 0.1]]   # target 2 ranked 3rd -> 0 (3 > k=2)
    >>> float(mrr_at_k(scores, [1, 1, 2], k=2))
    0.5
    """
    return _mean_gain(_mrr_gains, scores, targets, k)


def _mrr_gains(ranks: NDArray, k: int) -> NDArray:
    return np.where(ranks <= k, 1.0 / ranks, 0.0)


@_with_at_k_parameters
def hit_rate_at_k(scores: ArrayLike, targets: ArrayLike, k: int = 5) -> float:
    """Hit rate (recall) at ``k``: fraction of rows whose target has ``rank <= k``.

    This is :func:`sklearn.metrics.top_k_accuracy_score` except where ties
    matter: here a candidate that ties with the target counts as ranked above
    it (scikit-learn lets the tie favour the target or not by column order),
    so a model that scores everything alike gets no hits; and a ``-1`` target
    is allowed and always a miss. On scores without ties the two agree.

    {parameters}

    Examples
    --------
    >>> from sklearn_teracon.metrics import hit_rate_at_k
    >>> scores = [[0.1, 0.7, 0.2],
    ...           [0.5, 0.4, 0.0],
    ...           [0.3, 0.2, 0.1]]
    >>> float(hit_rate_at_k(scores, [1, 1, 2], k=2))  # ranks 1, 2, 3
    0.6666666666666666
    """
    return _mean_gain(_hit_gains, scores, targets, k)


def _hit_gains(ranks: NDArray, k: int) -> NDArray:
    return (ranks <= k).astype(np.float64)


@_with_at_k_parameters
def ndcg_at_k(scores: ArrayLike, targets: ArrayLike, k: int = 5) -> float:
    """NDCG at ``k`` with one relevant candidate per row.

    With a single relevant item the ideal DCG is 1, so each row scores
    ``1 / log2(rank + 1)`` if ``rank <= k`` and 0 otherwise; the result is the
    mean over rows.

    This is :func:`sklearn.metrics.ndcg_score` with one-hot relevance, except
    where ties matter: here the target takes the worst rank among the
    candidates it ties with (scikit-learn averages the gains over the tie, so
    constant scores earn credit); and a ``-1`` target is allowed and always a
    miss. On scores without ties the two agree.

    {parameters}

    Examples
    --------
    >>> from sklearn_teracon.metrics import ndcg_at_k
    >>> scores = [[0.1, 0.7, 0.2],   # rank 1 -> 1/log2(2) = 1
    ...           [0.5, 0.9, 0.0]]   # rank 3 -> 1/log2(4) = 0.5
    >>> float(ndcg_at_k(scores, [1, 2], k=5))
    0.75
    """
    return _mean_gain(_ndcg_gains, scores, targets, k)


def _ndcg_gains(ranks: NDArray, k: int) -> NDArray:
    gains = np.zeros_like(ranks)
    hit = ranks <= k
    gains[hit] = 1.0 / np.log2(ranks[hit] + 1.0)
    return gains


# Each ranking metric is the mean over rows of a per-row gain of the rank.
RANKING_GAINS = {
    "mrr": _mrr_gains,
    "hr": _hit_gains,
    "ndcg": _ndcg_gains,
}

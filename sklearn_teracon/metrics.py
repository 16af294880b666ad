"""Ranking, classification and continual-learning metrics (numpy only).

Ranking metrics use a *full ranking*: every row of ``scores`` holds a score for
every candidate (every item of the vocabulary, or every class), with no sampled
negatives. Ranks are 1-based and pessimistic on ties, so a model that gives the
same score to every candidate never looks good. That tie rule, and targets of
``-1`` (items never seen in training, always a miss), are why the ranking metrics
are computed here rather than by :mod:`sklearn.metrics`, whose
``top_k_accuracy_score`` and ``ndcg_score`` break or average ties; on scores
without ties they agree. Accuracy of labels has no ties and is scikit-learn's.

The continual quantities (:func:`backward_transfer`, :func:`forward_transfer`,
:func:`forgetting`) read a matrix ``R`` of shape ``(T, T)`` where ``R[i, j]`` is
the score on task ``j`` after training through task ``i`` (0-based). Entries
above the diagonal (``j > i``: task not learned yet) are ignored and are
usually NaN.
"""

from __future__ import annotations

import numbers
import re

import numpy as np
from numpy.typing import ArrayLike, NDArray
from sklearn.metrics import accuracy_score

from ._paired import PairedDifference, paired_difference

__all__ = [
    "PairedDifference",
    "accuracy",
    "backward_transfer",
    "default_metric",
    "forgetting",
    "forward_transfer",
    "hit_rate_at_k",
    "mrr_at_k",
    "ndcg_at_k",
    "paired_difference",
    "score_ranks",
    "score_with_metric",
    "target_ranks",
]

# Upper bound on the number of elements of the (rows x n_candidates) boolean
# temporary that target_ranks builds per chunk: 2**22 booleans = 4 MiB.
_CHUNK_ELEMENTS = 2**22


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


# --------------------------------------------------------------------------- #
# validation helpers
# --------------------------------------------------------------------------- #
def _as_array(values: ArrayLike, name: str) -> NDArray:
    """``np.asarray(values)``, with an error that names ``name`` if it is ragged."""
    try:
        return np.asarray(values)
    except ValueError as exc:
        raise ValueError(
            f"{name} must be a rectangular array; its rows have different "
            f"lengths (ragged): {exc}"
        ) from None


def _check_scores(scores: ArrayLike) -> NDArray:
    """Return ``scores`` as a 2-D real array (no copy when already one)."""
    arr = _as_array(scores, "scores")
    if arr.dtype == object:
        try:
            arr = arr.astype(np.float64)
        except (TypeError, ValueError) as exc:
            raise TypeError(
                "scores must be a 2-D array of real numbers; could not convert "
                f"an object array to float: {exc}"
            ) from exc
    if arr.dtype.kind == "b":
        arr = arr.astype(np.float64)
    if arr.dtype.kind not in "iuf":
        raise TypeError(
            f"scores must be a 2-D array of real numbers, got dtype {arr.dtype}."
        )
    if arr.ndim != 2:
        raise ValueError(
            "scores must be a 2-D array of shape (n_samples, n_candidates), got "
            f"an array with {arr.ndim} dimension(s) and shape {arr.shape}."
        )
    if arr.shape[0] == 0:
        raise ValueError("scores is empty: it has 0 rows (n_samples must be >= 1).")
    if arr.shape[1] == 0:
        raise ValueError(
            "scores has 0 columns: there must be at least one candidate to rank."
        )
    return arr


def _check_targets(targets: ArrayLike, n_samples: int, n_candidates: int) -> NDArray:
    """Return ``targets`` as a 1-D int64 array of column indices (or -1)."""
    arr = _as_array(targets, "targets")
    if arr.ndim != 1:
        raise ValueError(
            f"targets must be a 1-D array of column indices, got shape {arr.shape}."
        )
    if arr.shape[0] != n_samples:
        raise ValueError(
            f"scores and targets have inconsistent lengths: scores has {n_samples} "
            f"rows but targets has {arr.shape[0]} entries."
        )
    if arr.dtype.kind == "b" or arr.dtype.kind not in "iuf":
        raise TypeError(
            "targets must hold integer column indices (or -1 for a target that is "
            f"not among the candidates), got dtype {arr.dtype}."
        )
    if arr.dtype.kind == "f":
        # Accept floats only when every value is an exact integer.
        if not np.all(np.isfinite(arr)) or not np.all(arr == np.round(arr)):
            raise TypeError(
                "targets must hold integer column indices (or -1), got "
                "non-integer float values."
            )
    arr = arr.astype(np.int64, copy=False)
    bad = (arr < -1) | (arr >= n_candidates)
    if np.any(bad):
        first = int(np.flatnonzero(bad)[0])
        raise ValueError(
            f"targets out of range: targets[{first}] = {int(arr[first])}, but "
            f"targets must be in [0, {n_candidates - 1}] (the {n_candidates} "
            "score columns) or -1 for a target that is not among the candidates."
        )
    return arr


def _check_k(k: int) -> int:
    if isinstance(k, bool) or not isinstance(k, numbers.Integral):
        raise TypeError(f"k must be an integer >= 1, got {k!r}.")
    if k < 1:
        raise ValueError(f"k must be >= 1, got k={k}.")
    return int(k)


def _check_chunk_size(chunk_size: int | None, n_candidates: int) -> int:
    if chunk_size is None:
        return max(1, _CHUNK_ELEMENTS // n_candidates)
    if isinstance(chunk_size, bool) or not isinstance(chunk_size, numbers.Integral):
        raise TypeError(f"chunk_size must be an integer >= 1, got {chunk_size!r}.")
    if chunk_size < 1:
        raise ValueError(f"chunk_size must be >= 1, got {chunk_size}.")
    return int(chunk_size)


def _raise_if_nan(block: NDArray, row_offset: int) -> None:
    if block.dtype.kind == "f":
        nan_rows = np.isnan(block).any(axis=1)
        if nan_rows.any():
            row = row_offset + int(np.flatnonzero(nan_rows)[0])
            raise ValueError(
                f"scores contain NaN (first in row {row}); NaN scores cannot be "
                "ranked. Check the model output."
            )


# --------------------------------------------------------------------------- #
# ranking metrics
# --------------------------------------------------------------------------- #
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


def mrr_at_k(scores: ArrayLike, targets: ArrayLike, k: int = 5) -> float:
    """Mean reciprocal rank cut at ``k``: mean of ``1 / rank`` if ``rank <= k`` else 0.

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
        A value in ``[0, 1]``.

    Examples
    --------
    >>> from sklearn_teracon.metrics import mrr_at_k
    >>> scores = [[0.1, 0.7, 0.2],   # target 1 ranked 1st -> 1
    ...           [0.5, 0.4, 0.0],   # target 1 ranked 2nd -> 1/2
    ...           [0.3, 0.2, 0.1]]   # target 2 ranked 3rd -> 0 (3 > k=2)
    >>> float(mrr_at_k(scores, [1, 1, 2], k=2))
    0.5
    """
    return float(np.mean(_mrr_gains(target_ranks(scores, targets), _check_k(k))))


def _mrr_gains(ranks: NDArray, k: int) -> NDArray:
    return np.where(ranks <= k, 1.0 / ranks, 0.0)


def hit_rate_at_k(scores: ArrayLike, targets: ArrayLike, k: int = 5) -> float:
    """Hit rate (recall) at ``k``: fraction of rows whose target has ``rank <= k``.

    This is :func:`sklearn.metrics.top_k_accuracy_score` except where ties
    matter: here a candidate that ties with the target counts as ranked above
    it (scikit-learn lets the tie favour the target or not by column order),
    so a model that scores everything alike gets no hits; and a ``-1`` target
    is allowed and always a miss. On scores without ties the two agree.

    Parameters
    ----------
    scores : array-like of shape (n_samples, n_candidates)
        A score for every candidate; see :func:`target_ranks`.
    targets : array-like of shape (n_samples,)
        Column index of each row's relevant candidate, or ``-1`` (always a miss).
    k : int, default=5
        Cut-off, ``>= 1``. A ``k`` larger than ``n_candidates`` is allowed.

    Returns
    -------
    float
        A value in ``[0, 1]``.

    Examples
    --------
    >>> from sklearn_teracon.metrics import hit_rate_at_k
    >>> scores = [[0.1, 0.7, 0.2],
    ...           [0.5, 0.4, 0.0],
    ...           [0.3, 0.2, 0.1]]
    >>> float(hit_rate_at_k(scores, [1, 1, 2], k=2))  # ranks 1, 2, 3
    0.6666666666666666
    """
    return float(np.mean(_hit_gains(target_ranks(scores, targets), _check_k(k))))


def _hit_gains(ranks: NDArray, k: int) -> NDArray:
    return (ranks <= k).astype(np.float64)


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

    Parameters
    ----------
    scores : array-like of shape (n_samples, n_candidates)
        A score for every candidate; see :func:`target_ranks`.
    targets : array-like of shape (n_samples,)
        Column index of each row's relevant candidate, or ``-1`` (always a miss).
    k : int, default=5
        Cut-off, ``>= 1``. A ``k`` larger than ``n_candidates`` is allowed.

    Returns
    -------
    float
        A value in ``[0, 1]``.

    Examples
    --------
    >>> from sklearn_teracon.metrics import ndcg_at_k
    >>> scores = [[0.1, 0.7, 0.2],   # rank 1 -> 1/log2(2) = 1
    ...           [0.5, 0.9, 0.0]]   # rank 3 -> 1/log2(4) = 0.5
    >>> float(ndcg_at_k(scores, [1, 2], k=5))
    0.75
    """
    return float(np.mean(_ndcg_gains(target_ranks(scores, targets), _check_k(k))))


def _ndcg_gains(ranks: NDArray, k: int) -> NDArray:
    gains = np.zeros_like(ranks)
    hit = ranks <= k
    gains[hit] = 1.0 / np.log2(ranks[hit] + 1.0)
    return gains


def accuracy(y_true: ArrayLike, y_pred: ArrayLike) -> float:
    """Fraction of predictions equal to the true labels.

    :func:`sklearn.metrics.accuracy_score` after checking that both are 1-D
    and of one length (labels have no ties to break).

    Parameters
    ----------
    y_true : array-like of shape (n_samples,)
        True labels (any comparable type: ints, strings, ...).
    y_pred : array-like of shape (n_samples,)
        Predicted labels.

    Returns
    -------
    float
        A value in ``[0, 1]``.

    Examples
    --------
    >>> from sklearn_teracon.metrics import accuracy
    >>> accuracy(["a", "b", "b", "c"], ["a", "b", "c", "c"])
    0.75
    """
    y_true = _as_array(y_true, "y_true")
    y_pred = _as_array(y_pred, "y_pred")
    for name, arr in (("y_true", y_true), ("y_pred", y_pred)):
        if arr.ndim != 1:
            raise ValueError(f"{name} must be 1-D, got shape {arr.shape}.")
    if y_true.shape[0] != y_pred.shape[0]:
        raise ValueError(
            "y_true and y_pred have inconsistent lengths: "
            f"{y_true.shape[0]} and {y_pred.shape[0]}."
        )
    if y_true.shape[0] == 0:
        raise ValueError("y_true and y_pred are empty: accuracy needs >= 1 sample.")
    if y_true.dtype.kind == "f" or y_pred.dtype.kind == "f":
        # Float labels are class labels here; scikit-learn would call them
        # "continuous" and refuse them.
        return float(np.mean(y_true == y_pred))
    return float(accuracy_score(y_true, y_pred))


_METRIC_FORMS = '"accuracy", "mrr@K", "hr@K" or "ndcg@K" (K an integer >= 1)'
# Each ranking metric is the mean over rows of a per-row gain of the rank.
_RANKING_GAINS = {
    "mrr": _mrr_gains,
    "hr": _hit_gains,
    "ndcg": _ndcg_gains,
}
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


def _row_scores_with_metric(
    metric: str, scores: ArrayLike, targets: ArrayLike
) -> NDArray[np.float64]:
    """Each row's term of :func:`score_with_metric`, whose mean it is."""
    if not isinstance(metric, str):
        raise TypeError(f"metric must be a string ({_METRIC_FORMS}), got {metric!r}.")
    name = metric.strip().lower()
    if name == "accuracy":
        arr = _check_scores(scores)
        tgt = _check_targets(targets, *arr.shape)
        step = _check_chunk_size(None, arr.shape[1])
        predicted = np.empty(arr.shape[0], dtype=np.int64)
        for start in range(0, arr.shape[0], step):
            block = arr[start : start + step]
            _raise_if_nan(block, start)
            predicted[start : start + step] = block.argmax(axis=1)
        return (predicted == tgt).astype(np.float64)
    match = _METRIC_PATTERN.match(name)
    if match is None:
        raise ValueError(f"Unknown metric {metric!r}; valid forms are {_METRIC_FORMS}.")
    if int(match.group(2)) < 1:
        raise ValueError(f"Invalid metric {metric!r}: K must be >= 1.")
    return _row_scores_of_ranks(name, target_ranks(scores, targets))


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


def _row_scores_of_ranks(metric: str, ranks: ArrayLike) -> NDArray[np.float64]:
    """Each row's term of :func:`score_ranks`, whose mean it is."""
    if not isinstance(metric, str):
        raise TypeError(f"metric must be a string ({_METRIC_FORMS}), got {metric!r}.")
    match = _METRIC_PATTERN.match(metric.strip().lower())
    if match is None:
        raise ValueError(
            f"{metric!r} is not a ranking metric; valid forms are "
            '"mrr@K", "hr@K" or "ndcg@K" (K an integer >= 1).'
        )
    k = int(match.group(2))
    if k < 1:
        raise ValueError(f"Invalid metric {metric!r}: K must be >= 1.")
    ranks = _as_array(ranks, "ranks").astype(np.float64)
    if ranks.ndim != 1 or ranks.size == 0 or bool(np.any(~(ranks >= 1))):
        raise ValueError("ranks must be a non-empty 1-D array of ranks >= 1.")
    return _RANKING_GAINS[match.group(1)](ranks, k)


# --------------------------------------------------------------------------- #
# continual-learning quantities
# --------------------------------------------------------------------------- #
def _check_transfer_matrix(R: ArrayLike) -> NDArray[np.float64]:
    try:
        arr = np.asarray(R, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise TypeError(f"R must be a square array of real numbers: {exc}") from exc
    if arr.ndim != 2 or arr.shape[0] != arr.shape[1]:
        raise ValueError(
            f"R must be a square 2-D matrix of shape (T, T), got shape {arr.shape}."
        )
    if arr.shape[0] == 0:
        raise ValueError("R is empty: it must have at least one task (T >= 1).")
    lower = np.tril(np.ones(arr.shape, dtype=bool))
    bad = lower & ~np.isfinite(arr)
    if bad.any():
        i, j = (int(v) for v in np.argwhere(bad)[0])
        raise ValueError(
            "R must be finite on and below the diagonal (R[i, j] with j <= i is the "
            f"score on task j after training through task i); R[{i}, {j}] = "
            f"{arr[i, j]}."
        )
    return arr


def backward_transfer(R: ArrayLike) -> float:
    """Backward transfer (BWT): how learning later tasks changed earlier ones.

    ``BWT = mean over j in 0..T-2 of (R[T-1, j] - R[j, j])``. Negative values
    mean forgetting, positive values mean later tasks improved earlier ones.

    Parameters
    ----------
    R : array-like of shape (T, T)
        ``R[i, j]`` is the score on task ``j`` after training through task
        ``i`` (0-based). Must be finite on and below the diagonal; entries above
        it are ignored (usually NaN).

    Returns
    -------
    float
        The backward transfer; NaN when ``T == 1`` (no earlier task).

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_teracon.metrics import backward_transfer
    >>> R = [[0.50, np.nan],
    ...      [0.40, 0.60]]
    >>> round(backward_transfer(R), 6)  # 0.40 - 0.50
    -0.1
    """
    arr = _check_transfer_matrix(R)
    T = arr.shape[0]
    if T == 1:
        return float("nan")
    j = np.arange(T - 1)
    return float(np.mean(arr[T - 1, j] - arr[j, j]))


def forward_transfer(R: ArrayLike, single_task_scores: ArrayLike) -> float:
    """Forward transfer (FWT): how earlier tasks help learning a new one.

    ``FWT = mean over j in 1..T-1 of (R[j, j] - single_task_scores[j])`` where
    ``single_task_scores[j]`` is task ``j``'s score when trained alone from
    scratch (the "SinMo" baseline).

    Parameters
    ----------
    R : array-like of shape (T, T)
        ``R[i, j]`` is the score on task ``j`` after training through task
        ``i`` (0-based). Must be finite on and below the diagonal.
    single_task_scores : array-like of shape (T,)
        Score of each task trained alone. Entry 0 is not used (task 0 has no
        earlier task to profit from) and may be NaN; the others must be finite.

    Returns
    -------
    float
        The forward transfer; NaN when ``T == 1``.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_teracon.metrics import forward_transfer
    >>> R = [[0.50, np.nan],
    ...      [0.40, 0.60]]
    >>> round(forward_transfer(R, [0.50, 0.55]), 6)  # 0.60 - 0.55
    0.05
    """
    arr = _check_transfer_matrix(R)
    T = arr.shape[0]
    try:
        single = np.asarray(single_task_scores, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise TypeError(
            f"single_task_scores must be a 1-D array of real numbers: {exc}"
        ) from exc
    if single.shape != (T,):
        raise ValueError(
            f"single_task_scores must have shape (T,) = ({T},) to match R, got "
            f"shape {single.shape}."
        )
    if not np.all(np.isfinite(single[1:])):
        j = 1 + int(np.flatnonzero(~np.isfinite(single[1:]))[0])
        raise ValueError(
            f"single_task_scores must be finite (except entry 0, which is unused); "
            f"single_task_scores[{j}] = {single[j]}."
        )
    if T == 1:
        return float("nan")
    j = np.arange(1, T)
    return float(np.mean(arr[j, j] - single[j]))


def forgetting(R: ArrayLike) -> float:
    """Average forgetting: drop from each earlier task's best score to its final one.

    ``F = mean over j in 0..T-2 of (max over i in j..T-2 of R[i, j] - R[T-1, j])``.
    Positive values mean forgetting; negative values mean the final model is
    better on the task than it ever was before.

    Parameters
    ----------
    R : array-like of shape (T, T)
        ``R[i, j]`` is the score on task ``j`` after training through task
        ``i`` (0-based). Must be finite on and below the diagonal.

    Returns
    -------
    float
        The average forgetting; NaN when ``T == 1``.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_teracon.metrics import forgetting
    >>> R = [[0.50, np.nan, np.nan],
    ...      [0.55, 0.60, np.nan],
    ...      [0.45, 0.68, 0.70]]
    >>> # task 0: max(0.50, 0.55) - 0.45 = 0.10; task 1: 0.60 - 0.68 = -0.08
    >>> round(forgetting(R), 6)
    0.01
    """
    arr = _check_transfer_matrix(R)
    T = arr.shape[0]
    if T == 1:
        return float("nan")
    # Rows 0..T-2, lower triangle only: entries above the diagonal -> -inf.
    history = np.where(np.tril(np.ones((T, T), dtype=bool)), arr, -np.inf)[: T - 1]
    best = history.max(axis=0)[: T - 1]
    return float(np.mean(best - arr[T - 1, : T - 1]))

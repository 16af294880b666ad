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

Examples
--------
>>> from sklearn_teracon.metrics import target_ranks
>>> target_ranks([[0.5, 0.5, 0.1]], [0])  # the tie counts against the target
array([2.])
"""

from .._paired import PairedDifference, paired_difference
from ._classification import accuracy
from ._continual import backward_transfer, forgetting, forward_transfer
from ._ranking import hit_rate_at_k, mrr_at_k, ndcg_at_k, target_ranks

# The encoder imports the two private names from here.
from ._scoring import (
    _row_scores_of_ranks,  # noqa: F401
    _row_scores_with_metric,  # noqa: F401
    default_metric,
    score_ranks,
    score_with_metric,
)

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

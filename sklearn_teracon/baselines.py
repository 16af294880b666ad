"""Simple baselines, scored on the same split and metric as the encoder.

A continual model is only worth its cost if it beats what a few counts or a
linear model give. Every baseline here is a scikit-learn estimator with the
encoder's task semantics: ``fit(X)`` (``y=None``) learns the self-supervised
next-item task, ``fit(X, y)`` a labelled task; ``decision_function`` scores
every class (item) of the task; ``score`` is the encoder's, the given
``metric`` with full ranking (for a next-item task without ``y`` each
sequence's last item is the target).

- :class:`PopularityBaseline`: the most frequent targets, for everyone (the
  majority class of a profile task).
- :class:`ItemKNNBaseline`: item-to-item co-occurrence between what a user
  did and the targets (item tasks).
- :class:`BagOfItemsClassifier`: logistic regression on the TF-IDF bag of a
  user's items (profile tasks).
"""

from __future__ import annotations

import numbers

import numpy as np
import scipy.sparse as sp
from sklearn.base import BaseEstimator
from sklearn.feature_extraction.text import TfidfTransformer
from sklearn.linear_model import LogisticRegression
from sklearn.utils._param_validation import Interval
from sklearn.utils.validation import check_is_fitted

from ._sequences import (
    N_RESERVED,
    ItemVocabulary,
    check_labels,
    check_sequences,
    split_last_items,
)
from .metrics._scoring import _row_scores_with_metric, default_metric

__all__ = [
    "BagOfItemsClassifier",
    "ItemKNNBaseline",
    "PopularityBaseline",
    "baselines_for",
]


class _TaskBaseline(BaseEstimator):
    """What every baseline shares: vocabulary, classes, scoring."""

    _parameter_constraints: dict = {}

    def fit(self, X, y=None):
        """Learn the next-item task (``y=None``) or the labelled task ``y``.

        Parameters
        ----------
        X : list of sequences of hashable item ids, or 2-D padded array
        y : array-like of shape (n_sequences,) or None

        Returns
        -------
        self
        """
        self._validate_params()
        sequences = check_sequences(X)
        self.item_vocabulary_ = ItemVocabulary()
        self.item_vocabulary_.extend(sequences)
        self.next_item_ = y is None
        if self.next_item_:
            self.classes_ = np.asarray(self.item_vocabulary_.items)
            histories, targets = _next_item_pairs(self._codes(sequences))
        else:
            y = check_labels(y, len(sequences))
            self.classes_, targets = np.unique(y, return_inverse=True)
            histories = self._codes(sequences)
        self._fit_targets(histories, np.asarray(targets), len(self.classes_))
        return self

    def _codes(self, sequences) -> list[np.ndarray]:
        """Item columns (0-based over the vocabulary's items), unknown dropped."""
        out = []
        for seq in sequences:
            idx = self.item_vocabulary_.index_of(seq) - N_RESERVED
            out.append(idx[idx >= 0])
        return out

    def decision_function(self, X) -> np.ndarray:
        """Score of every class (item), shape ``(n_sequences, n_classes)``."""
        check_is_fitted(self)
        return self._scores(self._codes(check_sequences(X)))

    def predict(self, X) -> np.ndarray:
        """The best-scored class (item) of each sequence."""
        return self.classes_[self.decision_function(X).argmax(axis=1)]

    def score(self, X, y=None, metric: str | None = None) -> float:
        """``metric`` (default: accuracy for ≤ 20 classes, else MRR@5) on ``X, y``.

        For a next-item baseline without ``y``, each sequence's last item is
        the target of the items before it. Targets never seen in training
        count as misses. The mean of :meth:`score_rows`.
        """
        return float(np.mean(self.score_rows(X, y, metric=metric)))

    def score_rows(self, X, y=None, metric: str | None = None) -> np.ndarray:
        """Each row's term of :meth:`score`, shape ``(n_sequences,)``.

        As :meth:`ContinualUserEncoder.score_rows
        <sklearn_teracon.ContinualUserEncoder.score_rows>`: 0/1 correctness
        or the reciprocal rank within the cut-off, for paired comparisons.
        """
        check_is_fitted(self)
        sequences = check_sequences(X)
        if y is None:
            if not self.next_item_:
                raise ValueError("this baseline learned a labelled task: score needs y")
            sequences, y = split_last_items(sequences)
        scores = self.decision_function(sequences)
        y = check_labels(y, len(scores))
        pos = np.clip(np.searchsorted(self.classes_, y), 0, len(self.classes_) - 1)
        if self.next_item_:
            index = self.item_vocabulary_.index_of(y) - N_RESERVED
            targets = np.where(index >= 0, index, -1)
        else:
            targets = np.where(self.classes_[pos] == y, pos, -1)
        metric = metric or default_metric(len(self.classes_))
        return _row_scores_with_metric(metric, scores, targets)


class PopularityBaseline(_TaskBaseline):
    """Rank the classes (items) by how often they were a training target.

    Every user gets the same ranking: the majority class for a profile task,
    the most popular items for an item task.

    Examples
    --------
    >>> from sklearn_teracon.baselines import PopularityBaseline
    >>> pop = PopularityBaseline().fit([[1, 2, 3], [2, 3], [3, 1]])
    >>> pop.predict([[1]])
    array([3])
    """

    def _fit_targets(self, histories, targets, n_classes: int) -> None:
        counts = np.bincount(targets, minlength=n_classes).astype(np.float64)
        self.counts_ = counts

    def _scores(self, codes) -> np.ndarray:
        return np.tile(self.counts_, (len(codes), 1))


class ItemKNNBaseline(_TaskBaseline):
    """Item-to-item co-occurrence between a user's items and the targets.

    ``fit`` counts how often item ``a`` in a history goes with target ``t``
    (for the next-item task: ``t`` follows ``a`` within ``window`` steps,
    weighted 1/distance) and normalises the counts to a cosine,
    ``C[a, t] / sqrt(n_a · n_t)``. A user's score for ``t`` sums the
    similarities of the user's items to ``t``, the most recent weighted most
    (1/distance from the end), plus popularity as a tie-breaker far below any
    co-occurrence.

    Parameters
    ----------
    window : int, default=5
        For the next-item task: how far back a preceding item still counts,
        in training and in scoring. Labelled tasks use the whole history.

    Examples
    --------
    >>> from sklearn_teracon.baselines import ItemKNNBaseline
    >>> knn = ItemKNNBaseline().fit([[1, 2, 3], [1, 2, 3], [4, 5, 6]] * 3)
    >>> knn.predict([[4, 5]])
    array([6])
    """

    _parameter_constraints: dict = {
        "window": [Interval(numbers.Integral, 1, None, closed="left")],
    }

    def __init__(self, window: int = 5):
        self.window = window

    def _user_matrix(self, codes) -> sp.csr_matrix:
        rows, cols, vals = [], [], []
        n_items = len(self.item_vocabulary_.items)
        for r, seq in enumerate(codes):
            keep = seq[::-1][: self.window] if self.next_item_ else seq[::-1]
            distance = np.arange(1, len(keep) + 1)
            rows.append(np.full(len(keep), r))
            cols.append(keep)
            vals.append(1.0 / distance if self.next_item_ else np.ones(len(keep)))
        return sp.csr_matrix(
            (np.concatenate(vals), (np.concatenate(rows), np.concatenate(cols))),
            shape=(len(codes), n_items),
        )

    def _fit_targets(self, histories, targets, n_classes: int) -> None:
        users = self._user_matrix(histories)
        onehot = sp.csr_matrix(
            (np.ones(len(targets)), (np.arange(len(targets)), targets)),
            shape=(len(targets), n_classes),
        )
        counts = (users.T @ onehot).tocsr()
        item_freq = np.asarray((users > 0).sum(axis=0)).ravel()
        target_freq = np.bincount(targets, minlength=n_classes).astype(np.float64)
        left = sp.diags(1.0 / np.sqrt(np.maximum(item_freq, 1.0)))
        right = sp.diags(1.0 / np.sqrt(np.maximum(target_freq, 1.0)))
        self.similarity_ = (left @ counts @ right).tocsr()
        self.popularity_ = target_freq / max(target_freq.sum(), 1.0)

    def _scores(self, codes) -> np.ndarray:
        scores = np.asarray((self._user_matrix(codes) @ self.similarity_).todense())
        # Popularity only breaks ties: it stays below any co-occurrence.
        return scores + 1e-6 * self.popularity_


class BagOfItemsClassifier(_TaskBaseline):
    """Logistic regression on the TF-IDF bag of a user's items.

    Parameters
    ----------
    C : float, default=1.0
        Inverse regularisation strength of the logistic regression.
    max_iter : int, default=1000

    Examples
    --------
    >>> from sklearn_teracon.baselines import BagOfItemsClassifier
    >>> X = [[1, 2], [2, 1], [3, 4], [4, 3]] * 5
    >>> clf = BagOfItemsClassifier().fit(X, ["a", "a", "b", "b"] * 5)
    >>> clf.predict([[4]])
    array(['b'], dtype='<U1')
    """

    _parameter_constraints: dict = {
        "C": [Interval(numbers.Real, 0, None, closed="neither")],
        "max_iter": [Interval(numbers.Integral, 1, None, closed="left")],
    }

    def __init__(self, C: float = 1.0, max_iter: int = 1000):
        self.C = C
        self.max_iter = max_iter

    def _bag(self, codes) -> sp.csr_matrix:
        n_items = len(self.item_vocabulary_.items)
        rows = np.concatenate([np.full(len(c), r) for r, c in enumerate(codes)])
        return sp.csr_matrix(
            (np.ones(len(rows)), (rows, np.concatenate(codes))),
            shape=(len(codes), n_items),
        )

    def _fit_targets(self, histories, targets, n_classes: int) -> None:
        bag = self._bag(histories)
        self.tfidf_ = TfidfTransformer().fit(bag)
        self.model_ = LogisticRegression(C=self.C, max_iter=self.max_iter)
        self.model_.fit(self.tfidf_.transform(bag), targets)

    def _scores(self, codes) -> np.ndarray:
        proba = self.model_.predict_proba(self.tfidf_.transform(self._bag(codes)))
        # Classes absent from training (never, with fit's own classes) stay at 0.
        scores = np.zeros((len(codes), len(self.classes_)))
        scores[:, self.model_.classes_] = proba
        return scores


def baselines_for(kind: str) -> dict[str, _TaskBaseline]:
    """The baselines that fit a task kind (``next_item``, ``item``, ``profile``).

    Item tasks get popularity and item co-occurrence; profile tasks the
    majority class and the bag-of-items logistic regression.
    """
    if kind in ("next_item", "item"):
        return {"popularity": PopularityBaseline(), "itemknn": ItemKNNBaseline()}
    return {"popularity": PopularityBaseline(), "bow_lr": BagOfItemsClassifier()}


def _next_item_pairs(codes):
    """Every prefix of every sequence with the item that follows it."""
    histories, targets = [], []
    for seq in codes:
        for p in range(1, len(seq)):
            histories.append(seq[:p])
            targets.append(seq[p])
    return histories, np.asarray(targets, dtype=np.int64)

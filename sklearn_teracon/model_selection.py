"""Tuning views: one task of a fitted encoder as a plain scikit-learn classifier.

A :class:`~sklearn_teracon.ContinualUserEncoder` learns many tasks, and its
``fit``/``predict``/``score`` take a ``task`` argument. Model-selection tools
(:class:`~sklearn.model_selection.GridSearchCV`,
:func:`~sklearn.model_selection.cross_val_score`, scorers) expect an estimator
of *one* target whose ``fit(X, y)`` starts from scratch after ``clone``.
:class:`TaskEstimator` bridges the two: it holds a frozen snapshot of a fitted
encoder, and its ``fit`` learns one task continually on a copy of that
snapshot, so every candidate of a search starts from the same earlier tasks and
the original encoder is never touched.

Searches over ``s`` and ``c`` run on several processes (``n_jobs``) or on a
cluster through joblib's backends (Dask, Ray) without code changes: see
``docs/model_selection.rst``.
"""

from __future__ import annotations

import copy
from typing import Protocol, runtime_checkable

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.exceptions import NotFittedError
from sklearn.frozen import FrozenEstimator
from sklearn.utils.validation import check_is_fitted, column_or_1d

from ._tasks import _check_task, sequence_input_tags

__all__ = ["TaskEstimator", "make_task_estimator"]


@runtime_checkable
class TaskLearner(Protocol):
    """What a view needs of its encoder: a :class:`ContinualUserEncoder`'s methods.

    A protocol rather than the class itself: the encoder builds views
    (``task_estimator``), so this module may not import it.
    """

    def partial_fit(self, X, y=None, *, task=None, classes=None): ...

    def classes_of(self, task=None): ...

    def decision_function(self, X, task=None): ...

    def predict_proba(self, X, task=None): ...

    def predict(self, X, task=None): ...

    def score(self, X, y=None, task=None): ...

    def task_estimator(self, task, **params): ...


# The encoder parameters a view may override; None keeps the encoder's value.
OVERRIDABLE_PARAMS = (
    "s",
    "c",
    "alpha",
    "rho_min",
    "lr",
    "batch_size",
    "max_epochs",
    "patience",
    "validation_fraction",
    "random_state",
    "strategy_params",
)


class TaskEstimator(ClassifierMixin, BaseEstimator):
    """One task of a fitted :class:`ContinualUserEncoder` as a classifier.

    ``fit(X, y)`` deep-copies the encoder held by ``encoder``, applies the
    parameters of this view that are not None (``s``, ``c``, ...), and learns
    ``task`` on ``(X, y)`` with ``partial_fit``: continually, on top of every
    task the snapshot has already learned, which stay usable and are retained.
    The result is :attr:`encoder_`. ``predict``, ``predict_proba``,
    ``decision_function`` and ``score`` answer for ``task`` without a task
    argument, so scikit-learn's searches, cross-validation and scorers work
    unchanged. The encoder given is never modified.

    Build views with :meth:`ContinualUserEncoder.task_estimator` (or
    :func:`make_task_estimator`): it wraps a deep copy of the encoder in
    :class:`sklearn.frozen.FrozenEstimator`, which
    :func:`~sklearn.base.clone` returns as is, so clones (one per candidate
    and fold of a search) share the fitted snapshot instead of dropping it.

    Parameters
    ----------
    encoder : FrozenEstimator of a fitted ContinualUserEncoder
        The snapshot to start from. A bare ``ContinualUserEncoder`` works for
        a single ``fit`` but does not survive ``clone`` (which unfits it).
    task : str
        The task to learn: one the snapshot knows (``fit`` then continues it)
        or a new one. ``y=None`` in ``fit`` means a self-supervised next-item
        task.
    s, c, alpha, rho_min, lr, batch_size, max_epochs, patience, \
validation_fraction, random_state : default=None
        Override the encoder's parameter of the same name for ``fit``; None
        keeps the encoder's value (so ``patience=None`` cannot switch early
        stopping off here: set it on the encoder before taking the view).
    strategy_params : dict or None, default=None
        Overrides the encoder's ``strategy_params`` (the parameters of its
        strategy, e.g. HAT's ``{"lamb": 0.5}``); None keeps them.

    Attributes
    ----------
    encoder_ : ContinualUserEncoder
        The continual encoder after learning ``task``: every earlier task of
        the snapshot is still there and predicts.
    classes_ : ndarray
        The task's classes (its items, for next-item tasks), in the column
        order of ``predict_proba``.
    task_ : str
        The task learned, as a plain string.

    See Also
    --------
    make_task_estimator : Build a view from a fitted encoder.
    ContinualUserEncoder.task_estimator : The same, as a method.

    Examples
    --------
    >>> from sklearn.model_selection import GridSearchCV
    >>> from sklearn_teracon import ContinualUserEncoder
    >>> seqs = [[1, 2, 3, 4], [2, 3, 4, 5], [5, 4, 3], [1, 3, 5, 2]] * 6
    >>> ages = ["young", "old", "old", "young"] * 6
    >>> enc = ContinualUserEncoder(embedding_dim=8, n_blocks=1, max_epochs=1,
    ...                            patience=None, random_state=0).partial_fit(seqs)
    >>> view = enc.task_estimator("age")
    >>> search = GridSearchCV(view, {"s": [10, 50], "c": [2, 6]}, cv=2).fit(seqs, ages)
    >>> sorted(search.best_params_)
    ['c', 's']
    >>> list(search.best_estimator_.encoder_.tasks_)
    ['next_item', 'age']
    >>> list(enc.tasks_)  # the original encoder is untouched
    ['next_item']
    >>> search.best_estimator_.predict([[1, 2, 3]]).shape
    (1,)
    """

    def __init__(
        self,
        encoder,
        task: str,
        *,
        s: float | None = None,
        c: float | None = None,
        alpha: float | None = None,
        rho_min: float | None = None,
        lr: float | None = None,
        batch_size: int | None = None,
        max_epochs: int | None = None,
        patience: int | None = None,
        validation_fraction: float | None = None,
        random_state=None,
        strategy_params: dict | None = None,
    ):
        self.encoder = encoder
        self.task = task
        self.s = s
        self.c = c
        self.alpha = alpha
        self.rho_min = rho_min
        self.lr = lr
        self.batch_size = batch_size
        self.max_epochs = max_epochs
        self.patience = patience
        self.validation_fraction = validation_fraction
        self.random_state = random_state
        self.strategy_params = strategy_params

    # -- scikit-learn plumbing ------------------------------------------------
    def __sklearn_tags__(self):
        return sequence_input_tags(super().__sklearn_tags__())

    def __sklearn_is_fitted__(self) -> bool:
        return hasattr(self, "encoder_")

    def _snapshot(self) -> TaskLearner:
        """The fitted encoder behind ``self.encoder``, validated."""
        encoder = self.encoder
        if isinstance(encoder, FrozenEstimator):
            encoder = encoder.estimator
        if not isinstance(encoder, TaskLearner):
            raise TypeError(
                "encoder must be a fitted ContinualUserEncoder wrapped in "
                "sklearn.frozen.FrozenEstimator (use enc.task_estimator(task)), got "
                f"{type(encoder).__name__}"
            )
        try:
            check_is_fitted(encoder)
        except NotFittedError as exc:
            raise NotFittedError(
                "TaskEstimator needs a fitted ContinualUserEncoder: fit the encoder "
                "on its earlier tasks (e.g. enc.partial_fit(X)) before taking "
                "enc.task_estimator(task). A bare encoder passed as encoder= is "
                "unfitted by clone(); wrap it in FrozenEstimator."
            ) from exc
        return encoder

    def _overrides(self) -> dict:
        return {
            name: getattr(self, name)
            for name in OVERRIDABLE_PARAMS
            if getattr(self, name) is not None
        }

    # -- training ---------------------------------------------------------------
    def fit(self, X, y=None) -> TaskEstimator:
        """Learn ``task`` continually on a copy of the snapshot.

        Parameters
        ----------
        X : list of sequences of hashable item ids, or 2-D padded array
        y : array-like of shape (n_sequences,) or None
            The task's labels (item ids for item tasks); None for a
            self-supervised next-item task. A column vector is raveled with a
            ``DataConversionWarning``, as by scikit-learn's classifiers.

        Returns
        -------
        self : TaskEstimator
        """
        task = _check_view_task(self.task)
        snapshot = self._snapshot()
        if y is not None and np.ndim(y) == 2 and np.shape(y)[1] == 1:
            y = column_or_1d(y, warn=True)
        encoder = copy.deepcopy(snapshot)
        encoder.set_params(**self._overrides())
        encoder.partial_fit(X, y, task=task)
        self.encoder_ = encoder
        self.task_ = task
        self.classes_ = encoder.classes_of(task)
        return self

    # -- inference --------------------------------------------------------------
    def decision_function(self, X) -> np.ndarray:
        """Scores (logits) of the task's classes.

        Parameters
        ----------
        X : list of sequences of hashable item ids, or 2-D padded array

        Returns
        -------
        scores : ndarray of shape (n_sequences, n_classes) or (n_sequences,)
            With two classes, scikit-learn's convention: one column, the
            score of ``classes_[1]`` minus that of ``classes_[0]``.
        """
        check_is_fitted(self)
        scores = self.encoder_.decision_function(X, task=self.task_)
        if scores.shape[1] == 2:
            return scores[:, 1] - scores[:, 0]
        return scores

    def predict_proba(self, X) -> np.ndarray:
        """Probabilities of the task's classes, columns in ``classes_`` order.

        Parameters
        ----------
        X : list of sequences of hashable item ids, or 2-D padded array

        Returns
        -------
        proba : ndarray of shape (n_sequences, n_classes)
        """
        check_is_fitted(self)
        return self.encoder_.predict_proba(X, task=self.task_)

    def predict(self, X) -> np.ndarray:
        """The most likely class of the task (the top item, for item tasks).

        Parameters
        ----------
        X : list of sequences of hashable item ids, or 2-D padded array

        Returns
        -------
        labels : ndarray of shape (n_sequences,)
        """
        check_is_fitted(self)
        return self.encoder_.predict(X, task=self.task_)

    def score(self, X, y=None) -> float:
        """The task's metric on ``(X, y)``: accuracy (≤ 20 classes) or MRR@5.

        Parameters
        ----------
        X : list of sequences of hashable item ids, or 2-D padded array
        y : array-like of shape (n_sequences,) or None
            None only for next-item tasks: each sequence's last item is then
            the target of the items before it.

        Returns
        -------
        score : float
        """
        check_is_fitted(self)
        return self.encoder_.score(X, y, task=self.task_)


def make_task_estimator(encoder: TaskLearner, task: str, **params) -> TaskEstimator:
    """A :class:`TaskEstimator` of ``task`` on a frozen snapshot of ``encoder``.

    ``encoder`` is deep-copied now and the copy wrapped in
    :class:`sklearn.frozen.FrozenEstimator`: later changes to ``encoder`` do
    not reach the view, and ``clone`` keeps the snapshot.
    :meth:`ContinualUserEncoder.task_estimator` calls this function.

    Parameters
    ----------
    encoder : ContinualUserEncoder
        A fitted encoder (checked when the view is fitted). A
        ``FrozenEstimator`` of one is unwrapped first.
    task : str
        The task to learn: an existing task of ``encoder`` or a new one.
    **params
        Overrides of the encoder's parameters for the view's ``fit``: ``s``,
        ``c``, ``alpha``, ``rho_min``, ``lr``, ``batch_size``, ``max_epochs``,
        ``patience``, ``validation_fraction``, ``random_state``.

    Returns
    -------
    view : TaskEstimator

    Examples
    --------
    >>> from sklearn.model_selection import cross_val_score
    >>> from sklearn_teracon import ContinualUserEncoder
    >>> from sklearn_teracon.model_selection import make_task_estimator
    >>> seqs = [[1, 2, 3, 4], [2, 3, 4, 5], [5, 4, 3], [1, 3, 5, 2]] * 6
    >>> ages = ["young", "old", "old", "young"] * 6
    >>> enc = ContinualUserEncoder(embedding_dim=8, n_blocks=1, max_epochs=1,
    ...                            patience=None, random_state=0).partial_fit(seqs)
    >>> view = make_task_estimator(enc, "age", s=20)
    >>> view.s, view.encoder.estimator is enc
    (20, False)
    >>> cross_val_score(view, seqs, ages, cv=2).shape
    (2,)
    """
    if isinstance(encoder, FrozenEstimator):
        encoder = encoder.estimator
    if not isinstance(encoder, TaskLearner):
        raise TypeError(
            f"encoder must be a ContinualUserEncoder, got {type(encoder).__name__}"
        )
    _check_view_task(task)
    unknown = sorted(set(params) - set(OVERRIDABLE_PARAMS))
    if unknown:
        raise TypeError(
            f"unknown parameter(s) {unknown} for a task view; it can override "
            f"{list(OVERRIDABLE_PARAMS)}"
        )
    return TaskEstimator(FrozenEstimator(copy.deepcopy(encoder)), task, **params)


def _check_view_task(task) -> str:
    """A view needs one named task: a non-empty string (``TaskName`` too)."""
    if task is None:
        raise TypeError("task must be a non-empty string naming the task, got None")
    return _check_task(task)

"""Accuracy of predicted labels."""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike
from sklearn.metrics import accuracy_score

from ._validation import _as_array

__all__ = ["accuracy"]


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

"""Validation of class labels (``y``) and of a task's ``classes``.

This layer knows numpy only. Labels of a task are all numbers or all strings,
one per sequence, never missing.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Iterable

import numpy as np
import scipy.sparse as sp
from sklearn.utils.multiclass import type_of_target


def _is_missing(value) -> bool:
    """None, NaN, infinity, and pandas' NA/NaT (checked by name: pandas is optional)."""
    if value is None or type(value).__name__ in ("NAType", "NaTType"):
        return True
    if isinstance(value, numbers.Real) and not isinstance(value, numbers.Integral):
        return not math.isfinite(float(value))
    return False


def _label_kind(label) -> str:
    if isinstance(label, str | np.str_):
        return "strings"
    if isinstance(label, bytes | np.bytes_):
        return "bytes"
    if isinstance(label, numbers.Number | np.bool_):
        return "numbers"
    return type(label).__name__


def _check_label_kinds(labels, name: str) -> None:
    """Refuse missing labels and labels of several kinds, naming an example of each."""
    missing = [i for i, v in enumerate(labels) if _is_missing(v)]
    if missing:
        raise ValueError(
            f"{name} contains missing labels (None or NaN), first at "
            f"{name}[{missing[0]}]: every sequence needs a label; drop those "
            "users or give the missing ones a class of their own"
        )
    kinds = {}
    for v in labels:
        kinds.setdefault(_label_kind(v), v)
    if len(kinds) > 1:
        examples = " and ".join(f"{kind} (e.g. {v!r})" for kind, v in kinds.items())
        raise TypeError(
            f"{name} mixes labels of different kinds: {examples}; the labels "
            "of a task must be all numbers or all strings"
        )
    if kinds and next(iter(kinds)) not in ("strings", "numbers"):
        raise TypeError(
            f"{name} holds labels of type {next(iter(kinds))}; labels must be "
            "numbers or strings (decode bytes first)"
        )


def check_labels(y, n_samples: int, *, name: str = "y") -> np.ndarray:
    """Validate class labels for a labelled task and return them 1-D.

    Labels must be all numbers or all strings, with no missing
    value (None, NaN, pandas NA), one per sequence.

    Examples
    --------
    >>> from sklearn_teracon._sequences import check_labels
    >>> check_labels(["F", "M", "F"], 3)
    array(['F', 'M', 'F'], dtype='<U1')
    """
    if sp.issparse(y):
        raise TypeError(f"{name} must be a dense 1-D array of labels, not sparse")
    if isinstance(y, str | bytes):
        raise TypeError(f"{name} must be a 1-D array of labels, got a single string")
    try:
        y_arr = np.asarray(y)
    except ValueError as exc:  # ragged nesting, e.g. labels of several kinds
        if isinstance(y, Iterable):
            labels = list(y)
            if len({_label_kind(v) for v in labels}) > 1:
                _check_label_kinds(labels, name)
        raise ValueError(
            f"{name} must be a 1-D array of labels, one per sequence; got "
            f"{type(y).__name__} that is no array ({exc})"
        ) from None
    if y_arr.ndim == 2 and y_arr.shape[1] == 1:
        y_arr = y_arr.ravel()
    if y_arr.ndim != 1:
        raise ValueError(
            f"{name} must be 1-D (one label per sequence); got shape {y_arr.shape}"
        )
    if len(y_arr) != n_samples:
        raise ValueError(
            f"{name} has {len(y_arr)} labels but X has {n_samples} sequences"
        )
    # NumPy turns [1, "a"] and ["a", nan] into strings: inspect the labels given.
    labels = y_arr
    if y_arr.dtype.kind in "US" and not isinstance(y, np.ndarray):
        labels = np.asarray(y, dtype=object).ravel()
    if labels.dtype.kind == "O":
        _check_label_kinds(labels, name)
    if y_arr.dtype.kind == "S":
        raise TypeError(
            f"{name} holds bytes labels; labels must be numbers or strings "
            "(decode bytes first)"
        )
    if y_arr.dtype.kind == "f" and not np.isfinite(y_arr).all():
        first = int(np.flatnonzero(~np.isfinite(y_arr))[0])
        raise ValueError(
            f"{name} contains missing labels (NaN) or infinity, first at "
            f"{name}[{first}]: every sequence needs a finite label"
        )
    kind = type_of_target(y_arr, input_name=name)
    if kind not in ("binary", "multiclass"):
        raise ValueError(
            f"Unknown label type: {kind!r}. {name} must hold class labels (ints, "
            "strings, ...), one per sequence; regression targets are not a task kind"
        )
    return y_arr


def check_classes(classes, *, name: str = "classes") -> np.ndarray:
    """Every label of a labelled task (``classes=``), validated: sorted and distinct.

    The labels must be what ``y`` may hold: all numbers or all strings, none
    missing (a NaN or None is never a class).

    Examples
    --------
    >>> from sklearn_teracon._labels import check_classes
    >>> check_classes(["b", "a", "b"])
    array(['a', 'b'], dtype='<U1')
    """
    accepted = f"{name} must be a 1-D array-like of every label of the task"
    if isinstance(classes, str | bytes):
        raise TypeError(f"{accepted}, got a single string {classes!r}")
    try:
        values = np.asarray(classes, dtype=object)
    except ValueError:  # ragged nesting
        values = None
    if values is None or values.ndim != 1:
        shape = "ragged" if values is None else f"of shape {values.shape}"
        raise ValueError(f"{accepted}; got {type(classes).__name__} {shape}")
    if not len(values):
        raise ValueError(f"{name} is empty: it must list every label of the task")
    missing = [i for i, v in enumerate(values) if _is_missing(v)]
    if missing:
        first = missing[0]
        raise ValueError(
            f"{name} contains a missing value ({values[first]!r} at "
            f"{name}[{first}]): {name} lists every label the task may see, and "
            "None, NaN or infinity is never a label"
        )
    checked = check_labels(classes, len(values), name=name)
    try:
        return np.unique(checked)
    except TypeError as exc:  # e.g. numbers of incomparable types
        raise TypeError(f"{name} must be labels of one sortable type: {exc}") from None

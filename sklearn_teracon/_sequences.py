"""Input validation for user sequences and labels, and the item vocabulary.

This layer knows numpy only. A user is a sequence of hashable item ids; the
estimator sees them as rows of item *indices*, left padded with 0, where index
0 is padding and index 1 stands for every item never seen in training.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Hashable, Iterable, Sequence

import numpy as np
import scipy.sparse as sp
from sklearn.utils.multiclass import type_of_target

PADDING_INDEX = 0
UNKNOWN_INDEX = 1
N_RESERVED = 2


def _is_missing(item) -> bool:
    if item is None:
        return True
    if isinstance(item, numbers.Real) and not isinstance(item, numbers.Integral):
        return not math.isfinite(float(item))
    return False


def _check_item(item, i: int):
    if _is_missing(item):
        raise ValueError(
            f"sequence {i} contains a missing item ({item!r}): NaN, infinity "
            "and None are not item ids"
        )
    if isinstance(item, complex | np.complexfloating):
        raise ValueError(
            f"sequence {i} contains a complex number; item ids must be real"
        )
    if not isinstance(item, Hashable):
        # The wording matches NumPy's so scikit-learn's checks recognise it.
        raise TypeError(
            f"item ids must be hashable: argument must be a string or a number, "
            f"got {type(item).__name__} in sequence {i}"
        )
    return item.item() if isinstance(item, np.generic) else item


def check_sequences(X, *, padding_value=0, name: str = "X") -> list[list]:
    """Validate user sequences and return them as a list of Python lists.

    Parameters
    ----------
    X : list of sequences of hashable item ids, or 2-D array
        Ragged sequences are used as given. In a 2-D array every entry equal
        to ``padding_value`` is padding and is dropped, wherever it stands.
    padding_value : hashable, default=0
        The padding entry of 2-D arrays.
    name : str, default="X"
        The argument name used in error messages.

    Returns
    -------
    sequences : list of list
        One non-empty list of item ids per user, oldest item first.
    """
    if sp.issparse(X):
        raise TypeError(
            f"{name} is a sparse matrix; give a list of item-id sequences or a "
            "dense 2-D array padded with padding_value"
        )
    if isinstance(X, str | bytes):
        raise TypeError(f"{name} must be a list of sequences, got a string")
    if not isinstance(X, list | tuple):
        if not hasattr(X, "__len__") and not hasattr(X, "__array__"):
            raise TypeError(
                f"{name} must be a list of sequences or a 2-D array, got "
                f"{type(X).__name__}"
            )
        X = np.asarray(X)
        return _check_padded_array(X, padding_value, name)
    if len(X) == 0:
        raise ValueError(f"{name} is empty: at least one sequence is required")
    sequences = []
    for i, seq in enumerate(X):
        if isinstance(seq, str | bytes) or not isinstance(seq, Iterable):
            raise TypeError(
                f"{name}[{i}] is a {type(seq).__name__}, not a sequence of item ids"
            )
        seq = [_check_item(item, i) for item in seq]
        if not seq:
            raise ValueError(
                f"{name}[{i}] is an empty sequence: every user needs items"
            )
        sequences.append(seq)
    return sequences


def _check_padded_array(X: np.ndarray, padding_value, name: str) -> list[list]:
    if X.ndim != 2:
        raise ValueError(
            f"{name} must be 2-D (users × positions, padded with padding_value) or "
            f"a list of sequences; got an array with {X.ndim} dimension(s). "
            "Reshape your data: a single user is X.reshape(1, -1)."
        )
    # The wording of these two errors is scikit-learn's own.
    if X.shape[0] == 0:
        raise ValueError(
            f"{name} is empty: found array with 0 sample(s) (shape={X.shape}) while "
            "a minimum of 1 is required"
        )
    if X.shape[1] == 0:
        raise ValueError(
            f"{name} is empty: found array with 0 feature(s) (shape={X.shape}) while "
            "a minimum of 1 is required (one position per sequence)"
        )
    if np.iscomplexobj(X):
        raise ValueError(
            f"Complex data not supported: {name} contains complex numbers; item ids "
            "must be real"
        )
    if X.dtype.kind == "f" and not np.isfinite(X).all():
        raise ValueError(f"{name} contains NaN or infinity; these are not item ids")
    if X.dtype.kind == "O":
        return check_sequences(
            [[item for item in row if not _equals(item, padding_value)] for row in X],
            name=name,
        )
    if X.dtype.kind not in "iufUSb":
        raise TypeError(f"{name} has unsupported dtype {X.dtype}")
    sequences = []
    for i, row in enumerate(X):
        seq = row[row != padding_value].tolist()
        if not seq:
            raise ValueError(
                f"{name}[{i}] is an empty sequence (only padding {padding_value!r})"
            )
        sequences.append(seq)
    return sequences


def _equals(item, padding_value) -> bool:
    try:
        return bool(item == padding_value)
    except (TypeError, ValueError):
        return False


def check_labels(y, n_samples: int, *, name: str = "y") -> np.ndarray:
    """Validate class labels for a labelled task and return them 1-D."""
    if sp.issparse(y):
        raise TypeError(f"{name} must be a dense 1-D array of labels, not sparse")
    y_arr = np.asarray(y)
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
    if y_arr.dtype.kind == "O" and any(_is_missing(v) for v in y_arr):
        raise ValueError(f"{name} contains missing labels (None or NaN)")
    if y_arr.dtype.kind == "f" and not np.isfinite(y_arr).all():
        raise ValueError(f"{name} contains NaN or infinity")
    kind = type_of_target(y_arr, input_name=name)
    if kind not in ("binary", "multiclass"):
        raise ValueError(
            f"Unknown label type: {kind!r}. {name} must hold class labels (ints, "
            "strings, ...), one per sequence; regression targets are not a task kind"
        )
    return y_arr


class ItemVocabulary:
    """Maps hashable item ids to embedding indices, and grows.

    Index 0 is padding and index 1 is the unknown item; the items seen so far
    take indices 2, 3, ... in order of first appearance, so the indices of
    known items never change when new items arrive.

    Examples
    --------
    >>> vocab = ItemVocabulary()
    >>> vocab.extend([["a", "b"], ["b", "c"]])
    3
    >>> vocab.encode([["c", "zzz"]], max_len=4).tolist()
    [[0, 0, 4, 1]]
    """

    def __init__(self, items: Sequence | None = None):
        self.items: list = []
        self._index: dict = {}
        if items is not None:
            self.extend([items])

    def __len__(self) -> int:
        """Number of embedding rows: the items plus padding and unknown."""
        return len(self.items) + N_RESERVED

    @property
    def n_items(self) -> int:
        return len(self.items)

    def extend(self, sequences: Iterable[Iterable]) -> int:
        """Add unseen items; return how many were new."""
        before = len(self.items)
        for seq in sequences:
            for item in seq:
                if item not in self._index:
                    self._index[item] = len(self.items) + N_RESERVED
                    self.items.append(item)
        return len(self.items) - before

    def index_of(self, items: Iterable) -> np.ndarray:
        return np.fromiter(
            (self._index.get(item, UNKNOWN_INDEX) for item in items), dtype=np.int64
        )

    def encode(self, sequences: Sequence[Sequence], max_len: int) -> np.ndarray:
        """Left-padded index matrix keeping each user's most recent items."""
        out = np.zeros((len(sequences), max_len), dtype=np.int64)
        get = self._index.get
        for row, seq in zip(out, sequences):
            recent = seq[-max_len:]
            if recent:
                row[max_len - len(recent) :] = [get(i, UNKNOWN_INDEX) for i in recent]
        return out

    def decode(self, indices: np.ndarray) -> np.ndarray:
        """Item ids of indices ≥ 2 (the reserved indices are never items)."""
        lookup = np.empty(len(self.items), dtype=object)
        lookup[:] = self.items
        decoded = lookup[np.asarray(indices) - N_RESERVED]
        return _tighten(decoded)


def _tighten(values: np.ndarray) -> np.ndarray:
    """Give an object array of ids a plain dtype when all ids share one."""
    if values.size and all(isinstance(v, numbers.Integral) for v in values.flat):
        return values.astype(np.int64)
    if values.size and all(isinstance(v, numbers.Real) for v in values.flat):
        return values.astype(np.float64)
    if values.size and all(isinstance(v, str) for v in values.flat):
        return values.astype(str)
    return values

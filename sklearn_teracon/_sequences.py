"""Input validation for user sequences and labels, and the item vocabulary.

This layer knows numpy only. A user is a sequence of hashable item ids; the
estimator sees them as rows of item *indices*, left padded with 0, where index
0 is padding and index 1 stands for every item never seen in training.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Hashable, Iterable, Mapping, Sequence, Set

import numpy as np
import scipy.sparse as sp
from sklearn.utils.multiclass import type_of_target

PADDING_INDEX = 0
UNKNOWN_INDEX = 1
N_RESERVED = 2

# Item ids are stored and returned as int64 when they are integers.
_INT64 = np.iinfo(np.int64)

ACCEPTED_X = (
    "one sequence of item ids per user: a list or tuple of sequences, a 1-D "
    "object array or pandas Series of sequences, a one-column DataFrame of "
    "sequences, a pyarrow/pandas/polars list array, or a 2-D array "
    "(users × positions) padded with padding_value"
)


def _is_missing(value) -> bool:
    """None, NaN, infinity, and pandas' NA/NaT (checked by name: pandas is optional)."""
    if value is None or type(value).__name__ in ("NAType", "NaTType"):
        return True
    if isinstance(value, numbers.Real) and not isinstance(value, numbers.Integral):
        return not math.isfinite(float(value))
    return False


def _check_item(item, i: int):
    if isinstance(item, np.generic):
        item = item.item()
    if _is_missing(item):
        raise ValueError(
            f"sequence {i} contains a missing item ({item!r}): NaN, infinity "
            "and None are not item ids"
        )
    if isinstance(item, complex):
        raise ValueError(
            f"sequence {i} contains a complex number; item ids must be real"
        )
    if isinstance(item, int) and not _INT64.min <= item <= _INT64.max:
        raise ValueError(
            f"sequence {i} contains the item id {item}, outside the int64 range "
            f"[{_INT64.min}, {_INT64.max}]; give such ids as strings"
        )
    if not isinstance(item, Hashable):
        # The wording matches NumPy's so scikit-learn's checks recognise it.
        raise TypeError(
            f"item ids must be hashable: argument must be a string or a number, "
            f"got {type(item).__name__} in sequence {i}"
        )
    return item


def _check_items(seq, i: int) -> list:
    """The items of sequence ``i`` as a list, each checked by ``_check_item``.

    Sequences of plain ``int`` (within int64) or ``str`` ids, by far the most
    common, pass in one sweep over their types: checking item by item took
    6 s for MovieLens-1M's 85,000 liked-item rows, at every fit and score.
    """
    items = seq.tolist() if isinstance(seq, np.ndarray) else list(seq)
    kinds = set(map(type, items))
    if kinds == {str} or (
        kinds == {int} and _INT64.min <= min(items) and max(items) <= _INT64.max
    ):
        return items
    return [_check_item(item, i) for item in items]


def _describe(X) -> str:
    """What the user gave, in words: "a pandas Series of int64", "a dict", ..."""
    kind = type(X)
    library = kind.__module__.partition(".")[0]
    owner = "" if library == "builtins" else f"{library} "
    dtype = getattr(X, "dtype", None)
    shape = getattr(X, "shape", None)
    if dtype is not None and shape is not None:
        return f"a {owner}{kind.__name__} of shape {tuple(shape)} and dtype {dtype}"
    return f"a {owner}{kind.__name__}"


def _is_sequence(value) -> bool:
    return isinstance(value, Iterable) and not isinstance(value, str | bytes)


def _unwrap_container(X):
    """pandas, polars and pyarrow input as a list of sequences or a 2-D array.

    The libraries are never imported here: an object of theirs can only exist
    when the user has imported them.
    """
    library = type(X).__module__.partition(".")[0]
    name = type(X).__name__
    if library == "pyarrow":
        if name in ("Table", "RecordBatch") and X.num_columns == 1:
            return X.column(0).to_pylist()
        return X.to_pylist() if hasattr(X, "to_pylist") else X
    if library == "pandas":
        if name == "DataFrame":
            column = X.iloc[:, 0] if X.shape[1] == 1 and len(X) else None
            if column is not None and _is_sequence(column.iloc[0]):
                return column.tolist()
            return X.to_numpy()
        return X.tolist() if hasattr(X, "tolist") else X
    if library == "polars":
        if name == "DataFrame":
            if X.width == 1 and X.height and _is_sequence(X.to_series(0)[0]):
                return X.to_series(0).to_list()
            return X.to_numpy()
        return X.to_list() if hasattr(X, "to_list") else X
    return X


def check_sequences(X, *, padding_value=0, name: str = "X") -> list[list]:
    """Validate user sequences and return them as a list of Python lists.

    Parameters
    ----------
    X : sequences of hashable item ids, or 2-D array
        One sequence of item ids per user, oldest first: a list or tuple of
        sequences, a 1-D object array or pandas Series of sequences (e.g.
        ``ratings.groupby("user").item.apply(list)``), a one-column pandas or
        polars DataFrame whose column holds sequences, or a pyarrow, pandas
        (``ArrowDtype``) or polars list array. Ragged sequences are used as
        given. In a 2-D array (or a DataFrame of scalar columns) every entry
        equal to ``padding_value`` is padding and is dropped, wherever it
        stands. Integer ids must fit in int64.
    padding_value : hashable, default=0
        The padding entry of 2-D arrays.
    name : str, default="X"
        The argument name used in error messages.

    Returns
    -------
    sequences : list of list
        One non-empty list of item ids per user, oldest item first.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_teracon._sequences import check_sequences
    >>> check_sequences([["a", "b"], ("c",)])
    [['a', 'b'], ['c']]
    >>> check_sequences(np.array([[0, 3, 4], [5, 6, 7]]))
    [[3, 4], [5, 6, 7]]
    """
    if sp.issparse(X):
        raise TypeError(
            f"{name} is a sparse matrix; give a list of item-id sequences or a "
            "dense 2-D array padded with padding_value"
        )
    if isinstance(X, str | bytes):
        raise TypeError(f"{name} must be {ACCEPTED_X}; got a string")
    given = _describe(X)
    X = _unwrap_container(X)
    if isinstance(X, Mapping | Set) or not (
        hasattr(X, "__len__") or hasattr(X, "__array__")
    ):
        raise TypeError(f"{name} must be {ACCEPTED_X}; got {given}")
    if isinstance(X, np.ndarray) and X.ndim == 1 and X.dtype.kind == "O":
        X = X.tolist()
    if not isinstance(X, list | tuple):
        return _check_padded_array(np.asarray(X), padding_value, name, given)
    if len(X) == 0:
        raise ValueError(f"{name} is empty: at least one sequence is required")
    sequences = []
    for i, seq in enumerate(X):
        if not _is_sequence(seq):
            if i == 0:
                raise TypeError(
                    f"{name} must be {ACCEPTED_X}; got {given} whose entries are "
                    f"single values ({name}[0] is {type(seq).__name__} {seq!r}), "
                    "not sequences. If they are one user's items, write [items]."
                )
            raise TypeError(
                f"{name}[{i}] is {type(seq).__name__} {seq!r}, not a sequence of "
                "item ids"
            )
        seq = _check_items(seq, i)
        if not seq:
            raise ValueError(
                f"{name}[{i}] is an empty sequence: every user needs items"
            )
        sequences.append(seq)
    return sequences


def _check_padded_array(
    X: np.ndarray, padding_value, name: str, given: str
) -> list[list]:
    if X.ndim != 2:
        # "Reshape your data" is the phrase scikit-learn's checks look for.
        single_user = (
            " Reshape your data: if they are one user's items, write "
            "[list(items)] or items.reshape(1, -1)."
            if X.ndim == 1
            else ""
        )
        raise ValueError(
            f"{name} must be {ACCEPTED_X}; got {given}, which is neither 2-D nor "
            f"a collection of sequences.{single_user}"
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
    if X.dtype.kind == "u" and X.max() > _INT64.max:
        raise ValueError(
            f"{name} holds item ids up to {X.max()}, beyond int64's "
            f"{_INT64.max}; give such ids as strings"
        )
    if X.dtype.kind == "O":
        return check_sequences(
            [[item for item in row if not _equals(item, padding_value)] for row in X],
            name=name,
        )
    if X.dtype.kind not in "iufUSb":
        raise TypeError(
            f"{name} has unsupported dtype {X.dtype}; it must be {ACCEPTED_X}"
        )
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


def _label_kind(label) -> str:
    if isinstance(label, str | np.str_):
        return "strings"
    if isinstance(label, bytes | np.bytes_):
        return "bytes"
    if isinstance(label, numbers.Number | np.bool_):
        return "numbers"
    return type(label).__name__


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
    except ValueError as exc:  # ragged nested lists
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
        if next(iter(kinds)) not in ("strings", "numbers"):
            raise TypeError(
                f"{name} holds labels of type {next(iter(kinds))}; labels must be "
                "numbers or strings (decode bytes first)"
            )
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


class ItemVocabulary:
    """Maps hashable item ids to embedding indices, and grows.

    Index 0 is padding and index 1 is the unknown item; the items seen so far
    take indices 2, 3, ... in order of first appearance, so the indices of
    known items never change when new items arrive.

    Examples
    --------
    >>> from sklearn_teracon import ItemVocabulary
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
        try:
            return values.astype(np.int64)
        except OverflowError:  # ids beyond int64, e.g. from an older model file
            return values
    if values.size and all(isinstance(v, numbers.Real) for v in values.flat):
        return values.astype(np.float64)
    if values.size and all(isinstance(v, str) for v in values.flat):
        return values.astype(str)
    return values


def split_last_items(sequences: list[list]) -> tuple[list[list], list]:
    """Each sequence's items before its last one, and that last item.

    How a next-item task is scored without labels: the last item is the
    target of the items before it. Sequences of one item are left out.
    """
    usable = [seq for seq in sequences if len(seq) >= 2]
    if not usable:
        raise ValueError(
            "scoring a next-item task without y needs sequences of at least "
            "2 items (the last one is the target)"
        )
    return [seq[:-1] for seq in usable], [seq[-1] for seq in usable]

"""Input validation for user sequences: ``X`` in any accepted form, as lists.

This layer knows numpy only. A user is a sequence of hashable item ids; the
estimator sees them as rows of item *indices*, left padded with 0, where index
0 is padding and index 1 stands for every item never seen in training (see
``_vocabulary``). Labels are checked in ``_labels``; both are re-exported here.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Hashable, Iterable, Mapping, Set

import numpy as np
import scipy.sparse as sp

from ._labels import _is_missing, check_labels
from ._tables import HOW_TO_BUILD, check_table, mixed_row_problem
from ._user_sequences import UserSequences
from ._vocabulary import N_RESERVED, PADDING_INDEX, UNKNOWN_INDEX, ItemVocabulary

__all__ = [
    "ACCEPTED_X",
    "N_RESERVED",
    "PADDING_INDEX",
    "UNKNOWN_INDEX",
    "ItemVocabulary",
    "check_labels",
    "check_padding_value",
    "check_sequences",
    "input_index",
    "split_last_items",
]

# Item ids are stored and returned as int64 when they are integers.
_INT64 = np.iinfo(np.int64)

ACCEPTED_X = (
    "one sequence of item ids per user: a list or tuple of sequences, a 1-D "
    "object array or pandas Series of sequences, a one-column DataFrame of "
    "sequences, a pyarrow/pandas/polars list array, the UserSequences of "
    "sequences_from_interactions, or a 2-D array (users × positions) padded "
    "with padding_value"
)


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


def _unwrap_container(X, name: str, given: str):
    """pandas, polars and pyarrow input as a list of sequences or a 2-D array.

    The libraries are never imported here: an object of theirs can only exist
    when the user has imported them. A table of several scalar columns is a
    padded 2-D array, unless it looks like an interaction table (refused).
    """
    if isinstance(X, UserSequences):
        return X.sequences
    library = type(X).__module__.partition(".")[0]
    kind = type(X).__name__
    if library == "pyarrow":
        if kind in ("Table", "RecordBatch") and X.num_columns == 1:
            return X.column(0).to_pylist()
        if kind in ("Table", "RecordBatch"):
            check_table(X.column_names, X.schema.types, name, given)
        return X.to_pylist() if hasattr(X, "to_pylist") else X
    if library == "pandas":
        if kind == "DataFrame":
            column = X.iloc[:, 0] if X.shape[1] == 1 and len(X) else None
            if column is not None and _is_sequence(column.iloc[0]):
                return column.tolist()
            check_table(list(X.columns), X.dtypes.tolist(), name, given)
            return X.to_numpy()
        return X.tolist() if hasattr(X, "tolist") else X
    if library == "polars":
        if kind == "DataFrame":
            if X.width == 1 and X.height and _is_sequence(X.to_series(0)[0]):
                return X.to_series(0).to_list()
            check_table(X.columns, X.dtypes, name, given)
            return X.to_numpy()
        return X.to_list() if hasattr(X, "to_list") else X
    return X


def input_index(X):
    """The row labels ``X`` carries (a pandas index, a ``UserSequences``' users).

    ``transform`` keeps them as the index of a pandas output. None for input
    without row labels (lists, NumPy arrays, polars, pyarrow).
    """
    if isinstance(X, UserSequences):
        return X.users
    if callable(getattr(X, "sequence_chunks", None)):  # e.g. ParquetSequences
        return getattr(X, "users", None)
    library = type(X).__module__.partition(".")[0]
    if library == "pandas" and type(X).__name__ in ("Series", "DataFrame"):
        return X.index
    return None


def check_sequences(X, *, padding_value=0, name: str = "X") -> list[list]:
    """Validate user sequences and return them as a list of Python lists.

    Parameters
    ----------
    X : sequences of hashable item ids, or 2-D array
        One sequence of item ids per user, oldest first: a list or tuple of
        sequences, a 1-D object array or pandas Series of sequences (e.g.
        ``ratings.groupby("user").item.apply(list)``), a one-column pandas or
        polars DataFrame whose column holds sequences, or a pyarrow, pandas
        (``ArrowDtype``) or polars list array, or the ``UserSequences`` of
        ``sequences_from_interactions``. Ragged sequences are used as given.
        In a 2-D array (or a DataFrame of scalar columns) every entry equal to
        ``padding_value`` is padding and is dropped, wherever it stands.
        Integer ids must fit in int64. An interaction table (one row per
        event) is refused: a DataFrame whose columns are named like one
        (user, item, timestamp, rating, ...) or hold values of different
        kinds, and any row mixing strings and numbers.
    padding_value : hashable, default=0
        The padding entry of 2-D arrays: a string for an array of strings, a
        number for an array of numbers, or None for an array without padding.
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
    X = _unwrap_container(X, name, given)
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
        if isinstance(seq, Mapping):
            raise TypeError(
                f"{name}[{i}] is a {type(seq).__name__} ({sorted(map(str, seq))[:4]}), "
                "not a sequence of item ids: a row of a table is one event of an "
                f"interaction table, not a user's sequence. {HOW_TO_BUILD}"
            )
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
    if X.dtype.kind not in "iufUSbO":
        raise TypeError(
            f"{name} has unsupported dtype {X.dtype}; it must be {ACCEPTED_X}"
        )
    _check_padding_kind(X, padding_value, name)
    if X.dtype.kind == "O":
        rows = [[item for item in row if not _equals(item, padding_value)] for row in X]
        for i, row in enumerate(rows):
            _refuse_mixed_row(row, i, name)
        return check_sequences(rows, name=name)
    if X.dtype.kind == "S" and isinstance(padding_value, str):
        padding_value = padding_value.encode("utf-8")
    try:
        keep = X != padding_value
    except OverflowError:  # e.g. an integer beyond int64 beside a bool array
        raise ValueError(
            f"padding_value={padding_value!r} cannot be compared with {name}'s "
            f"entries of dtype {X.dtype}: give a padding value of that dtype"
        ) from None
    sequences = []
    for i, row in enumerate(X):
        seq = row[keep[i]].tolist()
        if not seq:
            raise ValueError(
                f"{name}[{i}] is an empty sequence (only padding {padding_value!r})"
            )
        sequences.append(seq)
    return sequences


def _refuse_mixed_row(row: list, i: int, name: str) -> None:
    """Refuse a row of a 2-D ``X`` that holds strings and numbers.

    That is an event of an interaction table (a user, an item, a time, a
    rating), not one user's items. Ragged sequences are not checked: an
    unseen string id among known integer ones is fine there.
    """
    text = next((item for item in row if isinstance(item, str)), None)
    if text is not None:
        number = next((v for v in row if isinstance(v, numbers.Number)), None)
        if number is not None:
            raise mixed_row_problem(name, i, text, number)


def _check_padding_kind(X: np.ndarray, padding_value, name: str) -> None:
    """Refuse a ``padding_value`` of another kind than the entries of 2-D ``X``.

    Entries equal to ``padding_value`` are padding; one of another kind
    equals none of them, so the array's real padding ("PAD", "", ...) would
    silently become an item. None says that the array holds no padding.
    """
    if padding_value is None:
        return
    if X.dtype.kind in "US" or (
        X.dtype.kind == "O" and all(isinstance(v, str) for v in X.flat)
    ):
        if not isinstance(padding_value, str):
            raise ValueError(
                f"{name} is a 2-D array of strings, but padding_value="
                f"{padding_value!r} is not a string, so none of its entries is "
                "padding (a 'PAD' entry would be learned as an item): a 2-D array "
                "of strings needs padding_value to be the string that pads it, "
                "e.g. padding_value='PAD', or None when it holds no padding"
            )
    elif X.dtype.kind in "iufb" and isinstance(padding_value, str | bytes):
        raise ValueError(
            f"{name} is a 2-D array of numbers, but padding_value="
            f"{padding_value!r} is not a number, so none of its entries is "
            "padding: a 2-D array of numbers needs padding_value to be the number "
            "that pads it (default 0), or None when it holds no padding"
        )


def check_padding_value(value) -> str | None:
    """What a model file cannot hold about ``padding_value``, or None if it can.

    The estimator's parameter must be None, a string, a bool, an integer
    within int64 (no item id lies beyond it) or a finite float: what ``save``
    writes and ``load`` reads back.
    """
    if isinstance(value, np.generic):
        value = value.item()
    if value is None or isinstance(value, str | bool):
        return None
    if isinstance(value, int):
        if _INT64.min <= value <= _INT64.max:
            return None
        return "an integer beyond int64, which no item id can equal"
    if isinstance(value, float):
        return None if math.isfinite(value) else "NaN or infinity, never an item"
    return f"of type {type(value).__name__}, which a model file cannot hold"


def _equals(item, padding_value) -> bool:
    try:
        return bool(item == padding_value)
    except (TypeError, ValueError):
        return False


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

"""``X`` in any accepted form as a source of :class:`SequenceStore` chunks.

This layer knows numpy only; pyarrow's arrays are read through their own
attributes. The forms that can be large are read without Python objects per
id: a padded integer array or ``np.memmap`` chunk by chunk, a pyarrow list
array through its offsets and flat values, and any object that yields its
own chunks (:class:`~sklearn_teracon.datasets.ParquetSequences`). Every other
form goes through :func:`~sklearn_teracon._sequences.check_sequences`, with
the same checks and the same ids as before.
"""

from __future__ import annotations

import numpy as np

from ._sequence_store import PaddedSequences, SequenceStore
from ._sequences import check_sequences

__all__ = ["check_sequence_source", "is_lazy_source", "source_to_store"]


def is_lazy_source(X) -> bool:
    """Whether ``X`` reads its own chunks (and is never converted whole)."""
    return callable(getattr(X, "sequence_chunks", None)) and not isinstance(
        X, SequenceStore | PaddedSequences
    )


def check_sequence_source(X, *, padding_value=0, name: str = "X"):
    """Validate ``X`` and return it as a source of :class:`SequenceStore` chunks.

    Parameters
    ----------
    X : sequences, 2-D array, pyarrow list array or lazy source
        Any ``X`` that :func:`~sklearn_teracon._sequences.check_sequences`
        accepts, or an object with ``len()`` and ``sequence_chunks(n_rows)``.
    padding_value : hashable, default=0
        The padding entry of 2-D arrays.
    name : str, default="X"
        The argument name used in error messages.

    Returns
    -------
    source : SequenceStore, PaddedSequences or the lazy ``X``
        ``len(source)`` users, read with ``source.sequence_chunks(n_rows)``.
    """
    if isinstance(X, SequenceStore | PaddedSequences):
        return X
    if is_lazy_source(X):
        if len(X) == 0:
            raise ValueError(f"{name} is empty: at least one sequence is required")
        return X
    if isinstance(X, np.ndarray) and X.ndim == 2 and X.dtype.kind in "iu":
        # Small arrays, and the errors about shapes and padding, as always.
        if X.size == 0 or not _padding_of_kind(padding_value):
            return SequenceStore.from_lists(
                check_sequences(X, padding_value=padding_value, name=name)
            )
        return PaddedSequences(X, padding_value, name)
    arrow = _arrow_list_array(X)
    if arrow is not None:
        store = _store_from_arrow(arrow, name)
        if store is not None:
            return store
    return SequenceStore.from_lists(
        check_sequences(X, padding_value=padding_value, name=name)
    )


def source_to_store(source, n_rows: int = 65536) -> SequenceStore:
    """Every user of ``source`` in one store (chunks read once, then joined)."""
    if isinstance(source, SequenceStore):
        return source
    return SequenceStore.concatenate(list(source.sequence_chunks(n_rows)))


def _padding_of_kind(padding_value) -> bool:
    """Whether a padding value can pad an integer array (else: the checks' error)."""
    return padding_value is None or (
        isinstance(padding_value, int | np.integer)
        and not isinstance(padding_value, bool)
    )


def _arrow_list_array(X):
    """``X``'s one list column as a pyarrow array or chunked array, else None."""
    if type(X).__module__.partition(".")[0] != "pyarrow":
        return None
    if type(X).__name__ in ("Table", "RecordBatch"):
        if X.num_columns != 1:
            return None
        X = X.column(0)
    # Fixed-size lists, maps and dictionaries are read item by item.
    if type(getattr(X, "type", None)).__name__ not in ("ListType", "LargeListType"):
        return None
    return X


def _store_from_arrow(X, name: str) -> SequenceStore | None:
    """A pyarrow list array's offsets and flat values, checked; None if unusual.

    Integer and string ids are read without a Python object per id (strings
    become one object array). Other value types return None and are read
    item by item, as before.
    """
    chunks = X.chunks if hasattr(X, "chunks") else [X]
    stores, first_row = [], 0
    for chunk in chunks:
        store = _store_from_arrow_chunk(chunk, name, first_row)
        if store is None:
            return None
        stores.append(store)
        first_row += len(chunk)
    if first_row == 0:
        raise ValueError(f"{name} is empty: at least one sequence is required")
    return SequenceStore.concatenate(stores)


def _store_from_arrow_chunk(chunk, name: str, first_row: int):
    value_type = str(chunk.type.value_type)
    if not value_type.startswith(("int", "uint", "string", "large_string")):
        return None
    if chunk.null_count:
        i = first_row + int(np.flatnonzero(np.asarray(chunk.is_null()))[0])
        raise TypeError(f"{name}[{i}] is None, not a sequence of item ids")
    offsets = np.asarray(chunk.offsets, dtype=np.int64)
    offsets = offsets - offsets[0]
    flat = chunk.flatten()
    lengths = np.diff(offsets)
    if len(lengths) and not lengths.all():
        i = first_row + int(np.flatnonzero(lengths == 0)[0])
        raise ValueError(f"{name}[{i}] is an empty sequence: every user needs items")
    if flat.null_count:
        position = int(np.flatnonzero(np.asarray(flat.is_null()))[0])
        i = first_row + int(np.searchsorted(offsets, position, side="right")) - 1
        raise ValueError(
            f"sequence {i} contains a missing item (None): NaN, infinity and "
            "None are not item ids"
        )
    values = flat.to_numpy(zero_copy_only=False)
    if values.dtype.kind == "u":
        if len(values) and values.max() > np.iinfo(np.int64).max:
            raise ValueError(
                f"{name} holds item ids up to {values.max()}, beyond int64's "
                f"{np.iinfo(np.int64).max}; give such ids as strings"
            )
    if values.dtype.kind in "iu":
        values = values.astype(np.int64, copy=False)
    return SequenceStore(values, offsets)

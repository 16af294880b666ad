"""The item vocabulary: hashable item ids to embedding indices, and back.

This layer knows numpy only. Index 0 is padding and index 1 stands for every
item never seen in training; the items seen take indices 2, 3, ...
"""

from __future__ import annotations

import numbers
from collections.abc import Iterable, Sequence

import numpy as np

from ._sequence_store import SequenceStore, left_padded

PADDING_INDEX = 0
UNKNOWN_INDEX = 1
N_RESERVED = 2


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
        # Integer ids are looked up in a direct table of the keys, rebuilt
        # after the vocabulary grows (see _integer_keys).
        self._integer_table: tuple | None = None
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
        return self.extend_values(SequenceStore.from_lists(list(sequences)).values)

    def extend_values(self, values: np.ndarray) -> int:
        """Add the unseen ids of a flat id array, in order of first appearance.

        One dictionary lookup per distinct id, not per id: the ids are
        deduplicated in numpy first (integer ids known already are found in
        a direct table and skipped before that).
        """
        known = self._integer_lookup(values)
        if known is not None:
            values = values[known == UNKNOWN_INDEX]
        before = len(self.items)
        for item in _unique_in_order(values):
            if item not in self._index:
                self._index[item] = len(self.items) + N_RESERVED
                self.items.append(item)
        return len(self.items) - before

    def index_of(self, items: Iterable) -> np.ndarray:
        return np.fromiter(
            (self._index.get(item, UNKNOWN_INDEX) for item in items), dtype=np.int64
        )

    def indices(self, values: np.ndarray) -> np.ndarray:
        """:meth:`index_of` a flat id array, one lookup per distinct id."""
        known = self._integer_lookup(values)
        if known is not None:
            return known
        try:
            distinct, inverse = np.unique(values, return_inverse=True)
        except TypeError:  # ids of kinds numpy cannot order (1 beside "a")
            return self.index_of(values.tolist())
        return self.index_of(distinct.tolist())[inverse.reshape(-1)]

    def _integer_lookup(self, values: np.ndarray) -> np.ndarray | None:
        """Indices of integer ``values`` from a direct table, when it applies.

        Exactly the dictionary's answer: with only ``int`` keys, an integer
        equals a key if and only if it is that key. None when it does not
        apply (other kinds of ids, or of items).
        """
        if values.dtype != np.int64:
            return None
        keys = self._integer_keys()
        if keys is None:
            return None
        low, table = keys
        found = np.full(len(values), UNKNOWN_INDEX, dtype=np.int64)
        inside = (values >= low) & (values < low + len(table))
        found[inside] = table[values[inside] - low]
        return found

    def _integer_keys(self) -> tuple | None:
        """``(low, table)``: ``table[id - low]`` is an int id's index, else None.

        A direct table when the ids span at most a few times their number
        (ids such as MovieLens' or any dense numbering: one read per id),
        else None and the dictionary answers; None too when an item is not
        an int.
        """
        cached = getattr(self, "_integer_table", None)
        if cached is not None and cached[0] == len(self.items):
            return cached[1]
        checked = 0 if cached is None or cached[1] is None else cached[0]
        if not all(type(item) is int for item in self.items[checked:]):
            keys = None
        else:
            keys = np.array(self.items, dtype=np.int64)
            low = int(keys.min()) if len(keys) else 0
            span = int(keys.max()) - low + 1 if len(keys) else 0
            if span > 4 * len(keys) + (1 << 20):
                keys = None
            else:
                table = np.full(span, UNKNOWN_INDEX, dtype=np.int64)
                table[keys - low] = np.arange(len(keys)) + N_RESERVED
                keys = (low, table)
        self._integer_table = (len(self.items), keys)
        return keys

    def encode(self, sequences: Sequence[Sequence], max_len: int) -> np.ndarray:
        """Left-padded index matrix keeping each user's most recent items."""
        return self.encode_store(SequenceStore.from_lists(sequences), max_len)

    def encode_store(
        self, store: SequenceStore, max_len: int, out: np.ndarray | None = None
    ) -> np.ndarray:
        """:meth:`encode` a :class:`SequenceStore`, into ``out`` if given."""
        recent, kept = store.recent(max_len)
        return left_padded(self.indices(recent), kept, max_len, out)

    def decode(self, indices: np.ndarray) -> np.ndarray:
        """Item ids of indices ≥ 2 (the reserved indices are never items)."""
        lookup = np.empty(len(self.items), dtype=object)
        lookup[:] = self.items
        decoded = lookup[np.asarray(indices) - N_RESERVED]
        return _tighten(decoded)


def _unique_in_order(values: np.ndarray) -> list:
    """The distinct ids of ``values`` as Python objects, first appearance first."""
    try:
        distinct, first = np.unique(values, return_index=True)
    except TypeError:  # ids of kinds numpy cannot order (1 beside "a")
        return list(dict.fromkeys(values.tolist()))
    return distinct[np.argsort(first, kind="stable")].tolist()


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

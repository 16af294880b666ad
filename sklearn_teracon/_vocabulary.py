"""The item vocabulary: hashable item ids to embedding indices, and back.

This layer knows numpy only. Index 0 is padding and index 1 stands for every
item never seen in training; the items seen take indices 2, 3, ...
"""

from __future__ import annotations

import numbers
from collections.abc import Iterable, Sequence

import numpy as np

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

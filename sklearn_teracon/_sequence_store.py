"""Users' item ids stored flat: one id array and row offsets, read in chunks.

This layer knows numpy only. A :class:`SequenceStore` holds every user's ids
in one array and where each user's ids start (CSR), so a million users are a
few arrays rather than a million Python lists. A *source* of sequences is
anything with ``len()`` and ``sequence_chunks(n_rows)``, which yields stores
of consecutive users: a store itself, a padded 2-D array or ``np.memmap``
(validated and converted chunk by chunk), or
:class:`~sklearn_teracon.datasets.ParquetSequences`, which reads row groups
on demand.
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np

__all__ = ["SEQUENCE_CHUNK_ROWS", "PaddedSequences", "SequenceStore", "left_padded"]

_INT64 = np.iinfo(np.int64)

# Users converted at a time: their ids and the temporaries of encoding them
# stay within a few tens of MB.
SEQUENCE_CHUNK_ROWS = 16384


class SequenceStore:
    """Sequences of item ids as one flat array and row offsets (CSR-like).

    Parameters
    ----------
    values : ndarray of shape (n_ids,)
        Every user's item ids, user after user, each user's oldest first.
    offsets : ndarray of shape (n_users + 1,)
        User ``i`` holds ``values[offsets[i]:offsets[i + 1]]``.

    Examples
    --------
    >>> from sklearn_teracon._sequence_store import SequenceStore
    >>> store = SequenceStore.from_lists([[3, 4], [5], [6, 7, 8]])
    >>> len(store), store.lengths.tolist()
    (3, [2, 1, 3])
    >>> store.take([2, 0]).to_lists()
    [[6, 7, 8], [3, 4]]
    """

    __slots__ = ("offsets", "values")

    def __init__(self, values: np.ndarray, offsets: np.ndarray):
        self.values = values
        self.offsets = np.asarray(offsets, dtype=np.int64)

    @classmethod
    def from_lists(cls, sequences) -> SequenceStore:
        """Store Python sequences; ids keep their Python kind and equality.

        Plain ``int`` ids within int64 become an int64 array; anything else
        an object array, so that ``1``, ``1.0`` and ``"1"`` stay what they
        were (a string array would turn ``1`` into ``"1"``).
        """
        lengths = np.fromiter(map(len, sequences), dtype=np.int64, count=len(sequences))
        offsets = np.zeros(len(lengths) + 1, dtype=np.int64)
        np.cumsum(lengths, out=offsets[1:])
        flat = [item for seq in sequences for item in seq]
        kinds = set(map(type, flat))
        if kinds == {int} and _INT64.min <= min(flat) and max(flat) <= _INT64.max:
            values = np.array(flat, dtype=np.int64)
        else:  # fromiter: tuples stay single ids
            values = np.fromiter(flat, dtype=object, count=len(flat))
        return cls(values, offsets)

    def __len__(self) -> int:
        return len(self.offsets) - 1

    @property
    def lengths(self) -> np.ndarray:
        return np.diff(self.offsets)

    def sequence_chunks(self, n_rows: int) -> Iterator[SequenceStore]:
        """Consecutive users, ``n_rows`` at a time (views, not copies)."""
        for start in range(0, len(self), n_rows):
            yield self.rows(start, min(start + n_rows, len(self)))

    def rows(self, start: int, stop: int) -> SequenceStore:
        """Users ``start`` to ``stop`` (a view)."""
        offsets = self.offsets[start : stop + 1]
        return SequenceStore(
            self.values[offsets[0] : offsets[-1]], offsets - offsets[0]
        )

    def take(self, indices) -> SequenceStore:
        """The users at ``indices``, in that order (a copy)."""
        indices = np.asarray(indices, dtype=np.int64).reshape(-1)
        lengths = self.lengths[indices]
        return SequenceStore(
            self.values[_gather_positions(self.offsets[indices], lengths)],
            np.concatenate([[0], np.cumsum(lengths)]),
        )

    def recent(self, max_len: int) -> tuple[np.ndarray, np.ndarray]:
        """Each user's last ``max_len`` ids (flat, user after user), and how many."""
        kept = np.minimum(self.lengths, max_len)
        return self.values[_gather_positions(self.offsets[1:] - kept, kept)], kept

    def split_last(self) -> tuple[SequenceStore, np.ndarray]:
        """The users of 2 ids or more: their ids before the last, and the last ids.

        How a next-item task is scored without labels.
        """
        usable = np.flatnonzero(self.lengths >= 2)
        if not len(usable):
            raise ValueError(
                "scoring a next-item task without y needs sequences of at least "
                "2 items (the last one is the target)"
            )
        store = self.take(usable)
        last = store.offsets[1:] - 1
        keep = np.ones(len(store.values), dtype=bool)
        keep[last] = False
        return (
            SequenceStore(
                store.values[keep], store.offsets - np.arange(len(store) + 1)
            ),
            store.values[last],
        )

    def to_lists(self) -> list[list]:
        values, bounds = self.values.tolist(), self.offsets.tolist()
        return [values[a:b] for a, b in zip(bounds[:-1], bounds[1:])]

    @classmethod
    def concatenate(cls, stores: list[SequenceStore]) -> SequenceStore:
        if not stores:
            return cls(np.zeros(0, dtype=np.int64), np.zeros(1, dtype=np.int64))
        starts = np.cumsum([0] + [len(s.values) for s in stores[:-1]])
        offsets = [stores[0].offsets[:1]] + [
            s.offsets[1:] + start for s, start in zip(stores, starts)
        ]
        return cls(np.concatenate([s.values for s in stores]), np.concatenate(offsets))


def _gather_positions(starts: np.ndarray, counts: np.ndarray) -> np.ndarray:
    """``concatenate([arange(s, s + c) for s, c in zip(starts, counts)])``, at once."""
    total = int(counts.sum())
    first_of_row = np.cumsum(counts) - counts
    return np.repeat(starts - first_of_row, counts) + np.arange(total)


def left_padded(
    values: np.ndarray, counts: np.ndarray, width: int, out: np.ndarray | None = None
) -> np.ndarray:
    """Rows of ``width`` holding ``counts[i]`` of ``values`` each, at their right end.

    ``values`` are the rows' entries one row after the other (as
    :meth:`SequenceStore.recent` gives them); the rest of each row is 0.
    """
    if out is None:
        out = np.zeros((len(counts), width), dtype=np.int64)
    rows = np.repeat(np.arange(len(counts)), counts)
    # A row's j-th entry goes to column width - count + j.
    columns = np.arange(len(values)) - np.repeat(np.cumsum(counts) - width, counts)
    out[rows, columns] = values
    return out


class PaddedSequences:
    """A padded 2-D integer array (or ``np.memmap``) read as sequences, in chunks.

    Only one chunk of rows is ever copied or converted, so a memory-mapped
    array of a million users is read with bounded memory. Entries equal to
    ``padding_value`` are padding wherever they stand; a row of padding only
    is refused when its chunk is read.
    """

    def __init__(self, X: np.ndarray, padding_value, name: str = "X"):
        self.X = X
        self.padding_value = padding_value
        self.name = name

    def __len__(self) -> int:
        return len(self.X)

    def sequence_chunks(self, n_rows: int) -> Iterator[SequenceStore]:
        for start in range(0, len(self.X), n_rows):
            yield self._store(start, np.asarray(self.X[start : start + n_rows]))

    def _store(self, start: int, block: np.ndarray) -> SequenceStore:
        if block.dtype.kind == "u" and block.size and block.max() > _INT64.max:
            raise ValueError(
                f"{self.name} holds item ids up to {block.max()}, beyond int64's "
                f"{_INT64.max}; give such ids as strings"
            )
        keep = (
            np.ones(block.shape, dtype=bool)
            if self.padding_value is None
            else block != self.padding_value
        )
        lengths = keep.sum(axis=1)
        if not lengths.all():
            i = start + int(np.flatnonzero(lengths == 0)[0])
            raise ValueError(
                f"{self.name}[{i}] is an empty sequence (only padding "
                f"{self.padding_value!r})"
            )
        offsets = np.zeros(len(block) + 1, dtype=np.int64)
        np.cumsum(lengths, out=offsets[1:])
        return SequenceStore(block[keep].astype(np.int64, copy=False), offsets)

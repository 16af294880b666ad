"""``ParquetSequences``: users' item sequences in Parquet, read on demand.

pyarrow reads the files (it is the reference Parquet reader; an optional
dependency, ``pip install sklearn-teracon[parquet]``). Nothing is read when
the object is made but the files' footers: row groups are read when a chunk
of users needs them, so a file of millions of users is embedded or scored
with the memory of one chunk.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import numpy as np

from .._sequence_sources import _store_from_arrow
from .._sequence_store import SequenceStore

__all__ = ["ParquetSequences"]


def _pyarrow_parquet():
    try:
        import pyarrow.parquet as pq
    except ImportError as error:  # pragma: no cover - pyarrow is in the test extra
        raise ImportError(
            "ParquetSequences needs pyarrow: pip install 'sklearn-teracon[parquet]'"
        ) from error
    return pq


class ParquetSequences:
    """One item sequence per row of Parquet files, read row group by row group.

    An ``X`` of the encoder like any other: ``len()``, indexing (an integer
    gives one user's ids; a slice, integer array or boolean mask gives a lazy
    view), so ``train_test_split`` and ``GridSearchCV`` split it without
    reading it. Chunks of users are read from the row groups that hold them,
    and no more; views whose rows are in file order read each row group once.

    Parameters
    ----------
    path : str or path-like
        A Parquet file, or a folder whose ``*.parquet`` files (in name order)
        are read one after the other.
    column : str, default="items"
        The column of lists of item ids (integers or strings), oldest first.
    user_column : str or None, default=None
        A column of user ids: they index the DataFrames of
        ``set_output(transform="pandas")`` and the files ``out=`` writes.

    Examples
    --------
    >>> import tempfile, os
    >>> import pyarrow as pa, pyarrow.parquet as pq
    >>> from sklearn_teracon.datasets import ParquetSequences
    >>> path = os.path.join(tempfile.mkdtemp(), "users.parquet")
    >>> pq.write_table(pa.table({"items": [[1, 2], [3], [4, 5, 6]]}), path)
    >>> seqs = ParquetSequences(path)
    >>> len(seqs), seqs[2], len(seqs[[0, 2]])
    (3, [4, 5, 6], 2)
    """

    def __init__(
        self,
        path: str | os.PathLike,
        column: str = "items",
        *,
        user_column: str | None = None,
    ):
        pq = _pyarrow_parquet()
        path = Path(path)
        files = sorted(path.glob("*.parquet")) if path.is_dir() else [path]
        if not files:
            raise ValueError(f"{str(path)!r} holds no *.parquet file")
        if not all(f.is_file() for f in files):
            raise FileNotFoundError(f"no Parquet file at {str(path)!r}")
        self.files = [str(f) for f in files]
        self.column = column
        self.user_column = user_column
        groups, sizes = [], []
        for i, file in enumerate(self.files):
            metadata = pq.ParquetFile(file).metadata
            names = metadata.schema.to_arrow_schema().names
            for wanted in (column, user_column):
                if wanted is not None and wanted not in names:
                    raise ValueError(
                        f"{file!r} has no column {wanted!r}; its columns are {names}"
                    )
            for g in range(metadata.num_row_groups):
                groups.append((i, g))
                sizes.append(metadata.row_group(g).num_rows)
        self._groups = groups
        self._group_starts = np.concatenate([[0], np.cumsum(sizes)]).astype(np.int64)
        self._rows: np.ndarray | None = None
        self._cache: dict = {}

    # ------------------------------------------------------------ container
    def __len__(self) -> int:
        return int(self._group_starts[-1]) if self._rows is None else len(self._rows)

    @property
    def shape(self) -> tuple[int]:
        # scikit-learn's indexing takes ``X[indices, ...]`` of objects with a shape.
        return (len(self),)

    def _global_rows(self) -> np.ndarray:
        return np.arange(len(self)) if self._rows is None else self._rows

    def __getitem__(self, key):
        if isinstance(key, tuple) and all(k is Ellipsis for k in key[1:]):
            key = key[0]
        if isinstance(key, int | np.integer):
            n = len(self)
            if not -n <= key < n:
                raise IndexError(f"user {key} is out of range for {n} users")
            return self._read(self._global_rows()[[key]]).to_lists()[0]
        try:
            rows = self._global_rows()[key]
        except IndexError as error:
            raise IndexError(
                f"cannot index {len(self)} users with {key!r}: {error}"
            ) from None
        view = object.__new__(type(self))
        view.__dict__.update(
            self.__dict__, _rows=np.asarray(rows).reshape(-1), _cache={}
        )
        return view

    def __getstate__(self) -> dict:
        return {**self.__dict__, "_cache": {}}

    def __repr__(self) -> str:
        where = self.files[0] if len(self.files) == 1 else f"{len(self.files)} files"
        return (
            f"ParquetSequences({where!r}, column={self.column!r}, n_users={len(self)})"
        )

    @property
    def users(self) -> np.ndarray | None:
        """The user ids of ``user_column`` (read on first use), or None."""
        if self.user_column is None:
            return None
        return np.concatenate(
            [self._users_of(chunk) for chunk in self._row_chunks(1 << 20)]
        )

    # ------------------------------------------------------------ reading
    def sequence_chunks(self, n_rows: int) -> Iterator[SequenceStore]:
        """The users, ``n_rows`` at a time, as :class:`SequenceStore` chunks."""
        for rows in self._row_chunks(n_rows):
            yield self._read(rows)

    def _row_chunks(self, n_rows: int) -> Iterator[np.ndarray]:
        rows = self._global_rows()
        for start in range(0, len(rows), n_rows):
            yield rows[start : start + n_rows]

    def _by_group(self, rows: np.ndarray) -> Iterator[tuple]:
        """Each row group holding some of global ``rows``: the group, where
        its rows stand in ``rows``, and their numbers within the group."""
        group_of = np.searchsorted(self._group_starts, rows, side="right") - 1
        for group in np.unique(group_of):
            where = np.flatnonzero(group_of == group)
            yield int(group), where, rows[where] - self._group_starts[group]

    def _read(self, rows: np.ndarray) -> SequenceStore:
        """The users at global ``rows``, in that order."""
        parts, places = [], []
        for group, where, local in self._by_group(rows):
            parts.append(self._group(group).take(local))
            places.append(where)
        store = SequenceStore.concatenate(parts)
        return store.take(np.argsort(np.concatenate(places), kind="stable"))

    def _group(self, group: int) -> SequenceStore:
        if group not in self._cache:
            self._cache.clear()  # one row group in memory at a time
            table = self._read_group(group, self.column)
            store = _store_from_arrow(table.column(0), f"{self.column!r}")
            if store is None:
                raise TypeError(
                    f"column {self.column!r} must hold lists of integer or string "
                    f"item ids; it holds {table.schema.types[0]}"
                )
            self._cache[group] = store
        return self._cache[group]

    def _read_group(self, group: int, column: str):
        file, index = self._groups[group]
        return (
            _pyarrow_parquet()
            .ParquetFile(self.files[file])
            .read_row_group(index, columns=[column])
        )

    def _users_of(self, rows: np.ndarray) -> np.ndarray:
        result = None
        for group, where, local in self._by_group(rows):
            column = self._read_group(group, self.user_column).column(0)
            users = column.to_numpy()[local]
            if result is None:
                result = np.empty(len(rows), dtype=users.dtype)
            result[where] = users
        return result

"""Encoded users kept in a temporary file, read a row at a time.

This layer knows numpy only. Training reads its users a row at a time (one
per sample of a batch); a lazy source of millions of users
(:class:`~sklearn_teracon.datasets.ParquetSequences`) would otherwise be held
as a users × ``max_len`` matrix in memory. :class:`SpilledRows` writes each
user's last ``max_len`` item indices (int32, without padding) to an
anonymous temporary file, which the system deletes when it is closed or the
process ends, and keeps only the offsets (8 bytes a user) in memory.
"""

from __future__ import annotations

import os
import tempfile

import numpy as np

__all__ = ["SpilledRows"]

_ITEMSIZE = np.dtype(np.int32).itemsize


class SpilledRows:
    """Left-padded int32 rows of item indices, stored in a temporary file.

    Indexed like the ``(n_users, max_len)`` array it stands for: an integer
    gives one row, a slice, integer array or boolean mask a matrix;
    ``np.asarray`` builds the whole matrix (what a strategy that keeps its
    data does). Rows are appended chunk by chunk with :meth:`append`.
    """

    def __init__(self, max_len: int):
        self.max_len = max_len
        # Unbuffered: rows are read back below Python's buffer (pread).
        self._file = tempfile.TemporaryFile(prefix="sklearn_teracon_rows_", buffering=0)
        self._ends = [np.zeros(1, dtype=np.int64)]
        self._written = 0

    def append(self, indices: np.ndarray, counts: np.ndarray) -> None:
        """Add users: their indices (flat, user after user) and how many each."""
        self._file.write(np.ascontiguousarray(indices, dtype=np.int32).tobytes())
        self._ends.append(self._written + np.cumsum(counts, dtype=np.int64))
        self._written += int(counts.sum())

    def close(self) -> None:
        self._file.close()

    @property
    def offsets(self) -> np.ndarray:
        """Where each user's indices start in the file (in indices), and the end."""
        if len(self._ends) > 1:
            self._ends = [np.concatenate(self._ends)]
        return self._ends[0]

    def __len__(self) -> int:
        return len(self.offsets) - 1

    @property
    def shape(self) -> tuple[int, int]:
        return (len(self), self.max_len)

    ndim = 2
    dtype = np.dtype(np.int32)

    def _read_at(self, start: int, count: int) -> bytes:
        """``count`` indices from index ``start`` of the file."""
        if hasattr(os, "pread"):  # POSIX: no shared file position to move
            return os.pread(self._file.fileno(), count * _ITEMSIZE, start * _ITEMSIZE)
        self._file.seek(start * _ITEMSIZE)
        return self._file.read(count * _ITEMSIZE)

    def _row(self, i: int, offsets: np.ndarray) -> np.ndarray:
        start, stop = int(offsets[i]), int(offsets[i + 1])
        data = self._read_at(start, stop - start)
        row = np.zeros(self.max_len, dtype=np.int32)
        row[self.max_len - (stop - start) :] = np.frombuffer(data, dtype=np.int32)
        return row

    def __getitem__(self, key):
        offsets = self.offsets
        if isinstance(key, int | np.integer):
            n = len(self)
            if not -n <= key < n:
                raise IndexError(f"row {key} is out of range for {n} rows")
            return self._row(int(key) % n, offsets)
        rows = np.arange(len(self))[key]
        out = np.zeros((len(rows), self.max_len), dtype=np.int32)
        for j, i in enumerate(rows.tolist()):
            out[j] = self._row(i, offsets)
        return out

    def __array__(self, dtype=None, copy=None):
        whole = self[:]
        return whole if dtype is None else whole.astype(dtype)

    def _chunks(self):
        """The file's indices, 4 M at a time."""
        total, step = self._written, 1 << 22
        for start in range(0, total, step):
            yield np.frombuffer(
                self._read_at(start, min(step, total - start)), dtype=np.int32
            )

    def item_counts(self, n_items: int) -> np.ndarray:
        """How often each index occurs, padding (index 0) included, read in chunks."""
        counts = np.zeros(n_items, dtype=np.int64)
        for chunk in self._chunks():
            counts += np.bincount(chunk, minlength=n_items)
        counts[0] += len(self) * self.max_len - self._written
        return counts

    def update_digest(self, digest) -> None:
        """Feed the rows to ``digest`` (a :mod:`hashlib` object), read in chunks:
        its offsets, then its indices (what ranks compare under torchrun)."""
        digest.update(np.ascontiguousarray(self.offsets).tobytes())
        for chunk in self._chunks():
            digest.update(chunk.tobytes())

"""Answers built chunk by chunk: stacked into one array, or written to Parquet.

This layer knows numpy only (pyarrow is imported when a file is written).
Each chunk is a 2-D array of one kind of answer for consecutive users:
embeddings, probabilities or top-k items. A file holds one column of
fixed-size lists named after the answer, beside a ``user`` column when the
input carried user ids; it is written to a temporary name and renamed when
complete, so an error or interrupt never leaves half a file.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path

import numpy as np

__all__ = ["check_out", "stack_chunks", "write_parquet_chunks"]


def check_out(out) -> str | None:
    """``out`` as a path string, or None; refuse anything else clearly."""
    if out is None:
        return None
    if not isinstance(out, str | os.PathLike):
        raise TypeError(
            f"out must be None or the path of a Parquet file to write, got "
            f"{type(out).__name__}"
        )
    path = Path(out)
    if path.is_dir():
        raise ValueError(f"out={str(path)!r} is a folder; give a file path")
    if not path.parent.exists():
        raise FileNotFoundError(
            f"out={str(path)!r}: folder {str(path.parent)!r} does not exist"
        )
    try:
        import pyarrow  # noqa: F401
    except ImportError as error:  # pragma: no cover - pyarrow is in the test extra
        raise ImportError(
            "writing out= needs pyarrow: pip install 'sklearn-teracon[parquet]'"
        ) from error
    return str(path)


def stack_chunks(chunks: Iterable[np.ndarray], n_rows: int) -> np.ndarray:
    """The chunks as one ``(n_rows, ...)`` array, filled in place (no 2× peak)."""
    out, start = None, 0
    for chunk in chunks:
        if out is None:
            out = np.empty((n_rows, *chunk.shape[1:]), dtype=chunk.dtype)
        out[start : start + len(chunk)] = chunk
        start += len(chunk)
    return out


def write_parquet_chunks(
    path: str, chunks: Iterable[np.ndarray], column: str, users=None
) -> str:
    """Write the chunks as rows of a ``column`` of fixed-size lists; return ``path``."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    temporary = f"{path}.{os.getpid()}.partial"
    writer, start = None, 0
    try:
        for chunk in chunks:
            flat = pa.array(np.ascontiguousarray(chunk).reshape(-1))
            columns = {column: pa.FixedSizeListArray.from_arrays(flat, chunk.shape[1])}
            if users is not None:
                columns = {
                    "user": pa.array(np.asarray(users[start : start + len(chunk)])),
                    **columns,
                }
            table = pa.table(columns)
            if writer is None:
                writer = pq.ParquetWriter(temporary, table.schema)
            writer.write_table(table)
            start += len(chunk)
        if writer is not None:
            writer.close()
            writer = None
        os.replace(temporary, path)
    except BaseException:
        if writer is not None:
            writer.close()
        if os.path.exists(temporary):
            os.remove(temporary)
        raise
    return path

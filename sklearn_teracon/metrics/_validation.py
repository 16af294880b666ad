"""Checks of the metrics' inputs: score matrices, targets, cut-offs, chunks."""

from __future__ import annotations

import numbers

import numpy as np
from numpy.typing import ArrayLike, NDArray

__all__: list[str] = []

# Upper bound on the number of elements of the (rows x n_candidates) boolean
# temporary that target_ranks builds per chunk: 2**22 booleans = 4 MiB.
_CHUNK_ELEMENTS = 2**22


def _as_array(values: ArrayLike, name: str) -> NDArray:
    """``np.asarray(values)``, with an error that names ``name`` if it is ragged."""
    try:
        return np.asarray(values)
    except ValueError as exc:
        raise ValueError(
            f"{name} must be a rectangular array; its rows have different "
            f"lengths (ragged): {exc}"
        ) from None


def _check_scores(scores: ArrayLike) -> NDArray:
    """Return ``scores`` as a 2-D real array (no copy when already one)."""
    arr = _as_array(scores, "scores")
    if arr.dtype == object:
        try:
            arr = arr.astype(np.float64)
        except (TypeError, ValueError) as exc:
            raise TypeError(
                "scores must be a 2-D array of real numbers; could not convert "
                f"an object array to float: {exc}"
            ) from exc
    if arr.dtype.kind == "b":
        arr = arr.astype(np.float64)
    if arr.dtype.kind not in "iuf":
        raise TypeError(
            f"scores must be a 2-D array of real numbers, got dtype {arr.dtype}."
        )
    if arr.ndim != 2:
        raise ValueError(
            "scores must be a 2-D array of shape (n_samples, n_candidates), got "
            f"an array with {arr.ndim} dimension(s) and shape {arr.shape}."
        )
    if arr.shape[0] == 0:
        raise ValueError("scores is empty: it has 0 rows (n_samples must be >= 1).")
    if arr.shape[1] == 0:
        raise ValueError(
            "scores has 0 columns: there must be at least one candidate to rank."
        )
    return arr


def _check_targets(targets: ArrayLike, n_samples: int, n_candidates: int) -> NDArray:
    """Return ``targets`` as a 1-D int64 array of column indices (or -1)."""
    arr = _as_array(targets, "targets")
    if arr.ndim != 1:
        raise ValueError(
            f"targets must be a 1-D array of column indices, got shape {arr.shape}."
        )
    if arr.shape[0] != n_samples:
        raise ValueError(
            f"scores and targets have inconsistent lengths: scores has {n_samples} "
            f"rows but targets has {arr.shape[0]} entries."
        )
    if arr.dtype.kind == "b" or arr.dtype.kind not in "iuf":
        raise TypeError(
            "targets must hold integer column indices (or -1 for a target that is "
            f"not among the candidates), got dtype {arr.dtype}."
        )
    if arr.dtype.kind == "f":
        # Accept floats only when every value is an exact integer.
        if not np.all(np.isfinite(arr)) or not np.all(arr == np.round(arr)):
            raise TypeError(
                "targets must hold integer column indices (or -1), got "
                "non-integer float values."
            )
    arr = arr.astype(np.int64, copy=False)
    bad = (arr < -1) | (arr >= n_candidates)
    if np.any(bad):
        first = int(np.flatnonzero(bad)[0])
        raise ValueError(
            f"targets out of range: targets[{first}] = {int(arr[first])}, but "
            f"targets must be in [0, {n_candidates - 1}] (the {n_candidates} "
            "score columns) or -1 for a target that is not among the candidates."
        )
    return arr


def _check_k(k: int) -> int:
    if isinstance(k, bool) or not isinstance(k, numbers.Integral):
        raise TypeError(f"k must be an integer >= 1, got {k!r}.")
    if k < 1:
        raise ValueError(f"k must be >= 1, got k={k}.")
    return int(k)


def _check_chunk_size(chunk_size: int | None, n_candidates: int) -> int:
    if chunk_size is None:
        return max(1, _CHUNK_ELEMENTS // n_candidates)
    if isinstance(chunk_size, bool) or not isinstance(chunk_size, numbers.Integral):
        raise TypeError(f"chunk_size must be an integer >= 1, got {chunk_size!r}.")
    if chunk_size < 1:
        raise ValueError(f"chunk_size must be >= 1, got {chunk_size}.")
    return int(chunk_size)


def _raise_if_nan(block: NDArray, row_offset: int) -> None:
    if block.dtype.kind == "f":
        nan_rows = np.isnan(block).any(axis=1)
        if nan_rows.any():
            row = row_offset + int(np.flatnonzero(nan_rows)[0])
            raise ValueError(
                f"scores contain NaN (first in row {row}); NaN scores cannot be "
                "ranked. Check the model output."
            )

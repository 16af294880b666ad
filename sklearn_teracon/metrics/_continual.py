"""Continual-learning quantities of the matrix ``R``: BWT, FWT and forgetting.

``R`` has shape ``(T, T)`` and ``R[i, j]`` is the score on task ``j`` after
training through task ``i`` (0-based); entries above the diagonal (task not
learned yet) are ignored and are usually NaN.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from numpy.typing import ArrayLike, NDArray

__all__ = ["backward_transfer", "forgetting", "forward_transfer"]


def _check_transfer_matrix(R: ArrayLike) -> NDArray[np.float64]:
    try:
        arr = np.asarray(R, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise TypeError(f"R must be a square array of real numbers: {exc}") from exc
    if arr.ndim != 2 or arr.shape[0] != arr.shape[1]:
        raise ValueError(
            f"R must be a square 2-D matrix of shape (T, T), got shape {arr.shape}."
        )
    if arr.shape[0] == 0:
        raise ValueError("R is empty: it must have at least one task (T >= 1).")
    lower = np.tril(np.ones(arr.shape, dtype=bool))
    bad = lower & ~np.isfinite(arr)
    if bad.any():
        i, j = (int(v) for v in np.argwhere(bad)[0])
        raise ValueError(
            "R must be finite on and below the diagonal (R[i, j] with j <= i is the "
            f"score on task j after training through task i); R[{i}, {j}] = "
            f"{arr[i, j]}."
        )
    return arr


def check_single_task_scores(
    scores: ArrayLike,
    n_tasks: int,
    *,
    name: str = "single_task_scores",
    task_names: Sequence[str] | None = None,
) -> NDArray[np.float64]:
    """``scores`` as a float array of shape ``(n_tasks,)``, finite but for entry 0.

    The first task has no earlier task to transfer from, so its single-task
    score is not used and may be NaN. Errors call the argument ``name`` and,
    given ``task_names``, name the tasks whose score is not finite.
    """
    try:
        scores = np.asarray(scores, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise TypeError(f"{name} must be a 1-D array of real numbers: {exc}") from exc
    of = "to match R" if task_names is None else f"for {list(task_names)}"
    if scores.shape != (n_tasks,):
        raise ValueError(
            f"{name} must have shape (T,), one score per task: shape ({n_tasks},) "
            f"{of}, got shape {scores.shape}."
        )
    bad = [j for j in range(1, n_tasks) if not np.isfinite(scores[j])]
    if bad:
        where = (
            ", ".join(f"{name}[{j}] ({scores[j]})" for j in bad)
            if task_names is None
            else str([task_names[j] for j in bad])
        )
        raise ValueError(
            f"{name} must be finite (except the first task's, which is unused); "
            f"not finite for {where}."
        )
    return scores


def backward_transfer(R: ArrayLike) -> float:
    """Backward transfer (BWT): how learning later tasks changed earlier ones.

    ``BWT = mean over j in 0..T-2 of (R[T-1, j] - R[j, j])``. Negative values
    mean forgetting, positive values mean later tasks improved earlier ones.

    Parameters
    ----------
    R : array-like of shape (T, T)
        ``R[i, j]`` is the score on task ``j`` after training through task
        ``i`` (0-based). Must be finite on and below the diagonal; entries above
        it are ignored (usually NaN).

    Returns
    -------
    float
        The backward transfer; NaN when ``T == 1`` (no earlier task).

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_teracon.metrics import backward_transfer
    >>> R = [[0.50, np.nan],
    ...      [0.40, 0.60]]
    >>> round(backward_transfer(R), 6)  # 0.40 - 0.50
    -0.1
    """
    arr = _check_transfer_matrix(R)
    T = arr.shape[0]
    if T == 1:
        return float("nan")
    j = np.arange(T - 1)
    return float(np.mean(arr[T - 1, j] - arr[j, j]))


def forward_transfer(R: ArrayLike, single_task_scores: ArrayLike) -> float:
    """Forward transfer (FWT): how earlier tasks help learning a new one.

    ``FWT = mean over j in 1..T-1 of (R[j, j] - single_task_scores[j])`` where
    ``single_task_scores[j]`` is task ``j``'s score when trained alone from
    scratch (the "SinMo" baseline).

    Parameters
    ----------
    R : array-like of shape (T, T)
        ``R[i, j]`` is the score on task ``j`` after training through task
        ``i`` (0-based). Must be finite on and below the diagonal.
    single_task_scores : array-like of shape (T,)
        Score of each task trained alone. Entry 0 is not used (task 0 has no
        earlier task to profit from) and may be NaN; the others must be finite.

    Returns
    -------
    float
        The forward transfer; NaN when ``T == 1``.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_teracon.metrics import forward_transfer
    >>> R = [[0.50, np.nan],
    ...      [0.40, 0.60]]
    >>> round(forward_transfer(R, [0.50, 0.55]), 6)  # 0.60 - 0.55
    0.05
    """
    arr = _check_transfer_matrix(R)
    T = arr.shape[0]
    single = check_single_task_scores(single_task_scores, T)
    if T == 1:
        return float("nan")
    j = np.arange(1, T)
    return float(np.mean(arr[j, j] - single[j]))


def forgetting(R: ArrayLike) -> float:
    """Average forgetting: drop from each earlier task's best score to its final one.

    ``F = mean over j in 0..T-2 of (max over i in j..T-2 of R[i, j] - R[T-1, j])``.
    Positive values mean forgetting; negative values mean the final model is
    better on the task than it ever was before.

    Parameters
    ----------
    R : array-like of shape (T, T)
        ``R[i, j]`` is the score on task ``j`` after training through task
        ``i`` (0-based). Must be finite on and below the diagonal.

    Returns
    -------
    float
        The average forgetting; NaN when ``T == 1``.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_teracon.metrics import forgetting
    >>> R = [[0.50, np.nan, np.nan],
    ...      [0.55, 0.60, np.nan],
    ...      [0.45, 0.68, 0.70]]
    >>> # task 0: max(0.50, 0.55) - 0.45 = 0.10; task 1: 0.60 - 0.68 = -0.08
    >>> round(forgetting(R), 6)
    0.01
    """
    arr = _check_transfer_matrix(R)
    T = arr.shape[0]
    if T == 1:
        return float("nan")
    # Rows 0..T-2, lower triangle only: entries above the diagonal -> -inf.
    history = np.where(np.tril(np.ones((T, T), dtype=bool)), arr, -np.inf)[: T - 1]
    best = history.max(axis=0)[: T - 1]
    return float(np.mean(best - arr[T - 1, : T - 1]))

"""Figures for continual evaluation: the transfer matrix, the task relations and
the label-scarce learning curve.

matplotlib is an optional dependency (``pip install sklearn-teracon[plotting]``);
it is imported only when a plotting function is called.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np
from numpy.typing import ArrayLike

from ._heatmap import _check_matrix, _check_names, _color_limits, _heatmap
from ._learning_curve import plot_learning_curve

if TYPE_CHECKING:  # pragma: no cover
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

__all__ = ["plot_learning_curve", "plot_task_relations", "plot_transfer_matrix"]


def plot_transfer_matrix(
    R: ArrayLike,
    task_names: Sequence[str],
    *,
    metrics: Sequence[str] | None = None,
    ax: Axes | None = None,
    title: str | None = "Continual transfer matrix",
    cmap: str = "viridis",
    vmin: float | None = None,
    vmax: float | None = None,
) -> Figure:
    """Annotated heatmap of the continual transfer matrix ``R``.

    Row ``i`` is the model after training through task ``i``; column ``j`` is
    its score on task ``j``. Cells that are not finite (tasks not learned yet,
    above the diagonal) are left blank on a grey background. Each other cell
    shows its value with 3 decimals, in black or white depending on the
    background.

    Parameters
    ----------
    R : array-like of shape (T, T)
        ``R[i, j]`` is the score on task ``j`` after training through task ``i``.
    task_names : sequence of str of length T
        Task names, in training order.
    metrics : sequence of str of length T, default=None
        Metric of each task (for example ``"accuracy"`` or ``"mrr@5"``), shown
        under the column labels. If every task uses the same metric it also
        names the colour bar.
    ax : matplotlib Axes, default=None
        Axes to draw on. ``None`` creates a new figure sized for ``T`` tasks.
    title : str or None, default="Continual transfer matrix"
        Axes title; ``None`` for no title.
    cmap : str, default="viridis"
        Name of a matplotlib colour map.
    vmin, vmax : float, default=None
        Colour limits; ``None`` uses the range of the finite entries.

    Returns
    -------
    matplotlib.figure.Figure
        The figure holding the heatmap and its colour bar.

    Raises
    ------
    ValueError
        If ``R`` is not square or its size does not match ``task_names`` or
        ``metrics``.
    ImportError
        If matplotlib is not installed.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_teracon.plotting import plot_transfer_matrix
    >>> R = [[0.50, np.nan],
    ...      [0.48, 0.61]]
    >>> fig = plot_transfer_matrix(R, ["next_item", "age"],
    ...                            metrics=["mrr@5", "accuracy"])
    >>> len(fig.axes[0].texts)  # one annotation per finite cell
    3
    """
    values, names = _check_matrix(R, task_names, "R")
    if metrics is not None:
        metrics = _check_names(metrics, len(names), "metrics", "R")
        col_labels = [f"{name}\n({metric})" for name, metric in zip(names, metrics)]
        cbar_label = (
            f"score ({metrics[0]})" if len(set(metrics)) == 1 else "score (task metric)"
        )
    else:
        col_labels = names
        cbar_label = "score"
    lo, hi = _color_limits(values, vmin, vmax)
    return _heatmap(
        values,
        names,
        col_labels,
        ax=ax,
        title=title,
        cmap=cmap,
        vmin=lo,
        vmax=hi,
        cbar_label=cbar_label,
        xlabel="score on task",
        ylabel="after training task",
    )


def plot_task_relations(
    relations: ArrayLike,
    task_names: Sequence[str],
    *,
    ax: Axes | None = None,
    title: str | None = "Task relations",
    cmap: str = "magma",
    vmin: float | None = None,
    vmax: float | None = None,
) -> Figure:
    """Annotated heatmap of a task-relation matrix.

    Typically the cosine similarity between the tasks' masks
    (``encoder.task_relations_``): symmetric, values in ``[0, 1]``, ones on the
    diagonal.

    Parameters
    ----------
    relations : array-like of shape (T, T)
        Relation between task ``i`` and task ``j``. Non-finite entries are drawn
        blank on grey.
    task_names : sequence of str of length T
        Task names, used on both axes.
    ax : matplotlib Axes, default=None
        Axes to draw on. ``None`` creates a new figure sized for ``T`` tasks.
    title : str or None, default="Task relations"
        Axes title; ``None`` for no title.
    cmap : str, default="magma"
        Name of a matplotlib colour map.
    vmin, vmax : float, default=None
        Colour limits. ``None`` uses ``[0, 1]`` when every finite value lies in
        it, and the range of the values otherwise.

    Returns
    -------
    matplotlib.figure.Figure
        The figure holding the heatmap and its colour bar.

    Raises
    ------
    ValueError
        If ``relations`` is not square or its size does not match
        ``task_names``.
    ImportError
        If matplotlib is not installed.

    Examples
    --------
    >>> from sklearn_teracon.plotting import plot_task_relations
    >>> rel = [[1.0, 0.3],
    ...        [0.3, 1.0]]
    >>> fig = plot_task_relations(rel, ["next_item", "age"])
    >>> len(fig.axes[0].texts)
    4
    """
    values, names = _check_matrix(relations, task_names, "relations")
    finite = values[np.isfinite(values)]
    in_unit = finite.size == 0 or (finite.min() >= 0.0 and finite.max() <= 1.0)
    lo, hi = _color_limits(
        values,
        0.0 if vmin is None and in_unit else vmin,
        1.0 if vmax is None and in_unit else vmax,
    )
    return _heatmap(
        values,
        names,
        names,
        ax=ax,
        title=title,
        cmap=cmap,
        vmin=lo,
        vmax=hi,
        cbar_label="mask cosine similarity",
        xlabel="task",
        ylabel="task",
    )

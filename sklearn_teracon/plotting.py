"""Figures for continual evaluation: the transfer matrix, the task relations and
the label-scarce learning curve.

matplotlib is an optional dependency (``pip install sklearn-teracon[plotting]``);
it is imported only when a plotting function is called.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np
from numpy.typing import ArrayLike, NDArray

if TYPE_CHECKING:  # pragma: no cover
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

__all__ = ["plot_learning_curve", "plot_task_relations", "plot_transfer_matrix"]

_NAN_COLOR = "#d9d9d9"  # light grey for "not learned yet" cells


def _import_pyplot():
    try:
        import matplotlib.pyplot as plt
    except ImportError as exc:
        raise ImportError(
            "sklearn_teracon.plotting requires matplotlib, which is not installed. "
            "Install it with `pip install sklearn-teracon[plotting]` "
            "(or `pip install matplotlib`)."
        ) from exc
    return plt


def _check_square(matrix: ArrayLike, name: str) -> NDArray[np.float64]:
    try:
        arr = np.asarray(matrix, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise TypeError(
            f"{name} must be a square array of real numbers: {exc}"
        ) from exc
    if arr.ndim != 2 or arr.shape[0] != arr.shape[1] or arr.shape[0] == 0:
        raise ValueError(
            f"{name} must be a non-empty square 2-D matrix of shape (T, T), got "
            f"shape {arr.shape}."
        )
    return arr


def _check_names(names: Sequence[str], n: int, what: str, matrix: str) -> list[str]:
    if isinstance(names, str):
        raise TypeError(f"{what} must be a sequence of strings, not a single string.")
    names = [str(name) for name in names]
    if len(names) != n:
        raise ValueError(
            f"{what} has {len(names)} entries but {matrix} is {n} x {n}: give one "
            "per task."
        )
    return names


def _figsize(n_tasks: int) -> tuple[float, float]:
    """Figure size that grows with the number of tasks (cells about 1 inch)."""
    side = 1.0 * n_tasks
    return (max(4.5, side + 2.8), max(3.8, side + 1.8))


def _annotation_fontsize(n_tasks: int) -> float:
    return float(np.clip(13.0 - 0.5 * n_tasks, 6.0, 11.0))


def _text_color(rgba: Sequence[float]) -> str:
    """Black or white, whichever reads better on the background colour."""
    r, g, b = (
        c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4 for c in rgba[:3]
    )
    luminance = 0.2126 * r + 0.7152 * g + 0.0722 * b
    return "black" if luminance > 0.179 else "white"


def _color_limits(
    values: NDArray[np.float64], vmin: float | None, vmax: float | None
) -> tuple[float, float]:
    finite = values[np.isfinite(values)]
    lo = float(finite.min()) if vmin is None and finite.size else vmin
    hi = float(finite.max()) if vmax is None and finite.size else vmax
    lo = 0.0 if lo is None else lo
    hi = 1.0 if hi is None else hi
    if lo == hi:  # constant matrix: give the colour map some room
        lo, hi = lo - 0.5, hi + 0.5
    return lo, hi


def _heatmap(
    values: NDArray[np.float64],
    row_labels: list[str],
    col_labels: list[str],
    *,
    ax: Axes | None,
    title: str | None,
    cmap: str,
    vmin: float,
    vmax: float,
    cbar_label: str,
    xlabel: str,
    ylabel: str,
) -> Figure:
    plt = _import_pyplot()
    import matplotlib as mpl

    n = values.shape[0]
    if ax is None:
        fig, ax = plt.subplots(figsize=_figsize(n), layout="constrained")
    else:
        fig = ax.figure

    colormap = mpl.colormaps.get_cmap(cmap).with_extremes(bad=_NAN_COLOR)
    norm = mpl.colors.Normalize(vmin=vmin, vmax=vmax)
    masked = np.ma.masked_invalid(values)
    image = ax.imshow(masked, cmap=colormap, norm=norm, aspect="equal")

    cbar = fig.colorbar(image, ax=ax, shrink=0.9, pad=0.03)
    cbar.set_label(cbar_label)

    ax.set_xticks(np.arange(n), labels=col_labels)
    ax.set_yticks(np.arange(n), labels=row_labels)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    if title:
        ax.set_title(title, pad=10)

    # Thin white grid between cells.
    ax.set_xticks(np.arange(n + 1) - 0.5, minor=True)
    ax.set_yticks(np.arange(n + 1) - 0.5, minor=True)
    ax.grid(which="minor", color="white", linewidth=1.5)
    ax.tick_params(which="minor", length=0)
    ax.tick_params(which="major", length=0)
    for spine in ax.spines.values():
        spine.set_visible(False)

    fontsize = _annotation_fontsize(n)
    for i in range(n):
        for j in range(n):
            value = values[i, j]
            if not np.isfinite(value):
                continue
            ax.text(
                j,
                i,
                f"{value:.3f}",
                ha="center",
                va="center",
                fontsize=fontsize,
                color=_text_color(colormap(norm(value))),
            )

    if _labels_collide(fig, ax):
        ax.tick_params(axis="x", labelrotation=35)
        for label in ax.get_xticklabels():
            label.set_horizontalalignment("right")
            label.set_rotation_mode("anchor")
    return fig


def _labels_collide(fig: Figure, ax: Axes) -> bool:
    """Whether neighbouring horizontal x tick labels overlap (or nearly touch)."""
    fig.draw_without_rendering()  # lay the figure out so the extents are final
    boxes = [
        label.get_window_extent() for label in ax.get_xticklabels() if label.get_text()
    ]
    gap = 4.0 * fig.dpi / 72.0  # keep at least 4 points between labels
    return any(b.x0 - a.x1 < gap for a, b in zip(boxes, boxes[1:]))


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
    values = _check_square(R, "R")
    n = values.shape[0]
    names = _check_names(task_names, n, "task_names", "R")
    if metrics is not None:
        metrics = _check_names(metrics, n, "metrics", "R")
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
    values = _check_square(relations, "relations")
    n = values.shape[0]
    names = _check_names(task_names, n, "task_names", "relations")
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


def plot_learning_curve(
    report,
    task: str | None = None,
    *,
    ax: Axes | None = None,
    title: str | None = None,
) -> Figure:
    """Test score against the number of labelled users, one line per method.

    Each point is the mean over the report's replicates, with a band of ± one
    standard deviation (none for a single replicate). The x axis is
    logarithmic and places each N at the number of users actually drawn
    (mean over replicates), so "all" sits at the right end, labelled
    ``all (n)``. The encoder's strategies are solid lines, the single-task
    model and the probe dashed, the baselines dotted.

    Parameters
    ----------
    report : LabelScarceReport
        From :class:`~sklearn_teracon.transfer.LabelScarceEvaluator`.
    task : str, default=None
        The task to draw (default: the report's first).
    ax : matplotlib Axes, default=None
        Axes to draw on; ``None`` creates a new figure.
    title : str or None, default=None
        Axes title; default ``"<task>: score by labelled users"``.

    Returns
    -------
    matplotlib.figure.Figure

    Raises
    ------
    ValueError
        If the report has no task ``task`` or no score for it.
    ImportError
        If matplotlib is not installed.

    Examples
    --------
    >>> from sklearn_teracon.plotting import plot_learning_curve
    >>> from sklearn_teracon.transfer import LabelScarceReport
    >>> scores = {("age", n, m, r): s + 0.01 * r
    ...           for n, base in [(10, 0.3), (None, 0.5)]
    ...           for m, s in [("teracon", base), ("popularity", 0.25)]
    ...           for r in (0, 1)}
    >>> report = LabelScarceReport(
    ...     task_names=["age"], metrics=["accuracy"], n_labelled=[10, None],
    ...     methods=["teracon", "popularity"], encoder_method="teracon",
    ...     baselines=["popularity"], replicates=[{"seed": 0}, {"seed": 1}],
    ...     scores=scores)
    >>> fig = plot_learning_curve(report)
    >>> [line.get_label() for line in fig.axes[0].get_lines()]
    ['teracon', 'popularity']
    """
    plt = _import_pyplot()
    names = list(report.task_names)
    task = names[0] if task is None and names else task
    if task not in names:
        raise ValueError(f"the report has no task {task!r}; it has {names}")
    metric = report.metrics[names.index(task)]
    aggregate = report.aggregate()
    if not any(key[0] == task for key in aggregate):
        raise ValueError(f"the report has no score for task {task!r}")
    if ax is None:
        fig, ax = plt.subplots(figsize=(6.4, 4.2), layout="constrained")
    else:
        fig = ax.figure

    def position(n) -> float:
        """Where N sits: the mean number of users drawn (N itself, or twice the
        largest N for "all", when the report does not say)."""
        counts = [
            len(users)
            for (_, name, size), users in report.labelled_users.items()
            if name == task and size == n
        ]
        if counts:
            return float(np.mean(counts))
        finite = [size for size in report.n_labelled if size is not None]
        return float(n) if n is not None else 2.0 * max(finite, default=0.5)

    # An N above the task's training users is the "all" run: drawn once.
    sizes = [
        n
        for n in report.n_labelled
        if n is None or None not in report.n_labelled or position(n) >= n
    ]
    x = np.array([position(n) for n in sizes])
    for method in report.methods:
        stats = [aggregate.get((task, n, method), (np.nan, np.nan, 0)) for n in sizes]
        mean = np.array([s[0] for s in stats])
        if not np.isfinite(mean).any():
            continue
        std = np.nan_to_num(np.array([s[1] for s in stats]))
        style = (
            ":"
            if method in report.baselines
            else "--"
            if method in ("single", "probe")
            else "-"
        )
        (line,) = ax.plot(x, mean, style, marker="o", label=method)
        ax.fill_between(x, mean - std, mean + std, color=line.get_color(), alpha=0.15)
    ax.set_xscale("log")
    ax.set_xticks(
        x,
        labels=[
            f"all ({x[i]:.0f})" if n is None else str(n) for i, n in enumerate(sizes)
        ],
    )
    ax.minorticks_off()
    ax.set_xlabel("labelled training users N (log scale)")
    ax.set_ylabel(f"test {metric}")
    ax.set_title(f"{task}: score by labelled users" if title is None else title)
    ax.grid(alpha=0.3)
    ax.legend(fontsize="small")
    return fig

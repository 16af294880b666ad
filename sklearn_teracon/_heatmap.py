"""The annotated heatmap of a square task-by-task matrix.

:func:`~sklearn_teracon.plotting.plot_transfer_matrix` and
:func:`~sklearn_teracon.plotting.plot_task_relations` check their matrix and
task names and draw it here: one cell per pair of tasks, annotated with its
value in black or white, blank on grey where it is not finite.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np
from numpy.typing import ArrayLike, NDArray

from ._pyplot import import_pyplot

if TYPE_CHECKING:  # pragma: no cover
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

_NAN_COLOR = "#d9d9d9"  # light grey for "not learned yet" cells


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


def _check_matrix(
    matrix: ArrayLike, task_names: Sequence[str], name: str
) -> tuple[NDArray[np.float64], list[str]]:
    """``matrix`` as a square float array and one name per row of it."""
    values = _check_square(matrix, name)
    return values, _check_names(task_names, values.shape[0], "task_names", name)


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
    plt = import_pyplot()
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

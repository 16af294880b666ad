"""The label-scarce learning curve: test score against labelled users.

:func:`~sklearn_teracon.plotting.plot_learning_curve` draws a
:class:`~sklearn_teracon.transfer.LabelScarceReport`; matplotlib is imported
only when it is called.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from ._pyplot import import_pyplot

if TYPE_CHECKING:  # pragma: no cover
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

__all__ = ["plot_learning_curve"]


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
    plt = import_pyplot()
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

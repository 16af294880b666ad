"""The table of strategies compared on one stream, and its renderings.

:class:`StrategyComparison` (public as
``sklearn_teracon.compare.StrategyComparison``) holds the continual report of
each strategy that :func:`~sklearn_teracon.compare.compare_strategies` ran,
and renders them as plain text, Markdown, JSON and a heatmap; over replicates
its cells and the comparison with the best baseline come from
``sklearn_teracon._replicated_compare``.
"""

from __future__ import annotations

import json
import math
import sys
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ._replicated_compare import cell, gap_lines, replicated_dict, title_suffix
from ._replicated_report import ReplicatedReport
from ._report import ContinualReport
from ._report_format import _fmt

__all__ = ["StrategyComparison"]


def _number(value: float):
    """A JSON number, None for NaN."""
    value = float(value)
    return value if math.isfinite(value) else None


@dataclass
class StrategyComparison:
    """The continual reports of several strategies on one stream.

    Parameters
    ----------
    reports : dict of str to ContinualReport or ReplicatedReport
        Per strategy, in the order run; :class:`~sklearn_teracon.evaluation.
        ReplicatedReport` over several seeds or folds.
    n_parameters : dict of str to int
        Per strategy, the numbers of its model that serve some task after the
        last task (weights, masks, scores, adapters, heads; a mask bank that
        the strategy does not use is not counted).
    single_task_scores : ndarray of shape (T,)
        Each task trained alone from scratch (SinMo); FWT compares with them
        (the mean over replicates).
    stream : str, default=""
    total_time : float, default=nan
        Wall-clock seconds of the whole comparison.
    params : dict, default={}
    replicates : list of dict or None, default=None
        Per replicate, ``{"seed", "fold"}``; None for a single run.

    Attributes
    ----------
    strategies : list of str
    task_names : list of str
    final : ndarray of shape (n_strategies, T)
        Each strategy's score on each task at the end of the stream.
    """

    reports: dict[str, ContinualReport]
    n_parameters: dict[str, int]
    single_task_scores: np.ndarray
    stream: str = ""
    total_time: float = float("nan")
    params: dict = field(default_factory=dict)
    replicates: list | None = None

    @property
    def replicated(self) -> bool:
        """Whether the reports are :class:`ReplicatedReport` (cells mean ± std)."""
        return any(isinstance(r, ReplicatedReport) for r in self.reports.values())

    @property
    def strategies(self) -> list[str]:
        return list(self.reports)

    @property
    def task_names(self) -> list[str]:
        return next(iter(self.reports.values())).task_names

    @property
    def metrics(self) -> list[str]:
        return next(iter(self.reports.values())).metrics

    @property
    def final(self) -> np.ndarray:
        return np.stack([report.final for report in self.reports.values()])

    def _header(self) -> list[str]:
        tasks = [f"{n} ({m})" for n, m in zip(self.task_names, self.metrics)]
        return ["strategy", *tasks, "BWT", "FWT", "fit time (s)", "parameters"]

    def _rows(self) -> list[list[str]]:
        rows = []
        for name, report in self.reports.items():
            rows.append(
                [
                    name,
                    *(cell(report, "final", j) for j in range(len(report.final))),
                    cell(report, "bwt", signed=True),
                    cell(report, "fwt", signed=True),
                    f"{float(np.sum(report.fit_times)):.1f}",
                    f"{self.n_parameters[name]:,}",
                ]
            )
        return rows

    def to_text(self) -> str:
        """The table as aligned plain text."""
        table = [self._header(), *self._rows()]
        widths = [max(len(row[c]) for row in table) for c in range(len(table[0]))]

        def fmt(row):
            cells = [row[0].ljust(widths[0])]
            cells += [cell.rjust(w) for cell, w in zip(row[1:], widths[1:])]
            return "  ".join(cells)

        rule = "-" * len(fmt(table[0]))
        title = f"Strategies compared on {self.stream or 'the stream'}: final scores"
        title += title_suffix(self)
        lines = [title, fmt(table[0]), rule, *map(fmt, table[1:]), rule]
        lines.append(
            "BWT: final - after own training (mean over tasks 1..T-1); FWT: after "
            "own training - single task (mean over tasks 2..T)"
        )
        return "\n".join([*lines, *gap_lines(self)])

    def __str__(self) -> str:
        return self.to_text()

    def to_markdown(self) -> str:
        """The table as Markdown."""
        header = self._header()
        lines = [
            "| " + " | ".join(header) + " |",
            "|" + "|".join(["---"] + ["---:"] * (len(header) - 1)) + "|",
        ]
        lines += ["| " + " | ".join(row) + " |" for row in self._rows()]
        return "\n".join([*lines, *gap_lines(self, markdown=True)])

    def to_dict(self) -> dict:
        """Everything measured, JSON-friendly (NaN as None); over replicates,
        also each strategy's std, per-replicate scores and the pooled
        comparison with the best baseline."""
        if self.replicated:
            return replicated_dict(self)
        return {
            "stream": self.stream,
            "task_names": self.task_names,
            "metrics": self.metrics,
            "single_task_scores": [_number(v) for v in self.single_task_scores],
            "total_time": _number(self.total_time),
            "params": self.params,
            "strategies": {
                name: {
                    "final": [_number(v) for v in report.final],
                    "R": [[_number(v) for v in row] for row in report.R],
                    "bwt": _number(report.bwt),
                    "fwt": _number(report.fwt),
                    "fit_times": [_number(v) for v in report.fit_times],
                    "n_parameters": int(self.n_parameters[name]),
                }
                for name, report in self.reports.items()
            },
        }

    def save(self, out, *, figure: bool = True) -> list[str]:
        """Write ``compare.json``, ``compare.md`` and ``compare.png`` into ``out``.

        Returns the names written (no figure without matplotlib or with
        ``figure=False``).
        """
        out = Path(out)
        (out / "compare.json").write_text(
            json.dumps(self.to_dict(), indent=2) + "\n", encoding="utf-8"
        )
        (out / "compare.md").write_text(self.to_markdown() + "\n", encoding="utf-8")
        written = ["compare.json", "compare.md"]
        if not figure:
            return written
        try:
            import matplotlib
        except ImportError:
            return written
        if "matplotlib.pyplot" not in sys.modules:
            matplotlib.use("Agg")  # files only: no window, works without a display
        import matplotlib.pyplot as plt

        fig = self.plot()
        try:
            fig.savefig(out / "compare.png", dpi=150)
        finally:
            plt.close(fig)
        return [*written, "compare.png"]

    def plot(self):
        """A heatmap of the final scores (strategies × tasks); returns the figure.

        Each task's column is coloured relative to its best strategy, since
        tasks have different metrics and scales; cells show the raw scores.
        """
        import matplotlib.pyplot as plt

        final = self.final
        best = np.nanmax(np.where(np.isfinite(final), final, np.nan), axis=0)
        relative = final / np.where(best > 0, best, 1.0)
        n_strategies, n_tasks = final.shape
        fig, ax = plt.subplots(
            figsize=(1.6 + 1.3 * n_tasks, 1.0 + 0.45 * n_strategies),
            layout="constrained",
        )
        image = ax.imshow(relative, cmap="viridis", vmin=0, vmax=1, aspect="auto")
        for i in range(n_strategies):
            for j in range(n_tasks):
                text = _fmt(final[i, j])
                color = "black" if relative[i, j] > 0.6 else "white"
                ax.text(j, i, text, ha="center", va="center", color=color, fontsize=8)
        ax.set_xticks(
            range(n_tasks), [f"{n}\n{m}" for n, m in zip(self.task_names, self.metrics)]
        )
        ax.set_yticks(range(n_strategies), self.strategies)
        ax.set_title(f"Final scores{f' ({self.stream})' if self.stream else ''}")
        fig.colorbar(image, ax=ax, label="score / best score of the task")
        return fig

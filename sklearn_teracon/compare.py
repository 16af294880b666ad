"""Every strategy over the same task stream: the paper's table of systems.

:func:`compare_strategies` runs the continual protocol
(:class:`~sklearn_teracon.evaluation.ContinualEvaluator`) once per strategy on
one stream, with the same encoder parameters, split and seed, and gathers the
reports into a :class:`StrategyComparison`: rows are strategies; columns each
task's final score, backward and forward transfer, training time and model
size. With several ``seeds`` or with ``n_folds`` it repeats that once per
replicate: the cells are mean ± std over the replicates, and each strategy's
final scores are compared with the best baseline, paired over the test users
of every replicate. ``python -m sklearn_teracon compare`` is its command line.
"""

from __future__ import annotations

import json
import math
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from joblib import Parallel, delayed
from sklearn.base import clone

from ._replicated_compare import (
    cell,
    compare_replicates,
    gap_lines,
    replicated_dict,
    title_suffix,
)
from ._replicates import check_replicates, is_replicated, plan_replicates
from .evaluation import ContinualEvaluator, ContinualReport, ReplicatedReport
from .strategies import STRATEGIES

__all__ = ["StrategyComparison", "compare_strategies"]

# The reference of forward transfer: each task trained alone from scratch.
SINGLE = "single"


def _number(value: float):
    """A JSON number, None for NaN."""
    value = float(value)
    return value if math.isfinite(value) else None


def _fmt(value: float, signed: bool = False) -> str:
    if not math.isfinite(value):
        return "n/a"
    return f"{value:+.4f}" if signed else f"{value:.4f}"


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


def _evaluate_strategy(
    encoder, stream, name: str, single_scores, verbose: int, position: str
):
    """``(name, continual report, number of serving parameters, per-row test
    scores)`` of a strategy."""
    if verbose:
        print(f"[strategy {position}] {name}", flush=True)
    evaluator = ContinualEvaluator(
        clone(encoder).set_params(strategy=name, strategy_params=None),
        single_task=single_scores,
        baselines=False,
        verbose=verbose,
    )
    report = evaluator.evaluate(stream)
    if single_scores is None:  # the single-task run itself: FWT is 0
        report.single_task_scores = report.diagonal.copy()
        report.single_task_source = "computed"
    net = evaluator.encoder_.net_
    if verbose:
        print(
            f"    {name}: BWT {_fmt(report.bwt, True)}, FWT "
            f"{_fmt(report.fwt, True)}, {float(np.sum(report.fit_times)):.1f}s",
            flush=True,
        )
    return name, report, net.strategy.n_parameters(net.module_), evaluator.test_rows_


def compare_strategies(
    encoder,
    stream,
    strategies=None,
    *,
    seeds=None,
    n_folds: int | None = None,
    n_jobs: int | None = None,
    on_progress=None,
    verbose: int = 0,
) -> StrategyComparison:
    """Run the continual protocol once per strategy on ``stream``.

    Parameters
    ----------
    encoder : ContinualUserEncoder
        Its parameters serve every strategy (cloned; never modified), except
        ``strategy`` and ``strategy_params``: each strategy runs with its
        defaults.
    stream : TaskStream or iterable of Task
    strategies : list of str or None, default=None
        Names from :data:`~sklearn_teracon.strategies.STRATEGIES`, in the
        table's order (default: all). The single-task models (``"single"``)
        are trained first in any case: forward transfer compares with them.
    seeds : sequence of int or None, default=None
        Several: the comparison is repeated once per seed (every model's
        ``random_state``), the baselines are scored on the same test users,
        and each report is a :class:`~sklearn_teracon.evaluation.
        ReplicatedReport`; one: a single run with that ``random_state``; as
        :class:`~sklearn_teracon.evaluation.ContinualEvaluator`'s ``seeds``.
    n_folds : int or None, default=None
        The replicates are user folds instead, every user tested once (as
        :class:`~sklearn_teracon.evaluation.ContinualEvaluator`'s
        ``n_folds``).
    n_jobs : int or None, default=None
        Strategies run in parallel processes (joblib) after the single-task
        models; ``None`` means 1, ``-1`` all cores. Each worker's torch uses its
        share of the cores. On a GPU several workers keep the device busy,
        since one small model leaves it mostly idle.
    on_progress : callable or None, default=None
        Called with the :class:`StrategyComparison` of the strategies finished
        so far each time one finishes (over replicates: of the replicates
        finished so far, each time one finishes); the command line saves it,
        so that an interrupted comparison keeps its finished rows.
    verbose : int, default=0
        1 prints a line per strategy and per task.

    Returns
    -------
    StrategyComparison

    Examples
    --------
    >>> from sklearn_teracon import ContinualUserEncoder
    >>> from sklearn_teracon.compare import compare_strategies
    >>> from sklearn_teracon.datasets import make_synthetic_stream
    >>> stream = make_synthetic_stream(200, 60, max_len=12, random_state=0)
    >>> stream = stream.select(["next_item", "category"])
    >>> enc = ContinualUserEncoder(embedding_dim=8, n_blocks=1, max_len=12,
    ...                            max_epochs=1, random_state=0)
    >>> table = compare_strategies(enc, stream, ["teracon", "finetune"],
    ...                            seeds=[0, 1])
    >>> table.strategies, table.reports["teracon"].n_replicates
    (['teracon', 'finetune'], 2)
    >>> print(table)  # doctest: +SKIP
    """
    strategies = list(STRATEGIES) if strategies is None else list(strategies)
    unknown = [s for s in strategies if s not in STRATEGIES]
    if unknown or not strategies:
        raise ValueError(
            f"strategies must name some of {sorted(STRATEGIES)}; got {strategies!r}"
        )
    repeated = sorted({s for s in strategies if strategies.count(s) > 1})
    if repeated:
        raise ValueError(f"each strategy may be named once; repeated: {repeated}")
    seeds, n_folds = check_replicates(seeds, n_folds)
    if is_replicated(seeds, n_folds):
        tasks = ContinualEvaluator._check_stream(stream)
        plan = plan_replicates(encoder, stream, tasks, seeds, n_folds)
        return compare_replicates(
            encoder, plan, strategies, n_jobs, on_progress, verbose
        )
    if seeds is not None:
        encoder = clone(encoder).set_params(random_state=seeds[0])
    return _compare_once(encoder, stream, strategies, n_jobs, on_progress, verbose)[0]


def _compare_once(
    encoder, stream, strategies: list[str], n_jobs, on_progress, verbose: int
) -> tuple[StrategyComparison, dict]:
    """One comparison, and each strategy's per-row test scores."""
    start = time.perf_counter()
    rest = [name for name in strategies if name != SINGLE]
    total = len(rest) + 1
    _, single, single_size, single_rows = _evaluate_strategy(
        encoder, stream, SINGLE, None, verbose, f"1/{total}"
    )
    single_scores = single.single_task_scores
    reports, sizes = {SINGLE: single}, {SINGLE: single_size}
    test_rows = {SINGLE: single_rows}

    def comparison() -> StrategyComparison:
        done = [name for name in strategies if name in reports]
        return StrategyComparison(
            reports={name: reports[name] for name in done},
            n_parameters={name: sizes[name] for name in done},
            single_task_scores=single_scores,
            stream=str(getattr(stream, "name", "") or ""),
            total_time=time.perf_counter() - start,
            params={
                k: v
                for k, v in encoder.get_params(deep=False).items()
                if isinstance(v, int | float | str | bool | type(None))
            },
        )

    if on_progress is not None and SINGLE in strategies:
        on_progress(comparison())
    finished = Parallel(n_jobs=n_jobs, return_as="generator_unordered")(
        delayed(_evaluate_strategy)(
            encoder, stream, name, single_scores, verbose, f"{number}/{total}"
        )
        for number, name in enumerate(rest, start=2)
    )
    for name, report, size, rows in finished:
        reports[name], sizes[name], test_rows[name] = report, size, rows
        if on_progress is not None:
            on_progress(comparison())
    return comparison(), test_rows

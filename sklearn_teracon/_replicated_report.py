"""The report of a continual evaluation over several seeds or user folds.

:class:`ReplicatedReport` holds one
:class:`~sklearn_teracon.evaluation.ContinualReport` per replicate and gives
their mean and standard deviation, and each task's final score against its
best baseline with a paired interval that pools the replicates' test rows.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from . import _report_json
from ._paired import pooled_difference
from ._replicated_common import mean_std
from ._replicated_io import (
    SCALARS,
    as_dict,
    frame,
    from_json,
    markdown,
    replicates_text,
)
from ._report import ContinualReport
from ._report_format import (
    _fmt,
    _fmt_gap,
    _summary_text,
    _text_table,
    _verdict_parts,
)

__all__ = ["ReplicatedReport", "replicates_text"]

FINAL = "final"  # the final encoder's per-row scores in ``rows``
_NOTES = {
    "bwt": "final - after own training, mean over tasks 1..T-1",
    "fwt": "after own training - single task, mean over tasks 2..T",
    "forgetting": "best earlier score - final, mean over tasks 1..T-1",
}


@dataclass(eq=False)
class ReplicatedReport:
    """A continual evaluation repeated over seeds or user folds.

    Made by :meth:`ContinualEvaluator.evaluate
    <sklearn_teracon.evaluation.ContinualEvaluator.evaluate>` with several
    ``seeds`` or with ``n_folds``, or read back with :meth:`from_json`. Its
    ``R``, ``final``, ``bwt``, ... are means over the replicates, so it reads
    like a :class:`~sklearn_teracon.evaluation.ContinualReport`;
    :meth:`std` gives the spread and ``reports`` each replicate's report.

    Parameters
    ----------
    reports : list of ContinualReport
        One per replicate, over the same tasks.
    replicates : list of dict
        Per replicate, ``{"seed": int or None, "fold": int or None}``.
    rows : dict, default={}
        ``rows[(task, method, replicate)]``: per-row test scores of the final
        encoder (``method="final"``) and of each baseline. Not written to JSON.
    test_users : dict, default={}
        ``test_users[(task, replicate)]``: the user of each test row.
    vs_best_baseline : list of dict or None, default=None
        Per task, the final score minus the best baseline's (highest mean
        over replicates), pooled over the replicates: ``{"baseline",
        "difference", "low", "high", "n_replicates"}``, or None where no
        baseline applies. None: computed from ``rows`` (:meth:`compare`).
    params : dict, default={}
        The encoder's parameters.
    total_time : float, default=nan
    notes : list of str, default=[]

    Attributes
    ----------
    task_names, metrics, task_kinds, stream, n_tasks
        As the first replicate's report.
    R, diagonal, final, single_task_scores, fit_times, task_relations
        Means over the replicates.
    bwt, fwt, forgetting : float
        Means of the replicates' values.
    baseline_scores : dict of str to ndarray
        Each baseline's mean score per task.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_teracon.evaluation import ContinualReport, ReplicatedReport
    >>> def one(final):
    ...     return ContinualReport(
    ...         task_names=["next_item", "age"], metrics=["mrr@5", "accuracy"],
    ...         R=[[0.10, None], [0.09, final]], single_task_scores=[None, 0.35],
    ...         fit_times=[1.0, 2.0])
    >>> report = ReplicatedReport([one(0.40), one(0.44)],
    ...                           [{"seed": 0}, {"seed": 1}])
    >>> report.mean("final").round(4).tolist(), report.std("final").round(4).tolist()
    ([0.09, 0.42], [0.0, 0.0283])
    >>> round(report.fwt, 4)
    0.07
    >>> print(report)  # doctest: +SKIP
    """

    reports: list
    replicates: list
    rows: dict = field(default_factory=dict)
    test_users: dict = field(default_factory=dict)
    vs_best_baseline: list | None = None
    params: dict = field(default_factory=dict)
    total_time: float = float("nan")
    notes: list = field(default_factory=list)

    def __post_init__(self) -> None:
        self.reports = list(self.reports)
        if not self.reports or not all(
            isinstance(r, ContinualReport) for r in self.reports
        ):
            raise ValueError("reports must be a non-empty list of ContinualReport")
        if len(self.replicates) != len(self.reports):
            raise ValueError(
                f"{len(self.replicates)} replicates for {len(self.reports)} reports; "
                "give one per report"
            )
        self.replicates = [
            {"seed": r.get("seed"), "fold": r.get("fold")} for r in self.replicates
        ]
        first = self.reports[0]
        if any(r.task_names != first.task_names for r in self.reports):
            raise ValueError("every replicate's report must have the same tasks")
        differ = "the replicates' metrics differ; the table shows the first's"
        if differ not in self.notes and any(
            r.metrics != first.metrics for r in self.reports
        ):
            self.notes = [*self.notes, differ]
        self.rows = {k: np.asarray(v, dtype=np.float64) for k, v in self.rows.items()}
        if self.vs_best_baseline is None:
            self.vs_best_baseline = [self.compare(t) for t in first.task_names]
        elif len(self.vs_best_baseline) != first.n_tasks:
            raise ValueError("vs_best_baseline must hold one entry per task")

    # -- like a ContinualReport: the means --------------------------------------
    task_names = property(lambda self: self.reports[0].task_names)
    metrics = property(lambda self: self.reports[0].metrics)
    task_kinds = property(lambda self: self.reports[0].task_kinds)
    stream = property(lambda self: self.reports[0].stream)
    n_tasks = property(lambda self: self.reports[0].n_tasks)
    single_task_source = property(lambda self: self.reports[0].single_task_source)
    n_replicates = property(lambda self: len(self.reports))
    R = property(lambda self: np.mean([r.R for r in self.reports], axis=0))
    task_relations = property(
        lambda self: np.mean([r.task_relations for r in self.reports], axis=0)
    )
    diagonal = property(lambda self: self.mean("after_own_training"))
    final = property(lambda self: self.mean("final"))
    single_task_scores = property(lambda self: self.mean("single_task"))
    fit_times = property(lambda self: self.mean("fit_time"))
    bwt = property(lambda self: float(self.mean("bwt")))
    fwt = property(lambda self: float(self.mean("fwt")))
    forgetting = property(lambda self: float(self.mean("forgetting")))

    @property
    def baselines(self) -> list[str]:
        """The baselines' names, in the first replicate's order."""
        names = [n for r in self.reports for n in r.baseline_scores]
        return list(dict.fromkeys(names))

    @property
    def baseline_scores(self) -> dict[str, np.ndarray]:
        return {name: self.mean(name) for name in self.baselines}

    # -- numbers -----------------------------------------------------------------
    def values(self, quantity: str) -> np.ndarray:
        """Each replicate's value of ``quantity``.

        Parameters
        ----------
        quantity : str
            ``"after_own_training"``, ``"final"``, ``"single_task"``,
            ``"fit_time"`` or a baseline's name (shape ``(n_replicates, T)``),
            or ``"bwt"``, ``"fwt"``, ``"forgetting"`` (``(n_replicates,)``).

        Returns
        -------
        ndarray
        """
        T = self.n_tasks
        by_report = {
            "after_own_training": lambda r: r.diagonal,
            "final": lambda r: r.final,
            "single_task": lambda r: r.single_task_scores,
            "fit_time": lambda r: r.fit_times,
            **{q: (lambda r, q=q: getattr(r, q)) for q in SCALARS},
            **{
                b: (lambda r, b=b: r.baseline_scores.get(b, np.full(T, np.nan)))
                for b in self.baselines
            },
        }
        if quantity not in by_report:
            raise ValueError(
                f"unknown quantity {quantity!r}; choose among {list(by_report)}"
            )
        return np.array([by_report[quantity](r) for r in self.reports], dtype=float)

    def mean(self, quantity: str) -> np.ndarray | float:
        """The mean of :meth:`values` over replicates (NaN where one is NaN)."""
        return np.mean(self.values(quantity), axis=0)

    def std(self, quantity: str) -> np.ndarray | float:
        """The standard deviation (``ddof=1``) of :meth:`values` over
        replicates; NaN with a single replicate."""
        values = self.values(quantity)
        if len(values) < 2:
            return np.full(values.shape[1:], np.nan) if values.ndim > 1 else np.nan
        return np.std(values, axis=0, ddof=1)

    def best_baseline(self, task: str) -> str | None:
        """The baseline with the highest mean score on ``task``, or None."""
        j = self.task_names.index(task)
        means = {b: s[j] for b, s in self.baseline_scores.items() if np.isfinite(s[j])}
        return max(means, key=means.get) if means else None

    def compare(self, task: str, against: str | None = None) -> dict | None:
        """The final score minus ``against``'s on ``task``, paired over users.

        The per-row differences of every replicate are pooled and bootstrapped
        with each row's **user** as its group, as
        :meth:`LabelScarceReport.compare
        <sklearn_teracon.transfer.LabelScarceReport.compare>` does: a test
        user of several seeds is one draw, resampled with all its rows.

        Parameters
        ----------
        task : str
        against : str, default=None
            A baseline's name; default :meth:`best_baseline`.

        Returns
        -------
        dict or None
            ``{"baseline", "difference", "low", "high", "n_replicates"}``;
            None without a baseline or without per-row scores.
        """
        against = against or self.best_baseline(task)
        parts = [
            (
                self.rows[(task, FINAL, r)],
                self.rows[(task, against, r)],
                self.test_users.get(
                    (task, r), np.arange(self.rows[(task, FINAL, r)].size)
                ),
            )
            for r in range(self.n_replicates)
            if (task, FINAL, r) in self.rows and (task, against, r) in self.rows
        ]
        if against is None or not parts:
            return None
        gap = pooled_difference(*(list(p) for p in zip(*parts)))
        return {"baseline": against, **gap._asdict(), "n_replicates": len(parts)}

    def baseline_verdict(self) -> dict[str, list[str]]:
        """Tasks ahead of, within noise of or behind the best baseline, by
        their pooled interval (see :meth:`ContinualReport.baseline_verdict
        <sklearn_teracon.evaluation.ContinualReport.baseline_verdict>`)."""
        return ContinualReport.baseline_verdict(self)  # reads the pooled entries

    def verdict_sentence(self, who: str = "") -> str | None:
        """:meth:`baseline_verdict` in words; None without baselines."""
        if all(gap is None for gap in self.vs_best_baseline):
            return None
        parts = _verdict_parts(
            self.baseline_verdict(),
            ("ahead of it on", "within noise of it on", "behind it on"),
        )
        return (
            f"{who or 'Final score'} against the best baseline (95 % interval over "
            f"the test users, pooled over {self.n_replicates} replicates): "
            + "; ".join(parts)
            + "."
        )

    # -- text --------------------------------------------------------------------
    def _cells(self, quantity: str) -> list[str]:
        return [mean_std(m, s) for m, s in zip(self.mean(quantity), self.std(quantity))]

    def _table(self) -> tuple[list[str], list[list[str]]]:
        gaps = any(gap is not None for gap in self.vs_best_baseline)
        header = ["task", "metric", "after own", "final", "single", *self.baselines]
        header += ["final - best baseline [95% CI]"] if gaps else []
        columns = [self._cells(q) for q in ("after_own_training", "final")]
        columns += [self._cells(q) for q in ("single_task", *self.baselines)]
        rows = [
            [name, metric, *(c[j] for c in columns)]
            + ([_fmt_gap(self.vs_best_baseline[j])] if gaps else [])
            for j, (name, metric) in enumerate(zip(self.task_names, self.metrics))
        ]
        return header, rows

    def _summary(self) -> list[tuple[str, str, str]]:
        fwt_note = _NOTES["fwt"]
        if not np.isfinite(self.fwt):
            fwt_note = "needs single-task scores"
        return [
            (
                q if q == "forgetting" else q.upper(),
                mean_std(self.mean(q), self.std(q), signed=True),
                fwt_note if q == "fwt" else _NOTES[q],
            )
            for q in SCALARS
        ]

    def _title(self) -> str:
        plural = "" if self.n_tasks == 1 else "s"
        title = f"Continual evaluation: {self.n_tasks} task{plural}"
        title += f" of {self.stream!r}" if self.stream else ""
        return f"{title}, {replicates_text(self.replicates)}"

    def to_text(self) -> str:
        """The paper-shaped table with mean ± std over replicates, the pooled
        interval against the best baseline, BWT / FWT / forgetting, and the
        verdict sentence.

        Returns
        -------
        str
        """
        header, rows = self._table()
        left = {0, 1} | ({len(header) - 1} if "[95% CI]" in header[-1] else set())
        header, *rows = _text_table([header, *rows], left)
        rule = "-" * len(header)
        lines = [self._title(), "Scores: mean ± std over the replicates."]
        lines += [header, rule, *rows, rule, *_summary_text(self._summary())]
        sentence = self.verdict_sentence()
        lines += [sentence] if sentence else []
        lines += [f"note: {note}" for note in self.notes]
        return "\n".join(lines)

    def __str__(self) -> str:
        return self.to_text()

    def __repr__(self) -> str:
        return (
            f"ReplicatedReport(tasks={self.task_names}, replicates="
            f"{self.n_replicates}, bwt={_fmt(self.bwt)}, fwt={_fmt(self.fwt)})"
        )

    def to_markdown(self) -> str:
        """The table, the transfer lines, the verdict, each replicate's final
        scores, the mean ``R`` and the parameters in Markdown."""
        return markdown(self)

    def to_frame(self, per_replicate: bool = False):
        """The scores as a pandas DataFrame.

        Parameters
        ----------
        per_replicate : bool, default=False
            False: one row per task, each quantity's mean (the columns of
            :meth:`ContinualReport.to_frame
            <sklearn_teracon.evaluation.ContinualReport.to_frame>`) and its
            ``<column>_std``, then the pooled comparison with the best
            baseline; BWT, FWT and forgetting (and ``_std``) in ``attrs``.
            True: every replicate's :meth:`ContinualReport.to_frame` stacked,
            with ``replicate``, ``seed`` and ``fold`` columns.

        Returns
        -------
        pandas.DataFrame
        """
        return frame(self, per_replicate)

    # -- JSON --------------------------------------------------------------------
    def to_dict(self) -> dict:
        """A JSON-compatible dict (NaN as None); per-row scores are left out."""
        return as_dict(self)

    to_json = _report_json.to_json
    save_json = _report_json.save_json

    @classmethod
    def from_json(cls, text: str) -> ReplicatedReport:
        """Read a report written by :meth:`to_json`.

        Raises
        ------
        ValueError
            If the text is not a replicated report.
        """
        return from_json(cls, text)

    load_json = classmethod(_report_json.load_json)

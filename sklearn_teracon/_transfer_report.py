"""The report of a label-scarce evaluation: scores by task, labels and method.

:class:`LabelScarceReport` holds what
:class:`~sklearn_teracon.transfer.LabelScarceEvaluator` measured: its means,
standard deviations and paired comparisons are here, its text table,
Markdown, JSON and pandas DataFrame in ``sklearn_teracon._transfer_io``.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from . import _report_json
from ._paired import pooled_difference
from ._report_format import _verdict, _verdict_parts
from ._transfer_io import (
    _label,
    _n_key,
    as_dict,
    frame,
    from_json,
    markdown,
    summary_text,
)

__all__ = ["LabelScarceReport"]


@dataclass(eq=False)
class LabelScarceReport:
    """What a label-scarce evaluation measured.

    Usually made by :meth:`LabelScarceEvaluator.evaluate
    <sklearn_teracon.transfer.LabelScarceEvaluator.evaluate>` or read back with
    :meth:`from_json` / :meth:`load_json`. ``N`` is a number of labelled
    training users, None for all of them ("all").

    Parameters
    ----------
    task_names : list of str
        The evaluated (later) tasks, in stream order.
    metrics : list of str
        Each task's metric (``"accuracy"``, ``"mrr@5"``).
    n_labelled : list of int or None
        The values of ``N``, ascending, None ("all") last.
    methods : list of str
        Method names in table order: the encoder's strategy first, then
        other strategies, ``"single"``, ``"probe"`` and the baselines.
    encoder_method : str
        The method compared with the best baseline.
    baselines : list of str
        Which methods are baselines (the best of them is the reference).
    replicates : list of dict
        Per replicate, ``{"seed": int, "fold": int or None}``.
    scores : dict
        ``scores[(task, N, method, replicate)]``: the mean test score.
    rows : dict, default={}
        Same keys: each test row's score (``score_rows``), for paired
        intervals. Not written to JSON (millions of numbers on MovieLens).
    test_users : dict, default={}
        ``test_users[(task, replicate)]``: the user of each test row.
    labelled_users : dict, default={}
        ``labelled_users[(replicate, task, N)]``: the sorted ids of the
        labelled training users every method was trained on.
    vs_best_baseline : dict or None, default=None
        ``vs_best_baseline[(task, N)]``: ``{"baseline", "difference", "low",
        "high"}``, the encoder's score minus the best baseline's (highest mean
        over replicates) with a 95 % bootstrap interval. None: computed from
        ``rows`` by :meth:`compare`.
    fit_times : dict, default={}
        Seconds of training, keyed as ``scores`` (the "all" runs of a strategy
        count their share of the continual run).
    notes : list of str, default=[]
        What the evaluator adjusted (an ``N`` clipped to a task's users, ...).
    stream : str, default=""
    params : dict, default={}
        The encoder's parameters.
    total_time : float, default=nan

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_teracon.transfer import LabelScarceReport
    >>> scores = {("age", 100, m, r): s for m, r, s in [
    ...     ("teracon", 0, 0.40), ("teracon", 1, 0.44),
    ...     ("popularity", 0, 0.30), ("popularity", 1, 0.30)]}
    >>> report = LabelScarceReport(
    ...     task_names=["age"], metrics=["accuracy"], n_labelled=[100],
    ...     methods=["teracon", "popularity"], encoder_method="teracon",
    ...     baselines=["popularity"], replicates=[{"seed": 0}, {"seed": 1}],
    ...     scores=scores)
    >>> mean, std, n = report.aggregate()[("age", 100, "teracon")]
    >>> round(mean, 4), round(std, 4), n
    (0.42, 0.0283, 2)
    """

    task_names: list[str]
    metrics: list[str]
    n_labelled: list
    methods: list[str]
    encoder_method: str
    baselines: list[str]
    replicates: list[dict]
    scores: dict
    rows: dict = field(default_factory=dict)
    test_users: dict = field(default_factory=dict)
    labelled_users: dict = field(default_factory=dict)
    vs_best_baseline: dict | None = None
    fit_times: dict = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    stream: str = ""
    params: dict = field(default_factory=dict)
    total_time: float = float("nan")

    def __post_init__(self) -> None:
        self.task_names = [str(t) for t in self.task_names]
        self.metrics = [str(m) for m in self.metrics]
        if len(self.metrics) != len(self.task_names):
            raise ValueError(
                f"metrics has {len(self.metrics)} entries for "
                f"{len(self.task_names)} tasks; give one per task."
            )
        self.n_labelled = [_n_key(n) for n in self.n_labelled]
        self.replicates = [
            {"seed": r.get("seed"), "fold": r.get("fold")} for r in self.replicates
        ]
        self.scores = {
            (t, _n_key(n), m, int(r)): float(v)
            for (t, n, m, r), v in self.scores.items()
        }
        self.rows = {k: np.asarray(v, dtype=np.float64) for k, v in self.rows.items()}
        self.labelled_users = {
            k: np.asarray(v, dtype=np.int64) for k, v in self.labelled_users.items()
        }
        unknown = {m for _, _, m, _ in self.scores} - set(self.methods)
        if unknown:
            raise ValueError(f"scores name methods not in methods: {sorted(unknown)}")
        if self.vs_best_baseline is None:
            self.vs_best_baseline = {}
            for task in self.task_names:
                for n in self.n_labelled:
                    gap = self.compare(task, n)
                    if gap is not None:
                        self.vs_best_baseline[(task, n)] = gap

    @classmethod
    def combine(cls, reports) -> LabelScarceReport:
        """One report of the replicates of several (e.g. seeds run in separate
        processes), its means, stds and intervals over all of them.

        The reports must share tasks, metrics, N, methods and baselines, and
        hold disjoint replicates; replicate ``r`` of the second follows the
        first's. Intervals are recomputed from the per-row scores (a report
        read from JSON has none: its cells get no interval).

        Raises
        ------
        ValueError
            If the reports differ in what they measured or share a replicate.
        """
        reports = list(reports)
        if not reports:
            raise ValueError("combine needs at least one report")
        first, same = reports[0], ("task_names", "metrics", "n_labelled")
        same += ("methods", "encoder_method", "baselines")
        for other in reports[1:]:
            differ = [a for a in same if getattr(other, a) != getattr(first, a)]
            if differ:
                raise ValueError(f"the reports differ in {', '.join(differ)}")
        replicates = [info for rep in reports for info in rep.replicates]
        if len({tuple(i.items()) for i in replicates}) < len(replicates):
            raise ValueError("the reports share a replicate (seed and fold)")
        parts: dict = {"scores": {}, "rows": {}, "fit_times": {}}
        parts.update(test_users={}, labelled_users={})
        offset = 0
        for rep in reports:
            for name in ("scores", "rows", "fit_times"):
                for (t, n, m, r), v in getattr(rep, name).items():
                    parts[name][(t, n, m, r + offset)] = v
            for (t, r), users in rep.test_users.items():
                parts["test_users"][(t, r + offset)] = users
            for (r, t, n), users in rep.labelled_users.items():
                parts["labelled_users"][(r + offset, t, n)] = users
            offset += rep.n_replicates
        return cls(
            **{a: getattr(first, a) for a in same},
            replicates=replicates,
            **parts,
            notes=list(dict.fromkeys(x for rep in reports for x in rep.notes)),
            stream=first.stream,
            params=first.params,
            total_time=float(sum(rep.total_time for rep in reports)),
        )

    # -- numbers -----------------------------------------------------------------
    @property
    def n_replicates(self) -> int:
        return len(self.replicates)

    def aggregate(self) -> dict[tuple, tuple[float, float, int]]:
        """Mean, standard deviation (``ddof=1``; NaN for one replicate) and
        number of replicates of each ``(task, N, method)`` score.

        Returns
        -------
        dict
            ``{(task, N, method): (mean, std, n_replicates)}``.
        """
        grouped: dict[tuple, list[float]] = {}
        for (task, n, method, _), value in self.scores.items():
            grouped.setdefault((task, n, method), []).append(value)
        out = {}
        for key, values in grouped.items():
            std = float(np.std(values, ddof=1)) if len(values) > 1 else float("nan")
            out[key] = (float(np.mean(values)), std, len(values))
        return out

    def best_baseline(self, task: str, n_labelled: int | None) -> str | None:
        """The baseline with the highest mean score at ``(task, N)``, or None."""
        means = {
            m: mean
            for (t, n, m), (mean, _, _) in self.aggregate().items()
            if t == task and n == n_labelled and m in self.baselines
        }
        return max(means, key=means.get) if means else None

    def compare(
        self,
        task: str,
        n_labelled: int | None,
        method: str | None = None,
        against: str | None = None,
    ) -> dict | None:
        """``method`` minus ``against`` at ``(task, N)``, paired over test users.

        The per-row differences of every replicate that scored both methods
        are concatenated and :func:`~sklearn_teracon.metrics.paired_difference`
        bootstraps them with each row's **user** as its group: with seeds, a
        test user appears once per replicate, and a user who is hard for one
        model is hard in every replicate, so the user's rows are resampled
        together (grouping by (replicate, user) would count one user as
        several independent draws and narrow the interval). With folds every
        user is tested once, so the two groupings agree. The variation
        between replicates is the ``std`` of :meth:`aggregate`.

        Parameters
        ----------
        task : str
        n_labelled : int or None
        method : str, default=None
            Default: ``encoder_method``.
        against : str, default=None
            Default: :meth:`best_baseline`.

        Returns
        -------
        dict or None
            ``{"baseline": against, "difference", "low", "high",
            "n_replicates"}``; None when no replicate has both methods' rows.
        """
        method = method or self.encoder_method
        against = against or self.best_baseline(task, n_labelled)
        if against is None:
            return None
        a_rows, b_rows, groups = [], [], []
        for r in range(self.n_replicates):
            a = self.rows.get((task, n_labelled, method, r))
            b = self.rows.get((task, n_labelled, against, r))
            if a is None or b is None:
                continue
            a_rows.append(a)
            b_rows.append(b)
            groups.append(self.test_users.get((task, r), np.arange(a.size)))
        if not a_rows:
            return None
        gap = pooled_difference(a_rows, b_rows, groups)
        return {"baseline": against, **gap._asdict(), "n_replicates": len(a_rows)}

    def verdict(self) -> dict[str, list[str]]:
        """The ``task@N`` cells whose encoder-minus-best-baseline interval lies
        above 0 (``"ahead"``), holds 0 (``"within_noise"``) or lies below 0
        (``"behind"``)."""
        return _verdict(
            (f"{task}@{_label(n)}", gap)
            for (task, n), gap in self.vs_best_baseline.items()
        )

    def _verdict_sentence(self) -> str | None:
        if not self.vs_best_baseline:
            return None
        parts = _verdict_parts(self.verdict())
        return (
            f"{self.encoder_method} against the best baseline (95 % interval over "
            f"the test users, pooled over replicates): " + "; ".join(parts) + "."
        )

    # -- text --------------------------------------------------------------------
    def summary(self) -> str:
        """The table as plain text: one row per (task, N), the mean ± std over
        replicates of each method, the encoder minus the best baseline with its
        paired 95 % interval, and the verdict sentence."""
        return summary_text(self)

    def to_text(self) -> str:
        """Same as :meth:`summary`."""
        return self.summary()

    def __str__(self) -> str:
        return self.summary()

    def __repr__(self) -> str:
        return (
            f"LabelScarceReport(tasks={self.task_names}, n_labelled="
            f"{[_label(n) for n in self.n_labelled]}, methods={self.methods}, "
            f"replicates={self.n_replicates})"
        )

    def to_markdown(self) -> str:
        """The table, the verdict, the labelled users and the notes in Markdown."""
        return markdown(self)

    def to_frame(self):
        """The scores in long format as a pandas DataFrame.

        One row per (task, N, method, replicate): ``task``, ``metric``,
        ``n_labelled`` (None for all, as pandas' nullable ``Int64``),
        ``labels`` (``"100"``, ``"all"``), ``n_users`` (labelled users
        actually drawn), ``method``, ``replicate``, ``seed``, ``fold``,
        ``score`` and ``fit_time``.

        Returns
        -------
        pandas.DataFrame
        """
        return frame(self)

    # -- JSON --------------------------------------------------------------------
    def to_dict(self) -> dict:
        """A JSON-compatible dict (NaN is None); per-row scores are left out."""
        return as_dict(self)

    to_json = _report_json.to_json
    save_json = _report_json.save_json

    @classmethod
    def from_json(cls, text: str) -> LabelScarceReport:
        """Read a report written by :meth:`to_json`.

        Raises
        ------
        ValueError
            If the text is not a label-scarce report.
        """
        return from_json(cls, text)

    load_json = classmethod(_report_json.load_json)

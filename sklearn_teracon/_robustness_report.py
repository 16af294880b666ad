"""The tables of the robustness studies: another task order, a noisy task.

:class:`OrderComparison` sets the strategy comparison of the given task order
beside that of another order (reversed, or the mean over random orders);
:class:`NoiseComparison` sets the comparison without a task of random labels
beside the one with it, and shows how the noise task's masks relate to the
other tasks'. Both are made by :mod:`sklearn_teracon.robustness`; their
per-order and per-stream tables are plain
:class:`~sklearn_teracon.compare.StrategyComparison` objects.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ._comparison import StrategyComparison
from ._report_format import _fmt, _markdown_table, _text_table

__all__ = ["NoiseComparison", "OrderComparison", "change_percent"]


def change_percent(base, other) -> np.ndarray:
    """``100 * (other - base) / base``, NaN where ``base`` is 0 or NaN."""
    base, other = np.asarray(base, dtype=float), np.asarray(other, dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        change = 100.0 * (other - base) / base
    return np.where(np.isfinite(change), change, np.nan)


def _final(comparison: StrategyComparison, strategy: str, names: list[str]):
    """The strategy's final score on each of ``names`` (means over replicates)."""
    report = comparison.reports[strategy]
    by_name = dict(zip(report.task_names, report.final))
    return np.array([by_name[name] for name in names], dtype=float)


def _pct(value: float) -> str:
    return "n/a" if not np.isfinite(value) else f"{value:+.1f}%"


def _mean_worst(values: np.ndarray) -> tuple[float, float]:
    """The mean and the lowest of the finite ``values`` (NaN if none)."""
    finite = values[np.isfinite(values)]
    if not finite.size:
        return np.nan, np.nan
    return float(np.mean(finite)), float(np.min(finite))


def _number(value):
    value = float(value)
    return value if math.isfinite(value) else None


def _tables(sections, markdown: bool) -> str:
    """``(title, header, rows, n_left)`` sections as text or Markdown."""
    lines = []
    for title, header, rows, n_left in sections:
        if markdown:
            lines += [f"**{title}**", "", *_markdown_table(header, rows, n_left), ""]
        else:
            table = _text_table([header, *rows], set(range(n_left)))
            rule = "-" * max(len(line) for line in table)
            lines += [title, table[0], rule, *table[1:], rule, ""]
    return "\n".join(lines).rstrip()


def _save(out, stem: str, to_dict, to_markdown, parts) -> list[str]:
    """``stem``.json, ``stem``.md and each part's compare files in a subfolder."""
    out = Path(out)
    (out / f"{stem}.json").write_text(
        json.dumps(to_dict(), indent=2) + "\n", encoding="utf-8"
    )
    (out / f"{stem}.md").write_text(to_markdown() + "\n", encoding="utf-8")
    written = [f"{stem}.json", f"{stem}.md"]
    for folder, comparison in parts:
        (out / folder).mkdir(exist_ok=True)
        written += [
            f"{folder}/{name}" for name in comparison.save(out / folder, figure=False)
        ]
    return written


@dataclass
class OrderComparison:
    """The strategies' final scores in the given task order and in another.

    Parameters
    ----------
    given : StrategyComparison
        The comparison in the stream's order.
    others : list of StrategyComparison
        One per other order (one for ``"reversed"``, K for ``"random:K"``).
    orders : list of list of str
        The other orders' task names, one list per comparison of ``others``.
    order : str
        The order specification, e.g. ``"reversed"``.

    Attributes
    ----------
    other_final : ndarray of shape (n_strategies, T)
        Each strategy's final score per task (in the given order's columns),
        the mean over ``others``.
    change : ndarray of shape (n_strategies, T)
        ``other_final`` against ``given.final``, in %.
    """

    given: StrategyComparison
    others: list
    orders: list
    order: str

    @property
    def strategies(self) -> list[str]:
        return self.given.strategies

    @property
    def task_names(self) -> list[str]:
        return self.given.task_names

    @property
    def other_final(self) -> np.ndarray:
        return np.array(
            [
                np.mean([_final(c, s, self.task_names) for c in self.others], axis=0)
                for s in self.strategies
            ]
        )

    @property
    def change(self) -> np.ndarray:
        return change_percent(self.given.final, self.other_final)

    def _label(self) -> str:
        k = len(self.others)
        return self.order if k == 1 else f"{self.order} (mean of {k})"

    def _sections(self) -> list[tuple]:
        label, given, other, change = (
            self._label(),
            self.given.final,
            self.other_final,
            self.change,
        )
        rows = [
            [s, t, m, _fmt(given[i, j]), _fmt(other[i, j]), _pct(change[i, j])]
            for i, s in enumerate(self.strategies)
            for j, (t, m) in enumerate(zip(self.task_names, self.given.metrics))
        ]
        header = ["strategy", "task", "metric", "given", label, "change"]
        summary = []
        for i, s in enumerate(self.strategies):
            bwt = [c.reports[s].bwt for c in self.others]
            fwt = [c.reports[s].fwt for c in self.others]
            summary.append(
                [
                    s,
                    _fmt(self.given.reports[s].bwt, True),
                    _fmt(float(np.mean(bwt)), True),
                    _fmt(self.given.reports[s].fwt, True),
                    _fmt(float(np.mean(fwt)), True),
                    *map(_pct, _mean_worst(change[i])),
                ]
            )
        summary_header = [
            "strategy",
            "BWT given",
            f"BWT {self.order}",
            "FWT given",
            f"FWT {self.order}",
            "mean change",
            "worst change",
        ]
        orders = "; ".join(", ".join(o) for o in self.orders)
        return [
            (
                f"Final scores in the given order and {label} ({orders})",
                header,
                rows,
                3,
            ),
            (
                "Per strategy: transfer and change over the tasks",
                summary_header,
                summary,
                1,
            ),
        ]

    def to_text(self) -> str:
        """Each other order's comparison, then the change tables, as text."""
        parts = [c.to_text() for c in self.others]
        return "\n\n".join([*parts, _tables(self._sections(), markdown=False)])

    def __str__(self) -> str:
        return self.to_text()

    def to_markdown(self) -> str:
        """The change tables as Markdown."""
        return _tables(self._sections(), markdown=True)

    def to_dict(self) -> dict:
        """Everything, JSON-friendly: each comparison and the changes in %."""
        return {
            "order": self.order,
            "orders": [list(o) for o in self.orders],
            "change_percent": {
                s: dict(zip(self.task_names, map(_number, self.change[i])))
                for i, s in enumerate(self.strategies)
            },
            "given": self.given.to_dict(),
            "others": [c.to_dict() for c in self.others],
        }

    def save(self, out) -> list[str]:
        """Write ``order.json``, ``order.md`` and each order's compare files
        (``given/``, ``reversed/`` or ``random-1/`` ...) into ``out``."""
        names = (
            [self.order]
            if len(self.others) == 1
            else [f"random-{k + 1}" for k in range(len(self.others))]
        )
        parts = [("given", self.given), *zip(names, self.others)]
        return _save(out, "order", self.to_dict, self.to_markdown, parts)


@dataclass
class NoiseComparison:
    """The strategies' final scores without and with a task of random labels.

    Parameters
    ----------
    clean : StrategyComparison
        The comparison on the stream without the noise task.
    noisy : StrategyComparison
        The same stream with the noise task inserted.
    noise : str
        The noise task's name.
    position : int
        How many tasks come before it.

    Attributes
    ----------
    change : ndarray of shape (n_strategies, T)
        Each strategy's final score on each task of ``clean`` with the noise
        task against without it, in %.
    """

    clean: StrategyComparison
    noisy: StrategyComparison
    noise: str
    position: int

    @property
    def strategies(self) -> list[str]:
        return self.clean.strategies

    @property
    def task_names(self) -> list[str]:
        return self.clean.task_names

    @property
    def noisy_final(self) -> np.ndarray:
        return np.array(
            [_final(self.noisy, s, self.task_names) for s in self.strategies]
        )

    @property
    def change(self) -> np.ndarray:
        return change_percent(self.clean.final, self.noisy_final)

    def noise_relations(self, strategy: str) -> tuple[np.ndarray, float]:
        """The noise task's row of the strategy's ``task_relations_`` (over
        the other tasks, in ``task_names`` order) and the mean relation
        between the other tasks (off the diagonal; NaN if any is NaN)."""
        report = self.noisy.reports[strategy]
        names = report.task_names
        relations = np.asarray(report.task_relations, dtype=float)
        k = names.index(self.noise)
        others = [names.index(t) for t in self.task_names]
        row = relations[k, others]
        block = relations[np.ix_(others, others)]
        off = block[~np.eye(len(others), dtype=bool)]
        mean = float(np.mean(off)) if off.size and np.all(np.isfinite(off)) else np.nan
        return row, mean

    def _sections(self) -> list[tuple]:
        clean, noisy, change = self.clean.final, self.noisy_final, self.change
        rows = [
            [s, t, m, _fmt(clean[i, j]), _fmt(noisy[i, j]), _pct(change[i, j])]
            for i, s in enumerate(self.strategies)
            for j, (t, m) in enumerate(zip(self.task_names, self.clean.metrics))
        ]
        header = ["strategy", "task", "metric", "without noise", "with noise", "change"]
        summary = [
            [
                s,
                *map(_pct, _mean_worst(change[i])),
                _fmt(self.clean.reports[s].bwt, True),
                _fmt(self.noisy.reports[s].bwt, True),
            ]
            for i, s in enumerate(self.strategies)
        ]
        summary_header = [
            "strategy",
            "mean change",
            "worst change",
            "BWT without",
            "BWT with",
        ]
        relations = []
        for s in self.strategies:
            row, mean = self.noise_relations(s)
            relations.append([s, *(_fmt(v) for v in row), _fmt(mean)])
        relations_header = ["strategy", *self.task_names, "others' mean"]
        where = f"after {self.position} task{'s' if self.position != 1 else ''}"
        return [
            (
                f"Final scores without and with the noise task {self.noise!r} "
                f"({where})",
                header,
                rows,
                3,
            ),
            ("Per strategy: change over the tasks", summary_header, summary, 1),
            (
                f"Task relations of {self.noise!r} with each task and between the "
                "other tasks (task_relations_; a constant for strategies without "
                "task masks)",
                relations_header,
                relations,
                1,
            ),
        ]

    def to_text(self) -> str:
        """The comparison with the noise task, then the three tables, as text."""
        return "\n\n".join(
            [self.noisy.to_text(), _tables(self._sections(), markdown=False)]
        )

    def __str__(self) -> str:
        return self.to_text()

    def to_markdown(self) -> str:
        """The three tables as Markdown."""
        return _tables(self._sections(), markdown=True)

    def to_dict(self) -> dict:
        """Everything, JSON-friendly: both comparisons, the changes in % and
        the noise task's relations."""
        relations = {}
        for s in self.strategies:
            row, mean = self.noise_relations(s)
            relations[s] = {
                "with": dict(zip(self.task_names, map(_number, row))),
                "others_mean": _number(mean),
            }
        return {
            "noise": self.noise,
            "position": int(self.position),
            "change_percent": {
                s: dict(zip(self.task_names, map(_number, self.change[i])))
                for i, s in enumerate(self.strategies)
            },
            "noise_relations": relations,
            "clean": self.clean.to_dict(),
            "noisy": self.noisy.to_dict(),
        }

    def save(self, out) -> list[str]:
        """Write ``noise.json``, ``noise.md`` and both comparisons' files
        (``without-noise/``, ``with-noise/``) into ``out``."""
        parts = [("without-noise", self.clean), ("with-noise", self.noisy)]
        return _save(out, "noise", self.to_dict, self.to_markdown, parts)

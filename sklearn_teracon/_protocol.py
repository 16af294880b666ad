"""What every evaluation protocol shares: argument checks and the interruption.

:class:`~sklearn_teracon.evaluation.ContinualEvaluator`,
:class:`~sklearn_teracon.transfer.LabelScarceEvaluator` and
:func:`~sklearn_teracon.compare.compare_strategies` check their stream and
their list arguments here, and stop on Ctrl-C with
:class:`EvaluationInterrupted` (public as
``sklearn_teracon.evaluation.EvaluationInterrupted``); the order studies
(``order=``) reorder the stream and seed its random orders here. This module
imports none of them.
"""

from __future__ import annotations

import numbers
from collections.abc import Iterable
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # pragma: no cover
    from ._replicated_report import ReplicatedReport
    from ._report import ContinualReport

__all__ = [
    "EvaluationInterrupted",
    "check_stream",
    "int_like",
    "order_seed",
    "reorder_stream",
    "sequence",
    "unique",
]


class EvaluationInterrupted(KeyboardInterrupt):
    """A :class:`KeyboardInterrupt` (Ctrl-C) during :meth:`ContinualEvaluator.evaluate`.

    It is a ``KeyboardInterrupt``, so code that does not know it stops as
    before; code that does can keep what was finished.

    Attributes
    ----------
    report : ContinualReport, ReplicatedReport, LabelScarceReport or None
        The report over the tasks whose training and scoring had finished
        (without single-task scores unless they were given); None when no
        task had. Over replicates, a :class:`ReplicatedReport` of those
        finished (during the first, its partial report). From
        :class:`~sklearn_teracon.transfer.LabelScarceEvaluator`,
        a :class:`~sklearn_teracon.transfer.LabelScarceReport` of the scores
        finished so far.
    """

    # Public in sklearn_teracon.evaluation: tracebacks, pickles and the API
    # documentation name it there.
    __module__ = "sklearn_teracon.evaluation"

    def __init__(self, report: ContinualReport | ReplicatedReport | None):
        super().__init__("evaluation interrupted")
        self.report = report


def int_like(value) -> bool:
    """Whether ``value`` is an int (numpy's too), not a bool."""
    return isinstance(value, numbers.Integral) and not isinstance(value, bool)


def sequence(name: str, value, empty: bool = False) -> list:
    """``value`` as a list: a TypeError if it is not a list-like, a ValueError
    if it is empty (unless ``empty``)."""
    if isinstance(value, str | bytes) or not isinstance(value, Iterable):
        raise TypeError(f"{name} must be a list, got {value!r}")
    if not (empty or list(value)):
        raise ValueError(f"{name} must not be empty")
    return list(value)


def unique(name: str, values: list) -> None:
    """A ValueError naming the values that ``values`` repeats."""
    repeated = sorted({str(v) for v in values if values.count(v) > 1})
    if repeated:
        raise ValueError(f"{name} must not repeat a value; repeated: {repeated}")


def check_stream(stream) -> list:
    """The tasks of ``stream``: a non-empty iterable of Task objects (with
    ``name``, ``train`` and ``test``) of distinct names."""
    if isinstance(stream, str | bytes) or not isinstance(stream, Iterable):
        raise TypeError(
            "stream must be a TaskStream (or an iterable of Task objects), got "
            f"{type(stream).__name__}"
        )
    tasks = list(stream)
    if not tasks:
        raise ValueError("stream has no task: nothing to evaluate")
    for task in tasks:
        missing = [a for a in ("name", "train", "test") if not hasattr(task, a)]
        if missing:
            raise TypeError(
                "stream must hold Task objects with name, train and test; got "
                f"{type(task).__name__} without {', '.join(missing)}"
            )
    names = [task.name for task in tasks]
    repeated = sorted({n for n in names if names.count(n) > 1})
    if repeated:
        raise ValueError(f"task names must be unique; repeated: {repeated}")
    return tasks


def order_seed(encoder, seeds: list[int] | None) -> int:
    """The seed of random task orders: the first of ``seeds``, else the
    encoder's int ``random_state``, else 0 (as user folds are drawn)."""
    if seeds:
        return int(seeds[0])
    own = encoder.get_params(deep=False).get("random_state")
    return int(own) if int_like(own) else 0


def reorder_stream(stream, tasks: list, order: list[str]):
    """``stream``'s tasks in ``order`` (task names): a TaskStream stays one
    (its name and info kept), any other iterable becomes a list of tasks."""
    if hasattr(stream, "reorder"):
        return stream.reorder(order)
    by_name = {task.name: task for task in tasks}
    return [by_name[name] for name in order]

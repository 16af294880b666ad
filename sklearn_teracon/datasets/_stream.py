"""Task streams: the ordered tasks a continual user encoder learns from.

A :class:`TaskStream` is the ordered sequence of :class:`Task` objects that arrive
over time. Like its tasks, it is a plain container of Python lists and NumPy arrays,
so this module needs numpy only.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from functools import cached_property
from numbers import Integral
from typing import Any

import numpy as np

from ._split import fold_tasks, noise_task
from ._task import SPLITS, Task

__all__ = ["TaskStream"]

_TABLE_HEADER = ("task", "kind", "metric", "classes", "train", "val", "test")


class TaskStream:
    """An ordered, immutable sequence of tasks over the same users and items.

    Iterate over it to feed an encoder task after task; index it by task name or
    position. :meth:`reorder`, :meth:`select` and :meth:`with_noise_task` return new
    streams.

    Parameters
    ----------
    tasks : iterable of Task
        The tasks in arrival order; names must be unique.
    name : str, default=""
        A label for the stream, shown in its table.
    info : dict, default=None
        Anything that describes how the stream was made (source, parameters, split
        sizes, planted structure); copied.

    Attributes
    ----------
    tasks : tuple of Task
    names : list of str
    n_items : int
        Number of distinct item ids over all sequences of all tasks.
    relations : dict
        Planted relations between tasks (``info["relations"]``; empty if unknown).
    latent_factors : dict or None
        Per split, the true latent factors of the users, row-aligned with the
        tasks of :func:`make_synthetic_stream` (``info["latent_factors"]``; None for
        other streams).

    Examples
    --------
    >>> from sklearn_teracon.datasets import make_synthetic_stream
    >>> stream = make_synthetic_stream(n_users=200, random_state=0)
    >>> stream.names
    ['next_item', 'category', 'related', 'conflict', 'noise']
    >>> stream["category"].metric
    'accuracy'
    >>> stream.select(["category", "noise"]).names
    ['category', 'noise']
    >>> for task in stream:  # doctest: +SKIP
    ...     enc.partial_fit(*task.train, task=task.name)
    """

    def __init__(
        self,
        tasks: Iterable[Task],
        *,
        name: str = "",
        info: dict[str, Any] | None = None,
    ) -> None:
        tasks = tuple(tasks)
        if not tasks:
            raise ValueError("A TaskStream needs at least one task.")
        for task in tasks:
            if not isinstance(task, Task):
                raise TypeError(f"TaskStream takes Task objects, got {type(task)}.")
        names = [task.name for task in tasks]
        duplicated = sorted({n for n in names if names.count(n) > 1})
        if duplicated:
            raise ValueError(f"Task names must be unique; repeated: {duplicated}.")
        self._tasks = tasks
        self._name = str(name)
        self._info = dict(info or {})

    @property
    def tasks(self) -> tuple[Task, ...]:
        return self._tasks

    @property
    def names(self) -> list[str]:
        return [task.name for task in self._tasks]

    @property
    def name(self) -> str:
        return self._name

    @property
    def info(self) -> dict[str, Any]:
        return self._info

    @property
    def relations(self) -> dict:
        return self._info.get("relations", {})

    @property
    def latent_factors(self) -> dict[str, np.ndarray] | None:
        return self._info.get("latent_factors")

    @cached_property
    def n_items(self) -> int:
        # Rows of one user usually share one list object: visit each list once.
        sequences = {}
        for task in self._tasks:
            for split in SPLITS:
                for seq in getattr(task, split)[0]:
                    sequences[id(seq)] = seq
        if not sequences:
            return 0
        flat = np.fromiter(
            (item for seq in sequences.values() for item in seq), dtype=np.int64
        )
        return int(np.unique(flat).size)

    def __len__(self) -> int:
        return len(self._tasks)

    def __iter__(self) -> Iterator[Task]:
        return iter(self._tasks)

    def __contains__(self, name: object) -> bool:
        return name in self.names

    def __getitem__(self, key: str | int) -> Task:
        return self._tasks[self._position(key)]

    def _position(self, key: str | int) -> int:
        if isinstance(key, str):
            names = self.names
            if key not in names:
                raise KeyError(f"Unknown task {key!r}; this stream has {names}.")
            return names.index(key)
        if isinstance(key, Integral) and not isinstance(key, bool):
            if not -len(self) <= key < len(self):
                raise IndexError(
                    f"Task index {key} out of range for {len(self)} tasks {self.names}."
                )
            return int(key) % len(self)
        raise TypeError(f"Index a TaskStream by task name or int, got {key!r}.")

    def _positions(self, keys: str | Sequence[str | int]) -> tuple[list, list[int]]:
        """The keys as a list (a lone name is one key) and their positions."""
        keys = [keys] if isinstance(keys, str) else list(keys)
        return keys, [self._position(key) for key in keys]

    def _derive(self, tasks: Iterable[Task], **info: Any) -> TaskStream:
        return TaskStream(tasks, name=self._name, info={**self._info, **info})

    def select(self, names: Sequence[str | int]) -> TaskStream:
        """Keep only some tasks, in the order given.

        Parameters
        ----------
        names : sequence of str or int
            Task names (or positions), each at most once.

        Returns
        -------
        TaskStream

        Examples
        --------
        >>> from sklearn_teracon.datasets import make_synthetic_stream
        >>> stream = make_synthetic_stream(n_users=200)
        >>> stream.select(["noise", "next_item"]).names
        ['noise', 'next_item']
        """
        names, positions = self._positions(names)
        if len(set(positions)) != len(positions):
            raise ValueError(f"Each task can be selected once, got {list(names)}.")
        return self._derive(self._tasks[p] for p in positions)

    def reorder(self, order: Sequence[str | int]) -> TaskStream:
        """Return the same tasks in another order.

        Parameters
        ----------
        order : sequence of str or int
            Every task name (or position) exactly once.

        Returns
        -------
        TaskStream

        Examples
        --------
        >>> from sklearn_teracon.datasets import make_synthetic_stream
        >>> stream = make_synthetic_stream(n_users=200)
        >>> stream.reorder(["noise", "conflict", "related", "category",
        ...                 "next_item"]).names[:2]
        ['noise', 'conflict']
        """
        order, positions = self._positions(order)
        if sorted(positions) != list(range(len(self))):
            raise ValueError(
                f"reorder needs every task exactly once: got {list(order)}, "
                f"tasks are {self.names}. Use select() to keep only some."
            )
        return self._derive(self._tasks[p] for p in positions)

    def with_noise_task(
        self,
        fraction: float = 0.5,
        n_classes: int = 50,
        random_state: int | np.random.RandomState | None = 0,
        *,
        name: str = "noise",
        position: int | None = None,
    ) -> TaskStream:
        """Append (or insert) a task of random labels, for robustness studies.

        A ``fraction`` of the users of each split (drawn at random) get one row
        each: their history (taken from the first task in which they appear) and a
        label drawn uniformly from ``0 .. n_classes - 1``, independent of
        everything else.

        Parameters
        ----------
        fraction : float, default=0.5
            Share of each split's users that get a noisy row, in (0, 1].
        n_classes : int, default=50
            Number of possible random labels (at least 2).
        random_state : int, RandomState instance or None, default=0
            Seeds which users are picked and their labels.
        name : str, default="noise"
            Name of the new task.
        position : int or None, default=None
            How many of this stream's tasks come before the noise task, from 0
            (it comes first) to ``len(self)``; None puts it last. The other
            tasks, their data and their order do not change.

        Returns
        -------
        TaskStream
            This stream with the noise task at ``position`` (by default last).

        Examples
        --------
        >>> from sklearn_teracon.datasets import make_synthetic_stream
        >>> stream = make_synthetic_stream(n_users=200).select(["next_item"])
        >>> noisy = stream.with_noise_task(fraction=0.5, n_classes=10)
        >>> noisy.names
        ['next_item', 'noise']
        >>> noisy["noise"].n_rows["train"] == len(stream["next_item"].train[0]) // 2
        True
        >>> stream.with_noise_task(position=0).names
        ['noise', 'next_item']
        """
        if position is not None and (
            isinstance(position, bool)
            or not isinstance(position, Integral)
            or not 0 <= position <= len(self)
        ):
            raise ValueError(
                f"position must be an int from 0 to {len(self)} (the number of "
                f"tasks before the noise task) or None, got {position!r}."
            )
        noise = noise_task(
            self._tasks,
            fraction=fraction,
            n_classes=n_classes,
            random_state=random_state,
            name=name,
        )
        at = len(self) if position is None else int(position)
        return self._derive((*self._tasks[:at], noise, *self._tasks[at:]))

    def user_folds(
        self,
        n_folds: int,
        random_state: int | np.random.RandomState | None = 0,
    ) -> Iterator[TaskStream]:
        """User-disjoint k-fold cross-validation over the users of the stream.

        Every user of any task and split (train, validation or test) goes into
        exactly one of ``n_folds`` folds of near-equal size. Fold ``f``'s
        stream has the same tasks in the same order, its test split holding
        the rows of fold ``f``'s users and its training split those of all
        other folds' users, so over the folds every user is a test user
        exactly once, and a test user is never trained on in any task. The
        validation splits are empty: the stream's validation users join the
        pool (the encoder holds out its own validation users from its
        training split). Each task's ``classes`` are those of its new
        training split.

        Parameters
        ----------
        n_folds : int
            Number of folds, at least 2 and at most the number of users.
        random_state : int, RandomState instance or None, default=0
            Seeds the assignment of users to folds.

        Yields
        ------
        TaskStream
            One stream per fold, ``info["fold"]`` its index and
            ``info["n_folds"]`` the number of folds.

        Examples
        --------
        >>> from sklearn_teracon.datasets import make_synthetic_stream
        >>> stream = make_synthetic_stream(n_users=200, random_state=0)
        >>> folds = list(stream.user_folds(4))
        >>> [len(fold["category"].test[0]) for fold in folds]
        [50, 50, 50, 50]
        >>> folds[0]["category"].n_rows["validation"]
        0
        """
        for f, tasks in enumerate(fold_tasks(self._tasks, n_folds, random_state)):
            # Per-split latent factors are row-aligned with the old splits.
            yield self._derive(tasks, fold=f, n_folds=int(n_folds), latent_factors=None)

    def _table_rows(self) -> list[list[str]]:
        rows = []
        for task in self._tasks:
            n = task.n_rows
            classes = "-" if task.classes is None else str(len(task.classes))
            rows.append(
                [
                    task.name,
                    task.kind,
                    task.metric,
                    classes,
                    str(n["train"]),
                    str(n["validation"]),
                    str(n["test"]),
                ]
            )
        return rows

    def __str__(self) -> str:
        rows = [list(_TABLE_HEADER), *self._table_rows()]
        widths = [max(len(row[c]) for row in rows) for c in range(len(_TABLE_HEADER))]

        def fmt(row):
            cells = [
                cell.ljust(w) if c < 3 else cell.rjust(w)
                for c, (cell, w) in enumerate(zip(row, widths))
            ]
            return "  ".join(cells).rstrip()

        title = f"TaskStream {self._name!r}" if self._name else "TaskStream"
        rule = "-" * len(fmt(rows[0]))
        lines = [f"{title}: {len(self)} tasks, {self.n_items} items", fmt(rows[0])]
        lines += [rule, *(fmt(row) for row in rows[1:])]
        return "\n".join(lines)

    def __repr__(self) -> str:
        return f"TaskStream(name={self._name!r}, tasks={self.names})"

    def to_markdown(self) -> str:
        """The stream's table (task, kind, metric, classes, rows) in Markdown.

        Returns
        -------
        str

        Examples
        --------
        >>> from sklearn_teracon.datasets import make_synthetic_stream
        >>> print(make_synthetic_stream(n_users=200).to_markdown().splitlines()[0])
        | task | kind | metric | classes | train | val | test |
        """
        lines = [
            "| " + " | ".join(_TABLE_HEADER) + " |",
            "|" + "|".join(["---"] * 3 + ["---:"] * 4) + "|",
        ]
        lines += ["| " + " | ".join(row) + " |" for row in self._table_rows()]
        return "\n".join(lines)

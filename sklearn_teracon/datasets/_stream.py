"""Tasks and task streams: the data a continual user encoder learns from.

A :class:`Task` holds one task's user-disjoint train / validation / test splits; a
:class:`TaskStream` is the ordered sequence of tasks that arrive over time. Both are
plain containers of Python lists and NumPy arrays, so this module needs numpy only.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from functools import cached_property
from numbers import Integral
from typing import Any

import numpy as np
from sklearn.utils import check_random_state

__all__ = ["Task", "TaskStream"]

TASK_KINDS = ("next_item", "item", "profile")
SPLITS = ("train", "validation", "test")
# Above this many classes accuracy says little, so the task is ranked instead (§6).
_MAX_ACCURACY_CLASSES = 20
_TABLE_HEADER = ("task", "kind", "metric", "classes", "train", "val", "test")


@dataclass(frozen=True, eq=False, repr=False)
class Task:
    """One task of a continual stream, split user-disjointly.

    Parameters
    ----------
    name : str
        Task name, the ``task=`` argument of the encoder.
    kind : {"next_item", "item", "profile"}
        ``"next_item"``: self-supervised next-item prediction on ``X`` itself (``y``
        is None). ``"item"``: the labels are item ids (many classes, ranked).
        ``"profile"``: a user attribute such as age or gender.
    train, validation, test : tuple
        ``(X, y)``: ``X`` is a list of lists of int item ids (ragged, chronological,
        oldest first) and ``y`` a 1-D array with one label per row, or None for
        ``"next_item"``. Rows of one user may share one list object: treat ``X`` as
        read-only.
    users : dict
        ``{"train": ..., "validation": ..., "test": ...}``: 1-D int arrays, the user
        id of each row of that split.
    classes : ndarray or None
        Sorted unique labels seen in train (None for ``"next_item"``).
    description : str, default=""
        What the task asks, in words.

    Attributes
    ----------
    metric : str
        ``"accuracy"`` for tasks with 1 to 20 classes, else ``"mrr@5"``.

    Notes
    -----
    Tasks compare and hash by identity: their fields hold arrays and lists.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_teracon.datasets import Task
    >>> split = ([[1, 2], [3]], np.array(["F", "M"]))
    >>> users = {"train": np.array([7, 8]), "validation": np.array([7, 8]),
    ...          "test": np.array([7, 8])}
    >>> task = Task("gender", "profile", split, split, split, users,
    ...             classes=np.array(["F", "M"]))
    >>> task.metric
    'accuracy'
    """

    name: str
    kind: str
    train: tuple
    validation: tuple
    test: tuple
    users: dict
    classes: np.ndarray | None
    description: str = ""

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or not self.name:
            raise ValueError(f"A task name must be a non-empty str, got {self.name!r}.")
        if self.kind not in TASK_KINDS:
            raise ValueError(
                f"Task {self.name!r}: kind must be one of {TASK_KINDS}, "
                f"got {self.kind!r}."
            )
        if (self.classes is None) != (self.kind == "next_item"):
            raise ValueError(
                f"Task {self.name!r}: classes must be None exactly when kind is "
                "'next_item'."
            )
        if set(self.users) != set(SPLITS):
            raise ValueError(
                f"Task {self.name!r}: users must have the keys {SPLITS}, "
                f"got {sorted(self.users)}."
            )
        for split in SPLITS:
            pair = getattr(self, split)
            if not isinstance(pair, tuple) or len(pair) != 2:
                raise ValueError(f"Task {self.name!r}: {split} must be a tuple (X, y).")
            X, y = pair
            if (y is None) != (self.kind == "next_item"):
                raise ValueError(
                    f"Task {self.name!r}: {split} y must be None exactly when kind "
                    "is 'next_item'."
                )
            if y is not None and len(y) != len(X):
                raise ValueError(
                    f"Task {self.name!r}: {split} has {len(X)} rows in X but "
                    f"{len(y)} labels."
                )
            if len(self.users[split]) != len(X):
                raise ValueError(
                    f"Task {self.name!r}: {split} has {len(X)} rows but "
                    f"{len(self.users[split])} user ids."
                )

    @property
    def metric(self) -> str:
        """The task's default metric: accuracy for few classes, else MRR@5."""
        if self.classes is not None and 0 < len(self.classes) <= _MAX_ACCURACY_CLASSES:
            return "accuracy"
        return "mrr@5"

    @property
    def n_rows(self) -> dict[str, int]:
        """Number of rows in each split."""
        return {split: len(getattr(self, split)[0]) for split in SPLITS}

    def __repr__(self) -> str:
        n_classes = "-" if self.classes is None else len(self.classes)
        return (
            f"Task(name={self.name!r}, kind={self.kind!r}, metric={self.metric!r}, "
            f"classes={n_classes}, rows={self.n_rows})"
        )


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
        if isinstance(names, str):
            names = [names]
        positions = [self._position(key) for key in names]
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
        if isinstance(order, str):
            order = [order]
        positions = [self._position(key) for key in order]
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
    ) -> TaskStream:
        """Append a task of random labels, for robustness studies.

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

        Returns
        -------
        TaskStream
            This stream followed by the noise task.

        Examples
        --------
        >>> from sklearn_teracon.datasets import make_synthetic_stream
        >>> stream = make_synthetic_stream(n_users=200).select(["next_item"])
        >>> noisy = stream.with_noise_task(fraction=0.5, n_classes=10)
        >>> noisy.names
        ['next_item', 'noise']
        >>> noisy["noise"].n_rows["train"] == len(stream["next_item"].train[0]) // 2
        True
        """
        if not 0 < fraction <= 1:
            raise ValueError(f"fraction must lie in (0, 1], got {fraction!r}.")
        if not isinstance(n_classes, Integral) or n_classes < 2:
            raise ValueError(f"n_classes must be an int >= 2, got {n_classes!r}.")
        if name in self.names:
            raise ValueError(
                f"The stream already has a task named {name!r}; pass another name."
            )
        rng = check_random_state(random_state)
        histories = {split: {} for split in SPLITS}
        for task in self._tasks:
            for split in SPLITS:
                seen = histories[split]
                for user, seq in zip(
                    task.users[split].tolist(), getattr(task, split)[0]
                ):
                    seen.setdefault(user, seq)
        parts, users = {}, {}
        for split in SPLITS:
            pool = np.array(sorted(histories[split]), dtype=np.int64)
            n_pick = int(math.floor(fraction * pool.size + 0.5))
            picked = np.sort(rng.choice(pool, size=n_pick, replace=False))
            labels = rng.randint(0, n_classes, size=n_pick)
            parts[split] = ([histories[split][u] for u in picked.tolist()], labels)
            users[split] = picked
        noise = Task(
            name=name,
            kind="profile",
            train=parts["train"],
            validation=parts["validation"],
            test=parts["test"],
            users=users,
            classes=np.unique(parts["train"][1]),
            description=(
                f"Random labels in 0..{n_classes - 1} for {fraction:.0%} of the users "
                "of each split, independent of everything (robustness check)."
            ),
        )
        return self._derive((*self._tasks, noise))

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
        everyone: dict[str, list] = {}
        for task in self._tasks:
            X = [seq for split in SPLITS for seq in getattr(task, split)[0]]
            y = None
            if task.kind != "next_item":
                y = np.concatenate([np.asarray(getattr(task, s)[1]) for s in SPLITS])
            users = np.concatenate([task.users[s] for s in SPLITS]).astype(np.int64)
            everyone[task.name] = [users, X, y]
        pool = np.unique(np.concatenate([u for u, _, _ in everyone.values()]))
        if (
            isinstance(n_folds, bool)
            or not isinstance(n_folds, Integral)
            or not 2 <= n_folds <= pool.size
        ):
            raise ValueError(
                f"n_folds must be an int from 2 to the number of users "
                f"({pool.size}), got {n_folds!r}."
            )
        shuffled = check_random_state(random_state).permutation(pool)
        folds = np.array_split(shuffled, int(n_folds))
        empty = np.zeros(0, dtype=np.int64)
        for f, test in enumerate(folds):
            rest = np.concatenate([fold for g, fold in enumerate(folds) if g != f])
            splits = {
                "train": np.sort(rest),
                "validation": empty,
                "test": np.sort(test),
            }
            tasks = []
            for task in self._tasks:
                users, X, y = everyone[task.name]
                order = np.argsort(users, kind="stable")  # rows grouped by user
                tasks.append(
                    make_task(
                        task.name,
                        task.kind,
                        row_users=users[order],
                        X=[X[r] for r in order.tolist()],
                        y=None if y is None else y[order],
                        splits=splits,
                        description=task.description,
                    )
                )
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


def split_users(
    users: np.ndarray,
    *,
    test_size: float,
    validation_size: float,
    random_state: int | np.random.RandomState | None,
) -> dict[str, np.ndarray]:
    """Split user ids into disjoint, sorted train / validation / test sets.

    Test and validation sizes are rounded up, as in scikit-learn's
    ``train_test_split``; train keeps the rest and must not be empty.
    """
    for label, size, low in (
        ("test_size", test_size, 0.0),
        ("validation_size", validation_size, 0.0),
    ):
        if not isinstance(size, float | Integral) or not low <= size < 1:
            raise ValueError(f"{label} must be a float in [0, 1), got {size!r}.")
    if test_size + validation_size >= 1:
        raise ValueError(
            f"test_size + validation_size must be < 1, got {test_size} + "
            f"{validation_size}."
        )
    users = np.unique(np.asarray(users, dtype=np.int64))
    n_test = math.ceil(test_size * users.size)
    n_val = math.ceil(validation_size * users.size)
    if users.size - n_test - n_val < 1:
        raise ValueError(
            f"{users.size} users are too few for test_size={test_size} and "
            f"validation_size={validation_size}: no training user is left."
        )
    shuffled = check_random_state(random_state).permutation(users)
    return {
        "test": np.sort(shuffled[:n_test]),
        "validation": np.sort(shuffled[n_test : n_test + n_val]),
        "train": np.sort(shuffled[n_test + n_val :]),
    }


def make_task(
    name: str,
    kind: str,
    *,
    row_users: np.ndarray,
    X: list[list[int]],
    y: np.ndarray | None,
    splits: dict[str, np.ndarray],
    description: str = "",
) -> Task:
    """Cut rows (in their given order) into the splits that own their users."""
    row_users = np.asarray(row_users, dtype=np.int64)
    parts, users = {}, {}
    for split in SPLITS:
        rows = np.flatnonzero(np.isin(row_users, splits[split]))
        parts[split] = (
            [X[r] for r in rows.tolist()],
            None if y is None else np.asarray(y)[rows],
        )
        users[split] = row_users[rows]
    classes = None if y is None else np.unique(parts["train"][1])
    return Task(
        name=name,
        kind=kind,
        train=parts["train"],
        validation=parts["validation"],
        test=parts["test"],
        users=users,
        classes=classes,
        description=description,
    )

"""One task of a continual stream: its user-disjoint train / validation / test splits.

A :class:`Task` is a plain container of Python lists and NumPy arrays, so this
module needs numpy only.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..metrics import default_metric

__all__ = ["Task"]

TASK_KINDS = ("next_item", "item", "profile")
SPLITS = ("train", "validation", "test")


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
        if self.classes is None or len(self.classes) == 0:
            return "mrr@5"
        return default_metric(len(self.classes))

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

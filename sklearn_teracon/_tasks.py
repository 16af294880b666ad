"""Tasks as the encoder knows them: names, records, and the checks of a task's data.

The task views (``model_selection``) share the names, tags and checks here
with the encoder; nothing here imports either.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ._labels import check_classes, check_labels
from ._sequences import check_sequences
from .nn import LABELS, NEXT_ITEM


def sequence_input_tags(tags):
    """Tags of an estimator of item sequences (shared with the task views).

    Items may be any hashable ids (strings too), never NaN; ``y`` may be None
    (the self-supervised next-item task); a fixed ``random_state`` gives a
    fixed model.
    """
    tags.input_tags.string = True
    tags.input_tags.categorical = True
    tags.input_tags.allow_nan = False
    tags.target_tags.required = False
    tags.non_deterministic = False
    return tags


class TaskName(str):
    """A task name that scikit-learn's metadata routing passes on whole.

    Cross-validation tools slice every metadata value whose length equals the
    number of samples, so ``task="age"`` with 3 samples would arrive as
    ``['a', 'g']``. A ``TaskName`` has no length as far as they can tell.

    Examples
    --------
    >>> from sklearn.utils.validation import _is_arraylike
    >>> from sklearn_teracon import TaskName
    >>> _is_arraylike(TaskName("age"))
    False
    """

    @property
    def __len__(self):
        raise AttributeError("a task name is one value, not one value per sample")

    def __reduce__(self):
        return TaskName, (str(self),)


def _check_task(task) -> str | None:
    if task is None:
        return None
    if isinstance(task, str):
        task = str.__str__(task)  # a plain str, also from a TaskName
        if task:
            return task
    elif _is_sliced_string(task):
        raise ValueError(
            f"task arrived sliced into characters ({list(task)!r}): scikit-learn "
            "slices metadata whose length equals the number of samples. Pass "
            "task=TaskName(...) (from sklearn_teracon), or use enc.task_estimator()"
        )
    raise TypeError(f"task must be a non-empty string, got {task!r}")


def _is_sliced_string(task) -> bool:
    try:
        return (
            all(isinstance(ch, str) and len(ch) == 1 for ch in task) and len(task) > 0
        )
    except TypeError:
        return False


@dataclass
class TaskRecord:
    """What the encoder knows about one learned task.

    Attributes
    ----------
    name : str
    kind : {"next_item", "labels"}
        ``next_item``: self-supervised on the sequences; ``labels``: one class
        label per sequence (profiles, or item ids for item recommendation).
    index : int
        Position in arrival order; the task's masks and head.
    classes_ : ndarray or None
        The labels of a ``labels`` task; None for next-item tasks, whose
        classes are the items (see ``ContinualUserEncoder.classes_of``).
    metric : str
        ``"accuracy"`` for at most 20 classes, ``"mrr@5"`` otherwise.
    n_samples_seen : int
    fit_time : float
        Seconds spent training this task, summed over calls.
    n_fits : int
    """

    name: str
    kind: str
    index: int
    classes_: np.ndarray | None
    metric: str
    n_samples_seen: int = 0
    fit_time: float = 0.0
    n_fits: int = 0


def _check_task_data(
    n_sequences: int,
    longest: int,
    y,
    classes,
    name: str,
    record: TaskRecord | None,
    *,
    default_name: bool = False,
):
    """Validate a task's labels against its kind; return its classes and targets.

    ``n_sequences`` users were given, the longest of ``longest`` items.
    Targets are class indices for a labelled task; None for a next-item task,
    whose targets are the sequences themselves. ``default_name``: the caller
    gave no ``task``, so ``name`` is the default one (errors say how to name
    a new task).
    """
    kind = NEXT_ITEM if y is None else LABELS
    if record is not None and record.kind != kind:
        problem = "it was given labels y" if y is not None else "it needs labels y"
        raise ValueError(
            f"task {name!r} is a {record.kind!r} task and cannot continue as a "
            f"{kind!r} task: {problem}"
        )
    if kind == LABELS:
        y = check_labels(y, n_sequences)
        task_classes = _task_classes(y, classes, record, name, default_name)
        return task_classes, np.searchsorted(task_classes, y)
    if classes is not None:
        raise ValueError(f"classes is only for labelled tasks; {name!r} has none")
    if longest < 2:
        raise ValueError(
            "the next-item task needs sequences with at least 2 items; every "
            "sequence given has only 1"
        )
    return None, None


def _check_next_items(y, n_samples: int) -> np.ndarray:
    """The next item of each of ``n_samples`` sequences, given to ``score``."""
    items = None if isinstance(y, str | bytes) else np.asarray(y, dtype=object)
    if items is None or items.ndim != 1 or len(items) != n_samples:
        shape = "a string" if items is None else f"shape {items.shape}"
        raise ValueError(
            f"y must hold one next item per sequence ({n_samples}); got {shape}"
        )
    check_sequences([items.tolist()], name="y")  # every entry an item id
    return items


def _log_prior(targets, n_outputs: int) -> np.ndarray | None:
    """Smoothed log frequency of each class of a labelled task (None otherwise).

    Measured on MovieLens-100K: it lifts the five-star head from below item
    popularity (MRR@5 0.0125) to above it (0.0186). Next-item heads start
    unbiased: a popularity prior there lowered next-item MRR@5.
    """
    if targets is None:
        return None
    counts = np.bincount(targets, minlength=n_outputs).astype(np.float64) + 1.0
    return np.log(counts / counts.sum())


def _task_classes(
    y, classes, record: TaskRecord | None, name: str, default_name: bool = False
) -> np.ndarray:
    try:
        seen = np.unique(y)
    except TypeError as exc:
        raise TypeError(
            f"labels of task {name!r} must be of one sortable type"
        ) from exc
    if classes is not None:
        classes = check_classes(classes)
    if record is not None:
        known = record.classes_
        if classes is not None and not np.array_equal(classes, known):
            raise ValueError(
                f"classes of task {name!r} were fixed on its first call as {known!r}"
            )
    elif classes is not None:
        known = classes
    else:
        return seen
    unknown = np.setdiff1d(seen, known)
    if len(unknown):
        new_task = (
            f"; without task=, partial_fit continues the last labelled task "
            f"({name!r}): pass task='<new name>' to learn a new task"
            if default_name and record is not None
            else ""
        )
        raise ValueError(
            f"y contains labels not among the classes of task {name!r}: "
            f"{unknown[:10].tolist()}; pass every label with classes= on the "
            f"task's first call{new_task}"
        )
    return known

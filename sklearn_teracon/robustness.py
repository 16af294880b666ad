"""Robustness studies of the paper: another task order, and a noisy task.

:func:`compare_orders` runs :func:`~sklearn_teracon.compare.compare_strategies`
in the stream's order and in another (the first task kept first, the rest
reversed or randomly permuted) and returns an :class:`OrderComparison`: per
strategy and task the final score in each order and the change in %, with
BWT and FWT per order. :func:`compare_noise` runs it without and with a task
of random labels inserted (:meth:`TaskStream.with_noise_task
<sklearn_teracon.datasets.TaskStream.with_noise_task>`) and returns a
:class:`NoiseComparison`: per strategy and task the final score with and
without the noise task, the change in %, and the noise task's row of
``task_relations_``. ``python -m sklearn_teracon compare --order reversed``
and ``--noise-task POSITION`` are their command line.
"""

from __future__ import annotations

from ._protocol import check_stream, int_like, order_seed
from ._robustness_report import NoiseComparison, OrderComparison
from .compare import compare_strategies
from .datasets import TaskStream
from .datasets._reorder import parse_order, task_orders

__all__ = ["NoiseComparison", "OrderComparison", "compare_noise", "compare_orders"]


def compare_orders(
    encoder,
    stream,
    strategies=None,
    *,
    order: str = "reversed",
    given=None,
    **compare_params,
) -> OrderComparison:
    """Compare the strategies in the given task order and in another.

    Parameters
    ----------
    encoder : ContinualUserEncoder
        As :func:`~sklearn_teracon.compare.compare_strategies`'s.
    stream : TaskStream or iterable of Task
        The tasks in the given order.
    strategies : list of str or None, default=None
        As :func:`~sklearn_teracon.compare.compare_strategies`'s.
    order : {"reversed", "random:K"}, default="reversed"
        The other order: the first task kept first and the others reversed,
        or K seeded random permutations of them (the scores of the other
        order are then the mean over the K).
    given : StrategyComparison or None, default=None
        The comparison in the given order, when it was already run with the
        same encoder, stream and strategies; None runs it.
    **compare_params
        ``seeds``, ``n_folds``, ``n_jobs``, ``on_progress``, ``verbose``:
        passed to :func:`~sklearn_teracon.compare.compare_strategies`.

    Returns
    -------
    OrderComparison

    Examples
    --------
    >>> from sklearn_teracon import ContinualUserEncoder
    >>> from sklearn_teracon.datasets import make_synthetic_stream
    >>> from sklearn_teracon.robustness import compare_orders
    >>> stream = make_synthetic_stream(200, 60, max_len=12, random_state=0)
    >>> stream = stream.select(["next_item", "category", "related"])
    >>> enc = ContinualUserEncoder(embedding_dim=8, n_blocks=1, max_len=12,
    ...                            max_epochs=1, random_state=0)
    >>> study = compare_orders(enc, stream, ["teracon"])
    >>> study.orders
    [['next_item', 'related', 'category']]
    >>> study.change.shape
    (1, 3)
    >>> print(study)  # doctest: +SKIP
    """
    kind, _ = parse_order(order)
    if kind == "given":
        raise ValueError(
            'order must be "reversed" or "random:K": the given order is the '
            "reference it is compared with"
        )
    tasks = check_stream(stream)
    if given is None:
        given = compare_strategies(encoder, stream, strategies, **compare_params)
    others = compare_strategies(
        encoder, stream, strategies, order=order, **compare_params
    )
    others = others if isinstance(others, list) else [others]
    orders = [c.task_names for c in others]
    expected = task_orders(
        [t.name for t in tasks], order, _seed(encoder, compare_params)
    )
    if orders != expected:  # a given comparison over another stream
        raise ValueError(
            f"the comparisons ran the orders {orders}, expected {expected}"
        )
    return OrderComparison(given=given, others=others, orders=orders, order=order)


def _seed(encoder, compare_params) -> int:
    """The seed ``compare_strategies`` draws random orders with."""
    seeds = compare_params.get("seeds")
    return order_seed(encoder, None if seeds is None else list(seeds))


def compare_noise(
    encoder,
    stream,
    strategies=None,
    *,
    position: int,
    n_classes: int = 50,
    fraction: float = 0.5,
    random_state=0,
    name: str = "noise",
    clean=None,
    **compare_params,
) -> NoiseComparison:
    """Compare the strategies without and with a task of random labels.

    The noise task (:meth:`TaskStream.with_noise_task
    <sklearn_teracon.datasets.TaskStream.with_noise_task>`: ``fraction`` of
    each split's users, each with a label drawn uniformly from
    ``n_classes``) is inserted after the first ``position`` tasks; the other
    tasks, their data and their order stay as they are.

    Parameters
    ----------
    encoder : ContinualUserEncoder
    stream : TaskStream or iterable of Task
        The stream without the noise task.
    strategies : list of str or None, default=None
    position : int
        How many tasks come before the noise task, 0 to ``len(stream)``.
    n_classes : int, default=50
    fraction : float, default=0.5
    random_state : int, RandomState instance or None, default=0
        Seeds the noise task's users and labels.
    name : str, default="noise"
        The noise task's name (not one of the stream's).
    clean : StrategyComparison or None, default=None
        The comparison on ``stream`` itself, when it was already run with the
        same encoder and strategies; None runs it.
    **compare_params
        ``seeds``, ``n_folds``, ``n_jobs``, ``on_progress``, ``verbose``:
        passed to :func:`~sklearn_teracon.compare.compare_strategies`.

    Returns
    -------
    NoiseComparison

    Examples
    --------
    >>> from sklearn_teracon import ContinualUserEncoder
    >>> from sklearn_teracon.datasets import make_synthetic_stream
    >>> from sklearn_teracon.robustness import compare_noise
    >>> stream = make_synthetic_stream(200, 60, max_len=12, random_state=0)
    >>> stream = stream.select(["next_item", "category"])
    >>> enc = ContinualUserEncoder(embedding_dim=8, n_blocks=1, max_len=12,
    ...                            max_epochs=1, random_state=0)
    >>> study = compare_noise(enc, stream, ["teracon"], position=1)
    >>> study.noisy.task_names
    ['next_item', 'noise', 'category']
    >>> print(study)  # doctest: +SKIP
    """
    tasks = check_stream(stream)
    if not int_like(position) or not 0 <= position <= len(tasks):
        raise ValueError(
            f"position must be an int from 0 to {len(tasks)} (the number of tasks "
            f"before the noise task), got {position!r}"
        )
    source = stream if isinstance(stream, TaskStream) else TaskStream(tasks)
    noisy_stream = source.with_noise_task(
        fraction=fraction,
        n_classes=n_classes,
        random_state=random_state,
        name=name,
        position=int(position),
    )
    if clean is None:
        clean = compare_strategies(encoder, stream, strategies, **compare_params)
    elif clean.task_names != [t.name for t in tasks]:
        raise ValueError(
            f"clean ran the tasks {clean.task_names}, the stream has "
            f"{[t.name for t in tasks]}"
        )
    noisy = compare_strategies(encoder, noisy_stream, strategies, **compare_params)
    return NoiseComparison(clean=clean, noisy=noisy, noise=name, position=int(position))

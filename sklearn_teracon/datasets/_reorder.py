"""Task orders for robustness studies: the given order, the reversed one and
seeded random permutations, each keeping the first task first as the paper does.

The paper (TERACON, KDD 2023, Table 4 b) reverses the order of the tasks after
the first one: the first task (next-item prediction) trains the backbone that
every later task builds on, so it stays first. :func:`parse_order` reads an
order specification and :func:`task_orders` turns it into lists of task names
for :meth:`TaskStream.reorder <sklearn_teracon.datasets.TaskStream.reorder>`.
This module needs numpy only.
"""

from __future__ import annotations

from collections.abc import Sequence
from numbers import Integral

import numpy as np
from sklearn.utils import check_random_state

__all__ = ["parse_order", "task_orders"]

ORDER_KINDS = ("given", "reversed", "random")


def parse_order(order: str) -> tuple[str, int]:
    """``(kind, n_orders)`` of an order specification.

    Parameters
    ----------
    order : str
        ``"given"``, ``"reversed"`` or ``"random:K"`` (K >= 1 random
        permutations).

    Returns
    -------
    kind : {"given", "reversed", "random"}
    n_orders : int
        1, or K for ``"random:K"``.

    Examples
    --------
    >>> from sklearn_teracon.datasets._reorder import parse_order
    >>> parse_order("random:3")
    ('random', 3)
    """
    if not isinstance(order, str):
        raise TypeError(
            f'order must be "given", "reversed" or "random:K", got {order!r}'
        )
    if order in ("given", "reversed"):
        return order, 1
    kind, sep, count = order.partition(":")
    if kind == "random" and sep and count.isdigit() and int(count) >= 1:
        return "random", int(count)
    raise ValueError(
        f'order must be "given", "reversed" or "random:K" with an integer K >= 1, '
        f"got {order!r}"
    )


def task_orders(
    names: Sequence[str],
    order: str = "given",
    random_state: int | np.random.RandomState | None = 0,
) -> list[list[str]]:
    """The task orders that ``order`` names, each a list of ``names``.

    The first task always stays first: ``"reversed"`` reverses the others
    (``a, b, c, d`` becomes ``a, d, c, b``), ``"random:K"`` draws K
    permutations of the others with ``random_state`` (the same seed gives the
    same orders; a permutation may repeat or equal the given order when there
    are few tasks).

    Parameters
    ----------
    names : sequence of str
        The task names in the stream's order, distinct.
    order : str, default="given"
        ``"given"``, ``"reversed"`` or ``"random:K"``.
    random_state : int, RandomState instance or None, default=0
        Seeds the random permutations (``"random:K"`` only).

    Returns
    -------
    list of list of str
        One order for ``"given"`` and ``"reversed"``, K for ``"random:K"``.

    Examples
    --------
    >>> from sklearn_teracon.datasets._reorder import task_orders
    >>> task_orders(["next_item", "liked", "age", "gender"], "reversed")
    [['next_item', 'gender', 'age', 'liked']]
    >>> len(task_orders(["a", "b", "c", "d"], "random:2", random_state=0))
    2
    """
    kind, count = parse_order(order)
    if isinstance(names, str) or not isinstance(names, Sequence):
        raise TypeError(f"names must be a sequence of task names, got {names!r}")
    names = list(names)
    if not names:
        raise ValueError("names must not be empty")
    if len(set(names)) != len(names):
        raise ValueError(f"names must be distinct, got {names}")
    if kind == "given":
        return [names]
    first, rest = names[:1], names[1:]
    if kind == "reversed":
        return [first + rest[::-1]]
    if isinstance(random_state, bool) or not (
        random_state is None
        or isinstance(random_state, Integral | np.random.RandomState)
    ):
        raise TypeError(
            f"random_state must be an int, a RandomState or None, got {random_state!r}"
        )
    rng = check_random_state(random_state)
    return [first + [rest[i] for i in rng.permutation(len(rest))] for _ in range(count)]

"""Continual-learning strategies: TERACON and the systems it is compared with.

``STRATEGIES`` maps each name accepted by ``ContinualUserEncoder(strategy=...)``
to its class; :func:`get_strategy` builds one with its parameters checked.
Each implements the protocol of :mod:`sklearn_teracon.training.strategy` and
serves its tasks through a state of :mod:`sklearn_teracon.nn.task_state`.
See :doc:`/strategies`.
"""

from __future__ import annotations

from ..training.strategy import Strategy, TaskContext
from .conure import ConureStrategy
from .ditto import DittoStrategy
from .hat import HatStrategy
from .joint import JointStrategy
from .peterrec import PeterRecStrategy
from .piggyback import PiggybackStrategy
from .simple import FineTuneStrategy, SequentialStrategy, SingleStrategy
from .teracon import TeraconStrategy

STRATEGIES: dict[str, type[Strategy]] = {
    cls.name: cls
    for cls in (
        TeraconStrategy,
        SequentialStrategy,
        FineTuneStrategy,
        SingleStrategy,
        JointStrategy,
        HatStrategy,
        PiggybackStrategy,
        PeterRecStrategy,
        ConureStrategy,
        DittoStrategy,
    )
}


def get_strategy(name: str, **params) -> Strategy:
    """The strategy called ``name`` with ``params``, validated.

    Parameters
    ----------
    name : str
        A key of :data:`STRATEGIES`.
    **params
        The strategy's parameters; unknown names or bad values raise
        ``ValueError``.

    Returns
    -------
    Strategy

    Examples
    --------
    >>> from sklearn_teracon.strategies import get_strategy
    >>> get_strategy("sequential")
    SequentialStrategy()
    """
    if not isinstance(name, str) or name not in STRATEGIES:
        raise ValueError(
            f"unknown strategy {name!r}; choose one of {sorted(STRATEGIES)}"
        )
    return STRATEGIES[name](**params)


__all__ = [
    "ConureStrategy",
    "DittoStrategy",
    "FineTuneStrategy",
    "HatStrategy",
    "JointStrategy",
    "PeterRecStrategy",
    "PiggybackStrategy",
    "STRATEGIES",
    "SequentialStrategy",
    "SingleStrategy",
    "Strategy",
    "TaskContext",
    "TeraconStrategy",
    "get_strategy",
]

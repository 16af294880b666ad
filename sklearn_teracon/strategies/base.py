"""The base class of continual-learning strategies and the callback that drives it.

A strategy is what differs between TERACON and the systems it is compared
with (see :doc:`/strategies`). The net (:class:`~sklearn_teracon.training.ContinualNet`)
runs one task's training loop and calls the strategy's named hooks:

========================  ==========================================================
hook                      called
========================  ==========================================================
``on_task_added``         when a task is registered, and for every task on load:
                          adds the per-task state (weights, scores, adapters) to
                          the torch module, so that saving and the estimator's
                          copy-on-train rollback cover it
``grow_items``            when the vocabulary grows: new item rows in that state
``on_task_start``         before a task trains: freeze, copy, build a teacher
``extra_loss``            on every batch: terms added to the task's loss
``on_batch_begin``/       around every batch (via :class:`StrategyCallback`)
``on_batch_end``
``on_grad_computed``      after ``backward``, before the optimizer step: gradient
                          conditioning
``on_train_begin``/       when skorch's training loop starts and ends
``on_train_end``
``on_task_end``           after the task trained successfully: prune, consolidate
``finish``                always, after the task (success or not): drop what was
                          only needed while training
``masks``/``hidden``      at training and prediction: which masks and weights
                          serve a task
========================  ==========================================================
"""

from __future__ import annotations

from typing import ClassVar

import torch
from sklearn.utils._param_validation import validate_parameter_constraints
from skorch.callbacks import Callback
from torch import nn

from ..training.retention import mask_cosine

STATE = "strategy_state"


class Strategy:
    """How a continual learner treats tasks; TERACON and every baseline subclass it.

    Parameters
    ----------
    **params
        The strategy's own parameters (``_defaults`` lists them), validated
        against ``_parameter_constraints``. Estimator parameters named in
        ``estimator_params`` arrive here too.

    Notes
    -----
    Per-task state that must outlive one ``partial_fit`` call lives in the
    torch module, under ``module.strategy_state`` (:meth:`state`): a
    ``ModuleDict`` that saving, loading and the estimator's deep copy handle
    like every other weight. The strategy object itself only holds what one
    task's training needs (a teacher, a cumulative mask) and is rebuilt for
    every call.
    """

    name: ClassVar[str] = ""
    # Estimator parameters this strategy reads (passed as keyword arguments).
    estimator_params: ClassVar[tuple[str, ...]] = ()
    _defaults: ClassVar[dict] = {}
    _parameter_constraints: ClassVar[dict] = {}

    def __init__(self, **params):
        unknown = sorted(set(params) - set(self._defaults))
        if unknown:
            known = sorted(set(self._defaults) - set(self.estimator_params))
            raise ValueError(
                f"strategy {self.name!r} has no parameter {unknown[0]!r}; its "
                f"strategy_params are {known}"
            )
        values = {**self._defaults, **params}
        validate_parameter_constraints(
            self._parameter_constraints, values, caller_name=f"strategy {self.name!r}"
        )
        for key, value in values.items():
            setattr(self, key, value)

    def get_params(self) -> dict:
        """The strategy's parameters by name."""
        return {key: getattr(self, key) for key in self._defaults}

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.get_params().items())
        return f"{type(self).__name__}({args})"

    # -- per-task state in the module --------------------------------------------
    @staticmethod
    def state(module: nn.Module) -> nn.ModuleDict:
        """The module's ``strategy_state`` (created empty on first use)."""
        if not hasattr(module, STATE):
            module.add_module(STATE, nn.ModuleDict())
        return getattr(module, STATE)

    def on_task_added(self, module: nn.Module, task: int) -> None:
        """Add ``task``'s state to ``module`` (shapes only matter on load)."""

    def state_structure(self, module: nn.Module) -> dict:
        """JSON-able sizes that rebuilding the state needs beyond the tasks."""
        return {}

    def rebuild(self, module: nn.Module, structure: dict) -> None:
        """Recreate every task's state (to be filled by saved weights).

        Raises ``ValueError`` when ``structure`` is not what
        :meth:`state_structure` writes.
        """
        if structure != {}:
            raise ValueError(
                f"strategy {self.name!r} saves no state structure, got {structure!r}"
            )
        for task in range(module.n_tasks):
            self.on_task_added(module, task)

    def grow_items(self, module: nn.Module, n_embeddings: int) -> None:
        """Give the per-task state rows for new items (old rows kept)."""

    # -- one task's training -----------------------------------------------------
    def on_task_start(self, net, task: int) -> None:
        """Before ``task`` trains: freeze, copy, build a teacher."""

    def extra_loss(self, net, X: torch.Tensor, training: bool) -> torch.Tensor | None:
        """A term added to the task's loss on batch ``X``, or None."""
        return None

    def on_batch_begin(self, net, training: bool) -> None:
        """Before every batch."""

    def on_grad_computed(self, net, named_parameters) -> None:
        """After the gradients of a training batch, before the optimizer step."""

    def on_batch_end(self, net, training: bool) -> None:
        """After every batch (after the optimizer step when training)."""

    def on_train_begin(self, net) -> None:
        """When skorch's training loop starts."""

    def on_train_end(self, net) -> None:
        """When skorch's training loop ends."""

    def on_task_end(self, net, X, y, epochs: int) -> None:
        """After the task trained successfully: prune, consolidate, store."""

    def finish(self, net) -> None:
        """After the task, whether it succeeded or not: drop transient state."""

    # -- serving -------------------------------------------------------------------
    def masks(self, module: nn.Module, task: int, s: float) -> torch.Tensor:
        """The channel masks ``[K, d]`` that serve ``task`` at scale ``s``."""
        return module.masks(task, s)

    def hidden(
        self, module: nn.Module, items: torch.Tensor, task: int, s: float
    ) -> torch.Tensor:
        """Hidden states ``[batch, length, d]`` of ``items`` for ``task``."""
        return module.backbone(items, self.masks(module, task, s))

    def unused_parameters(self, module: nn.Module) -> list[nn.Parameter]:
        """Parameters of the module that serve no task under this strategy."""
        return []

    def n_parameters(self, module: nn.Module) -> int:
        """Numbers of the model that serve some task (its size, as compared)."""
        unused = {id(p) for p in self.unused_parameters(module)}
        return sum(p.numel() for p in module.parameters() if id(p) not in unused)

    def task_relations(self, module: nn.Module, s: float) -> torch.Tensor:
        """Mean over slots of the cosine of the tasks' centred masks ``[T, T]``."""
        masks = torch.stack([self.masks(module, t, s) for t in range(module.n_tasks)])
        return mask_similarity(masks)


def mask_similarity(masks: torch.Tensor, *, measure: str = "centered") -> torch.Tensor:
    """Mean over slots of the pairwise cosine of masks ``[T, K, d]``: ``[T, T]``.

    The cosine is :func:`~sklearn_teracon.training.retention.mask_cosine`'s:
    two masks that are both constant over the channels (all ones) give 1, a
    constant mask against a patterned one 0.
    """
    return mask_cosine(masks[:, None], masks[None], measure=measure).mean(-1)


def unit_masks(module: nn.Module) -> torch.Tensor:
    """Masks of all ones ``[K, d]``: every channel of every slot kept."""
    backbone = module.backbone
    weight = backbone.item_embedding.weight
    return torch.ones(backbone.n_slots, backbone.dim, device=weight.device)


def conv_weights(backbone: nn.Module) -> list[tuple[str, nn.Parameter]]:
    """The convolution weights of a NextItNet, by name, in block order."""
    return [
        (name, p)
        for name, p in backbone.named_parameters()
        if name.startswith("blocks.") and name.endswith(".conv.weight")
    ]


class StrategyCallback(Callback):
    """Forwards skorch's batch, gradient and loop events to ``net.strategy``."""

    def on_train_begin(self, net, **kwargs):
        net.strategy.on_train_begin(net)

    def on_train_end(self, net, **kwargs):
        net.strategy.on_train_end(net)

    def on_batch_begin(self, net, training=False, **kwargs):
        net.strategy.on_batch_begin(net, training)

    def on_grad_computed(self, net, named_parameters, training=False, **kwargs):
        net.strategy.on_grad_computed(net, named_parameters)

    def on_batch_end(self, net, training=False, **kwargs):
        net.strategy.on_batch_end(net, training)


__all__ = [
    "Strategy",
    "StrategyCallback",
    "conv_weights",
    "mask_similarity",
    "unit_masks",
]

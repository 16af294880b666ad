"""The plugin protocol of continual-learning strategies, and the context its hooks get.

A strategy is what differs between TERACON and the systems it is compared
with (see :doc:`/strategies`). It plugs into the training loop of
:class:`~sklearn_teracon.training.ContinualNet` through the hooks below, in
``before_``/``after_`` pairs as in Avalanche. The net calls every hook from one
place (``ContinualNet.run_hook``) with the same :class:`TaskContext`: the net,
the task it trains, and what the current event carries.

======================  =============================================================
hook                    called
======================  =============================================================
``task_state``          when the model is built or loaded: the
                        :class:`~sklearn_teracon.nn.task_state.TaskState` that serves
                        every task (masks, adapters, per-task weights) and is
                        saved with the model
``before_task``         before a task trains: freeze, copy, build a teacher
``param_groups``        right after: optimizer groups of its own, as skorch's
                        ``(pattern, settings)`` pairs (PeterRec's patch rate)
``before_epochs``/      when skorch's training loop starts and ends
``after_epochs``
``before_batch``/       around every batch (``context.training`` says which kind)
``after_batch``
``loss_terms``          on every batch: terms added to the task's loss
``after_backward``      after ``backward``, before the optimizer step: gradient
                        conditioning (a strategy that has it sets
                        ``reads_gradients``)
``after_task``          after the task trained successfully: prune, consolidate
``release``             always, after the task (success or not): drop what was
                        only needed while training
======================  =============================================================
"""

from __future__ import annotations

import dataclasses
from typing import Any, ClassVar

import torch
from sklearn.utils._param_validation import validate_parameter_constraints
from skorch import NeuralNet

from ..nn.task_state import TaskState
from .retention import mask_similarity


@dataclasses.dataclass
class TaskContext:
    """What every hook of a strategy receives.

    Attributes
    ----------
    net : ContinualNet
        The net that trains (:class:`~sklearn_teracon.training.ContinualNet`);
        ``net.module_`` is the model.
    task : int
        The index of the task being trained.
    X, y : ndarray or None
        The task's training inputs and targets (None before ``fit_task``).
    epochs : int
        The epochs the task trains for.
    batch : Tensor or None
        The current batch's inputs, on the device (``loss_terms``).
    training : bool
        Whether the current batch trains (False: validation).
    """

    net: NeuralNet
    task: int
    X: Any = None
    y: Any = None
    epochs: int = 0
    batch: torch.Tensor | None = None
    training: bool = False

    @property
    def model(self):
        return self.net.module_

    @property
    def scale(self) -> float:
        """The mask scale of this moment: annealed in a training epoch, else ``s``."""
        return self.net.current_scale()


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
    What must outlive one ``partial_fit`` call lives in the model, in the
    :class:`~sklearn_teracon.nn.task_state.TaskState` that :meth:`task_state`
    gives. The strategy object only holds what one task's training needs (a
    teacher, a cumulative mask); the estimator builds one per call.
    """

    name: ClassVar[str] = ""
    # Estimator parameters this strategy reads (passed as keyword arguments).
    estimator_params: ClassVar[tuple[str, ...]] = ()
    _defaults: ClassVar[dict] = {}
    _parameter_constraints: ClassVar[dict] = {}
    # Whether ``after_backward`` reads or changes gradients: then the largest
    # weights may not step inside the backward pass (training/backward_step.py).
    reads_gradients: ClassVar[bool] = False

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

    def task_state(self) -> TaskState:
        """The state that serves every task of a model trained this way."""
        return TaskState()

    def before_task(self, context: TaskContext) -> None:
        """Before the task trains: freeze, copy, build a teacher."""

    def param_groups(self, context: TaskContext) -> list[tuple[str, dict]]:
        """Optimizer groups for the task, ahead of the net's (first match wins)."""
        return []

    def before_epochs(self, context: TaskContext) -> None:
        """When skorch's training loop starts."""

    def before_batch(self, context: TaskContext) -> None:
        """Before every batch."""

    def loss_terms(self, context: TaskContext) -> torch.Tensor | None:
        """A term added to the task's loss on ``context.batch``, or None."""
        return None

    def after_backward(self, context: TaskContext) -> None:
        """After a training batch's gradients, before the optimizer step."""

    def after_batch(self, context: TaskContext) -> None:
        """After every batch (after the optimizer step when training)."""

    def after_epochs(self, context: TaskContext) -> None:
        """When skorch's training loop ends."""

    def after_task(self, context: TaskContext) -> None:
        """After the task trained successfully: prune, consolidate, store."""

    def release(self, context: TaskContext) -> None:
        """After the task, whether it succeeded or not: drop transient state."""

    def task_relations(self, model, s: float) -> torch.Tensor:
        """Mean over slots of the cosine of the tasks' centred masks ``[T, T]``."""
        masks = torch.stack([model.task_masks(t, s) for t in range(model.n_tasks)])
        return mask_similarity(masks)


__all__ = ["Strategy", "TaskContext"]

"""What several strategies share, as functions rather than a base class to inherit.

The protocol itself (:class:`~sklearn_teracon.training.strategy.Strategy`, the
hooks and their :class:`~sklearn_teracon.training.strategy.TaskContext`) is
``training``'s; a strategy subclasses it directly.
"""

from __future__ import annotations

from ..training.strategy import TaskContext


def freeze_backbone_after_first_task(context: TaskContext) -> None:
    """The first task trains everything; later ones leave the backbone as it is.

    What still trains is the per-task state (adapters, scores) and the heads.
    """
    model = context.model
    model.requires_grad_(True)
    if model.n_tasks > 1:
        model.backbone.requires_grad_(False)


__all__ = ["freeze_backbone_after_first_task"]

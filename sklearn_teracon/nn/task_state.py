"""How the model serves each task, and the per-task state that takes.

A :class:`~sklearn_teracon.nn.TeraconModule` answers ``hidden(items, task, s)``
by asking its ``strategy_state`` (a :class:`TaskState`), which it holds as a
submodule: saving, loading and the estimator's copy-on-train rollback keep it
like every other weight. Each class here is one way of serving tasks on a
shared backbone; the strategies (:mod:`sklearn_teracon.strategies`) choose one
and train it. The classes ask the backbone only for what every backbone offers
(``forward(items, masks, adapters=None)``, ``n_slots``, ``dim``,
``item_embedding``, ``maskable_weights``, ``fresh_copy``, ``grow_items``;
:class:`~sklearn_teracon.nn.Backbone`), so a new backbone needs nothing here:
NextItNet and SASRec are served alike.
"""

from __future__ import annotations

import copy

import torch
import torch.nn.functional as F
from torch import nn
from torch.func import functional_call

from .masks import soft_mask


class PerTask(nn.ModuleDict):
    """Modules by task index, for the tasks that have one (keys ``str(task)``)."""

    def add(self, task: int, module: nn.Module) -> None:
        self[str(task)] = module

    def of(self, task: int) -> nn.Module:
        return self[str(task)]


class TaskState(nn.Module):
    """TERACON's serving: every task through its masks from the mask bank.

    Subclasses override :meth:`masks` (which channels serve a task) or
    :meth:`hidden` (which weights), and keep what that needs per task in
    submodules, created by :meth:`add_task`.
    """

    def masks(self, model, task: int, s: float) -> torch.Tensor:
        """The channel masks ``[K, d]`` that serve ``task`` at scale ``s``."""
        return model.masks(task, s)

    def hidden(self, model, items: torch.Tensor, task: int, s: float) -> torch.Tensor:
        """Hidden states ``[batch, length, d]`` of ``items`` for ``task``."""
        return model.backbone(items, self.masks(model, task, s))

    def add_task(self, model, task: int) -> None:
        """Create ``task``'s state (its shapes are what loading needs)."""

    def grow_items(self, model, n_embeddings: int) -> None:
        """Give the per-task state rows for new items (old rows kept)."""

    def structure(self, model) -> dict:
        """JSON-able sizes that rebuilding the state needs beyond the tasks."""
        return {}

    def rebuild(self, model, structure: dict) -> None:
        """Resize the state of every added task to ``structure`` (to be filled
        by saved weights); ``ValueError`` if it is not what :meth:`structure`
        writes."""
        if structure != {}:
            raise ValueError(f"this state saves no structure, got {structure!r}")

    def unused_parameters(self, model) -> list[nn.Parameter]:
        """Parameters of ``model`` that serve no task here."""
        return []


def unit_masks(model) -> torch.Tensor:
    """Masks of all ones ``[K, d]``: every channel of every slot kept."""
    backbone = model.backbone
    weight = backbone.item_embedding.weight
    return torch.ones(backbone.n_slots, backbone.dim, device=weight.device)


class UnitMaskState(TaskState):
    """Every task through the whole backbone: masks of all ones."""

    def masks(self, model, task, s):
        return unit_masks(model)

    def unused_parameters(self, model):
        return list(model.masks.parameters())


class IndependentMaskState(TaskState):
    """Each task's mask ``σ(s·e_t)`` from its own embedding alone (HAT's)."""

    def masks(self, model, task, s):
        return soft_mask(s * model.masks.task_embeddings[task])

    def add_task(self, model, task):
        # HAT's start, e ~ N(0, 1): at s_max the masks are near-binary from
        # the first step, and the annealed s lets gradient reach them.
        with torch.no_grad():
            model.masks.task_embeddings[task].normal_(0.0, 1.0)

    def unused_parameters(self, model):
        bank = model.masks
        return [*bank.relation_weights, *bank.relation_biases]


class BackbonePerTaskState(UnitMaskState):
    """Task 0 through the model's backbone, task t ≥ 1 through its own.

    A new task's backbone is a copy of the first task's (``copy_first``,
    FineAll) or a freshly initialised one (SinMo). Only the trained task's
    backbone is then in a step's graph: the others stay exactly as they were.
    """

    def __init__(self, copy_first: bool):
        super().__init__()
        self.copy_first = copy_first
        self.backbones = PerTask()

    def backbone(self, model, task: int) -> nn.Module:
        return model.backbone if task == 0 else self.backbones.of(task)

    def add_task(self, model, task):
        if task == 0:
            return
        first = model.backbone
        new = copy.deepcopy(first) if self.copy_first else first.fresh_copy()
        self.backbones.add(task, new)

    def grow_items(self, model, n_embeddings):
        for backbone in self.backbones.values():
            backbone.grow_items(n_embeddings)

    def hidden(self, model, items, task, s):
        return self.backbone(model, task)(items, unit_masks(model))


# Where an adapter sits in its slot (the reference's two causal variants).
INSERTIONS = ("parallel", "serial")


class Adapter(nn.Module):
    """PeterRec's model patch on one mask slot: a bottleneck d → d/4 → d.

    ``insertion`` says where it sits; with ``x = conv(h)`` the slot's
    convolution output and ``h`` the slot's input, the slot's LayerNorm reads

    - ``"parallel"`` (every new adapter): ``x + up(relu(down(h)))``, the
      patch beside the frozen convolution, reading what it reads (the
      reference's ``peter_2mp_parallel``, less the patch's own identity
      term, which would add ``h`` to ``x`` the moment the patch is inserted);
    - ``"serial"`` (the adapters of files saved before #22): ``x +
      up(relu(down(x)))``, the patch after the convolution
      (``peter_2mp_serial``).

    ``up`` starts at zero, so a new adapter adds nothing: the task starts
    from the pretrained backbone's own representation. The insertion is not
    a weight: :meth:`AdapterState.structure` saves it.
    """

    def __init__(self, dim: int, insertion: str = "parallel"):
        super().__init__()
        if insertion not in INSERTIONS:
            raise ValueError(
                f"insertion must be one of {INSERTIONS}, got {insertion!r}"
            )
        self.insertion = insertion
        self.down = nn.Linear(dim, max(1, dim // 4))
        self.up = nn.Linear(max(1, dim // 4), dim)
        nn.init.zeros_(self.up.weight)
        nn.init.zeros_(self.up.bias)

    def forward(self, x: torch.Tensor, h: torch.Tensor) -> torch.Tensor:
        return x + self.up(F.relu(self.down(x if self.insertion == "serial" else h)))


class AdapterState(UnitMaskState):
    """Task t ≥ 1 through the shared backbone with an adapter in every slot.

    Every new task's adapters sit beside the convolutions (``"parallel"``); a
    file saved before they did (its structure ``{}``) rebuilds its adapters
    serial, so it answers as it did when it was saved.
    """

    def __init__(self):
        super().__init__()
        self.adapters = PerTask()

    def add_task(self, model, task):
        if task == 0:
            return
        backbone = model.backbone
        device = backbone.item_embedding.weight.device
        adapters = nn.ModuleList(Adapter(backbone.dim) for _ in range(backbone.n_slots))
        self.adapters.add(task, adapters.to(device))

    def structure(self, model):
        if not len(self.adapters):
            return {}
        return {
            "insertion": {
                key: adapters[0].insertion for key, adapters in self.adapters.items()
            }
        }

    def rebuild(self, model, structure):
        if structure == {}:  # no adapters, or every one saved before "parallel"
            insertion = dict.fromkeys(self.adapters, "serial")
        else:
            insertion = (
                structure.get("insertion") if isinstance(structure, dict) else None
            )
            if not (
                isinstance(insertion, dict)
                and set(structure) == {"insertion"}
                and set(insertion) == set(self.adapters)
                and all(value in INSERTIONS for value in insertion.values())
            ):
                raise ValueError(
                    "the peterrec state's structure must be {} or {'insertion': "
                    f"{{task: one of {INSERTIONS}}}}} for the tasks "
                    f"{sorted(self.adapters, key=int)}, got {structure!r}"
                )
        for key, adapters in self.adapters.items():
            for adapter in adapters:
                adapter.insertion = insertion[key]

    def hidden(self, model, items, task, s):
        adapters = None if task == 0 else self.adapters.of(task)
        return model.backbone(items, unit_masks(model), adapters=adapters)


class WeightScoreState(UnitMaskState):
    """Task t ≥ 1 through the backbone's weights masked by its binarised scores.

    A weight serves task t where t's score for it exceeds ``threshold``; the
    scores start at ``initial_score``. The binarisation passes the gradient
    straight through to the real-valued scores (Piggyback).
    """

    def __init__(self, threshold: float, initial_score: float):
        super().__init__()
        self.threshold = threshold
        self.initial_score = initial_score
        self.scores = PerTask()

    def add_task(self, model, task):
        if task == 0:
            return
        self.scores.add(
            task,
            nn.ParameterList(
                nn.Parameter(torch.full_like(weight, self.initial_score))
                for _, weight in model.backbone.maskable_weights()
            ),
        )

    def hidden(self, model, items, task, s):
        masks = unit_masks(model)
        if task == 0:
            return model.backbone(items, masks)
        masked = {}
        for (name, weight), score in zip(
            model.backbone.maskable_weights(), self.scores.of(task)
        ):
            binary = (score > self.threshold).to(weight.dtype)
            masked[name] = weight * (binary + score - score.detach())
        return functional_call(model.backbone, masked, (items, masks))


FREE = -1


class WeightOwnerState(UnitMaskState):
    """Every maskable weight owned by one task or free; task t reads those of tasks ≤ t.

    While a task trains, the strategy may widen what it reads to the weights
    it is allowed to train (``training_weights``); the attribute is not saved.
    """

    def __init__(self):
        super().__init__()
        self.owners = nn.Module()
        self.training_task: int | None = None
        self.training_weights: list[torch.Tensor] | None = None

    def add_task(self, model, task):
        if len(list(self.owners.buffers())):
            return
        for i, (_, weight) in enumerate(model.backbone.maskable_weights()):
            self.owners.register_buffer(
                f"layer{i}", torch.full_like(weight, FREE, dtype=torch.long)
            )

    def owner_maps(self) -> list[torch.Tensor]:
        return list(self.owners.buffers())

    def used(self, task: int) -> list[torch.Tensor]:
        """Per maskable weight, whether it serves ``task``."""
        owners = self.owner_maps()
        if task == self.training_task and self.training_weights:
            return [
                (o >= 0) & (o < task) | t for o, t in zip(owners, self.training_weights)
            ]
        return [(o >= 0) & (o <= task) for o in owners]

    def hidden(self, model, items, task, s):
        weights = model.backbone.maskable_weights()
        masked = {
            name: w * u.to(w.dtype) for (name, w), u in zip(weights, self.used(task))
        }
        return functional_call(model.backbone, masked, (items, unit_masks(model)))


__all__ = [
    "FREE",
    "INSERTIONS",
    "Adapter",
    "AdapterState",
    "BackbonePerTaskState",
    "IndependentMaskState",
    "PerTask",
    "TaskState",
    "UnitMaskState",
    "WeightOwnerState",
    "WeightScoreState",
    "unit_masks",
]

"""Optimizer steps taken inside the backward pass for the largest weights.

A full-vocabulary model's item embedding and next-item head are each
``n_items × d``: 0.66 GB at 646 K items and d = 256. An ordinary step keeps
every gradient until the optimizer runs, so the end of the backward pass
holds both gradients beside the weights and Adam's two moments. Stepping a
weight as soon as its gradient is complete (``register_post_accumulate_grad_hook``,
as in PyTorch's tutorial "How to save memory by fusing the optimizer step
into the backward pass") and dropping that gradient at once keeps at most
one of them alive. The update is the same: each such weight gets its own
optimizer with its group's settings, and the step it takes is the step the
shared optimizer would take.
"""

from __future__ import annotations

import torch

# Weights with at least this many elements (16 MiB in float32) step in the
# backward pass. Below it a gradient costs less memory than the extra
# optimizer is worth; the defaults and MovieLens-sized models stay under it.
MIN_ELEMENTS = 2**22


class InBackwardSteps:
    """Moves an optimizer's largest weights to steps taken during ``backward``.

    Parameters
    ----------
    optimizer : torch.optim.Optimizer
        The shared optimizer. Its weights with at least ``min_elements``
        elements leave its parameter groups; each gets an optimizer of the
        same class and group settings, stepped by a hook when its gradient
        is accumulated.
    min_elements : int
        Size from which a weight steps in the backward pass.

    Notes
    -----
    Nothing may read or change those weights' gradients between ``backward``
    and the shared optimizer's step (they are ``None`` by then): the net
    only uses this when neither its strategy nor a callback has an
    ``on_grad_computed`` hook.
    """

    def __init__(self, optimizer: torch.optim.Optimizer, min_elements: int):
        self.optimizers: list[torch.optim.Optimizer] = []
        self._handles = []
        for group in optimizer.param_groups:
            large = [p for p in group["params"] if p.numel() >= min_elements]
            if not large:
                continue
            group["params"] = [p for p in group["params"] if p.numel() < min_elements]
            settings = {key: value for key, value in group.items() if key != "params"}
            for param in large:
                own = type(optimizer)([param], **settings)
                self.optimizers.append(own)
                self._handles.append(
                    param.register_post_accumulate_grad_hook(_stepper(own))
                )
        # Adam's step over a group left without weights is a no-op; dropping
        # such groups keeps the shared optimizer's state dict plain.
        optimizer.param_groups[:] = [g for g in optimizer.param_groups if g["params"]]

    def __len__(self) -> int:
        return len(self.optimizers)

    def remove(self) -> None:
        """Unhook the weights and drop their optimizers and moments."""
        for handle in self._handles:
            handle.remove()
        self._handles, self.optimizers = [], []


def _stepper(optimizer: torch.optim.Optimizer):
    def step(param: torch.Tensor) -> None:
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)

    return step


__all__ = ["MIN_ELEMENTS", "InBackwardSteps"]

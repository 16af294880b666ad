"""skorch callbacks used by every task's training loop."""

from __future__ import annotations

import math

import torch
from skorch.callbacks import Callback

from .retention import annealed_scale


class ScaleAnnealing(Callback):
    """Anneal the mask scale s over each epoch's batches, as in HAT.

    Sets ``net.s_current_`` before every training batch; evaluation,
    prediction and the teacher always use ``net.s`` itself.
    """

    def on_epoch_begin(self, net, dataset_train=None, **kwargs):
        self.n_batches_ = net.n_train_batches(dataset_train)
        self.batch_ = 0

    def on_batch_begin(self, net, batch=None, training=False, **kwargs):
        if training:
            net.s_current_ = annealed_scale(net.s, self.batch_, self.n_batches_)
            self.batch_ += 1


class TrainingDiverged(ValueError):
    """Training of a task produced a non-finite loss or weights."""


# Elements per slice of a weight scanned for NaN and infinity: ``isfinite``
# makes a temporary the size of its input, 165 M elements (0.66 GB of
# booleans, more inside ``all``) for a 646 K-item head; a slice bounds it.
FINITE_SCAN_ELEMENTS = 4 * 2**20


def _all_finite(tensor: torch.Tensor, slice_elements: int) -> torch.Tensor:
    """A 0-d boolean tensor: every element of ``tensor`` is finite (no sync)."""
    flat = tensor.detach().reshape(-1)  # a view of a contiguous tensor
    if flat.numel() <= slice_elements:
        return flat.isfinite().all()
    return torch.stack(
        [
            flat[start : start + slice_elements].isfinite().all()
            for start in range(0, flat.numel(), slice_elements)
        ]
    ).all()


def non_finite_parameters(
    module: torch.nn.Module, slice_elements: int = FINITE_SCAN_ELEMENTS
) -> list[str]:
    """Names of the parameters of ``module`` that hold NaN or infinity.

    Each parameter is scanned in slices of ``slice_elements`` elements, so the
    scan's temporaries stay small however large a weight is; one device sync
    in all.
    """
    params = dict(module.named_parameters())
    if not params:
        return []
    finite = torch.stack([_all_finite(p, slice_elements) for p in params.values()])
    if bool(finite.all()):  # one device sync for the common case
        return []
    return [name for name, ok in zip(params, finite.tolist()) if not ok]


class StopOnNonFinite(Callback):
    """Stop training as soon as a batch loss or a weight is not finite.

    A diverged step (too high a learning rate, for instance) makes every
    later output NaN; training on would only waste the remaining epochs, and
    the retention term's sampling ratio ρ cannot be computed from NaN masks.
    Raises :class:`TrainingDiverged` (a ``ValueError``), so the caller can roll
    back to its copy of the model.

    Every batch's loss is checked, from the float skorch records in the
    history (it syncs with the device for it anyway), so the check adds no
    device-to-host sync per batch. The weights are scanned at the end of each
    epoch (one sync): a step that makes a weight the loss reads non-finite
    shows in the next batch's loss, and the epoch-end scan catches the rest,
    the last step included.

    Parameters
    ----------
    task_name : str or None
        The task being trained, named in the error.
    """

    def __init__(self, task_name: str | None = None):
        self.task_name = task_name

    def on_batch_end(self, net, batch=None, training=False, **kwargs):
        prefix = "train" if training else "valid"
        loss = net.history[-1, "batches", -1].get(f"{prefix}_loss")
        if loss is not None and not math.isfinite(loss):
            self._stop(
                net,
                f"the {'training' if training else 'validation'} loss is {loss:.4g}",
            )

    def on_epoch_end(self, net, **kwargs):
        bad = non_finite_parameters(net.module_)
        if bad:
            self._stop(net, f"the weights {', '.join(bad[:3])} hold NaN or infinity")

    def _stop(self, net, what: str) -> None:
        task = f" on task {self.task_name!r}" if self.task_name is not None else ""
        raise TrainingDiverged(
            f"training diverged{task} at epoch {len(net.history)}: {what}; lower lr "
            f"(now {net.lr:g}) or the weights of extra loss terms (alpha); the "
            "model is left as it was before this call"
        )


def non_finite_outputs(net, X, task_names: list[str]) -> str | None:
    """What of a trained net is not finite, in words; None if nothing is.

    Finite weights are not enough: a last step of a diverging run can leave
    weights near 1e30 whose products overflow, so every task's outputs on
    ``X`` (a few encoded users) are checked as well, a next-item head's in
    vocabulary chunks (``ContinualNet.outputs_finite``).
    """
    bad = non_finite_parameters(net.module_)
    if bad:
        return f"the weights {', '.join(bad[:3])} hold NaN or infinity"
    for index, name in enumerate(task_names):
        if not net.outputs_finite(X, index):
            return f"the outputs of task {name!r} hold NaN or infinity"
    return None

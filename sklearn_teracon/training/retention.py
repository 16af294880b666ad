"""Knowledge retention and relation-aware sampling (see :doc:`/model`)."""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F


def annealed_scale(s: float, batch: int, n_batches: int) -> float:
    """HAT's s schedule inside an epoch: ``1/s + (s − 1/s)·b/(B−1)``.

    Batch ``b`` of ``B`` (0-based); a one-batch epoch trains at ``s``.

    Examples
    --------
    >>> from sklearn_teracon.training import annealed_scale
    >>> annealed_scale(50.0, 0, 5), annealed_scale(50.0, 4, 5)
    (0.02, 50.0)
    """
    if n_batches <= 1:
        return float(s)
    return 1.0 / s + (s - 1.0 / s) * batch / (n_batches - 1)


RELATION_MEASURES = ("centered", "paper")
# Centred masks with a norm under this are constant over their channels.
FLAT_MASK_NORM = 1e-6


def mask_cosine(
    masks_a: torch.Tensor, masks_b: torch.Tensor, *, measure: str = "centered"
) -> torch.Tensor:
    """Cosine similarity per slot ``[K]`` of two tasks' masks ``[K, d]``.

    ``"paper"`` compares the masks as they are. They are non-negative, so
    any two masks that both keep most channels have a cosine near 1, and
    ``ρ`` can hardly move (cos ≥ 0.5 ⇒ ρ ≤ 0.047 at c = 6). ``"centered"``
    first removes each mask's mean over channels and compares which channels a
    task turns up or down relative to its own average: unrelated masks give
    about 0, the same pattern 1, opposite patterns -1, so ``ρ`` spans
    ``[1 − σ(c), 1 − σ(−c)]`` and keeps the paper's meaning (more similar masks,
    fewer retained users). Two masks that are each constant over the channels
    (both all ones, say) are identical in what they keep: their centred cosine
    is 1; a constant mask against a patterned one gives 0.
    """
    if measure == "paper":
        return F.cosine_similarity(masks_a, masks_b, dim=-1, eps=1e-12)
    if measure != "centered":
        raise ValueError(f"measure must be one of {RELATION_MEASURES}, got {measure!r}")
    masks_a = masks_a - masks_a.mean(-1, keepdim=True)
    masks_b = masks_b - masks_b.mean(-1, keepdim=True)
    cosine = F.cosine_similarity(masks_a, masks_b, dim=-1, eps=1e-12)
    # A mask saturated to one value over every channel (all ones at s = 50)
    # has no direction once centred. Two such masks keep the same channels,
    # so they count as identical (1), not as unrelated (0); against a
    # patterned mask one stays 0.
    flat_a = masks_a.norm(dim=-1) <= FLAT_MASK_NORM
    flat_b = masks_b.norm(dim=-1) <= FLAT_MASK_NORM
    return torch.where(flat_a & flat_b, torch.ones_like(cosine), cosine)


def mask_similarity(masks: torch.Tensor, *, measure: str = "centered") -> torch.Tensor:
    """Mean over slots of the pairwise cosine of masks ``[T, K, d]``: ``[T, T]``.

    The cosine is :func:`mask_cosine`'s: two masks that are both constant over
    the channels (all ones) give 1, a constant mask against a patterned one 0.
    """
    return mask_cosine(masks[:, None], masks[None], measure=measure).mean(-1)


def relation_aware_ratio(
    student_masks: torch.Tensor,
    teacher_masks: torch.Tensor,
    c: float,
    *,
    measure: str = "centered",
) -> torch.Tensor:
    """ρ_ij = 1 − (1/K) Σ_k σ(c · cos(m_i^k, m̃_j^k)) for masks ``[K, d]``.

    Similar tasks (high cosine) need fewer retained users. ``measure`` picks
    the cosine (see :func:`mask_cosine`); ``"paper"`` is the paper's formula.
    """
    cosine = mask_cosine(student_masks, teacher_masks, measure=measure)
    return 1.0 - torch.sigmoid(c * cosine).mean()


def floored_ratio(ratio: float, rho_min: float) -> float:
    """ρ floored by ``rho_min``; the reference let it fall to ≈ 0.0025."""
    return max(float(ratio), rho_min)


def retention_sample_size(ratio: float, batch_size: int) -> int:
    """Users of a batch that retain an earlier task: at least one, always.

    The reference used ``int(B·ρ)``, which is 0 for every batch under ~400
    users once ρ collapses, silently switching retention off.
    """
    return min(batch_size, max(1, int(batch_size * ratio)))


def retention_loss(
    student_logits: torch.Tensor, teacher_logits: torch.Tensor
) -> torch.Tensor:
    """MSE between the student's logits and the teacher's pseudo-labels."""
    return F.mse_loss(student_logits, teacher_logits)


@dataclass
class Teacher:
    """The frozen model that gives pseudo-labels for the earlier tasks.

    Frozen before a task starts and run at the full scale s (the reference
    ran it at the annealed s, giving near-uniform masks early in each epoch).
    """

    module: torch.nn.Module
    masks: torch.Tensor  # [n_tasks, K, d], every task's masks at s

"""Sampled softmax with log-Q correction: a head's loss over a few columns.

With hundreds of thousands of items, the exact softmax of a next-item head
costs ``rows × items`` per step. The sampled loss scores each row's target
and ``n_negatives`` items drawn once per batch from a popularity proposal
``Q`` (shared by every row), and subtracts from every score the log of the
item's expected count in the sample, ``log(n_negatives · Q(i))``: the
correction that makes the sampled softmax's gradient consistent with the
full one (Bengio & Senécal 2008; Yi et al., RecSys 2019). A negative equal
to a row's target is left out of that row. Evaluation always ranks every
column exactly.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


class PopularitySampler:
    """Negatives drawn with replacement in proportion to smoothed counts.

    Parameters
    ----------
    counts : Tensor of shape (n_columns,)
        How often each column is a target in the training data; every
        column with a positive weight (count + 1 where allowed) can be drawn.
    n_negatives : int
        Columns drawn per batch.
    allowed : Tensor of bool or None
        Columns that may be drawn (padding, the unknown item: never).
    """

    def __init__(self, counts: torch.Tensor, n_negatives: int, allowed=None):
        weights = counts.to(torch.float64) + 1.0
        if allowed is not None:
            weights = weights * allowed
        self.probabilities = (weights / weights.sum()).to(torch.float32)
        self.n_negatives = int(n_negatives)
        # log of each column's expected count in a draw: the log-Q term.
        self.log_expected = torch.log(self.probabilities * self.n_negatives)

    def draw(self) -> torch.Tensor:
        """``n_negatives`` column indices (torch's generator, on its device)."""
        return torch.multinomial(self.probabilities, self.n_negatives, replacement=True)


def sampled_cross_entropy(
    rows: torch.Tensor,
    head: nn.Linear,
    targets: torch.Tensor,
    negatives: torch.Tensor,
    log_expected: torch.Tensor,
) -> torch.Tensor:
    """Mean sampled-softmax cross-entropy of ``head`` on ``rows``, log-Q corrected.

    ``rows`` ``[n, d]``, ``targets`` ``[n]`` column indices, ``negatives``
    ``[m]`` shared columns, ``log_expected`` ``[n_columns]`` the
    :class:`PopularitySampler`'s correction.
    """
    weight, bias = head.weight, head.bias
    true = (rows * weight[targets].to(rows.dtype)).sum(-1) + bias[targets]
    true = true - log_expected[targets]
    sampled = rows @ weight[negatives].to(rows.dtype).T + bias[negatives]
    sampled = sampled - log_expected[negatives]
    hits = targets[:, None] == negatives[None, :]
    sampled = sampled.masked_fill(hits, float("-inf"))
    logits = torch.cat([true[:, None], sampled], dim=1).float()
    return F.cross_entropy(logits, torch.zeros_like(targets))


def sampled_logit_mse(
    rows: torch.Tensor,
    head: nn.Linear,
    teacher_rows: torch.Tensor,
    teacher_head: nn.Linear,
    columns: torch.Tensor,
) -> torch.Tensor:
    """MSE of two heads' logits on the ``columns`` only (retention, sampled).

    Columns beyond a head's width (items that arrived after its task) are
    left out.
    """
    columns = columns[columns < min(head.out_features, teacher_head.out_features)]
    student = rows @ head.weight[columns].to(rows.dtype).T + head.bias[columns]
    teacher = (
        teacher_rows @ teacher_head.weight[columns].to(teacher_rows.dtype).T
        + teacher_head.bias[columns]
    )
    return F.mse_loss(student.float(), teacher.float())


__all__ = ["PopularitySampler", "sampled_cross_entropy", "sampled_logit_mse"]

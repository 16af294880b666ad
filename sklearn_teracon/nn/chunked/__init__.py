"""Full-vocabulary heads in vocabulary chunks: exact losses and rankings.

A next-item head scores every item. Its logits for ``n`` rows hold
``n × V`` numbers: at 646 K items a batch of 256 users × 30 positions would
need 20 GB. The functions here compute the same results one slice of the
vocabulary at a time, so at most ``n × chunk_size`` logits exist at once:

- training (:mod:`.losses`): :func:`chunked_cross_entropy` is
  ``F.cross_entropy(rows @ W.T + b, y)``, the backward pass recomputing each
  chunk's logits instead of keeping them; :func:`chunked_logit_mse` is
  ``F.mse_loss(student_logits, teacher_logits)`` of two heads on their rows
  (knowledge retention), computed the same way.
- inference (:mod:`.ranking`): :func:`chunked_target_ranks` and
  :func:`chunked_top_k` rank all columns of a head, as
  :func:`~sklearn_teracon.metrics.target_ranks` and a full sort do, without
  building a row's whole score vector; :func:`chunked_logits_finite` checks
  that none of its scores overflows.

This module holds the memory budget: :func:`logits_chunk_size` picks the
chunk from :data:`LOGITS_CHUNK_BYTES`, :func:`users_per_pass` how many users'
backbone activations a training pass keeps at once (a larger batch trains
in micro-batches of that many, or in checkpointed user chunks), and the
losses of a head that use the chunked kernels only where the budget asks
for them (:func:`head_cross_entropy`,
:func:`head_logit_mse`, :func:`bag_cross_entropy`). They live here, beside the
budget, so that setting ``chunked.LOGITS_CHUNK_BYTES`` or replacing
``chunked.logits_chunk_size`` reaches every one of them.
"""

from __future__ import annotations

import numbers

import torch
import torch.nn.functional as F

from ._columns import accumulation_dtype
from .losses import chunked_cross_entropy, chunked_logit_mse
from .ranking import chunked_logits_finite, chunked_target_ranks, chunked_top_k

# Bytes of one chunk's logits (float32); a backward pass holds about three such
# temporaries. 64 MiB keeps a 646 K-item head within a few hundred MiB while
# each chunk's matrix multiply stays large enough to run at full speed.
LOGITS_CHUNK_BYTES = 64 * 2**20


# Bytes of backbone activations that one training pass keeps for backward
# before the batch trains in micro-batches of users, or under DDP in
# checkpointed user chunks (see ``users_per_pass``). Below it (the defaults,
# and the paper's model at batch 32) a batch trains whole.
ACTIVATION_CHUNK_BYTES = 256 * 2**20
# float32 [users, length, d] tensors a residual slot keeps for backward: its
# shifted inputs (k = 3 of them), convolution, norm and activation outputs and
# the masked products.
_SAVED_PER_SLOT = 8


def users_per_pass(
    n_users: int,
    length: int,
    dim: int,
    n_slots: int,
    budget_bytes: int | None = None,
) -> int:
    """Users whose backbone activations fit ``budget_bytes``; ``n_users`` if all do.

    An estimate: ``_SAVED_PER_SLOT`` float32 ``[users, length, dim]`` tensors
    per slot. At least one user. ``budget_bytes`` defaults to
    :data:`ACTIVATION_CHUNK_BYTES` as it is when called.
    """
    if budget_bytes is None:
        budget_bytes = ACTIVATION_CHUNK_BYTES
    per_user = 4 * _SAVED_PER_SLOT * max(length, 1) * dim * max(n_slots, 1)
    return int(min(max(n_users, 1), max(1, budget_bytes // per_user)))


def logits_chunk_size(
    n_rows: int, n_columns: int, budget_bytes: int | None = None
) -> int:
    """Columns per chunk so that ``n_rows`` rows of float32 logits fit ``budget_bytes``.

    At least one column, at most ``n_columns`` (one chunk: nothing to split).
    ``budget_bytes`` defaults to :data:`LOGITS_CHUNK_BYTES` as it is when called.
    """
    if budget_bytes is None:
        budget_bytes = LOGITS_CHUNK_BYTES
    for name, value in (("n_rows", n_rows), ("n_columns", n_columns)):
        if not isinstance(value, numbers.Integral) or value < 0:
            raise ValueError(f"{name} must be a non-negative integer, got {value!r}")
    per_column = 4 * max(int(n_rows), 1)
    return int(min(max(int(n_columns), 1), max(1, budget_bytes // per_column)))


def head_cross_entropy(
    rows: torch.Tensor, head: torch.nn.Linear, targets: torch.Tensor
) -> torch.Tensor:
    """Mean cross-entropy of ``head`` on ``rows``, in chunks where it must be.

    The plain loss while one chunk of :data:`LOGITS_CHUNK_BYTES` holds every
    logit (so small vocabularies train exactly as an ``nn.Linear`` head
    does), else :func:`chunked_cross_entropy`.
    """
    chunk_size = logits_chunk_size(len(rows), head.out_features)
    if chunk_size >= head.out_features:
        return F.cross_entropy(head(rows), targets)
    return chunked_cross_entropy(rows, head.weight, head.bias, targets, chunk_size)


def bag_cross_entropy(
    users: torch.Tensor, head: torch.nn.Linear, items: torch.Tensor
) -> torch.Tensor:
    """Mean cross-entropy of ``head`` over every (user, item) pair of a batch.

    ``users`` ``[batch, d]`` are the users' representations, ``items``
    ``[batch, length]`` their item indices (0: padding, never a target):
    each user's row of logits should put its mass on the user's items, the
    multinomial likelihood of the bag of items (as in Mult-VAE), so the
    representation keeps what the whole history says about the user. The
    logits are computed once per user, not once per pair; in vocabulary
    chunks where one chunk cannot hold them.
    """
    real = items > 0
    n_pairs = real.sum()
    if not bool(n_pairs):
        return users.sum() * 0.0
    chunk_size = logits_chunk_size(len(users), head.out_features)
    if chunk_size < head.out_features:
        user_of_pair = real.nonzero()[:, 0]
        return head_cross_entropy(users[user_of_pair], head, items[real])
    logits = head(users)
    logits = logits.to(accumulation_dtype(logits.dtype))
    own = logits.gather(1, items).masked_fill(~real, 0.0).sum()
    return (logits.logsumexp(1) @ real.sum(1).to(logits.dtype) - own) / n_pairs


def head_logit_mse(
    rows: torch.Tensor,
    head: torch.nn.Linear,
    teacher_rows: torch.Tensor,
    teacher_head: torch.nn.Linear,
) -> torch.Tensor:
    """MSE of ``head``'s logits on ``rows`` against ``teacher_head``'s, in chunks.

    The plain loss while one chunk of :data:`LOGITS_CHUNK_BYTES` holds every
    logit, else :func:`chunked_logit_mse`.
    """
    chunk_size = logits_chunk_size(len(rows), head.out_features)
    if chunk_size >= head.out_features:
        return F.mse_loss(head(rows), teacher_head(teacher_rows))
    return chunked_logit_mse(
        rows,
        head.weight,
        head.bias,
        teacher_rows,
        teacher_head.weight,
        teacher_head.bias,
        chunk_size,
    )


__all__ = [
    "ACTIVATION_CHUNK_BYTES",
    "LOGITS_CHUNK_BYTES",
    "bag_cross_entropy",
    "chunked_cross_entropy",
    "chunked_logit_mse",
    "chunked_logits_finite",
    "chunked_target_ranks",
    "chunked_top_k",
    "head_cross_entropy",
    "head_logit_mse",
    "logits_chunk_size",
    "users_per_pass",
]

"""Full-vocabulary heads in vocabulary chunks: exact losses and rankings.

A next-item head scores every item. Its logits for ``n`` rows hold
``n × V`` numbers: at 646 K items a batch of 256 users × 30 positions would
need 20 GB. The functions here compute the same results one slice of the
vocabulary at a time, so at most ``n × chunk_size`` logits exist at once:

- :func:`chunked_cross_entropy` is ``F.cross_entropy(rows @ W.T + b, y)``;
  the backward pass recomputes each chunk's logits instead of keeping them.
- :func:`chunked_logit_mse` is ``F.mse_loss(student_logits, teacher_logits)``
  of two heads on their rows (knowledge retention), computed the same way.
- :func:`chunked_target_ranks` and :func:`chunked_top_k` rank all columns
  of a head, as :func:`~sklearn_teracon.metrics.target_ranks` and a full
  sort do, without building a row's whole score vector;
  :func:`chunked_logits_finite` checks that none of its scores overflows.

:func:`logits_chunk_size` picks the chunk from a memory budget, and
:func:`users_per_pass` how many users' backbone activations a training pass
keeps at once (the rest run in checkpointed user chunks).
"""

from __future__ import annotations

import numbers

import torch
import torch.nn.functional as F

# Bytes of one chunk's logits (float32); a backward pass holds about three such
# temporaries. 64 MiB keeps a 646 K-item head within a few hundred MiB while
# each chunk's matrix multiply stays large enough to run at full speed.
LOGITS_CHUNK_BYTES = 64 * 2**20


# Bytes of backbone activations that one training pass keeps for backward
# before it runs in checkpointed user chunks (see ``users_per_pass``). Below
# it (the defaults, and the paper's model at batch 32) nothing is recomputed.
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


def _check_chunk_size(chunk_size) -> int:
    if isinstance(chunk_size, bool) or not isinstance(chunk_size, numbers.Integral):
        raise TypeError(f"chunk_size must be an integer >= 1, got {chunk_size!r}")
    if chunk_size < 1:
        raise ValueError(f"chunk_size must be >= 1, got {chunk_size}")
    return int(chunk_size)


def _check_head(rows: torch.Tensor, weight: torch.Tensor, bias) -> None:
    if rows.dim() != 2 or weight.dim() != 2 or rows.shape[1] != weight.shape[1]:
        raise ValueError(
            f"rows [n, d] and weight [V, d] must share d, got {tuple(rows.shape)} "
            f"and {tuple(weight.shape)}"
        )
    if bias is not None and tuple(bias.shape) != (weight.shape[0],):
        raise ValueError(
            f"bias must have shape ({weight.shape[0]},), got {tuple(bias.shape)}"
        )


def _column_chunks(rows, weight, bias, chunk_size: int, dtype=None):
    """``(start, stop, logits)`` of each chunk of the head's columns.

    ``dtype`` is the matrix multiplies' (default: the inputs' promoted type).
    """
    dtype = dtype or _compute_dtype(rows, weight, bias)
    for start in range(0, weight.shape[0], chunk_size):
        stop = min(start + chunk_size, weight.shape[0])
        yield start, stop, _chunk_logits(rows, weight, bias, start, stop, dtype)


def _chunk_logits(rows, weight, bias, start, stop, dtype):
    """Logits of columns ``start:stop`` in ``dtype``, kept in float32 at least."""
    # F.linear, as the head itself: one chunk gives the head's very logits.
    part_bias = None if bias is None else bias[start:stop].to(dtype)
    logits = F.linear(rows.to(dtype), weight[start:stop].to(dtype), part_bias)
    return logits.to(_accumulation_dtype(dtype))


def _compute_dtype(*tensors) -> torch.dtype:
    dtype = tensors[0].dtype
    for t in tensors[1:]:
        if t is not None:
            dtype = torch.promote_types(dtype, t.dtype)
    return dtype


def _accumulation_dtype(dtype: torch.dtype) -> torch.dtype:
    # Sums over a vocabulary are kept in float32 even for bfloat16 matmuls.
    return torch.promote_types(dtype, torch.float32)


class _HeadGradients:
    """Gradients of a head's ``rows``, ``weight`` and ``bias``, chunk by chunk."""

    def __init__(self, rows, weight, dtype):
        self.rows = torch.zeros(rows.shape, device=rows.device, dtype=dtype)
        self.weight = torch.zeros(weight.shape, device=rows.device, dtype=dtype)
        self.bias = torch.zeros(weight.shape[0], device=rows.device, dtype=dtype)

    def add(self, grad_logits, rows, weight, start: int, stop: int) -> None:
        """Add the chunk ``start:stop``'s share, from d loss / d its logits."""
        dtype = self.rows.dtype
        self.rows += grad_logits @ weight[start:stop].to(dtype)
        self.weight[start:stop] = grad_logits.T @ rows.to(dtype)
        self.bias[start:stop] = grad_logits.sum(0)

    def for_inputs(self, ctx, rows, weight, bias) -> tuple:
        """What ``backward`` returns for (rows, weight, bias): None where unneeded."""
        needed = ctx.needs_input_grad
        return (
            self.rows.to(rows.dtype) if needed[0] else None,
            self.weight.to(weight.dtype) if needed[1] else None,
            self.bias.to(bias.dtype) if bias is not None and needed[2] else None,
        )


class _ChunkedCrossEntropy(torch.autograd.Function):
    @staticmethod
    def forward(ctx, rows, weight, bias, targets, chunk_size):
        dtype = _compute_dtype(rows, weight, bias)
        with torch.autocast(rows.device.type, enabled=False):
            lse = torch.full(
                (rows.shape[0],),
                -torch.inf,
                device=rows.device,
                dtype=_accumulation_dtype(dtype),
            )
            for _, _, logits in _column_chunks(rows, weight, bias, chunk_size, dtype):
                lse = torch.logaddexp(lse, torch.logsumexp(logits, dim=1))
            target_logits = (rows.to(dtype) * weight[targets].to(dtype)).sum(1)
            if bias is not None:
                target_logits = target_logits + bias[targets].to(dtype)
            target_logits = target_logits.to(lse.dtype)
        ctx.save_for_backward(rows, weight, bias, targets, lse)
        ctx.chunk_size = chunk_size
        return (lse - target_logits).mean()

    @staticmethod
    def backward(ctx, grad_loss):
        rows, weight, bias, targets, lse = ctx.saved_tensors
        dtype = _compute_dtype(rows, weight, bias)
        n_rows, chunk_size = rows.shape[0], ctx.chunk_size
        scale = grad_loss.to(lse.dtype) / n_rows
        grads = _HeadGradients(rows, weight, dtype)
        every_row = torch.arange(n_rows, device=rows.device)
        with torch.autocast(rows.device.type, enabled=False):
            for start, stop, logits in _column_chunks(
                rows, weight, bias, chunk_size, dtype
            ):
                # d loss / d logits = (softmax − one-hot(target)) / n.
                grad = torch.exp(logits - lse[:, None])
                inside = (targets >= start) & (targets < stop)
                grad[every_row[inside], targets[inside] - start] -= 1.0
                grads.add((grad * scale).to(dtype), rows, weight, start, stop)
        return (*grads.for_inputs(ctx, rows, weight, bias), None, None)


def chunked_cross_entropy(
    rows: torch.Tensor,
    weight: torch.Tensor,
    bias: torch.Tensor | None,
    targets: torch.Tensor,
    chunk_size: int,
) -> torch.Tensor:
    """Mean cross-entropy of the head ``rows @ weight.T + bias``, in column chunks.

    Equal to ``F.cross_entropy(F.linear(rows, weight, bias), targets)`` within
    floating-point rounding, with gradients for ``rows``, ``weight`` and
    ``bias``; only ``len(rows) × chunk_size`` logits exist at a time (the
    backward pass recomputes them per chunk).

    Parameters
    ----------
    rows : Tensor of shape (n, d)
        Hidden states the head reads (at least one row).
    weight : Tensor of shape (V, d)
    bias : Tensor of shape (V,) or None
    targets : integer Tensor of shape (n,)
        Column of each row's target, in ``0 .. V - 1``.
    chunk_size : int
        Columns per chunk (see :func:`logits_chunk_size`).

    Returns
    -------
    Tensor
        The scalar loss, float32 (float64 if the inputs are).
    """
    chunk_size = _check_chunk_size(chunk_size)
    _check_head(rows, weight, bias)
    if targets.dim() != 1 or len(targets) != len(rows) or len(rows) == 0:
        raise ValueError(
            f"targets must be 1-D with one entry per row ({len(rows)} rows, at "
            f"least one), got shape {tuple(targets.shape)}"
        )
    if targets.dtype.is_floating_point or targets.dtype == torch.bool:
        raise TypeError(f"targets must be integers, got {targets.dtype}")
    if bool(((targets < 0) | (targets >= weight.shape[0])).any()):
        raise ValueError(f"targets must lie in [0, {weight.shape[0]})")
    loss = _ChunkedCrossEntropy.apply(rows, weight, bias, targets, chunk_size)
    return loss.to(_compute_dtype(rows, weight, bias))


def _logit_differences(
    rows, weight, bias, teacher_rows, teacher_weight, teacher_bias, chunk_size
):
    """``(start, stop, student − teacher logits)`` of each column chunk."""
    student = _column_chunks(rows, weight, bias, chunk_size)
    teacher = _column_chunks(teacher_rows, teacher_weight, teacher_bias, chunk_size)
    for (start, stop, logits), (_, _, teacher_logits) in zip(student, teacher):
        yield start, stop, logits - teacher_logits


class _ChunkedLogitMSE(torch.autograd.Function):
    @staticmethod
    def forward(
        ctx, rows, weight, bias, teacher_rows, teacher_weight, teacher_bias, chunk_size
    ):
        dtype = _compute_dtype(rows, weight, bias)
        total = torch.zeros((), device=rows.device, dtype=_accumulation_dtype(dtype))
        with torch.autocast(rows.device.type, enabled=False):
            for _, _, diff in _logit_differences(
                rows,
                weight,
                bias,
                teacher_rows,
                teacher_weight,
                teacher_bias,
                chunk_size,
            ):
                total += diff.square().sum()
        ctx.save_for_backward(
            rows, weight, bias, teacher_rows, teacher_weight, teacher_bias
        )
        ctx.chunk_size = chunk_size
        return total / (rows.shape[0] * weight.shape[0])

    @staticmethod
    def backward(ctx, grad_loss):
        rows, weight, bias, teacher_rows, teacher_weight, teacher_bias = (
            ctx.saved_tensors
        )
        dtype = _compute_dtype(rows, weight, bias)
        scale = (
            2.0
            * grad_loss.to(_accumulation_dtype(dtype))
            / (rows.shape[0] * weight.shape[0])
        )
        grads = _HeadGradients(rows, weight, dtype)
        with torch.autocast(rows.device.type, enabled=False):
            for start, stop, diff in _logit_differences(
                rows,
                weight,
                bias,
                teacher_rows,
                teacher_weight,
                teacher_bias,
                ctx.chunk_size,
            ):
                grads.add((diff * scale).to(dtype), rows, weight, start, stop)
        return (*grads.for_inputs(ctx, rows, weight, bias), None, None, None, None)


def chunked_logit_mse(
    rows: torch.Tensor,
    weight: torch.Tensor,
    bias: torch.Tensor | None,
    teacher_rows: torch.Tensor,
    teacher_weight: torch.Tensor,
    teacher_bias: torch.Tensor | None,
    chunk_size: int,
) -> torch.Tensor:
    """MSE between a student head's logits and a frozen teacher head's, in chunks.

    Equal to ``F.mse_loss(F.linear(rows, weight, bias), F.linear(teacher_rows,
    teacher_weight, teacher_bias))`` within rounding. Gradients flow to the
    student (``rows``, ``weight``, ``bias``) only: the teacher gives fixed
    pseudo-labels. Both heads' logits are recomputed per chunk in backward.

    Parameters
    ----------
    rows, teacher_rows : Tensor of shape (n, d)
    weight, teacher_weight : Tensor of shape (V, d)
    bias, teacher_bias : Tensor of shape (V,) or None
    chunk_size : int
        Columns per chunk (see :func:`logits_chunk_size`).

    Returns
    -------
    Tensor
        The scalar loss.
    """
    chunk_size = _check_chunk_size(chunk_size)
    _check_head(rows, weight, bias)
    _check_head(teacher_rows, teacher_weight, teacher_bias)
    if teacher_rows.shape != rows.shape or teacher_weight.shape != weight.shape:
        raise ValueError(
            "student and teacher must have the same rows and head shapes, got "
            f"{tuple(rows.shape)}, {tuple(weight.shape)} and "
            f"{tuple(teacher_rows.shape)}, {tuple(teacher_weight.shape)}"
        )
    if len(rows) == 0:
        raise ValueError("chunked_logit_mse needs at least one row")
    teacher = [
        t.detach() if t is not None else None
        for t in (teacher_rows, teacher_weight, teacher_bias)
    ]
    loss = _ChunkedLogitMSE.apply(rows, weight, bias, *teacher, chunk_size)
    return loss.to(_compute_dtype(rows, weight, bias))


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
    logits = logits.to(_accumulation_dtype(logits.dtype))
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


@torch.no_grad()
def chunked_target_ranks(
    rows: torch.Tensor,
    weight: torch.Tensor,
    bias: torch.Tensor | None,
    targets: torch.Tensor,
    chunk_size: int,
) -> torch.Tensor:
    """1-based rank of each row's target among all columns, pessimistic on ties.

    What :func:`~sklearn_teracon.metrics.target_ranks` gives on the full
    score matrix ``rows @ weight.T + bias``: ``1 + (number of other columns
    scoring >= the target)``, ``inf`` for a target of ``-1``. Two passes over
    the chunks: the first reads each target's score from the very product
    the second compares against, so a target always ties with itself.

    Raises
    ------
    ValueError
        If a score is NaN (NaN cannot be ranked).
    """
    chunk_size = _check_chunk_size(chunk_size)
    _check_head(rows, weight, bias)
    dtype = _compute_dtype(rows, weight, bias)
    every_row = torch.arange(len(rows), device=rows.device)
    target_scores = torch.zeros(
        len(rows), device=rows.device, dtype=_accumulation_dtype(dtype)
    )
    for start, stop, logits in _column_chunks(rows, weight, bias, chunk_size, dtype):
        if bool(torch.isnan(logits).any()):
            raise ValueError("scores contain NaN; NaN scores cannot be ranked")
        inside = (targets >= start) & (targets < stop)
        target_scores[inside] = logits[every_row[inside], targets[inside] - start]
    counts = torch.zeros(len(rows), device=rows.device, dtype=torch.float64)
    for _, _, logits in _column_chunks(rows, weight, bias, chunk_size, dtype):
        counts += (logits >= target_scores[:, None]).sum(1)
    return torch.where(targets < 0, torch.inf, counts)


@torch.no_grad()
def chunked_logits_finite(
    rows: torch.Tensor,
    weight: torch.Tensor,
    bias: torch.Tensor | None,
    chunk_size: int,
) -> bool:
    """Whether every logit of ``rows @ weight.T + bias`` is finite, in chunks.

    Finite rows and weights are not enough: their products can overflow.
    Each chunk's logits are computed as the head computes them and checked;
    one device sync in all.
    """
    chunk_size = _check_chunk_size(chunk_size)
    _check_head(rows, weight, bias)
    finite = [
        logits.isfinite().all()
        for _, _, logits in _column_chunks(rows, weight, bias, chunk_size)
    ]
    return bool(torch.stack(finite).all()) if finite else True


@torch.no_grad()
def chunked_top_k(
    rows: torch.Tensor,
    weight: torch.Tensor,
    bias: torch.Tensor | None,
    k: int,
    chunk_size: int,
) -> torch.Tensor:
    """Columns of the ``k`` best scores of each row, best first, ``[n, min(k, V)]``.

    Each chunk's own top ``k`` are merged into the running top ``k``, so no
    row's whole score vector is built.
    """
    chunk_size = _check_chunk_size(chunk_size)
    _check_head(rows, weight, bias)
    dtype = _compute_dtype(rows, weight, bias)
    k = min(int(k), weight.shape[0])
    best_scores = rows.new_empty((len(rows), 0), dtype=_accumulation_dtype(dtype))
    best_columns = torch.empty((len(rows), 0), dtype=torch.long, device=rows.device)
    for start, _, logits in _column_chunks(rows, weight, bias, chunk_size, dtype):
        scores, columns = logits.topk(min(k, logits.shape[1]), dim=1)
        scores = torch.cat([best_scores, scores], dim=1)
        columns = torch.cat([best_columns, columns + start], dim=1)
        best_scores, order = scores.topk(min(k, scores.shape[1]), dim=1)
        best_columns = columns.gather(1, order)
    return best_columns


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

"""Training losses of a full-vocabulary head, exact, one column chunk at a time.

:func:`chunked_cross_entropy` is ``F.cross_entropy(rows @ W.T + b, y)`` and
:func:`chunked_logit_mse` ``F.mse_loss`` of a student head's logits against a
frozen teacher's (knowledge retention); each backward pass recomputes the
chunks' logits instead of keeping them.
"""

from __future__ import annotations

import torch

from ._columns import (
    HeadGradients,
    accumulation_dtype,
    check_chunk_size,
    check_head,
    column_chunks,
    compute_dtype,
)

__all__ = ["chunked_cross_entropy", "chunked_logit_mse"]


class _ChunkedCrossEntropy(torch.autograd.Function):
    @staticmethod
    def forward(ctx, rows, weight, bias, targets, chunk_size):
        dtype = compute_dtype(rows, weight, bias)
        with torch.autocast(rows.device.type, enabled=False):
            lse = torch.full(
                (rows.shape[0],),
                -torch.inf,
                device=rows.device,
                dtype=accumulation_dtype(dtype),
            )
            for _, _, logits in column_chunks(rows, weight, bias, chunk_size, dtype):
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
        dtype = compute_dtype(rows, weight, bias)
        n_rows, chunk_size = rows.shape[0], ctx.chunk_size
        scale = grad_loss.to(lse.dtype) / n_rows
        grads = HeadGradients(rows, weight, dtype)
        every_row = torch.arange(n_rows, device=rows.device)
        with torch.autocast(rows.device.type, enabled=False):
            for start, stop, logits in column_chunks(
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
    chunk_size = check_chunk_size(chunk_size)
    check_head(rows, weight, bias)
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
    return loss.to(compute_dtype(rows, weight, bias))


def _logit_differences(heads: tuple, chunk_size: int):
    """``(start, stop, student − teacher logits)`` of each column chunk.

    ``heads`` is ``(rows, weight, bias, teacher_rows, teacher_weight,
    teacher_bias)``.
    """
    student = column_chunks(*heads[:3], chunk_size)
    teacher = column_chunks(*heads[3:], chunk_size)
    for (start, stop, logits), (_, _, teacher_logits) in zip(student, teacher):
        yield start, stop, logits - teacher_logits


class _ChunkedLogitMSE(torch.autograd.Function):
    @staticmethod
    def forward(
        ctx, rows, weight, bias, teacher_rows, teacher_weight, teacher_bias, chunk_size
    ):
        heads = (rows, weight, bias, teacher_rows, teacher_weight, teacher_bias)
        dtype = compute_dtype(rows, weight, bias)
        total = torch.zeros((), device=rows.device, dtype=accumulation_dtype(dtype))
        with torch.autocast(rows.device.type, enabled=False):
            for _, _, diff in _logit_differences(heads, chunk_size):
                total += diff.square().sum()
        ctx.save_for_backward(*heads)
        ctx.chunk_size = chunk_size
        return total / (rows.shape[0] * weight.shape[0])

    @staticmethod
    def backward(ctx, grad_loss):
        heads = ctx.saved_tensors
        rows, weight, bias = heads[:3]
        dtype = compute_dtype(rows, weight, bias)
        scale = (
            2.0
            * grad_loss.to(accumulation_dtype(dtype))
            / (rows.shape[0] * weight.shape[0])
        )
        grads = HeadGradients(rows, weight, dtype)
        with torch.autocast(rows.device.type, enabled=False):
            for start, stop, diff in _logit_differences(heads, ctx.chunk_size):
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
    chunk_size = check_chunk_size(chunk_size)
    check_head(rows, weight, bias)
    check_head(teacher_rows, teacher_weight, teacher_bias)
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
    return loss.to(compute_dtype(rows, weight, bias))

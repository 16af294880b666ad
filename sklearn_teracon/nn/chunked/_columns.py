"""What every chunked computation shares: argument checks, the head's logits
one column chunk at a time, the arithmetic types, and the gradients of a head
gathered chunk by chunk."""

from __future__ import annotations

import numbers

import torch
import torch.nn.functional as F


def check_chunk_size(chunk_size) -> int:
    """``chunk_size`` as an int; a TypeError or ValueError unless it is >= 1."""
    if isinstance(chunk_size, bool) or not isinstance(chunk_size, numbers.Integral):
        raise TypeError(f"chunk_size must be an integer >= 1, got {chunk_size!r}")
    if chunk_size < 1:
        raise ValueError(f"chunk_size must be >= 1, got {chunk_size}")
    return int(chunk_size)


def check_head(rows: torch.Tensor, weight: torch.Tensor, bias) -> None:
    """A ValueError unless ``rows [n, d]``, ``weight [V, d]`` and ``bias [V]``
    (or None) make a head."""
    if rows.dim() != 2 or weight.dim() != 2 or rows.shape[1] != weight.shape[1]:
        raise ValueError(
            f"rows [n, d] and weight [V, d] must share d, got {tuple(rows.shape)} "
            f"and {tuple(weight.shape)}"
        )
    if bias is not None and tuple(bias.shape) != (weight.shape[0],):
        raise ValueError(
            f"bias must have shape ({weight.shape[0]},), got {tuple(bias.shape)}"
        )


def column_chunks(rows, weight, bias, chunk_size: int, dtype=None):
    """``(start, stop, logits)`` of each chunk of the head's columns.

    ``dtype`` is the matrix multiplies' (default: the inputs' promoted type).
    """
    dtype = dtype or compute_dtype(rows, weight, bias)
    for start in range(0, weight.shape[0], chunk_size):
        stop = min(start + chunk_size, weight.shape[0])
        yield start, stop, _chunk_logits(rows, weight, bias, start, stop, dtype)


def _chunk_logits(rows, weight, bias, start, stop, dtype):
    """Logits of columns ``start:stop`` in ``dtype``, kept in float32 at least."""
    # F.linear, as the head itself: one chunk gives the head's very logits.
    part_bias = None if bias is None else bias[start:stop].to(dtype)
    logits = F.linear(rows.to(dtype), weight[start:stop].to(dtype), part_bias)
    return logits.to(accumulation_dtype(dtype))


def compute_dtype(*tensors) -> torch.dtype:
    """The promoted type of ``tensors`` (None entries skipped)."""
    dtype = tensors[0].dtype
    for t in tensors[1:]:
        if t is not None:
            dtype = torch.promote_types(dtype, t.dtype)
    return dtype


def accumulation_dtype(dtype: torch.dtype) -> torch.dtype:
    """The type of sums over a vocabulary: ``dtype``, float32 at least."""
    # Sums over a vocabulary are kept in float32 even for bfloat16 matmuls.
    return torch.promote_types(dtype, torch.float32)


class HeadGradients:
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

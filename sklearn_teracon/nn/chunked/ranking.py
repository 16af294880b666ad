"""Inference over a full-vocabulary head, one column chunk at a time.

:func:`chunked_target_ranks` and :func:`chunked_top_k` rank all columns of a
head, as :func:`~sklearn_teracon.metrics.target_ranks` and a full sort do,
without building a row's whole score vector; :func:`chunked_logits_finite`
checks that none of its scores overflows.
"""

from __future__ import annotations

import torch

from ._columns import (
    accumulation_dtype,
    check_chunk_size,
    check_head,
    column_chunks,
    compute_dtype,
)

__all__ = ["chunked_logits_finite", "chunked_target_ranks", "chunked_top_k"]


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
    chunk_size = check_chunk_size(chunk_size)
    check_head(rows, weight, bias)
    dtype = compute_dtype(rows, weight, bias)
    every_row = torch.arange(len(rows), device=rows.device)
    target_scores = torch.zeros(
        len(rows), device=rows.device, dtype=accumulation_dtype(dtype)
    )
    for start, stop, logits in column_chunks(rows, weight, bias, chunk_size, dtype):
        if bool(torch.isnan(logits).any()):
            raise ValueError("scores contain NaN; NaN scores cannot be ranked")
        inside = (targets >= start) & (targets < stop)
        target_scores[inside] = logits[every_row[inside], targets[inside] - start]
    counts = torch.zeros(len(rows), device=rows.device, dtype=torch.float64)
    for _, _, logits in column_chunks(rows, weight, bias, chunk_size, dtype):
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
    chunk_size = check_chunk_size(chunk_size)
    check_head(rows, weight, bias)
    finite = [
        logits.isfinite().all()
        for _, _, logits in column_chunks(rows, weight, bias, chunk_size)
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
    chunk_size = check_chunk_size(chunk_size)
    check_head(rows, weight, bias)
    dtype = compute_dtype(rows, weight, bias)
    k = min(int(k), weight.shape[0])
    best_scores = rows.new_empty((len(rows), 0), dtype=accumulation_dtype(dtype))
    best_columns = torch.empty((len(rows), 0), dtype=torch.long, device=rows.device)
    for start, _, logits in column_chunks(rows, weight, bias, chunk_size, dtype):
        scores, columns = logits.topk(min(k, logits.shape[1]), dim=1)
        scores = torch.cat([best_scores, scores], dim=1)
        columns = torch.cat([best_columns, columns + start], dim=1)
        best_scores, order = scores.topk(min(k, scores.shape[1]), dim=1)
        best_columns = columns.gather(1, order)
    return best_columns

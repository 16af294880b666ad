"""What a trained net answers: logits, top columns, target ranks, embeddings."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import numpy as np
import torch
from skorch.dataset import Dataset

from ..nn.chunked import (
    chunked_logits_finite,
    chunked_target_ranks,
    chunked_top_k,
    logits_chunk_size,
)
from ._precision import at_precision


class InferenceMixin:
    """The inference side of :class:`~sklearn_teracon.training.ContinualNet`.

    Every answer maps the evaluation batches of ``X`` (:meth:`map_batches`)
    on the task's rows or representations at the full scale ``s``.
    """

    def _eval_batches(self, X: np.ndarray) -> Iterator[torch.Tensor]:
        self.module_.eval()
        # A loader draws a seed from torch's generator when it starts; the
        # answers need no randomness, so the caller's generator is left as it
        # was (training's stream too).
        with torch.random.fork_rng(devices=[]):
            batches = iter(self.get_iterator(Dataset(X, None), training=False))
        for Xi, _ in batches:
            yield Xi.to(self.device)

    def map_batches(
        self, X: np.ndarray, fn: Callable[[torch.Tensor, int], torch.Tensor]
    ) -> np.ndarray:
        """``fn(batch, first_row)`` on each evaluation batch of ``X``, stacked."""
        out, start = [], 0
        for x in self._eval_batches(X):
            out.append(fn(x, start).cpu())
            start += len(x)
        return torch.cat(out).numpy()

    def _head_columns(self, task: int, first_column: int):
        head = self.module_.heads[task]
        return head.weight[first_column:], head.bias[first_column:]

    @at_precision
    @torch.no_grad()
    def predict_logits(self, X: np.ndarray, task: int) -> np.ndarray:
        """Logits of ``task`` at the last position, ``[n_users, n_outputs]``."""
        return self.map_batches(
            X, lambda x, _: self.task_logits(self.module_, x, task, self.s).float()
        )

    @at_precision
    @torch.no_grad()
    def outputs_finite(self, X: np.ndarray, task: int) -> bool:
        """Whether every output of ``task`` on ``X`` is finite.

        What :meth:`predict_logits` would give, checked without building it:
        a next-item head's logits in vocabulary chunks
        (:func:`~sklearn_teracon.nn.chunked.chunked_logits_finite`).
        """
        weight, bias = self._head_columns(task, 0)
        for x in self._eval_batches(X):
            rows = self.task_rows(self.module_, x, task, self.s)
            chunk_size = logits_chunk_size(len(rows), len(weight))
            if not chunked_logits_finite(rows, weight, bias, chunk_size):
                return False
        return True

    @at_precision
    @torch.no_grad()
    def top_columns(
        self, X: np.ndarray, task: int, k: int, first_column: int = 0
    ) -> np.ndarray:
        """The ``k`` best columns of ``task`` per user, best first.

        Columns before ``first_column`` are left out; column ``0`` of the
        result is ``first_column``. Ranked in vocabulary chunks
        (:func:`~sklearn_teracon.nn.chunked.chunked_top_k`): no
        ``[n_users, n_outputs]`` matrix is built.
        """
        weight, bias = self._head_columns(task, first_column)

        def top(x, _):
            rows = self.task_rows(self.module_, x, task, self.s)
            chunk_size = logits_chunk_size(len(rows), len(weight))
            return chunked_top_k(rows, weight, bias, k, chunk_size)

        return self.map_batches(X, top)

    @at_precision
    @torch.no_grad()
    def target_ranks(
        self, X: np.ndarray, task: int, targets: np.ndarray, first_column: int = 0
    ) -> np.ndarray:
        """Pessimistic 1-based rank of each user's target column (``-1``: ``inf``).

        As :func:`~sklearn_teracon.metrics.target_ranks` on the columns from
        ``first_column`` on, computed in vocabulary chunks
        (:func:`~sklearn_teracon.nn.chunked.chunked_target_ranks`).
        """
        weight, bias = self._head_columns(task, first_column)
        targets = torch.as_tensor(np.asarray(targets, dtype=np.int64))

        def ranks(x, start):
            rows = self.task_rows(self.module_, x, task, self.s)
            chunk_size = logits_chunk_size(len(rows), len(weight))
            batch_targets = targets[start : start + len(rows)].to(self.device)
            return chunked_target_ranks(rows, weight, bias, batch_targets, chunk_size)

        return self.map_batches(X, ranks)

    @at_precision
    @torch.no_grad()
    def embed(self, X: np.ndarray, task: int) -> np.ndarray:
        """User representations of ``task``, ``[n_users, d]``."""
        return self.map_batches(
            X, lambda x, _: self.represent(self.module_, x, task, self.s).float()
        )

    @torch.no_grad()
    def mask_similarity(self) -> np.ndarray:
        """Mean over slots of the cosine similarity between the tasks' masks.

        As the strategy measures it (TERACON: as ρ does, ``relation``).
        """
        return self.strategy.task_relations(self.module_, self.s).cpu().numpy()

    def structure(self) -> dict:
        """What rebuilding the module needs besides the weights (its task state too)."""
        return self.module_.structure()


__all__ = ["InferenceMixin"]

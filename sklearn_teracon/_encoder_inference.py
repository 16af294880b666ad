"""What a fitted estimator answers: predictions, rankings, scores, embeddings."""

from __future__ import annotations

import numbers

import numpy as np
from sklearn.base import TransformerMixin
from sklearn.utils._set_output import _get_output_config
from sklearn.utils.validation import check_is_fitted

from ._chunked_output import check_out, stack_chunks, write_parquet_chunks
from ._sequence_sources import source_to_store
from ._sequence_store import SEQUENCE_CHUNK_ROWS
from ._sequences import N_RESERVED, check_labels, input_index
from ._tasks import TaskRecord, _check_next_items, _check_task
from .metrics._scoring import _row_scores_of_ranks, _row_scores_with_metric
from .nn import LABELS, NEXT_ITEM
from .training._threads import worker_torch_threads
from .training.persistence import module_architecture

# Answer entries per chunk of users (64 MB of float32 scores).
ANSWER_CHUNK_ELEMENTS = 1 << 24


class EncoderInference(TransformerMixin):
    """The inference side of :class:`~sklearn_teracon.ContinualUserEncoder`.

    A ``TransformerMixin`` itself: scikit-learn wraps ``transform`` for
    ``set_output`` only in the class that defines it.
    """

    def _record(self, task: str | None) -> TaskRecord:
        check_is_fitted(self)
        task = _check_task(task)
        if task is None:
            return self.tasks_[self.last_task_]
        if task not in self.tasks_:
            raise ValueError(
                f"unknown task {task!r}; this encoder has learned {list(self.tasks_)}"
            )
        return self.tasks_[task]

    def _encode(self, X) -> np.ndarray:
        """``X`` as the padded index matrix the network reads, all at once."""
        store = source_to_store(self._source(X))
        return self.item_vocabulary_.encode_store(store, self.max_len)

    def _answers(self, source, answer, n_columns: int):
        """``answer(encoded, first_row)`` on each chunk of the users, in order.

        Chunks are whole evaluation batches, so the batches (and the answers,
        bit for bit) are those of one pass; ``n_columns`` (the width of an
        answer row) keeps each chunk's answer to a few tens of MB.
        """
        batch = self.net_.batch_size
        rows = min(SEQUENCE_CHUNK_ROWS, ANSWER_CHUNK_ELEMENTS // max(n_columns, 1))
        rows = max(batch, rows // batch * batch)
        start = 0
        with worker_torch_threads():
            for store in source.sequence_chunks(rows):
                encoded = self.item_vocabulary_.encode_store(store, self.max_len)
                yield answer(encoded, start)
                start += len(store)

    def _deliver(self, X, answer, n_columns: int, out, column: str):
        """The answers for ``X``, stacked into one array or written to ``out``.

        ``out``: None, or the path of a Parquet file to write in chunks (a
        ``column`` of fixed-size lists, and ``user`` when ``X`` has user ids);
        then the path is returned.
        """
        path = check_out(out)
        source = self._source(X)
        answers = self._answers(source, answer, n_columns)
        if path is None:
            return stack_chunks(answers, len(source))
        return write_parquet_chunks(path, answers, column, users=input_index(X))

    def _n_outputs(self, record: TaskRecord) -> int:
        return self.net_.module_.heads[record.index].out_features

    def _scores_of(self, record: TaskRecord):
        """The answer giving a chunk's scores of ``record``'s classes (items)."""
        # A next-item head's first two columns are padding and unknown.
        first = N_RESERVED if record.kind == NEXT_ITEM else 0

        def scores(encoded, _):
            return self.net_.predict_logits(encoded, record.index)[:, first:]

        return scores

    def classes_of(self, task: str | None = None) -> np.ndarray:
        """The labels a task predicts: its classes, or the items of a next-item task."""
        record = self._record(task)
        if record.kind == LABELS:
            return record.classes_
        n_items = self.net_.module_.heads[record.index].out_features - N_RESERVED
        return self.item_vocabulary_.decode(np.arange(n_items) + N_RESERVED)

    def decision_function(
        self, X, task: str | None = None, *, out=None
    ) -> np.ndarray | str:
        """Scores of every class (or item) of ``task``, shape ``(n, n_classes)``.

        With ``out`` (a path), written there in chunks (a ``scores`` column;
        see :ref:`at-scale`) and the path returned.
        """
        record = self._record(task)
        scores = self._scores_of(record)
        return self._deliver(X, scores, self._n_outputs(record), out, "scores")

    def predict_proba(
        self, X, task: str | None = None, *, out=None
    ) -> np.ndarray | str:
        """Class (or item) probabilities of ``task``, shape ``(n, n_classes)``.

        With ``out`` (a path), written there in chunks (a ``proba`` column)
        and the path returned.
        """
        record = self._record(task)
        scores_of = self._scores_of(record)

        def proba(encoded, start):
            scores = scores_of(encoded, start)
            scores = scores - scores.max(axis=1, keepdims=True)
            p = np.exp(scores)
            return p / p.sum(axis=1, keepdims=True)

        return self._deliver(X, proba, self._n_outputs(record), out, "proba")

    def predict(self, X, task: str | None = None) -> np.ndarray:
        """The most likely class of ``task`` (the next item, for next-item tasks)."""
        return self.recommend(X, task=task, k=1)[:, 0]

    def recommend(
        self, X, task: str | None = None, k: int = 10, *, out=None
    ) -> np.ndarray | str:
        """Top-``k`` classes (items) of ``task`` per user, best first.

        Returns an array of shape ``(n, min(k, n_classes))``; with ``out`` (a
        path), writes it there in chunks (an ``items`` column) and returns the
        path.
        """
        if not isinstance(k, numbers.Integral) or isinstance(k, bool) or k < 1:
            raise ValueError(f"k must be a positive integer, got {k!r}")
        record = self._record(task)
        classes = self.classes_of(task)
        k = min(int(k), len(classes))
        if record.kind == NEXT_ITEM:
            # Ranked in vocabulary chunks: no [n_users, n_items] score matrix.
            def top(encoded, _):
                columns = self.net_.top_columns(encoded, record.index, k, N_RESERVED)
                return classes[columns]
        else:

            def top(encoded, _):
                scores = self.net_.predict_logits(encoded, record.index)
                best = np.argpartition(-scores, k - 1, axis=1)[:, :k]
                order = np.take_along_axis(scores, best, axis=1).argsort(
                    axis=1, kind="stable"
                )
                return classes[np.take_along_axis(best, order[:, ::-1], axis=1)]

        return self._deliver(X, top, self._n_outputs(record), out, "items")

    def transform(self, X, task: str | None = None, *, out=None) -> np.ndarray | str:
        """User representations, shape ``(n, embedding_dim)``.

        With a task: the ``readout`` representation (by default the mean
        hidden state over the user's real positions) under that task's masks.
        Without one: the universal representation, the mean of every learned
        task's representation (fixed width, uses every task; why the mean:
        :ref:`universal-representation`). A probe that must not move as
        tasks arrive should read one task's, ``transform(X, task=...)``.

        With ``out`` (a path), the embeddings are written there in chunks of
        users (an ``embedding`` column, see :ref:`at-scale`) and the path is
        returned: any number of users with bounded memory.
        """
        check_is_fitted(self)
        if (
            out is not None
            and _get_output_config("transform", self)["dense"] != "default"
        ):
            raise ValueError(
                "out= writes the embeddings to a file, but set_output(transform="
                f"{_get_output_config('transform', self)['dense']!r}) asks for a "
                "container: use one or the other"
            )
        indices = (
            [self._record(task).index]
            if task is not None
            else [r.index for r in self.tasks_.values()]
        )

        def embed(encoded, _):
            each = [self.net_.embed(encoded, i) for i in indices]
            return each[0] if len(each) == 1 else np.mean(each, axis=0)

        width = module_architecture(self.net_.module_)["embedding_dim"]
        out = self._deliver(X, embed, width, out, "embedding")
        return out if isinstance(out, str) else self._keep_index(out, X)

    def _keep_index(self, out: np.ndarray, X):
        """``out`` as a DataFrame indexed like ``X`` under a pandas output.

        scikit-learn keeps a DataFrame's index (older versions drop a
        Series'); a ``UserSequences`` gives its user ids.
        """
        index = input_index(X)
        if index is None or _get_output_config("transform", self)["dense"] != "pandas":
            return out
        import pandas as pd

        return pd.DataFrame(out, index=index)

    def get_feature_names_out(self, input_features=None) -> np.ndarray:
        """Names of :meth:`transform`'s columns: ``embedding_0``, ``embedding_1``, ...

        Parameters
        ----------
        input_features : None
            Unused: the input is item sequences, which have no feature names.
            Accepted so that a :class:`~sklearn.pipeline.Pipeline` can call it.

        Returns
        -------
        ndarray of str, shape (embedding_dim,)
        """
        check_is_fitted(self)
        width = module_architecture(self.net_.module_)["embedding_dim"]
        return np.asarray([f"embedding_{i}" for i in range(width)], dtype=object)

    def score(self, X, y=None, task: str | None = None) -> float:
        """The task's metric on ``(X, y)``: accuracy (≤ 20 classes) or MRR@5.

        For a next-item task without ``y``, each sequence's last item is
        predicted from the items before it (full ranking over all items).
        Labels (items) never seen in training count as misses. The mean of
        :meth:`score_rows`.
        """
        return float(np.mean(self.score_rows(X, y, task=task)))

    def score_rows(self, X, y=None, task: str | None = None) -> np.ndarray:
        """Each row's term of :meth:`score`: 0/1 correctness, or its reciprocal rank.

        For comparing two models on the same users: the difference of their
        scores is the mean of the rows' differences, whose spread
        :func:`~sklearn_teracon.metrics.paired_difference` bootstraps.

        Parameters
        ----------
        X : list of sequences or 2-D padded array
        y : array-like of shape (n_sequences,) or None
            Labels (items); None for a next-item task scores each sequence's
            last item.
        task : str or None
            Default: the last task trained.

        Returns
        -------
        ndarray of shape (n_sequences,)
            Each row's accuracy (0 or 1) or MRR@5 term (``1/rank`` within
            the top 5, else 0), in the task's metric.

        Examples
        --------
        >>> from sklearn_teracon import ContinualUserEncoder
        >>> seqs = [[1, 2, 3, 4], [2, 3, 4, 5], [5, 4, 3, 2]] * 8
        >>> enc = ContinualUserEncoder(embedding_dim=8, n_blocks=1, max_epochs=1,
        ...                            random_state=0).partial_fit(seqs)
        >>> rows = enc.score_rows(seqs)
        >>> rows.shape, bool(rows.mean() == enc.score(seqs))
        ((24,), True)
        """
        record = self._record(task)
        X = self._source(X)  # checked once; the answers below read it as it is
        if record.kind == NEXT_ITEM and y is None:
            X, y = source_to_store(X).split_last()
        elif y is None:
            raise ValueError(f"task {record.name!r} is labelled: score needs y")
        n_users = len(X)
        if record.kind == NEXT_ITEM and record.metric != "accuracy":
            # Ranks in vocabulary chunks: no [n_users, n_items] score matrix.
            targets = self._targets(record, _check_next_items(y, n_users))

            def ranks(encoded, start):
                rows = targets[start : start + len(encoded)]
                return self.net_.target_ranks(encoded, record.index, rows, N_RESERVED)

            ranks = self._deliver(X, ranks, 1, None, "ranks")
            return _row_scores_of_ranks(record.metric, ranks)
        if record.kind == LABELS:
            y = check_labels(y, n_users)
        else:
            y = _check_next_items(y, n_users)
        scores = self.decision_function(X, record.name)
        return _row_scores_with_metric(record.metric, scores, self._targets(record, y))

    def _targets(self, record: TaskRecord, y) -> np.ndarray:
        """Column index of each label in ``decision_function``; -1 if unknown."""
        if record.kind == NEXT_ITEM:
            index = self.item_vocabulary_.index_of(y) - N_RESERVED
            n_items = self.net_.module_.heads[record.index].out_features - N_RESERVED
            return np.where((index >= 0) & (index < n_items), index, -1)
        classes = record.classes_
        pos = np.clip(np.searchsorted(classes, y), 0, len(classes) - 1)
        return np.where(classes[pos] == y, pos, -1)


__all__ = ["EncoderInference"]

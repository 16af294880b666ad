"""One task's training loop: the skorch net, its callbacks, the retention term,
and the plugin protocol that strategies implement (:mod:`.strategy`)."""

from .build import build_net, seeded, trim_padding_collate
from .callbacks import ScaleAnnealing
from .net import ContinualNet
from .retention import (
    annealed_scale,
    floored_ratio,
    mask_cosine,
    mask_similarity,
    relation_aware_ratio,
    retention_loss,
    retention_sample_size,
)
from .strategy import Strategy, TaskContext

__all__ = [
    "ContinualNet",
    "ScaleAnnealing",
    "Strategy",
    "TaskContext",
    "annealed_scale",
    "build_net",
    "floored_ratio",
    "mask_cosine",
    "mask_similarity",
    "relation_aware_ratio",
    "retention_loss",
    "retention_sample_size",
    "seeded",
    "trim_padding_collate",
]

"""One task's training loop: the skorch net, its callbacks and the retention term."""

from .callbacks import ScaleAnnealing
from .net import ContinualNet, build_net, seeded, trim_padding_collate
from .retention import (
    annealed_scale,
    floored_ratio,
    mask_cosine,
    relation_aware_ratio,
    retention_loss,
    retention_sample_size,
)

__all__ = [
    "ContinualNet",
    "ScaleAnnealing",
    "annealed_scale",
    "build_net",
    "floored_ratio",
    "mask_cosine",
    "relation_aware_ratio",
    "retention_loss",
    "retention_sample_size",
    "seeded",
    "trim_padding_collate",
]

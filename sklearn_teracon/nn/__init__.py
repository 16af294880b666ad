"""PyTorch modules of sklearn-teracon (torch lives only here and in training)."""

from .backbone import CausalConv1d, MaskedResidualBlock, NextItNet
from .masks import TaskMaskBank
from .model import HEAD_KINDS, LABELS, NEXT_ITEM, TeraconModule

__all__ = [
    "CausalConv1d",
    "HEAD_KINDS",
    "LABELS",
    "MaskedResidualBlock",
    "NEXT_ITEM",
    "NextItNet",
    "TaskMaskBank",
    "TeraconModule",
]

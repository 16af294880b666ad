"""PyTorch modules of sklearn-teracon (torch lives only here and in training)."""

from .backbone import Backbone, CausalConv1d, MaskedResidualBlock, NextItNet
from .backbone_registry import BACKBONES, check_backbone, make_backbone
from .masks import TaskMaskBank
from .model import HEAD_KINDS, LABELS, NEXT_ITEM, TeraconModule
from .sasrec import SASRec, SelfAttentionBlock

__all__ = [
    "BACKBONES",
    "Backbone",
    "CausalConv1d",
    "HEAD_KINDS",
    "LABELS",
    "MaskedResidualBlock",
    "NEXT_ITEM",
    "NextItNet",
    "SASRec",
    "SelfAttentionBlock",
    "TaskMaskBank",
    "TeraconModule",
    "check_backbone",
    "make_backbone",
]

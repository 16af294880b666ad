"""The backbones a model can be built on, by the name the estimator takes."""

from __future__ import annotations

from .backbone import Backbone, NextItNet
from .sasrec import SASRec

# ``backbone=`` of the estimator → class; each class names itself (``name``).
BACKBONES: dict[str, type[Backbone]] = {"nextitnet": NextItNet, "sasrec": SASRec}


def check_backbone(name) -> type[Backbone]:
    """The class of backbone ``name``; ``ValueError`` naming the choices if none."""
    if not isinstance(name, str) or name not in BACKBONES:
        raise ValueError(f"backbone must be one of {sorted(BACKBONES)}, got {name!r}")
    return BACKBONES[name]


def make_backbone(
    name: str,
    n_embeddings: int,
    dim: int,
    dilations,
    kernel_size: int,
    n_positions: int | None = None,
) -> Backbone:
    """A new backbone ``name`` of these sizes.

    NextItNet reads ``dilations`` (one per block) and ``kernel_size``; SASRec
    reads the number of blocks (``len(dilations)``) and ``n_positions``, the
    rows of its position embedding (required for it).
    """
    return check_backbone(name).from_sizes(
        n_embeddings, dim, dilations, kernel_size, n_positions
    )


__all__ = ["BACKBONES", "check_backbone", "make_backbone"]

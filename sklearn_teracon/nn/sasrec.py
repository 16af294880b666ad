"""SASRec: causal self-attention blocks (Kang & McAuley, ICDM 2018) under task masks.

The second backbone of the estimator (``backbone="sasrec"``). It answers the
task states exactly as :class:`~sklearn_teracon.nn.NextItNet` does: two mask
slots per block, one on the attention sublayer's output and one on the
point-wise feed-forward sublayer's, each masking its sublayer's output
channels before the residual add, as NextItNet's masks sit on its
convolutions' outputs.
"""

from __future__ import annotations

import numbers

import torch
import torch.nn.functional as F
from torch import nn

from .backbone import Backbone, _new_embedding, fast_dropout


class SelfAttentionBlock(nn.Module):
    """Pre-LN causal self-attention and a point-wise feed-forward net, each masked.

    ``h ← h + m₁ ⊙ Attn(LN₁(h))`` then ``h ← h + m₂ ⊙ FFN(LN₂(h))``, with
    ``FFN(x) = W₂ relu(W₁ x)`` of inner width d, as in the SASRec paper. The
    LayerNorm sits before each sublayer, as in the paper's code (which
    normalises the queries and the feed-forward input; here keys and values
    read ``LN₁(h)`` too, the usual pre-LN block): the residual stream, which
    the masks add to unnormalised, never reaches the attention scores raw.

    Parameters
    ----------
    dim : int
        Width d.
    n_heads : int
        Attention heads; ``dim`` must be a multiple of it.
    """

    def __init__(self, dim: int, n_heads: int = 1):
        super().__init__()
        if dim % n_heads:
            raise ValueError(f"dim={dim} is not a multiple of n_heads={n_heads}")
        self.n_heads = n_heads
        self.norm1 = nn.LayerNorm(dim)
        self.query = nn.Linear(dim, dim)
        self.key = nn.Linear(dim, dim)
        self.value = nn.Linear(dim, dim)
        self.out = nn.Linear(dim, dim)
        self.norm2 = nn.LayerNorm(dim)
        self.ffn1 = nn.Linear(dim, dim)
        self.ffn2 = nn.Linear(dim, dim)

    def attend(self, x: torch.Tensor, allowed: torch.Tensor) -> torch.Tensor:
        """Multi-head attention of ``x [batch, length, d]`` where ``allowed``."""
        batch, length, dim = x.shape

        def heads(linear):
            split = linear(x).view(batch, length, self.n_heads, dim // self.n_heads)
            return split.transpose(1, 2)  # [batch, heads, length, d / heads]

        mixed = F.scaled_dot_product_attention(
            heads(self.query), heads(self.key), heads(self.value), attn_mask=allowed
        )
        return self.out(mixed.transpose(1, 2).reshape(batch, length, dim))

    def forward(self, h, allowed, mask1, mask2, keep, dropout=0.0, adapters=None):
        first, second = adapters if adapters is not None else (None, None)
        x = self.norm1(h)
        h = h + fast_dropout(
            _masked(self.attend(x, allowed), x, mask1, keep, first),
            dropout,
            self.training,
        )
        x = self.norm2(h)
        y = self.ffn2(F.relu(self.ffn1(x)))
        return h + fast_dropout(
            _masked(y, x, mask2, keep, second), dropout, self.training
        )


def _masked(y, x, mask, keep, adapter=None):
    """A sublayer's output ``y`` (of input ``x``) after its adapter and masks."""
    if adapter is not None:  # PeterRec's patch reads what the sublayer read
        y = adapter(y, x)
    # In the activations' dtype, as NextItNet's slots (bf16 autocast).
    return y * mask.to(y.dtype) * keep.to(y.dtype)


class SASRec(Backbone):
    """Item and position embeddings followed by masked self-attention blocks.

    Position ``p`` of an item is the number of the user's items before it in
    the window (the first kept item is 0), so neither the padding before a
    user nor a later item changes a position's output: the blocks are causal
    and padding is never attended to (every position also attends to
    itself, so padding positions have a query to answer, then are zeroed).
    Positions from ``n_positions - 1`` on share the last row. The output is
    normalised by a LayerNorm without weights, so the embeddings are the
    only weights outside the mask slots that every task shares.

    Parameters
    ----------
    n_embeddings : int
        Rows of the item embedding, padding (row 0) and unknown (row 1) included.
    dim : int
        Embedding width d.
    n_blocks : int
        Self-attention blocks (two mask slots each).
    n_positions : int
        Rows of the position embedding (the estimator's ``max_len``).
    n_heads : int, default=1
        Attention heads (the paper's best: 1).
    """

    name = "sasrec"  # the estimator's ``backbone``

    def __init__(
        self, n_embeddings: int, dim: int, n_blocks: int, n_positions: int, n_heads=1
    ):
        super().__init__()
        for what, value, low in (
            ("n_embeddings", n_embeddings, 2),
            ("dim", dim, 1),
            ("n_blocks", n_blocks, 1),
            ("n_positions", n_positions, 1),
            ("n_heads", n_heads, 1),
        ):
            integral = isinstance(value, numbers.Integral) and not isinstance(
                value, bool
            )
            if not integral or value < low:
                raise ValueError(f"{what} must be an integer >= {low}, got {value!r}")
        dim, n_positions = int(dim), int(n_positions)
        self.dim = dim
        self.item_embedding = _new_embedding(int(n_embeddings), dim)
        self.position_embedding = nn.Embedding(n_positions, dim)
        nn.init.normal_(self.position_embedding.weight, std=dim**-0.5)
        self.blocks = nn.ModuleList(
            SelfAttentionBlock(dim, int(n_heads)) for _ in range(int(n_blocks))
        )
        self.final_norm = nn.LayerNorm(dim, elementwise_affine=False)
        self.dropout = 0.0  # set per task by ``build_net``, as NextItNet's

    @classmethod
    def from_sizes(cls, n_embeddings, dim, dilations, kernel_size, n_positions=None):
        """The backbone of the estimator's sizes: ``len(dilations)`` blocks and
        ``n_positions`` positions (``kernel_size`` is not read)."""
        if n_positions is None:
            raise ValueError("the sasrec backbone needs n_positions (max_len)")
        return cls(n_embeddings, dim, len(dilations), n_positions)

    @property
    def n_slots(self) -> int:
        return 2 * len(self.blocks)

    @property
    def n_positions(self) -> int:
        return self.position_embedding.num_embeddings

    @property
    def n_heads(self) -> int:
        return self.blocks[0].n_heads

    def architecture(self) -> dict:
        """The estimator's size parameters this backbone was built with."""
        return {
            "backbone": self.name,
            "embedding_dim": self.dim,
            "n_blocks": len(self.blocks),
            "max_len": self.n_positions,
        }

    @staticmethod
    def block_weights(dim: int, kernel_size: int) -> int:
        """A lower bound of one block's weights: six d × d matrices."""
        return 6 * dim * dim

    def fresh_copy(self) -> SASRec:
        """A newly initialised backbone of the same architecture, on this device."""
        new = type(self)(
            self.n_embeddings,
            self.dim,
            len(self.blocks),
            self.n_positions,
            self.n_heads,
        )
        return new.to(self.item_embedding.weight.device)

    def maskable_weights(self) -> list[tuple[str, nn.Parameter]]:
        """The weights a strategy may mask or own per task, by name, in order:
        every block's attention (query, key, value, output) and feed-forward
        matrices."""
        return [
            (name, p)
            for name, p in self.named_parameters()
            if name.startswith("blocks.") and name.endswith(".weight") and p.ndim == 2
        ]

    def gradient_factors(self, used: torch.Tensor) -> dict[nn.Parameter, torch.Tensor]:
        """HAT's share of each slot weight's gradient that may still change.

        ``used [K, d]`` is the earlier tasks' cumulative mask per slot. A
        sublayer's output matrix and bias keep ``1 − a_out`` of their
        gradient by output unit. Everything before it in the sublayer (its
        LayerNorm, the query, key and value maps, the inner feed-forward
        layer) feeds every output unit, through the attention's weighted
        sum or the output matrix, so it keeps ``1 − max a_out``: in practice
        it is frozen once an earlier task uses a channel of the slot.
        """
        factors = {}
        free = 1.0 - used
        for b, block in enumerate(self.blocks):
            for slot, inner, output in (
                (2 * b, ("norm1", "query", "key", "value"), "out"),
                (2 * b + 1, ("norm2", "ffn1"), "ffn2"),
            ):
                shared = 1.0 - used[slot].max()
                for name in inner:
                    for p in getattr(block, name).parameters():
                        factors[p] = shared
                layer = getattr(block, output)
                factors[layer.weight] = free[slot][:, None]
                factors[layer.bias] = free[slot]
        return factors

    def forward(
        self, items: torch.Tensor, masks: torch.Tensor, adapters=None
    ) -> torch.Tensor:
        """Hidden states ``[batch, length, d]`` of ``items`` under ``masks [K, d]``.

        ``adapters`` (None, or one module per slot; PeterRec's model patches)
        each map a sublayer's output and the sublayer's (normalised) input,
        ``adapter(out, x)``, to what the slot's masks then gate.
        """
        real = items != 0
        keep = real.unsqueeze(-1).to(masks.dtype)
        positions = (real.cumsum(1) - 1).clamp(0, self.n_positions - 1)
        h = self.item_embedding(items) + self.position_embedding(positions)
        h = fast_dropout(h * keep.to(h.dtype), self.dropout, self.training)
        length = items.shape[1]
        causal = torch.ones(length, length, dtype=torch.bool, device=items.device)
        itself = torch.eye(length, dtype=torch.bool, device=items.device)
        # [batch, 1 (heads), query, key]: earlier real items and the query itself.
        allowed = (causal.tril() & (real[:, None, :] | itself))[:, None]
        for b, block in enumerate(self.blocks):
            pair = None if adapters is None else adapters[2 * b : 2 * b + 2]
            h = block(
                h, allowed, masks[2 * b], masks[2 * b + 1], keep, self.dropout, pair
            )
        return self.final_norm(h) * keep.to(h.dtype)


__all__ = ["SASRec", "SelfAttentionBlock"]

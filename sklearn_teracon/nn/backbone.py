"""NextItNet: item embedding and masked, dilated, causal residual blocks."""

from __future__ import annotations

import contextlib

import torch
import torch.nn.functional as F
from torch import nn


class CausalConv1d(nn.Module):
    """A dilated convolution over positions that never looks at the future.

    Computed as one matrix multiply: the ``k`` dilated shifts of
    ``h [batch, length, d]`` side by side, ``[batch, length, k·d]``, times the
    ``[k·d, d]`` weight. Forward + backward at batch 32, length 30, kernel 3
    (benchmarks/conv_kernels.py, one thread of a 2-core AVX-512 CPU): 8.2 ms
    against 9.1 ms for ``Conv1d`` at d=256 in fp32, 2.9 against 4.1 ms under
    bf16 autocast; ``Conv1d`` itself is 1.7x faster than the reference's
    ``Conv2d``. The weight stays a ``Conv1d``'s (``conv.weight [d, d, k]``,
    ``conv.bias``), so saved models load unchanged.
    """

    def __init__(self, channels: int, kernel_size: int, dilation: int):
        super().__init__()
        self.kernel_size = kernel_size
        self.dilation = dilation
        self.conv = nn.Conv1d(channels, channels, kernel_size, dilation=dilation)

    def forward(self, h: torch.Tensor) -> torch.Tensor:
        # h: [batch, length, channels]
        dtype = _autocast_dtype(h.device.type)
        if dtype is not None:
            # Shift and gather in the autocast dtype: half the bytes of fp32.
            h = h.to(dtype)
        shifted = causal_shifts(h, self.kernel_size, self.dilation)
        # [out, in, k] -> [out, k·in], tap-major like ``shifted``'s columns.
        weight = self.conv.weight.transpose(1, 2).flatten(1)
        return F.linear(shifted, weight, self.conv.bias)


def causal_shifts(h: torch.Tensor, kernel_size: int, dilation: int) -> torch.Tensor:
    """``h`` ``[batch, length, d]`` beside its dilated pasts: ``[batch, length, k·d]``.

    Tap ``j`` holds the position ``(k - 1 - j)·dilation`` steps back (zeros
    before the start), so one matrix multiply is the causal convolution.
    """
    length = h.shape[1]
    padded = F.pad(h, (0, 0, (kernel_size - 1) * dilation, 0))
    return torch.cat(
        [padded[:, j * dilation : j * dilation + length] for j in range(kernel_size)],
        dim=-1,
    )


def _autocast_dtype(device_type: str) -> torch.dtype | None:
    """The dtype autocast runs matrix multiplies in on ``device_type``; None if off."""
    try:
        if torch.is_autocast_enabled(device_type):
            return torch.get_autocast_dtype(device_type)
    except TypeError:  # torch < 2.4 cannot ask per device: only speed is lost
        pass
    return None


def fast_dropout(x: torch.Tensor, p: float, training: bool) -> torch.Tensor:
    """``F.dropout(x, p, training)``, with a faster random mask on the CPU.

    The CPU's ``bernoulli_`` draws one number per element: 2.5 ms for a
    ``[32, 30, 256]`` batch, 14 % of a bf16 training step at the paper's size.
    Here one 64-bit random word gives four 16-bit uniform draws (0.2 ms); an
    element is kept where its draw falls under ``(1 - p)`` rounded to a
    multiple of 2⁻¹⁶, and scaled by the inverse of that rounded probability,
    so the output's expectation is still ``x``. Other devices use
    ``F.dropout``, which is fused there.
    """
    if not training or p == 0.0:
        return x
    threshold = round((1.0 - p) * 2**16)  # of 2**16 equally likely draws
    if x.device.type != "cpu" or threshold == 0:
        return F.dropout(x, p, True)
    n = x.numel()
    words = torch.empty((n + 3) // 4, dtype=torch.int64).random_(-(2**63), 2**63 - 1)
    draws = words.view(torch.int16)[:n].view(x.shape)
    scale = (draws < threshold - 2**15).to(x.dtype).mul_(2**16 / threshold)
    return x * scale


class MaskedResidualBlock(nn.Module):
    """Two masked causal convolutions (dilations r and 2r) with a residual add."""

    def __init__(self, dim: int, kernel_size: int, dilation: int):
        super().__init__()
        self.conv1 = CausalConv1d(dim, kernel_size, dilation)
        self.norm1 = nn.LayerNorm(dim)
        self.conv2 = CausalConv1d(dim, kernel_size, 2 * dilation)
        self.norm2 = nn.LayerNorm(dim)

    def forward(self, h, mask1, mask2, keep, dropout: float = 0.0, adapters=None):
        # ``keep`` zeroes padding positions after every slot: padding then
        # looks exactly like the convolutions' own zero padding, so how much
        # of it precedes a user never changes that user's outputs.
        first, second = adapters if adapters is not None else (None, None)
        x = _masked_slot(self.conv1, self.norm1, h, mask1, keep, first)
        x = _masked_slot(self.conv2, self.norm2, x, mask2, keep, second)
        return h + fast_dropout(x, dropout, self.training)


def _masked_slot(conv, norm, h, mask, keep, adapter=None):
    x = conv(h)
    if adapter is not None:
        # The slot's input too: a patch may sit beside the convolution.
        x = adapter(x, h)
    x = F.relu(norm(x))
    # In the activations' dtype: under bf16 autocast an fp32 mask would make
    # the product fp32, which the next convolution then casts back.
    return x * mask.to(x.dtype) * keep.to(x.dtype)


class Backbone(nn.Module):
    """What every backbone shares: its dropout switch and its item embedding.

    A backbone maps items ``[batch, length]`` and per-slot channel masks
    ``[n_slots, dim]`` to hidden states ``[batch, length, dim]``
    (``forward(items, masks, adapters=None)``) and names the weights that
    weight-mask strategies mask (``maskable_weights``), HAT's gradient
    conditioning (``gradient_factors``) and the sizes that rebuild it
    (``architecture``). Subclasses set ``dim``, ``item_embedding``,
    ``blocks`` and ``dropout``.
    """

    @contextlib.contextmanager
    def no_dropout(self):
        """Run the passes inside without dropout, whatever the mode."""
        dropout, self.dropout = self.dropout, 0.0
        try:
            yield
        finally:
            self.dropout = dropout

    @property
    def n_embeddings(self) -> int:
        return self.item_embedding.num_embeddings

    def grow_items(self, n_embeddings: int) -> None:
        """Add embedding rows for new items; old rows are kept as they are."""
        old = self.item_embedding
        if n_embeddings <= old.num_embeddings:
            return
        new = _new_embedding(n_embeddings, self.dim).to(old.weight.device)
        with torch.no_grad():
            new.weight[: old.num_embeddings] = old.weight
        self.item_embedding = new


class NextItNet(Backbone):
    """Item embedding followed by masked residual blocks.

    Parameters
    ----------
    n_embeddings : int
        Rows of the item embedding, padding (row 0) and unknown (row 1) included.
    dim : int
        Embedding width d.
    dilations : sequence of int
        The dilation r of each block (its second convolution uses 2r).
    kernel_size : int
        Width of every convolution.
    """

    name = "nextitnet"  # the estimator's ``backbone``

    def __init__(self, n_embeddings: int, dim: int, dilations, kernel_size: int):
        super().__init__()
        self.dim = dim
        self.item_embedding = _new_embedding(n_embeddings, dim)
        self.blocks = nn.ModuleList(
            MaskedResidualBlock(dim, kernel_size, r) for r in dilations
        )
        # A training setting, not part of the architecture: the net sets it
        # for each task it trains (``build_net``); it acts in training mode only.
        self.dropout = 0.0

    @property
    def n_slots(self) -> int:
        return 2 * len(self.blocks)

    @property
    def dilations(self) -> list[int]:
        return [block.conv1.dilation for block in self.blocks]

    @property
    def kernel_size(self) -> int | None:
        return self.blocks[0].conv1.kernel_size if len(self.blocks) else None

    def fresh_copy(self) -> NextItNet:
        """A newly initialised backbone of the same architecture, on this device."""
        new = type(self)(self.n_embeddings, self.dim, self.dilations, self.kernel_size)
        return new.to(self.item_embedding.weight.device)

    def maskable_weights(self) -> list[tuple[str, nn.Parameter]]:
        """The weights a strategy may mask or own per task, by name, in order:
        every convolution's."""
        return [
            (name, p)
            for name, p in self.named_parameters()
            if name.startswith("blocks.") and name.endswith(".conv.weight")
        ]

    @classmethod
    def from_sizes(cls, n_embeddings, dim, dilations, kernel_size, n_positions=None):
        """The backbone of the estimator's sizes (``n_positions`` is not read)."""
        return cls(n_embeddings, dim, dilations, kernel_size)

    def architecture(self) -> dict:
        """The estimator's size parameters this backbone was built with."""
        return {
            "backbone": self.name,
            "embedding_dim": self.dim,
            "n_blocks": len(self.blocks),
            "kernel_size": self.kernel_size,
            "dilations": self.dilations,
        }

    @staticmethod
    def block_weights(dim: int, kernel_size: int) -> int:
        """A lower bound of one block's weights (a model file's sanity check)."""
        return 2 * dim * dim * kernel_size

    def gradient_factors(self, used: torch.Tensor) -> dict[nn.Parameter, torch.Tensor]:
        """HAT's share of each slot weight's gradient that may still change.

        ``used [K, d]`` is the earlier tasks' cumulative mask per slot. A
        convolution weight keeps ``1 − min(a_out, a_in)`` of its gradient, its
        bias and LayerNorm ``1 − a_out``; a block's first convolution reads
        the residual stream, which has no mask, so its input side counts as
        fully used.
        """
        factors = {}
        free = 1.0 - used
        for b, block in enumerate(self.blocks):
            first, second = free[2 * b], free[2 * b + 1]
            both = 1.0 - torch.minimum(used[2 * b + 1][:, None], used[2 * b][None, :])
            for layer, out_free, weight_free in (
                ("1", first, first[:, None, None]),
                ("2", second, both[:, :, None]),
            ):
                factors[block.get_parameter(f"conv{layer}.conv.weight")] = weight_free
                for name in (
                    f"conv{layer}.conv.bias",
                    f"norm{layer}.weight",
                    f"norm{layer}.bias",
                ):
                    factors[block.get_parameter(name)] = out_free
        return factors

    def forward(
        self, items: torch.Tensor, masks: torch.Tensor, adapters=None
    ) -> torch.Tensor:
        """Hidden states ``[batch, length, d]`` of ``items`` under ``masks [K, d]``.

        ``adapters`` (None, or one module per slot; PeterRec's model patches)
        each map a slot's convolution output and the slot's input,
        ``adapter(conv(h), h)``, to what the slot's LayerNorm reads.
        """
        keep = (items != 0).unsqueeze(-1).to(masks.dtype)
        h = fast_dropout(self.item_embedding(items), self.dropout, self.training)
        for b, block in enumerate(self.blocks):
            pair = None if adapters is None else adapters[2 * b : 2 * b + 2]
            h = block(h, masks[2 * b], masks[2 * b + 1], keep, self.dropout, pair)
        return h


def _new_embedding(n_embeddings: int, dim: int) -> nn.Embedding:
    embedding = nn.Embedding(n_embeddings, dim, padding_idx=0)
    with torch.no_grad():
        nn.init.normal_(embedding.weight, std=dim**-0.5)
        # Padding and the unknown item carry no information.
        embedding.weight[:2] = 0.0
    return embedding

"""Data-parallel training on PyTorch's own engine (``torch.distributed``, DDP).

A script started by ``torchrun --nproc-per-node N`` (or Slurm, Ray Train,
Kubernetes: any launcher that sets ``RANK``, ``WORLD_SIZE``, ``MASTER_ADDR``,
``MASTER_PORT``) trains one encoder data-parallel with no change to the
script. Every rank holds the whole input and the same model; what is split is
the work of a training epoch:

- the users of every *global* batch (``batch_size × world_size`` users, drawn
  by the same shuffle a single process would draw) are cut into one
  contiguous part per rank (:class:`GlobalBatchShards`), so a rank trains on
  its part only and the ranks' parts never overlap;
- the gradients are all-reduced by :class:`~torch.nn.parallel.DistributedDataParallel`
  around the net's whole loss (the task's term, the retention term, ...), each
  rank's loss weighted by its share of the global batch's terms
  (:func:`global_share`), so a step is the step of the global batch's mean;
  the number of terms travels in the agreement after the forward pass
  (:func:`agree`), one of the two small collectives a step makes beside
  DDP's (the other at the batch's start);
- validation, early stopping, the probe start and the majority fallback run
  on every rank over the same users (they are a small share of the work) and
  so agree without communication; the epoch's training loss is all-reduced.

A failure on one rank during a batch is agreed on (:func:`agree`) before the
next collective, so every rank raises and rolls back instead of waiting.
"""

from __future__ import annotations

import datetime
import hashlib
import os
from collections.abc import Iterator

import numpy as np
import torch
import torch.distributed as dist
from torch.utils.data import RandomSampler, Sampler


def world_size() -> int:
    """The number of processes training together (1 outside ``torch.distributed``)."""
    if dist.is_available() and dist.is_initialized():
        return dist.get_world_size()
    return 1


def rank() -> int:
    """This process's rank (0 outside ``torch.distributed``)."""
    if dist.is_available() and dist.is_initialized():
        return dist.get_rank()
    return 0


def launched_distributed() -> bool:
    """Whether a launcher started this process as one of several."""
    return int(os.environ.get("WORLD_SIZE", "1")) > 1


def init_from_environment(device: str) -> None:
    """Join the process group the launcher describes, if not joined yet.

    gloo for CPU devices, NCCL for CUDA; the timeout (``SKLEARN_TERACON_DIST_TIMEOUT``
    seconds, default 600) bounds how long a rank waits for a peer that died.
    """
    if not dist.is_available():
        raise RuntimeError(
            "WORLD_SIZE > 1, but this torch build has no torch.distributed"
        )
    if dist.is_initialized():
        return
    backend = "nccl" if torch.device(device).type == "cuda" else "gloo"
    timeout = float(os.environ.get("SKLEARN_TERACON_DIST_TIMEOUT", "600"))
    dist.init_process_group(backend, timeout=datetime.timedelta(seconds=timeout))


def local_device(device: str) -> str:
    """``device`` for this rank: ``cuda`` becomes ``cuda:LOCAL_RANK``."""
    parsed = torch.device(device)
    if parsed.type == "cuda" and parsed.index is None and world_size() > 1:
        return f"cuda:{int(os.environ.get('LOCAL_RANK', '0'))}"
    return device


def _collective_device() -> torch.device:
    if dist.get_backend() == "nccl":
        return torch.device("cuda", torch.cuda.current_device())
    return torch.device("cpu")


def all_reduce_sum(values) -> np.ndarray:
    """The element-wise sum of ``values`` (float64) over the ranks."""
    tensor = torch.as_tensor(
        np.asarray(values, dtype=np.float64), device=_collective_device()
    )
    dist.all_reduce(tensor)
    return tensor.cpu().numpy()


def join_launched_group(device: str) -> str:
    """Join the launcher's process group if there is one; this rank's device."""
    if launched_distributed():
        init_from_environment(device)
    return local_device(device)


def same_on_every_rank(value: int) -> int:
    """Rank 0's ``value`` on every rank (a seed drawn where ranks differ)."""
    if world_size() == 1:
        return value
    tensor = torch.tensor([value], dtype=torch.int64, device=_collective_device())
    dist.broadcast(tensor, 0)
    return int(tensor.item())


def check_same_data(*arrays) -> None:
    """Refuse a call whose inputs differ between the ranks.

    Every rank holds the whole input and trains on its share of each global
    batch, so all must pass the same ``X`` and ``y``; a digest of the encoded
    arrays is compared (two small collectives). An array too large for memory
    feeds the digest itself, in chunks (``update_digest(digest)``).
    """
    if world_size() == 1:
        return
    digest = hashlib.sha256()
    for array in arrays:
        if hasattr(array, "update_digest"):
            array.update_digest(digest)
        elif array is not None:
            digest.update(np.ascontiguousarray(array).tobytes())
    mine = int.from_bytes(digest.digest()[:7], "little")
    tensor = torch.tensor([mine, -mine], dtype=torch.int64, device=_collective_device())
    dist.all_reduce(tensor, op=dist.ReduceOp.MAX)
    if int(tensor[0]) != mine or int(tensor[1]) != -mine:
        raise ValueError(
            f"rank {rank()} was given other data than another rank: under "
            "torchrun every process must pass the same X and y to partial_fit "
            "(each trains on its own share of every batch of them)"
        )


def on_rank_zero(work) -> None:
    """Run ``work()`` on rank 0 only; every rank returns once it is done.

    A failure there raises on every rank (:func:`agree`).
    """
    if world_size() == 1:
        work()
        return
    error = None
    if rank() == 0:
        try:
            work()
        except BaseException as exc:
            error = exc
    agree(error)


class RankFailed(RuntimeError):
    """Another rank failed during the same step; this one stops with it."""


def agree(error: BaseException | None, value: float = 0.0) -> float:
    """Raise on every rank when any rank had an ``error`` at this point;
    else the sum of ``value`` over the ranks.

    A rank that had one re-raises it; the others raise :class:`RankFailed`.
    Every rank must call this at the same point of the same step, or (a rank
    that failed) at the point where the others next agree: every agreement
    is the same one collective of two numbers.
    """
    failed, total = all_reduce_sum([error is not None, value])
    if error is not None:
        raise error
    if failed:
        raise RankFailed(
            f"{int(failed)} other rank(s) failed during this step; every rank "
            f"stops and leaves its encoder as it was"
        )
    return float(total)


def global_share(count: float, total: float) -> float:
    """``world_size · count / total``: the factor that makes DDP's mean of the
    ranks' losses the mean over all the global batch's ``total`` terms, of
    which this rank's loss averages ``count``."""
    return count * world_size() / max(total, 1.0)


class GlobalBatchShards(Sampler[int]):
    """This rank's part of every global batch of a single-process shuffle.

    The permutation is the one ``RandomSampler`` draws (the same draw, from
    the same generator state, on every rank). Global batch ``k`` holds
    positions ``k·G … (k+1)·G − 1`` of it (``G = batch_size × world``); rank
    ``r`` takes the ``r``-th of ``world`` nearly equal contiguous parts. A last
    global batch with fewer users than ranks is left out of the epoch, so
    every rank runs the same number of steps.
    """

    def __init__(self, data_source, batch_size: int, rank: int, world: int):
        self.data_source = data_source
        self.batch_size = batch_size
        self.rank = rank
        self.world = world

    def _blocks(self, n: int) -> list[tuple[int, int]]:
        size = self.batch_size * self.world
        blocks = [(s, min(s + size, n)) for s in range(0, n, size)]
        if blocks and blocks[-1][1] - blocks[-1][0] < self.world:
            blocks.pop()
        return blocks

    def n_batches(self) -> int:
        return len(self._blocks(len(self.data_source)))

    def __iter__(self) -> Iterator[int]:
        order = list(RandomSampler(self.data_source))
        for start, stop in self._blocks(len(order)):
            part = np.array_split(np.arange(start, stop), self.world)[self.rank]
            yield from (order[i] for i in part)

    def __len__(self) -> int:
        return sum(
            len(np.array_split(np.arange(a, b), self.world)[self.rank])
            for a, b in self._blocks(len(self.data_source))
        )


__all__ = [
    "GlobalBatchShards",
    "RankFailed",
    "agree",
    "all_reduce_sum",
    "check_same_data",
    "global_share",
    "init_from_environment",
    "join_launched_group",
    "launched_distributed",
    "local_device",
    "on_rank_zero",
    "same_on_every_rank",
    "rank",
    "world_size",
]

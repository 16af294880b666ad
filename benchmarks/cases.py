"""One benchmark case, run in a process of its own by ``benchmarks/run.py``.

``python -m benchmarks.cases SPEC_JSON RESULT_JSON`` runs the case that the
spec names and writes its figures to ``RESULT_JSON``. A process per case
makes the peak resident set size (``ru_maxrss``) and CUDA's peak allocation
that case's own. See ``docs/performance.rst`` for what each figure means.
"""

from __future__ import annotations

import json
import os
import platform
import resource
import sys
import threading
import time
from pathlib import Path

import numpy as np

# The model of each size: the paper's (d = 256, 8 blocks, dilations 1, 4
# alternating, kernel 3) and the library defaults (d = 64, 4 blocks). The
# first task trains at batch 32; later tasks at 1024 for the paper's size
# and at the library's default batch size for the defaults.
SIZES = {
    "paper": {"embedding_dim": 256, "n_blocks": 8, "later_batch": 1024},
    "default": {"embedding_dim": 64, "n_blocks": 4, "later_batch": 128},
}
FIRST_BATCH = 32
KERNEL_SIZE = 3  # the library default, as in the paper
LENGTH = 30  # items per user, as the MovieLens-1M rows
# MovieLens-1M-shaped: 6,040 users, ~3,500 items, a later item task over
# ~3,300 liked items, and a two-class profile task (gender).
DATA = {"n_users": 6040, "n_items": 3500, "n_targets": 3279}
QUICK_DATA = {"n_users": 128, "n_items": 300, "n_targets": 200}
QUICK_MODEL = {"embedding_dim": 16, "n_blocks": 2, "later_batch": 64}


def zipf_choice(rng, n: int, size, exponent: float = 0.8) -> np.ndarray:
    """Ids ``1..n`` drawn with Zipf-like popularity ``1 / rank**exponent``."""
    weights = 1.0 / np.arange(1, n + 1) ** exponent
    return rng.choice(n, size=size, p=weights / weights.sum()) + 1


def movielens_shaped(n_users: int, n_items: int, n_targets: int, seed: int = 0):
    """Rows of ``LENGTH`` items, item-task targets and two-class profile labels.

    Every item occurs at least once, so the vocabulary has ``n_items`` items.
    """
    rng = np.random.default_rng(seed)
    rows = zipf_choice(rng, n_items, (n_users, LENGTH))
    shown = min(n_items, rows.size)
    rows.flat[:shown] = rng.permutation(n_items)[:shown] + 1
    targets = zipf_choice(rng, n_targets, n_users)
    genders = rng.integers(0, 2, n_users)
    return rows, targets, genders


def peak_rss_mib() -> float:
    """Peak resident set size of this process, MiB (``ru_maxrss`` is KiB on Linux)."""
    scale = 2**20 if platform.system() == "Darwin" else 2**10  # macOS: bytes
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / scale


class HeapInUse:
    """Peak bytes that glibc's malloc has handed out and not had back, sampled
    every 50 ms in a thread while the block runs (``mallinfo2``; None where it
    is missing). Beside the peak RSS it says how much of the RSS is memory
    that was freed but that the allocator kept (fragmentation).

    ``mallinfo2`` walks the heap's free lists under its lock: 0.3–0.6 ms a
    call on a fragmented heap, so every 2 ms slowed training by about a
    tenth; every 50 ms it is about 1 % and found the same peak (699 MiB)."""

    def __enter__(self):
        self.peak_bytes, self._stop = None, threading.Event()
        try:
            self._mallinfo = _mallinfo2()
        except (OSError, AttributeError):
            return self
        self.peak_bytes = 0
        self._thread = threading.Thread(target=self._sample, daemon=True)
        self._thread.start()
        return self

    def _sample(self) -> None:
        while not self._stop.is_set():
            info = self._mallinfo()
            self.peak_bytes = max(self.peak_bytes, info.uordblks + info.hblkhd)
            self._stop.wait(0.05)

    def __exit__(self, *exc):
        self._stop.set()
        if self.peak_bytes is not None:
            self._thread.join()
        return False

    @property
    def peak_mib(self) -> float | None:
        return None if self.peak_bytes is None else self.peak_bytes / 2**20


def _mallinfo2():
    import ctypes

    class MallInfo2(ctypes.Structure):
        _fields_ = [
            (name, ctypes.c_size_t)
            for name in (
                "arena ordblks smblks hblks hblkhd usmblks fsmblks uordblks "
                "fordblks keepcost"
            ).split()
        ]

    function = ctypes.CDLL("libc.so.6").mallinfo2
    function.restype = MallInfo2
    return function


class Clock:
    """Wall time of a block, synchronised with the GPU on CUDA."""

    def __init__(self, device: str):
        self.cuda = device.startswith("cuda")

    def sync(self) -> None:
        if self.cuda:
            import torch

            torch.cuda.synchronize()

    def __enter__(self):
        self.sync()
        self.start = time.perf_counter()
        return self

    def __exit__(self, *exc):
        self.sync()
        self.seconds = time.perf_counter() - self.start


def matmul_peak(spec: dict) -> dict:
    """fp32 and bf16 GFLOP/s of a large square matmul on the device."""
    import torch

    n = 256 if spec["quick"] else (8192 if spec["device"].startswith("cuda") else 2048)
    reps = 3 if spec["quick"] else 10
    result = {"matmul_n": n, "matmul_reps": reps}
    for dtype in (torch.float32, torch.bfloat16):
        a = torch.randn(n, n, device=spec["device"]).to(dtype)
        b = torch.randn(n, n, device=spec["device"]).to(dtype)
        for _ in range(2):  # warm-up: kernel selection, allocator, clocks
            a @ b
        with Clock(spec["device"]) as clock:
            for _ in range(reps):
                a @ b
        name = "fp32" if dtype == torch.float32 else "bf16"
        result[f"{name}_gflop_per_s"] = 2 * n**3 * reps / clock.seconds / 1e9
    result["float32_matmul_precision"] = torch.get_float32_matmul_precision()
    return result


def model_size(spec: dict) -> dict:
    return QUICK_MODEL if spec["quick"] else SIZES[spec["size"]]


def world_size() -> int:
    """Processes training together (``torchrun --nproc-per-node``), else 1."""
    return int(os.environ.get("WORLD_SIZE", "1"))


def batch_parts(spec: dict) -> int:
    """Parts each global batch is cut into: one per rank under torchrun, or per
    copy where ``copies`` processes train side by side without talking (the
    bound on what data parallelism can reach on this machine)."""
    return world_size() * spec.get("copies", 1)


def make_encoder(spec: dict, batch_size: int):
    from sklearn_teracon import ContinualUserEncoder

    size = model_size(spec)
    params = {
        "embedding_dim": size["embedding_dim"],
        "n_blocks": size["n_blocks"],
        "kernel_size": KERNEL_SIZE,
        "max_len": LENGTH,
        # The same global batch: each of N processes trains on 1/N of it.
        "batch_size": max(1, batch_size // batch_parts(spec)),
        "max_epochs": spec["epochs"],
        "patience": None,
        "validation_fraction": 0.0,
        "device": spec["device"],
        "loss": spec.get("loss", "full"),
        "random_state": 0,
    }
    return set_precision(ContinualUserEncoder(**params), spec["precision"])


def set_precision(encoder, precision: str):
    """``encoder`` with ``precision`` set; fails clearly if it has no such option."""
    if "precision" in encoder.get_params():
        return encoder.set_params(precision=precision)
    if precision != "float32":
        raise ValueError(
            f"precision={precision!r}: this version of ContinualUserEncoder has no "
            "precision parameter (it trains in float32)"
        )
    return encoder


def conv_flops(n_positions: int, size: dict) -> float:
    """Forward FLOP of every convolution over ``n_positions`` (batch × length)."""
    d = size["embedding_dim"]
    return 2 * size["n_blocks"] * 2 * n_positions * KERNEL_SIZE * d * d


def head_flops(n_rows: int, size: dict, n_outputs: int) -> float:
    """Forward FLOP of a linear head over ``n_rows`` representations."""
    return 2 * n_rows * size["embedding_dim"] * n_outputs


def head_columns(encoder, n_outputs: int) -> int:
    """Columns a head scores per row: all, or the sampled loss's negatives
    (next-item and item-target heads; narrow heads stay exact)."""
    params = encoder.get_params()
    if params.get("loss", "full") == "full" or n_outputs <= 20:
        return n_outputs
    return min(n_outputs, params["n_negatives"] + 1)


def last_epoch(encoder, task: str) -> dict:
    return dict(encoder.history_[task][-1])


def training_figures(epoch: dict, n_users: int, positions: int, flop: float) -> dict:
    """Throughput of the last epoch from skorch's epoch time (``dur``)."""
    seconds = epoch["dur"]
    return {
        "epoch_s": seconds,
        "seq_per_s": n_users / seconds,
        "positions_per_s": positions / seconds,
        "gflop_per_epoch": flop / 1e9,
        "gflop_per_s": flop / seconds / 1e9,
    }


def model_path(spec: dict) -> Path:
    return Path(spec["model_dir"]) / f"first_{spec['size']}.skt"


def first_task(spec: dict, data) -> dict:
    """Next-item training at batch 32; saves the model for the later cases."""
    rows, _, _ = data
    encoder = make_encoder(spec, FIRST_BATCH)
    with Clock(spec["device"]) as clock:
        encoder.fit(rows)
    if spec.get("copy", 0) == 0:  # copies side by side: one writes the file
        encoder.save(model_path(spec))
    size = model_size(spec)
    # Next item: inputs are positions 1..L-1, every one predicts a real item.
    positions = len(rows) * (LENGTH - 1)
    n_outputs = head_columns(encoder, encoder.net_.module_.heads[0].out_features)
    flop = 3 * (conv_flops(positions, size) + head_flops(positions, size, n_outputs))
    return {
        "batch_size": FIRST_BATCH,
        "fit_wall_s": clock.seconds,
        **training_figures(
            last_epoch(encoder, "next_item"), len(rows), positions, flop
        ),
    }


def trained_first_task(spec: dict, data):
    """The first case's saved model, or (if it is missing) one trained here."""
    from sklearn_teracon import ContinualUserEncoder

    path = model_path(spec)
    if path.exists():
        encoder = ContinualUserEncoder.load(path, device=spec["device"])
        return set_precision(encoder, spec["precision"]), False
    encoder = make_encoder(spec, FIRST_BATCH).set_params(max_epochs=1)
    return encoder.fit(data[0]), True


def later_task(spec: dict, data, kind: str) -> dict:
    """A labelled task after the first, retaining it (TERACON's default)."""
    rows, targets, genders = data
    encoder, trained_here = trained_first_task(spec, data)
    size = model_size(spec)
    batch = size["later_batch"]
    encoder.set_params(
        batch_size=max(1, batch // batch_parts(spec)),
        retained_positions=spec.get("retained_positions", "all"),
        loss=spec.get("loss", "full"),
        max_epochs=spec["epochs"],
        patience=None,
        validation_fraction=0.0,
        random_state=0,
    )
    if kind == "item":
        n_targets = (QUICK_DATA if spec["quick"] else DATA)["n_targets"]
        y, classes, task = targets, np.arange(1, n_targets + 1), "liked"
    else:
        y, classes, task = genders, np.array([0, 1]), "gender"
    with Clock(spec["device"]) as clock:
        encoder.partial_fit(rows, y, task=task, classes=classes)
    epoch = last_epoch(encoder, task)
    n_users = len(rows)
    own_columns = head_columns(encoder, len(classes))
    own = 3 * (
        conv_flops(n_users * LENGTH, size) + head_flops(n_users, size, own_columns)
    )
    # Retention of the first task: a teacher forward and a student forward
    # and backward (4 forward passes) for ρ of each batch's users, at every
    # position of a next-item task or at the last one only.
    rho = float(epoch.get("rho", 0.0))
    retained_users = sum(
        max(1, int(min(batch, n_users - start) * rho)) if rho > 0 else 0
        for start in range(0, n_users, batch)
    )
    retained_positions = encoder.get_params().get("retained_positions", "all")
    rows_per_user = 1 if retained_positions == "last" else LENGTH
    n_items = head_columns(encoder, encoder.net_.module_.heads[0].out_features)
    retention = 4 * (
        conv_flops(retained_users * LENGTH, size)
        + head_flops(retained_users * rows_per_user, size, n_items)
    )
    return {
        "batch_size": batch,
        "fit_wall_s": clock.seconds,
        "rho": rho,
        "retained_users_per_epoch": retained_users,
        "retained_positions": retained_positions,
        "first_task_trained_in_this_case": trained_here,
        **training_figures(epoch, n_users, n_users, own + retention),
    }


def inference(spec: dict, data) -> dict:
    """Users per second of ``transform`` and ``recommend`` (top 10)."""
    rows = data[0]
    encoder, trained_here = trained_first_task(spec, data)
    result = {
        "batch_size": encoder.batch_size,
        "first_task_trained_in_this_case": trained_here,
    }
    for name, call in [
        ("transform", encoder.transform),
        ("recommend", lambda X: encoder.recommend(X, k=10)),
    ]:
        call(rows[:64])  # warm-up
        with Clock(spec["device"]) as clock:
            call(rows)
        result[f"{name}_users_per_s"] = len(rows) / clock.seconds
    return result


CASES = {
    "peak": lambda spec, data: matmul_peak(spec),
    "first": first_task,
    "item": lambda spec, data: later_task(spec, data, "item"),
    "profile": lambda spec, data: later_task(spec, data, "profile"),
    "inference": inference,
}


def run_case(spec: dict) -> dict:
    import torch

    torch.set_num_threads(spec["threads"])
    torch.manual_seed(0)
    data = movielens_shaped(**(QUICK_DATA if spec["quick"] else DATA))
    result = {"case": spec["case"], "size": spec["size"], "n_users": len(data[0])}
    with HeapInUse() as heap:
        result.update(CASES[spec["case"]](spec, data))
    if heap.peak_mib is not None:
        result["peak_heap_in_use_mib"] = heap.peak_mib
    result["torch_threads"] = torch.get_num_threads()
    result["processes"] = world_size()
    if world_size() > 1:
        result["ddp"] = "yes"
    result["peak_rss_mib"] = peak_rss_mib()
    if spec["device"].startswith("cuda"):
        result["cuda_max_allocated_mib"] = torch.cuda.max_memory_allocated() / 2**20
    return result


def main() -> None:
    spec_json, result_path = sys.argv[1:3]
    spec = json.loads(spec_json)
    if not spec["device"].startswith("cuda"):
        os.environ["CUDA_VISIBLE_DEVICES"] = ""  # a CPU case never touches CUDA
    result = run_case(spec)
    if int(os.environ.get("RANK", "0")) == 0:  # rank 0's figures (of N equal)
        Path(result_path).write_text(json.dumps(result))
    if world_size() > 1:
        import torch.distributed as dist

        dist.barrier()  # every rank done before any tears the group down
        dist.destroy_process_group()


if __name__ == "__main__":
    main()

"""Every strategy's outputs on a fixed synthetic stream, for the bit-identity test.

``python -m tests.strategy_outputs`` writes ``tests/data/strategy_outputs.npz``
(the outputs), ``tests/data/strategy_outputs.json`` (their sha256 digests and a
fingerprint of the float kernels that made them) and one model file per
strategy under ``tests/data/models/``: run it only when a change is *meant*
to alter what training computes, and say so in the commit.
"""

from __future__ import annotations

import hashlib
import json
import pathlib
import sys

import numpy as np
import torch

from sklearn_teracon import ContinualUserEncoder
from sklearn_teracon.strategies import STRATEGIES

DATA = pathlib.Path(__file__).parent / "data"
PARAMS = dict(
    embedding_dim=8,
    n_blocks=1,
    max_len=10,
    max_epochs=2,
    batch_size=16,
    patience=1,
    validation_fraction=0.2,
    random_state=0,
)


def stream():
    """Three calls' data: next item, a group label, items as targets, new items."""
    rng = np.random.default_rng(0)
    groups = rng.integers(0, 2, 96)
    seqs = []
    for g in groups:
        start, length = rng.integers(0, 12), rng.integers(3, 11)
        seqs.append([int(1 + 12 * g + (start + i) % 12) for i in range(length)])
    last = np.array([s[-1] for s in seqs])
    # Later users bring items the first task never saw (the vocabulary grows).
    fresh = [[int(x) + 24 for x in s] for s in seqs[:48]]
    return seqs, groups, last, fresh


def kernel_fingerprint() -> str:
    """sha256 of a few float kernels' results: equal where the kernels agree."""
    gen = torch.Generator().manual_seed(0)
    a = torch.randn(33, 17, generator=gen)
    x = torch.randn(4, 8, 11, generator=gen)
    conv = torch.nn.functional.conv1d(x, torch.randn(8, 8, 3, generator=gen))
    parts = [a @ a.T, torch.sigmoid(a), torch.log_softmax(a, 1), conv]
    parts.append(torch.nn.functional.layer_norm(a, (17,)))
    return digest(np.concatenate([p.detach().numpy().ravel() for p in parts]))


def digest(array: np.ndarray) -> str:
    array = np.ascontiguousarray(array)
    return hashlib.sha256(str(array.dtype).encode() + array.tobytes()).hexdigest()


def train(strategy: str) -> ContinualUserEncoder:
    seqs, groups, last, fresh = stream()
    enc = ContinualUserEncoder(strategy=strategy, **PARAMS)
    enc.partial_fit(seqs)
    enc.partial_fit(seqs, groups, task="group")
    enc.partial_fit(seqs, last, task="last_item")
    enc.partial_fit(fresh)  # the next-item task continues, with new items
    return enc


def outputs(enc: ContinualUserEncoder) -> dict[str, np.ndarray]:
    """What a user of the fitted encoder can read, by name."""
    seqs, _, _, fresh = stream()
    users = seqs[::3] + fresh[::5]
    out = {"transform": enc.transform(users)}
    for task in enc.tasks_:
        out[f"transform[{task}]"] = enc.transform(users, task=task)
        out[f"decision[{task}]"] = enc.decision_function(users, task=task)
        losses = [row["train_loss"] for row in enc.history_[task]]
        out[f"train_loss[{task}]"] = np.asarray(losses, dtype=np.float64)
    out["recommend"] = enc.recommend(users, k=5)
    out["task_relations"] = np.asarray(enc.task_relations_, dtype=np.float32)
    return out


def weights(enc: ContinualUserEncoder) -> dict[str, np.ndarray]:
    state = enc.net_.module_.state_dict()
    return {f"weight:{k}": v.detach().cpu().numpy() for k, v in state.items()}


def main() -> None:
    torch.set_num_threads(1)
    (DATA / "models").mkdir(parents=True, exist_ok=True)
    arrays, digests = {}, {}
    for name in sorted(STRATEGIES):
        enc = train(name)
        enc.save(DATA / "models" / f"{name}.model")
        for key, value in {**outputs(enc), **weights(enc)}.items():
            arrays[f"{name}/{key}"] = value
            digests[f"{name}/{key}"] = digest(value)
        print(name, "done", file=sys.stderr)
    np.savez_compressed(DATA / "strategy_outputs.npz", **arrays)
    record = {"kernel_fingerprint": kernel_fingerprint(), "digests": digests}
    (DATA / "strategy_outputs.json").write_text(json.dumps(record, indent=1) + "\n")


if __name__ == "__main__":
    main()

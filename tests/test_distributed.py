"""Data-parallel training under torchrun: 2 CPU processes with gloo (d = 8).

Each case starts ``python -m torch.distributed.run --nproc-per-node 2`` on
``tests/distributed_worker.py``, which writes every rank's weights and what it
saw; the assertions compare the ranks with each other and with one process.
"""

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from sklearn_teracon import ContinualUserEncoder

from .distributed_worker import FAILURES, PARAMS, toy, weights

WORKER = Path(__file__).with_name("distributed_worker.py")
EXAMPLE = Path(__file__).parents[1] / "examples" / "train_distributed.py"
pytestmark = pytest.mark.skipif(
    not torch.distributed.is_available() or not torch.distributed.is_gloo_available(),
    reason="this torch build has no torch.distributed with gloo",
)


def _launch(script: Path, *args: str, n_proc: int = 2) -> str:
    env = {**os.environ, "OMP_NUM_THREADS": "1", "SKLEARN_TERACON_DIST_TIMEOUT": "60"}
    command = [
        sys.executable,
        "-m",
        "torch.distributed.run",
        "--standalone",
        f"--nproc-per-node={n_proc}",
        str(script),
        *args,
    ]
    done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=240)
    assert done.returncode == 0, done.stderr[-3000:]
    return done.stdout


def _torchrun(case: str, out: Path, n_proc: int = 2) -> list[dict]:
    _launch(WORKER, case, str(out), n_proc=n_proc)
    return [dict(np.load(out / f"rank{r}.npz")) for r in range(n_proc)]


def _weights(result: dict) -> dict:
    return {k: v for k, v in result.items() if k.startswith("weight:")}


def test_both_ranks_end_identical_and_equal_one_process_with_the_global_batch(
    tmp_path,
):
    ranks = _torchrun("train", tmp_path)
    first, second = (_weights(r) for r in ranks)
    assert first.keys() == second.keys()
    for key in first:
        np.testing.assert_array_equal(first[key], second[key], err_msg=key)
    # One process, each batch the two ranks' batches together.
    torch.set_num_threads(1)
    seqs, groups = toy()
    alone = ContinualUserEncoder(**{**PARAMS, "batch_size": 2 * PARAMS["batch_size"]})
    alone.partial_fit(seqs).partial_fit(seqs, groups, task="group")
    for key, value in weights(alone).items():
        np.testing.assert_allclose(
            first[f"weight:{key}"], value, atol=2e-5, err_msg=key
        )
    # Rank 0 saved the model, and it answers as the ranks do.
    loaded = ContinualUserEncoder.load(tmp_path / "model.st")
    np.testing.assert_allclose(
        loaded.transform(seqs[:10]), ranks[0]["transform"], atol=1e-6
    )


def test_users_streamed_from_parquet_train_as_lists_do(tmp_path):
    pa = pytest.importorskip("pyarrow")
    pq = pytest.importorskip("pyarrow.parquet")
    seqs, groups = toy()
    pq.write_table(pa.table({"items": seqs}), tmp_path / "users.parquet")
    first, second = (_weights(r) for r in _torchrun("parquet", tmp_path))
    # The worker fails if a rank reads its spilled users into memory whole.
    torch.set_num_threads(1)
    alone = ContinualUserEncoder(**{**PARAMS, "batch_size": 2 * PARAMS["batch_size"]})
    alone.partial_fit(seqs).partial_fit(seqs, groups, task="group")
    for key, value in weights(alone).items():
        np.testing.assert_array_equal(first[f"weight:{key}"], second[f"weight:{key}"])
        np.testing.assert_allclose(
            first[f"weight:{key}"], value, atol=2e-5, err_msg=key
        )


def test_early_stopping_stops_both_ranks_at_the_same_epoch(tmp_path):
    ranks = _torchrun("stop", tmp_path)
    for task in ("next_item", "group"):
        epochs = [int(r[f"epochs[{task}]"]) for r in ranks]
        assert epochs[0] == epochs[1], task
    assert int(ranks[0]["epochs[group]"]) < 30  # it did stop early
    np.testing.assert_array_equal(ranks[0]["transform"], ranks[1]["transform"])


def test_an_exception_on_one_rank_rolls_every_rank_back(tmp_path):
    ranks = _torchrun("fail", tmp_path)
    for event, _ in FAILURES:
        assert str(ranks[1][f"error[{event}]"]) == "RuntimeError", event  # planted
        assert str(ranks[0][f"error[{event}]"]) == "RankFailed", event  # told
        for result in ranks:
            assert bool(result[f"rolled_back[{event}]"]), event
    for result in ranks:
        assert list(result["tasks"]) == ["next_item"]
    # After three failures the ranks still agree: they trained on together.
    np.testing.assert_array_equal(ranks[0]["transform"], ranks[1]["transform"])


def test_every_strategy_trains_data_parallel_with_identical_ranks(tmp_path):
    first, second = _torchrun("strategies", tmp_path)
    assert first.keys() == second.keys()
    for key in first:
        np.testing.assert_array_equal(first[key], second[key], err_msg=key)


def test_the_documented_torchrun_recipe_runs(tmp_path):
    out = tmp_path / "encoder.st"
    args = ["--n-users", "200", "--epochs", "1", "--embedding-dim", "8"]
    stdout = _launch(EXAMPLE, *args, "--out", str(out))
    assert stdout.count("category test accuracy") == 1  # rank 0 reports
    assert list(ContinualUserEncoder.load(out).tasks_) == ["next_item", "category"]

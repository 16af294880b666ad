"""Torch threads follow a worker's share of the cores, and only in a worker."""

import os

import pytest
import torch
from joblib import Parallel, cpu_count, delayed
from skorch.callbacks import Callback

from sklearn_teracon import ContinualUserEncoder
from sklearn_teracon.training._threads import worker_thread_share

from .conftest import TINY, make_toy


class RecordTorchThreads(Callback):
    """Remember the torch threads in use when a task starts training."""

    def on_train_begin(self, net, **kwargs):
        self.threads_ = torch.get_num_threads()


def fit_in_worker(raise_threads_first: bool):
    """Train a tiny encoder; the threads at training and prediction, and after."""
    if raise_threads_first:
        # As an earlier job in this reused worker (or a library) may have done.
        torch.set_num_threads(cpu_count())
    before = torch.get_num_threads()
    recorder = RecordTorchThreads()
    seqs, _, _ = make_toy(n_users=64)
    encoder = ContinualUserEncoder(**{**TINY, "max_epochs": 1}, callbacks=[recorder])
    encoder.fit(seqs)
    encoder.transform(seqs[:4])
    return os.getpid(), recorder.threads_, before, torch.get_num_threads()


@pytest.mark.parametrize("raise_threads_first", [False, True])
def test_loky_worker_trains_on_its_share_of_the_cores(raise_threads_first):
    share = max(1, cpu_count() // 2)
    results = Parallel(n_jobs=2)(
        delayed(fit_in_worker)(raise_threads_first) for _ in range(2)
    )
    for pid, training, before, after in results:
        assert pid != os.getpid()
        assert training == share
        assert after == before  # the worker's own setting is restored


def test_main_process_keeps_the_users_torch_threads(monkeypatch):
    # A limit that a worker would follow is the user's business here.
    monkeypatch.setenv("OMP_NUM_THREADS", "1")
    assert worker_thread_share() is None
    n_threads = torch.get_num_threads()
    torch.set_num_threads(2)
    recorder = RecordTorchThreads()
    seqs, _, _ = make_toy(n_users=64)
    try:
        encoder = ContinualUserEncoder(
            **{**TINY, "max_epochs": 1}, callbacks=[recorder]
        ).fit(seqs)
        encoder.transform(seqs[:4])
        assert recorder.threads_ == 2
        assert torch.get_num_threads() == 2
    finally:
        torch.set_num_threads(n_threads)

"""Torch threads that follow a worker process's share of the cores.

joblib's loky workers, Dask's worker processes (and Ray's) get their share of
the cores as ``OMP_NUM_THREADS``, set before the process starts (C // n_jobs
for joblib, 1 for Dask). torch reads it when it is first imported there, but a
worker is reused from job to job, and one ``torch.set_num_threads`` in an
earlier job (or in any library) leaves torch on more threads than the
worker's share: then n_jobs workers run n_jobs × C threads on C cores, and
small models train many times slower.
"""

from __future__ import annotations

import contextlib
import multiprocessing
import os

import torch


def worker_thread_share() -> int | None:
    """Threads this process may use, or None where it has no share to follow.

    In a child process (a joblib, Dask or Ray worker), the ``OMP_NUM_THREADS``
    its parent gave it: the number torch itself starts with there (the first
    level of a nested ``"4,2"``). None in the main process, whose threads are
    the user's, and where ``OMP_NUM_THREADS`` is unset or not a number.

    Returns
    -------
    int or None
    """
    if multiprocessing.parent_process() is None:
        return None
    first_level = os.environ.get("OMP_NUM_THREADS", "").split(",")[0].strip()
    return max(1, int(first_level)) if first_level.isdigit() else None


@contextlib.contextmanager
def worker_torch_threads():
    """Run a block on at most the worker's share of torch threads.

    Lowers ``torch.set_num_threads`` to :func:`worker_thread_share` for the
    block and restores it afterwards. Never raises the thread count, and
    never changes it in the main process.
    """
    share = worker_thread_share()
    before = torch.get_num_threads()
    if share is None or share >= before:
        yield
        return
    torch.set_num_threads(share)
    try:
        yield
    finally:
        torch.set_num_threads(before)

"""Torch threads that follow a worker process's share of the cores.

joblib's loky workers and Dask's worker processes get their share of the
cores as thread-pool limits (``OMP_NUM_THREADS``, ``OPENBLAS_NUM_THREADS``,
... set before the process starts; C // n_jobs for joblib). torch reads them
when it is first imported there, but a worker is reused from job to job, and
one ``torch.set_num_threads`` in an earlier job (or in any library) leaves
torch on more threads than the worker's share: then n_jobs workers run
n_jobs × C threads on C cores and small models slow down many times over.
"""

from __future__ import annotations

import contextlib
import multiprocessing

import torch
from threadpoolctl import threadpool_info


def worker_thread_share() -> int | None:
    """Threads this process may use, or None in the main process.

    In a child process (a joblib or Dask worker), the smallest limit
    threadpoolctl reports for the process's OpenMP and BLAS thread pools:
    the share its parent gave it. The main process's thread settings are the
    user's, so there is no share to follow there.

    Returns
    -------
    int or None
    """
    if multiprocessing.parent_process() is None:
        return None
    limits = [pool["num_threads"] for pool in threadpool_info()]
    return max(1, min(limits)) if limits else None


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

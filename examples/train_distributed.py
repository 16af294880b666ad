"""
Training on several processes: the same script, started by torchrun
====================================================================

Data-parallel training needs no change to a training script: started by
``torchrun`` (or Slurm, Ray Train, Kubernetes: any launcher that sets
``RANK``, ``WORLD_SIZE``, ``MASTER_ADDR`` and ``MASTER_PORT``), every
``partial_fit`` trains on all the processes together and every process ends
with the same model. Every process passes the same data; each trains on its
share of every batch. Run on the synthetic stream with two CPU processes::

    torchrun --standalone --nproc-per-node 2 examples/train_distributed.py \\
        --out /tmp/encoder.st

``--batch-size`` is per process: two processes at 64 step like one at 128.
"""

import argparse

import torch
import torch.distributed as dist

from sklearn_teracon import ContinualUserEncoder
from sklearn_teracon.datasets import make_synthetic_stream


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.strip().splitlines()[0])
    parser.add_argument("--n-users", type=int, default=2000)
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--embedding-dim", type=int, default=32)
    parser.add_argument("--out", default="encoder.st")
    args = parser.parse_args(argv)
    torch.set_num_threads(1)  # one core per process on a CPU machine

    stream = make_synthetic_stream(args.n_users, 200, random_state=0)
    enc = ContinualUserEncoder(
        embedding_dim=args.embedding_dim,
        n_blocks=2,
        batch_size=args.batch_size,
        max_epochs=args.epochs,
        random_state=0,  # the same seed on every process
    )
    for name in ("next_item", "category"):
        X, y = stream[name].train
        enc.partial_fit(X, y, task=name)
    enc.save(args.out)  # rank 0 writes it; every rank returns once it is there
    X, y = stream["category"].test
    if not dist.is_initialized() or dist.get_rank() == 0:
        print(f"category test accuracy {enc.score(X, y, task='category'):.3f}")
    if dist.is_initialized():
        dist.barrier()  # every rank done before any tears the group down
        dist.destroy_process_group()


if __name__ == "__main__":
    main()

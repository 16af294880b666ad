"""
The floor of the sampling ratio on MovieLens-100K
=================================================

How the floor of the sampling ratio (rho_min) keeps next-item alive.

Trains next_item → liked → five_star → age on MovieLens-100K for each
``rho_min`` given and prints next-item MRR@5 (and each task's own score) after
every task. Needs the MovieLens-100K wheel (downloaded on first use).

Not run when the documentation is built (it needs MovieLens); run it with
``python examples/rho_floor_on_movielens.py 0.05 0.1 0.25`` (about a minute
per value on a 2-core CPU).
"""

import sys

from sklearn_teracon import ContinualUserEncoder
from sklearn_teracon.datasets import make_movielens_stream

stream = make_movielens_stream("100k")
next_item = stream["next_item"]
for rho_min in [float(arg) for arg in sys.argv[1:]] or [0.05, 0.1]:
    enc = ContinualUserEncoder(
        embedding_dim=64, batch_size=32, max_epochs=20, rho_min=rho_min, random_state=0
    )
    print(f"rho_min={rho_min}")
    for name in ["next_item", "liked", "five_star", "age"]:
        task = stream[name]
        enc.partial_fit(*task.train, task=name)
        kept = enc.score(*next_item.test, task="next_item")
        own = enc.score(*task.test, task=name)
        print(f"  after {name:<10} next_item {kept:.4f}  {name} {own:.4f}")

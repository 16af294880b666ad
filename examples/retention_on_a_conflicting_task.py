"""
Retention against a conflicting task
====================================

How much knowledge retention protects a task from a conflicting later task.

On the synthetic stream, ``conflict`` reads the rival items that ``category``
must ignore: a shared backbone that learns ``conflict`` unprotected forgets
``category``. This script trains next_item → category → conflict with and
without retention (``alpha``) over several seeds and prints category's accuracy
before and after learning ``conflict``.

Not run when the documentation is built (a few minutes); run it with
``python examples/retention_on_a_conflicting_task.py``.
"""

import numpy as np

from sklearn_teracon import ContinualUserEncoder
from sklearn_teracon.datasets import make_synthetic_stream

stream = make_synthetic_stream(1000, 60, max_len=20, random_state=0)
category, conflict = stream["category"], stream["conflict"]


def run(alpha, seed):
    enc = ContinualUserEncoder(
        embedding_dim=32,
        n_blocks=1,
        max_len=20,
        batch_size=32,
        lr=5e-3,
        max_epochs=2,
        patience=None,
        validation_fraction=0.0,
        alpha=alpha,
        random_state=seed,
    )
    enc.partial_fit(*stream["next_item"].train, task="next_item")
    enc.set_params(max_epochs=5).partial_fit(*category.train, task="category")
    before = enc.score(*category.test, task="category")
    enc.set_params(max_epochs=6).partial_fit(*conflict.train, task="conflict")
    after = enc.score(*category.test, task="category")
    return before, after, enc.score(*conflict.test, task="conflict")


print("alpha  seed  category before  category after  drop    conflict")
for alpha in (0.0, 0.7):
    drops = []
    for seed in range(3):
        before, after, other = run(alpha, seed)
        drops.append(before - after)
        print(
            f"{alpha:5.1f}  {seed:4d}  {before:15.3f}  {after:14.3f}  "
            f"{before - after:+.3f}  {other:8.3f}"
        )
    print(f"alpha={alpha}: mean drop {np.mean(drops):+.3f}")

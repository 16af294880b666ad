"""
Quickstart: three tasks, one encoder
====================================

Learn three tasks continually on the synthetic stream and use all of them:
scores after every task, top-5 next items, the universal representation and
the task relations.

Not run when the documentation is built (about a minute on a laptop CPU); run
it with ``python examples/quickstart.py`` (offline).
"""

from sklearn_teracon import ContinualUserEncoder
from sklearn_teracon.datasets import make_synthetic_stream

stream = make_synthetic_stream(n_users=1000, n_items=60, random_state=0)
print(stream)

enc = ContinualUserEncoder(embedding_dim=32, n_blocks=1, lr=5e-3, random_state=0)
tasks = stream.select(["next_item", "category", "related"])
for task in tasks:
    enc.partial_fit(*task.train, task=task.name)
    scores = {
        t.name: round(enc.score(*t.test, task=t.name), 3)
        for t in tasks
        if t.name in enc.tasks_
    }
    print(f"after {task.name:<10} {scores}")

X_test, _ = stream["category"].test
print(
    "top-5 next items of the first user:",
    enc.recommend(X_test[:1], k=5, task="next_item"),
)
print("universal representation:", enc.transform(X_test).shape)
print("task relations (mask cosine):")
print(enc.task_relations_.round(2))

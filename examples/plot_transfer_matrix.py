"""
The continual transfer matrix and forgetting curves
===================================================

A :class:`~sklearn_teracon.evaluation.ContinualEvaluator` trains one encoder
over a stream of tasks, one after the other, and scores every task learned so
far after each of them: ``R[i, j]`` is the score on task ``j`` after training
through task ``i``. The diagonal is each task right after its own training;
the columns, read downwards, show what later tasks did to it.

The stream is the synthetic one: ``category`` and ``related`` share their
evidence, while ``conflict`` reads the rival items that ``category`` must
ignore (see :func:`~sklearn_teracon.datasets.make_synthetic_stream`). The
model is tiny so that this page builds in seconds.
"""

# %%
# Train over the stream and fill ``R``
# ------------------------------------
import matplotlib.pyplot as plt
import numpy as np

from sklearn_teracon import ContinualUserEncoder
from sklearn_teracon.datasets import make_synthetic_stream
from sklearn_teracon.evaluation import ContinualEvaluator
from sklearn_teracon.plotting import plot_transfer_matrix

stream = make_synthetic_stream(n_users=1000, n_items=60, max_len=20, random_state=0)
stream = stream.select(["next_item", "category", "related", "conflict"])
encoder = ContinualUserEncoder(
    embedding_dim=32,
    n_blocks=1,
    max_len=20,
    lr=5e-3,
    max_epochs=8,
    patience=None,
    random_state=0,
)
# single_task=None skips training every task alone (needed only for FWT).
report = ContinualEvaluator(encoder, single_task=None).evaluate(stream)
print(report)

# %%
# The transfer matrix
# -------------------
# Grey cells lie above the diagonal: tasks not learned yet. ``next_item`` is
# scored in MRR@5, the three profile tasks in accuracy (chance: 1/6, 1/3, 1/6).
plot_transfer_matrix(report.R, report.task_names, metrics=report.metrics)
plt.show()

# %%
# Forgetting curves
# -----------------
# Each task's score after its own training and after every later task: a flat
# line is a task that was kept, a falling one a task that was forgotten.
fig, ax = plt.subplots(figsize=(6, 4))
for j, name in enumerate(report.task_names):
    after = np.arange(j, report.n_tasks)
    ax.plot(after, report.R[j:, j], marker="o", label=f"{name} ({report.metrics[j]})")
ax.set_xticks(range(report.n_tasks), report.task_names)
ax.set_xlabel("after training on")
ax.set_ylabel("test score")
ax.set_title("Score of each task after each later task")
ax.legend(fontsize="small")
fig.tight_layout()
plt.show()

# %%
# The same numbers as backward transfer and forgetting:
print(f"BWT {report.bwt:+.4f}, forgetting {report.forgetting:+.4f}")

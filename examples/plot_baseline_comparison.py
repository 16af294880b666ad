"""
TERACON beside simple baselines
===============================

A continual model is only worth its cost if it beats what counting gives. The
:class:`~sklearn_teracon.evaluation.ContinualEvaluator` trains and scores
simple baselines (:mod:`sklearn_teracon.baselines`) on the same split and in
the same metric as the encoder: *popularity* (the most frequent targets for
everyone: the majority class of a profile task), and, where they apply,
item-to-item co-occurrence and a logistic regression on the bag of a user's
items.

The stream is the synthetic one, with its task of random labels (``noise``),
where nothing can beat the majority class. The model is tiny and trained for
a few epochs so that this page builds in seconds: the numbers show how to
read the comparison, not what TERACON reaches with a real budget.
"""

# %%
import matplotlib.pyplot as plt
import numpy as np

from sklearn_teracon import ContinualUserEncoder
from sklearn_teracon.datasets import make_synthetic_stream
from sklearn_teracon.evaluation import ContinualEvaluator

stream = make_synthetic_stream(n_users=800, n_items=60, max_len=20, random_state=0)
encoder = ContinualUserEncoder(
    embedding_dim=32,
    n_blocks=1,
    max_len=20,
    lr=5e-3,
    max_epochs=5,
    patience=None,
    random_state=0,
)
report = ContinualEvaluator(encoder, single_task=None).evaluate(stream)

# %%
# The table
# ---------
# ``final`` is each task's score at the end of the stream, after every later
# task; ``after own`` right after its own training.
columns = {"after own": report.diagonal, "final": report.final}
columns.update(report.baseline_scores)
header = f"{'task':<10} {'metric':<9}" + "".join(f"{c:>11}" for c in columns)
print(header)
print("-" * len(header))
for j, name in enumerate(report.task_names):
    cells = "".join(
        f"{'n/a':>11}" if np.isnan(v[j]) else f"{v[j]:>11.4f}" for v in columns.values()
    )
    print(f"{name:<10} {report.metrics[j]:<9}" + cells)

# %%
# The same as bars
# ----------------
fig, ax = plt.subplots(figsize=(8, 3.5))
width = 0.8 / len(columns)
x = np.arange(report.n_tasks)
for k, (label, scores) in enumerate(columns.items()):
    ax.bar(x + k * width, np.nan_to_num(scores), width, label=label)
ax.set_xticks(x + 0.4 - width / 2, report.task_names)
ax.set_ylabel("test score (MRR@5 or accuracy)")
ax.set_title("TERACON (after own, final) and the baselines")
ax.legend(fontsize="small", ncols=2)
fig.tight_layout()
plt.show()

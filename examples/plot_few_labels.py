"""
A new task with few labels: the learning curve
==============================================

A platform launches a service whose task has labels for only a few users.
:class:`~sklearn_teracon.transfer.LabelScarceEvaluator` trains the earlier
tasks on all of their users, then learns the new task from N labelled users
only, for several N and seeds, beside the same model trained on the task
alone (``single``), a linear probe of the earlier representation and the
simple baselines, all on the same users.

The stream is the synthetic one; ``category`` (six sectors of a user's taste)
is the new task. The model is tiny so that this page builds in seconds: the
figure shows how to read the protocol, not what TERACON reaches with a real
budget (see :doc:`/few_labels` for MovieLens).
"""

# %%
from sklearn_teracon import ContinualUserEncoder
from sklearn_teracon.datasets import make_synthetic_stream
from sklearn_teracon.plotting import plot_learning_curve
from sklearn_teracon.transfer import LabelScarceEvaluator

stream = make_synthetic_stream(n_users=600, n_items=60, max_len=20, random_state=0)
stream = stream.select(["next_item", "category"])
encoder = ContinualUserEncoder(
    embedding_dim=16, n_blocks=1, max_len=20, lr=5e-3, max_epochs=4, random_state=0
)
evaluator = LabelScarceEvaluator(encoder, n_labelled=(25, 50, 100, None), seeds=(0, 1))
report = evaluator.evaluate(stream)
print(report)

# %%
# Score against the number of labelled users, one line per method (mean and
# ± one standard deviation over the seeds).
fig = plot_learning_curve(report, task="category")

"""
Task relations and the sampling ratio
=====================================

Every task owns soft masks over the shared backbone. How alike two tasks'
masks are (their cosine similarity, averaged over the mask slots) is
``enc.task_relations_``: the relations TERACON uses to decide how many users
retain each earlier task while a new one trains.

The synthetic stream plants the relations: ``related`` is a coarsening of
``category``, ``conflict`` competes with it for the same input, and ``noise``
is random labels (see :func:`~sklearn_teracon.datasets.make_synthetic_stream`).
A tiny model, trained for a few epochs, so that this page builds in seconds.
"""

# %%
# Learn the five tasks one after another
# --------------------------------------
import matplotlib.pyplot as plt
from matplotlib.ticker import MaxNLocator

from sklearn_teracon import ContinualUserEncoder
from sklearn_teracon.datasets import make_synthetic_stream
from sklearn_teracon.plotting import plot_task_relations

stream = make_synthetic_stream(n_users=600, n_items=60, max_len=20, random_state=0)
enc = ContinualUserEncoder(
    embedding_dim=16,
    n_blocks=1,
    max_len=20,
    lr=5e-3,
    max_epochs=3,
    patience=None,
    random_state=0,
)
for task in stream:
    enc.partial_fit(*task.train, task=task.name)
print(list(enc.tasks_))

# %%
# The relation matrix
# -------------------
# With the default centred measure (``relation="centered"``) values lie in
# [-1, 1]: a positive value means that two tasks amplify the same channels of
# the shared representation, a negative one that they pull it apart.
plot_task_relations(enc.task_relations_, list(enc.tasks_))
plt.show()

# %%
# The history of each task
# ------------------------
# ``enc.history_[task]`` is a :class:`skorch.history.History`: one row per
# epoch, sliced like skorch's own. While a later task trains, ``rho`` is the
# mean sampling ratio of the earlier tasks (the share of the batch that
# retains them) and ``retention_loss`` the distance to the frozen teacher.
fig, (loss_ax, rho_ax) = plt.subplots(1, 2, figsize=(9, 3.5))
for name, history in enc.history_.items():
    loss_ax.plot(history[:, "epoch"], history[:, "train_loss"], marker="o", label=name)
    if "rho" in history[0]:
        rho_ax.plot(history[:, "epoch"], history[:, "rho"], marker="o", label=name)
loss_ax.set(xlabel="epoch", ylabel="training loss", title="Own loss of each task")
rho_ax.set(xlabel="epoch", ylabel="mean ρ", title="Sampling ratio while training")
for ax in (loss_ax, rho_ax):
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.legend(fontsize="small")
fig.tight_layout()
plt.show()

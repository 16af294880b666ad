"""skorch callbacks passed through the encoder's ``callbacks`` parameter."""

import numpy as np
from skorch.callbacks import Callback, Checkpoint, EarlyStopping, LRScheduler

from sklearn_teracon import ContinualUserEncoder

from .conftest import TINY


class EpochCounter(Callback):
    def initialize(self):
        self.epochs_ = getattr(self, "epochs_", 0)
        return self

    def on_epoch_end(self, net, **kwargs):
        self.epochs_ += 1


def test_user_callbacks_run_for_every_task(toy, tmp_path):
    seqs, groups, _ = toy
    counter = EpochCounter()
    scheduler = LRScheduler(policy="StepLR", step_size=1, gamma=0.5)
    checkpoint = Checkpoint(dirname=str(tmp_path), monitor="train_loss_best")
    enc = ContinualUserEncoder(
        **{**TINY, "callbacks": [counter, ("lr", scheduler), checkpoint]}
    )
    enc.partial_fit(seqs).partial_fit(seqs, groups, task="group")
    assert counter.epochs_ == 2 * TINY["max_epochs"]
    # The scheduler halved the learning rate once per epoch of the last task.
    assert enc.net_.optimizer_.param_groups[0]["lr"] == TINY.get("lr", 1e-3) * 0.25
    assert (tmp_path / "params.pt").exists()
    assert set(enc.history_) == {"next_item", "group"}


def test_user_early_stopping_ends_a_task_without_rolling_it_back():
    rng = np.random.default_rng(0)
    seqs = rng.integers(1, 500, size=(200, 8))
    noise = rng.integers(0, 2, len(seqs))
    stopper = EarlyStopping(monitor="valid_loss", patience=1)
    enc = ContinualUserEncoder(
        **{
            **TINY,
            "max_epochs": 30,
            "validation_fraction": 0.3,
            "callbacks": [("stop", stopper)],
        }
    )
    enc.partial_fit(seqs, noise, task="noise")
    assert list(enc.tasks_) == ["noise"]
    assert 2 <= len(enc.history_["noise"]) < 30

"""skorch callbacks passed through the encoder's ``callbacks`` parameter."""

import io

import numpy as np
import pytest
import torch
from skorch.callbacks import (
    Callback,
    Checkpoint,
    EarlyStopping,
    LRScheduler,
    TrainEndCheckpoint,
)
from skorch.history import History

from sklearn_teracon import ContinualUserEncoder, _cli_steps, cli
from sklearn_teracon.cli import main
from sklearn_teracon.datasets import make_synthetic_stream
from sklearn_teracon.evaluation import (
    ContinualEvaluator,
    ContinualReport,
    EvaluationInterrupted,
)
from sklearn_teracon.training.callbacks import non_finite_parameters
from sklearn_teracon.training.progress import TaskLine

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
    assert enc.net_.optimizer_.param_groups[0]["lr"] == enc.lr * 0.25
    # One checkpoint copy per task: each task's files carry its name.
    assert (tmp_path / "next_item_params.pt").exists()
    assert (tmp_path / "group_params.pt").exists()
    assert not (tmp_path / "params.pt").exists()
    assert checkpoint.fn_prefix == ""  # the object passed in is not changed
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


def test_checkpoint_file_names_keep_the_user_prefix_and_make_task_names_safe(
    toy, tmp_path
):
    seqs, groups, _ = toy
    enc = ContinualUserEncoder(
        **{
            **TINY,
            "callbacks": [TrainEndCheckpoint(dirname=str(tmp_path), fn_prefix="run_")],
        }
    )
    enc.partial_fit(seqs, groups, task="age/group")
    assert (tmp_path / "run_age_group_params.pt").exists()


class BatchValue(Callback):
    """Records a per-batch value that skorch does not aggregate."""

    def on_batch_end(self, net, batch=None, training=False, **kwargs):
        if training:
            net.history.record_batch("my_value", float(len(net.history[-1]["batches"])))


def test_history_is_a_skorch_history_over_all_calls_of_a_task(toy):
    seqs, groups, _ = toy
    enc = ContinualUserEncoder(**{**TINY, "callbacks": [BatchValue()]})
    enc.partial_fit(seqs).partial_fit(seqs, groups, task="group")
    enc.partial_fit(seqs, groups, task="group")
    history = enc.history_["group"]
    assert isinstance(history, History)
    n_epochs = TINY["max_epochs"]
    assert history[:, "epoch"] == list(range(1, 2 * n_epochs + 1))
    assert len(history[:, "train_loss"]) == 2 * n_epochs
    assert "batches" not in history[0]
    # Every numeric per-batch key is averaged into its epoch row.
    n_batches = -(-len(seqs) // TINY["batch_size"])
    assert history[0]["my_value"] == pytest.approx((n_batches + 1) / 2)
    assert history[-1]["rho"] >= enc.rho_min
    assert np.isfinite(history[-1]["retention_loss"])
    assert "train_batch_size" not in history[0]


def test_loaded_history_is_a_skorch_history(fitted, tmp_path):
    path = tmp_path / "enc.safetensors"
    fitted.save(path)
    loaded = ContinualUserEncoder.load(path)
    history = loaded.history_["group"]
    assert isinstance(history, History)
    assert history[:, "train_loss"] == fitted.history_["group"][:, "train_loss"]


class FakeTerminal(io.StringIO):
    def isatty(self):
        return True


def _train_and_capture(monkeypatch, toy, verbose, terminal, one_stream=False):
    seqs, groups, _ = toy
    stream = FakeTerminal if terminal else io.StringIO
    out = stream()
    err = out if one_stream else stream()
    monkeypatch.setattr("sys.stdout", out)
    monkeypatch.setattr("sys.stderr", err)
    enc = ContinualUserEncoder(**{**TINY, "verbose": verbose})
    enc.partial_fit(seqs).partial_fit(seqs, groups, task="group")
    return out.getvalue(), err.getvalue()


def test_verbose_0_prints_nothing(monkeypatch, toy):
    assert _train_and_capture(monkeypatch, toy, 0, terminal=True) == ("", "")


@pytest.mark.parametrize("verbose", [1, 2])
def test_console_off_a_terminal_is_plain_text(monkeypatch, toy, verbose):
    out, err = _train_and_capture(monkeypatch, toy, verbose, terminal=False)
    assert "\x1b" not in out + err
    assert "\r" not in out + err
    assert err == ""  # no progress bar
    lines = out.splitlines()
    assert [line for line in lines if line.startswith("task ")] == [
        "task 'next_item': 160 users",
        "task 'group': 160 users",
    ]
    epoch_rows = [line for line in lines if line.split()[:1] in (["1"], ["2"])]
    assert len(epoch_rows) == 2 * TINY["max_epochs"]


def test_console_on_a_terminal_colours_the_table_and_bars_only_at_verbose_2(
    monkeypatch, toy
):
    out, err = _train_and_capture(monkeypatch, toy, 1, terminal=True)
    assert "\x1b[" in out  # skorch's colours for the best epoch
    assert err == ""
    out, err = _train_and_capture(monkeypatch, toy, 2, terminal=True)
    assert "group epoch 1" in err and "it/s" in err
    # On one terminal, the bar is erased before each epoch row: what remains
    # visible of a row's line (after the last carriage return) is the row alone.
    screen, _ = _train_and_capture(monkeypatch, toy, 2, terminal=True, one_stream=True)
    lines = screen.split("\n")
    assert sum("it/s" in line for line in lines) == 2 * TINY["max_epochs"]
    assert not any("it/s" in line.rsplit("\r", 1)[-1] for line in lines)


class InterruptTask(Callback):
    """Ctrl-C in the first epoch of a given task (as a user would press it)."""

    def __init__(self, task):
        self.task = task

    def on_epoch_begin(self, net, **kwargs):
        if any(
            isinstance(cb, TaskLine) and cb.task_name == self.task
            for _, cb in net.callbacks_
        ):
            raise KeyboardInterrupt


def _interrupted_encoder(task):
    return ContinualUserEncoder(
        **{**TINY, "embedding_dim": 8, "callbacks": [InterruptTask(task)]}
    )


def _synthetic_stream():
    stream = make_synthetic_stream(120, 48, max_len=12, random_state=0)
    return stream.select(["next_item", "category", "related"])


def test_ctrl_c_during_the_second_task_gives_the_first_tasks_report():
    evaluator = ContinualEvaluator(_interrupted_encoder("category"))
    with pytest.raises(KeyboardInterrupt) as info:
        evaluator.evaluate(_synthetic_stream())
    assert isinstance(info.value, EvaluationInterrupted)
    report = info.value.report
    assert report.task_names == ["next_item"]
    assert report.R.shape == (1, 1) and np.isfinite(report.R[0, 0])
    assert report.stream == "synthetic"
    assert list(evaluator.encoder_.tasks_) == ["next_item"]


def test_ctrl_c_during_the_first_task_has_no_report():
    evaluator = ContinualEvaluator(_interrupted_encoder("next_item"))
    with pytest.raises(EvaluationInterrupted) as info:
        evaluator.evaluate(_synthetic_stream())
    assert info.value.report is None


def test_ctrl_c_in_run_writes_the_partial_report(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(
        _cli_steps, "make_encoder", lambda args: _interrupted_encoder("category")
    )
    out = tmp_path / "run"
    argv = ["run", "--dataset", "synthetic", "--n-users", "120", "--n-items", "48"]
    code = main([*argv, "--tasks", "next_item,category,related", "--out", str(out)])
    captured = capsys.readouterr()
    assert code == cli.EXIT_INTERRUPTED
    assert "interrupted" in captured.err
    assert "the report of the 1 finished tasks (of 3)" in captured.out
    assert f"to {out}" in captured.out  # says where
    report = ContinualReport.load_json(out / "report.json")
    assert report.task_names == ["next_item"]
    assert "next_item" in (out / "report.md").read_text()


class PoisonWeightsAfterLastBatch(Callback):
    """Make a weight NaN after the last batch, where no later loss reads it."""

    def on_batch_end(self, net, training=False, **kwargs):
        if training:
            with torch.no_grad():
                next(net.module_.parameters()).fill_(float("nan"))


def test_weights_that_turn_non_finite_in_the_last_step_stop_training(toy):
    seqs, _, _ = toy
    enc = ContinualUserEncoder(
        **{**TINY, "max_epochs": 1, "batch_size": len(seqs)},
        callbacks=[PoisonWeightsAfterLastBatch()],
    )
    # The epoch-end scan names the epoch; the check after training would not.
    with pytest.raises(ValueError, match="at epoch 1: the weights .* hold NaN"):
        enc.fit(seqs)


def _two_weights():
    module = torch.nn.Module()
    module.small = torch.nn.Parameter(torch.zeros(3))
    module.large = torch.nn.Parameter(torch.zeros(2, 11))  # 22: 5 slices of 5
    return module


@pytest.mark.parametrize("value", [float("nan"), float("inf"), float("-inf")])
@pytest.mark.parametrize("index", [0, 4, 5, 19, 20, 21])  # slice ends; the last
def test_sliced_weight_scan_finds_nan_and_inf_in_any_slice(value, index):
    module = _two_weights()
    assert non_finite_parameters(module, slice_elements=5) == []
    with torch.no_grad():
        module.large.view(-1)[index] = value
    assert non_finite_parameters(module, slice_elements=5) == ["large"]
    assert non_finite_parameters(module) == ["large"]  # one slice
    with torch.no_grad():
        module.small[2] = value
    assert non_finite_parameters(module, slice_elements=5) == ["small", "large"]


def test_training_leaves_no_gradients_nor_optimizer_moments(toy):
    seqs, groups, _ = toy
    enc = ContinualUserEncoder(**TINY).partial_fit(seqs)
    enc.partial_fit(seqs, groups, task="group")
    optimizer = enc.net_.optimizer_
    assert optimizer.defaults["fused"] is True  # no weight-sized temporaries
    assert all(p.grad is None for p in enc.net_.module_.parameters())
    assert not optimizer.state


def test_fused_adam_only_where_torch_has_it(monkeypatch):
    from sklearn_teracon.training.build import fused_adam_available

    assert fused_adam_available("cuda") and fused_adam_available("cuda:1")
    assert fused_adam_available("cpu") and not fused_adam_available("meta")
    monkeypatch.setattr(torch, "__version__", "2.3.1+cpu")
    assert not fused_adam_available("cpu") and fused_adam_available("cuda")

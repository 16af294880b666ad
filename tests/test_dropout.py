"""``next_item_dropout``: acts while a next-item task trains, never at prediction."""

import json

import numpy as np
import pytest
import torch
from safetensors import safe_open
from safetensors.torch import save_file
from skorch.callbacks import Callback

from sklearn_teracon import ContinualUserEncoder
from sklearn_teracon._model_file import DESCRIPTION_KEY, DIGEST_KEY, _digest
from sklearn_teracon.nn import TeraconModule
from sklearn_teracon.nn.backbone import fast_dropout

from .conftest import TINY, fit_two_tasks


def test_dropout_acts_in_training_mode_only():
    torch.manual_seed(0)
    module = TeraconModule(20, 16, [1, 2], 3)
    module.add_task("next_item", 20)
    items = torch.randint(2, 20, (4, 9))
    module.backbone.dropout = 0.5
    module.train()
    assert not torch.equal(module.hidden(items, 0, 1.0), module.hidden(items, 0, 1.0))
    module.eval()
    served = module.hidden(items, 0, 1.0)
    module.backbone.dropout = 0.0
    torch.testing.assert_close(served, module.hidden(items, 0, 1.0))


def test_dropout_changes_what_is_learned_and_is_reproducible(toy):
    seqs, _, _ = toy
    plain = fit_two_tasks(toy, next_item_dropout=0.0)
    dropped = fit_two_tasks(toy, next_item_dropout=0.3)
    again = fit_two_tasks(toy, next_item_dropout=0.3)
    scores = dropped.decision_function(seqs, task="next_item")
    assert not np.allclose(plain.decision_function(seqs, task="next_item"), scores)
    np.testing.assert_array_equal(
        again.decision_function(seqs, task="next_item"), scores
    )


class _DropoutSeen(Callback):
    """Records the backbone's dropout at the start of every epoch."""

    def __init__(self):
        self.seen = []

    def on_epoch_begin(self, net, **kwargs):
        self.seen.append((net.task_, net.module_.backbone.dropout))


def test_only_next_item_tasks_train_with_dropout(toy):
    seqs, groups, _ = toy
    seen = _DropoutSeen()
    enc = ContinualUserEncoder(**TINY, next_item_dropout=0.3, callbacks=[seen])
    enc.partial_fit(seqs)
    enc.partial_fit(seqs, groups, task="group")
    enc.partial_fit(seqs)  # the next-item task again
    assert seen.seen == [(0, 0.3)] * 2 + [(1, 0.0)] * 2 + [(0, 0.3)] * 2


@pytest.mark.parametrize("value", [-0.1, 1.0, 1.5, "0.2"])
def test_dropout_outside_zero_one_is_refused(toy, value):
    seqs, _, _ = toy
    with pytest.raises((ValueError, TypeError), match="next_item_dropout"):
        ContinualUserEncoder(**TINY, next_item_dropout=value).fit(seqs)


def test_dropout_is_saved_and_old_files_load_without_it(toy, tmp_path):
    seqs, _, _ = toy
    enc = fit_two_tasks(toy, next_item_dropout=0.25)
    path, old = tmp_path / "new.safetensors", tmp_path / "old.safetensors"
    enc.save(path)
    assert ContinualUserEncoder.load(path).next_item_dropout == 0.25
    with safe_open(str(path), framework="pt") as f:
        state = {k: f.get_tensor(k) for k in f.keys()}
        description = json.loads(f.metadata()[DESCRIPTION_KEY])
    del description["params"]["next_item_dropout"]
    text = json.dumps(description)
    save_file(
        state, str(old), metadata={DESCRIPTION_KEY: text, DIGEST_KEY: _digest(text)}
    )
    loaded = ContinualUserEncoder.load(old)
    assert loaded.next_item_dropout == 0.0
    np.testing.assert_array_equal(
        loaded.decision_function(seqs, task="group"),
        enc.decision_function(seqs, task="group"),
    )


@pytest.mark.parametrize("retained_positions", ["all", "last"])
def test_retention_compares_the_student_without_dropout(toy, retained_positions):
    # Right after a task starts the student is the teacher: without dropout in
    # the student's pass the retention loss is exactly 0, in training mode too.
    seqs, groups, _ = toy
    enc = fit_two_tasks(
        toy, next_item_dropout=0.5, retained_positions=retained_positions
    )
    net = enc.net_
    net.module_.backbone.dropout = 0.5
    net.start_task(1)
    net.module_.train()
    net.history.new_epoch()
    net.history.new_batch()  # retention records its ρ in the batch's row
    items = torch.as_tensor(enc._encode(seqs[:16]))
    torch.manual_seed(0)
    assert net.strategy.retention_loss(net, items).item() == 0.0
    # The same pass with dropout would differ from the teacher.
    with_dropout = net.task_rows(net.module_, items, 0, net.s)
    without = net.task_rows(net.module_, items, 0, net.s, dropout=False)
    assert not torch.allclose(with_dropout, without)
    net.end_task()


@pytest.mark.parametrize("p", [0.1, 0.4, 0.75])
@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16])
def test_fast_dropout_keeps_one_minus_p_and_the_expectation(p, dtype):
    torch.manual_seed(0)
    x = torch.ones(7, 301, 97, dtype=dtype)  # an element count not divisible by 4
    out = fast_dropout(x, p, training=True)
    assert out.dtype == dtype and out.shape == x.shape
    kept = out != 0
    # 202 K draws: a kept fraction off by 0.005 would be 4.5 standard errors.
    assert abs(kept.float().mean().item() - (1 - p)) < 0.005
    scale = out[kept].float().unique()
    assert len(scale) == 1 and scale.item() == pytest.approx(1 / (1 - p), rel=1e-2)
    assert abs(out.float().mean().item() - 1.0) < 0.01


def test_fast_dropout_masks_every_element_independently():
    torch.manual_seed(1)
    kept = fast_dropout(torch.ones(400_000), 0.5, training=True) != 0
    # All four 16-bit lanes of each random word are used and none is stuck
    # (a stuck lane would keep 0 % or 100 % of every fourth element).
    lanes = kept.view(-1, 4).float().mean(0)
    torch.testing.assert_close(lanes, torch.full((4,), 0.5), atol=0.006, rtol=0)
    pairs = kept.view(-1, 2)
    both = (pairs[:, 0] & pairs[:, 1]).float().mean().item()
    assert abs(both - 0.25) < 0.005


def test_fast_dropout_gradient_is_its_mask_and_it_follows_the_seed():
    x = torch.randn(5, 6, 8, requires_grad=True)
    torch.manual_seed(3)
    out = fast_dropout(x, 0.3, training=True)
    out.sum().backward()
    torch.testing.assert_close(x.grad, out.detach() / x.detach())
    torch.manual_seed(3)
    torch.testing.assert_close(fast_dropout(x, 0.3, training=True), out)
    assert fast_dropout(x, 0.3, training=False) is x
    assert fast_dropout(x, 0.0, training=True) is x

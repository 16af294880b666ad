"""``dropout``: acts while a task trains, never at prediction, saved with the model."""

import json

import numpy as np
import pytest
import torch
from safetensors import safe_open
from safetensors.torch import save_file

from sklearn_teracon import ContinualUserEncoder
from sklearn_teracon._model_file import DESCRIPTION_KEY, DIGEST_KEY, _digest
from sklearn_teracon.nn import TeraconModule

from .conftest import TINY


def _fit(toy, **params):
    seqs, groups, _ = toy
    enc = ContinualUserEncoder(**TINY, **params)
    enc.partial_fit(seqs)
    enc.partial_fit(seqs, groups, task="group")
    return enc


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
    plain = _fit(toy, dropout=0.0)
    dropped = _fit(toy, dropout=0.3)
    again = _fit(toy, dropout=0.3)
    scores = dropped.decision_function(seqs, task="group")
    assert not np.allclose(plain.decision_function(seqs, task="group"), scores)
    np.testing.assert_array_equal(again.decision_function(seqs, task="group"), scores)


@pytest.mark.parametrize("value", [-0.1, 1.0, 1.5, "0.2"])
def test_dropout_outside_zero_one_is_refused(toy, value):
    seqs, _, _ = toy
    with pytest.raises((ValueError, TypeError), match="dropout"):
        ContinualUserEncoder(**TINY, dropout=value).fit(seqs)


def test_dropout_is_saved_and_old_files_load_without_it(toy, tmp_path):
    seqs, _, _ = toy
    enc = _fit(toy, dropout=0.25)
    path, old = tmp_path / "new.safetensors", tmp_path / "old.safetensors"
    enc.save(path)
    assert ContinualUserEncoder.load(path).dropout == 0.25
    with safe_open(str(path), framework="pt") as f:
        state = {k: f.get_tensor(k) for k in f.keys()}
        description = json.loads(f.metadata()[DESCRIPTION_KEY])
    del description["params"]["dropout"]
    text = json.dumps(description)
    save_file(
        state, str(old), metadata={DESCRIPTION_KEY: text, DIGEST_KEY: _digest(text)}
    )
    loaded = ContinualUserEncoder.load(old)
    assert loaded.dropout == 0.0
    np.testing.assert_array_equal(
        loaded.decision_function(seqs, task="group"),
        enc.decision_function(seqs, task="group"),
    )


@pytest.mark.parametrize("retained_positions", ["all", "last"])
def test_retention_compares_the_student_without_dropout(toy, retained_positions):
    # Right after a task starts the student is the teacher: without dropout in
    # the student's pass the retention loss is exactly 0, in training mode too.
    seqs, groups, _ = toy
    enc = _fit(toy, dropout=0.5, retained_positions=retained_positions)
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

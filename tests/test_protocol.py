"""The plugin protocol: one context for every hook, in order; models serve alone."""

import copy

import numpy as np
import pytest
import torch

from sklearn_teracon import ContinualUserEncoder
from sklearn_teracon.nn import TeraconModule
from sklearn_teracon.nn.task_state import AdapterState, UnitMaskState
from sklearn_teracon.strategies import STRATEGIES, get_strategy
from sklearn_teracon.training import Strategy

from .conftest import TINY

HOOKS = (
    "before_task",
    "before_epochs",
    "before_batch",
    "loss_terms",
    "after_backward",
    "after_batch",
    "after_epochs",
    "after_task",
    "release",
)


class Recorder(Strategy):
    """Records each hook with its context, and trains like ``sequential``."""

    name = "recorder"
    reads_gradients = True

    def task_state(self):
        return UnitMaskState()


def _recording(hook):
    def record(self, context):
        self.calls.append((hook, id(context), context.task, context.training))

    return record


for _hook in HOOKS:
    setattr(Recorder, _hook, _recording(_hook))


@pytest.fixture
def recorder(monkeypatch):
    calls = []
    monkeypatch.setattr(Recorder, "calls", calls, raising=False)
    monkeypatch.setitem(STRATEGIES, "recorder", Recorder)
    return calls


def test_every_hook_gets_the_same_context_in_before_after_order(toy, recorder):
    seqs, groups, _ = toy
    enc = ContinualUserEncoder(**{**TINY, "max_epochs": 1}, strategy="recorder")
    enc.partial_fit(seqs)
    enc.partial_fit(seqs, groups, task="group")
    hooks = [hook for hook, *_ in recorder]
    second = hooks.index("before_task", 1)
    for calls in (recorder[:second], recorder[second:]):
        assert len({context for _, context, _, _ in calls}) == 1
        names = [hook for hook, *_ in calls]
        assert names[:3] == ["before_task", "before_epochs", "before_batch"]
        assert names[-3:] == ["after_epochs", "after_task", "release"]
        batch = names.index("before_batch")
        assert names[batch : batch + 4] == [
            "before_batch",
            "loss_terms",
            "after_backward",
            "after_batch",
        ]
        assert {
            training for hook, _, _, training in calls if hook == "after_backward"
        } == {True}
    assert {task for _, _, task, _ in recorder[second:]} == {1}


def test_release_runs_when_the_task_fails(toy, recorder, monkeypatch):
    seqs, _, _ = toy

    def fail(self, context):
        self.calls.append(("loss_terms", id(context), context.task, context.training))
        raise RuntimeError("boom")

    monkeypatch.setattr(Recorder, "loss_terms", fail)
    enc = ContinualUserEncoder(**TINY, strategy="recorder")
    with pytest.raises(RuntimeError, match="boom"):
        enc.partial_fit(seqs)
    hooks = [hook for hook, *_ in recorder]
    assert hooks[-1] == "release" and "after_task" not in hooks


@pytest.mark.parametrize("name", sorted(STRATEGIES))
def test_the_model_serves_every_task_by_itself(toy, name):
    # A copy of the torch module alone answers what the encoder answers: no
    # strategy object is needed to serve a trained model.
    seqs, groups, _ = toy
    enc = ContinualUserEncoder(**{**TINY, "max_epochs": 1}, strategy=name)
    enc.partial_fit(seqs)
    enc.partial_fit(seqs, groups, task="group")
    model = copy.deepcopy(enc.net_.module_).eval()
    items = torch.as_tensor(enc._encode(seqs[:8]))
    for task, index in (("next_item", 0), ("group", 1)):
        with torch.no_grad():
            alone = model.represent(items, index, enc.s, enc.readout).numpy()
        np.testing.assert_allclose(alone, enc.transform(seqs[:8], task=task), atol=1e-6)
    assert type(model.strategy_state) is type(get_strategy(name).task_state())


def test_adapters_run_inside_the_backbone_not_beside_it():
    model = TeraconModule(20, 8, [1, 2], 3, task_state=AdapterState())
    model.add_task("next_item", 20)
    model.add_task("labels", 2)
    items = torch.randint(1, 20, (4, 6))
    with torch.no_grad():
        # A new adapter is the identity: task 1 starts as task 0.
        torch.testing.assert_close(
            model.hidden(items, 1, 1.0), model.hidden(items, 0, 1.0)
        )
        # (a constant shift would vanish in the LayerNorm that follows)
        model.strategy_state.adapters.of(1)[0].up.bias.copy_(torch.arange(8.0))
        assert not torch.allclose(
            model.hidden(items, 1, 1.0), model.hidden(items, 0, 1.0)
        )

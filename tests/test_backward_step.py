"""The largest weights step inside the backward pass: same model, fewer gradients."""

import numpy as np
import pytest
import torch
from skorch.callbacks import Callback

from sklearn_teracon.training import backward_step

from .conftest import fit_two_tasks


def _weights(enc):
    return {k: v.clone() for k, v in enc.net_.module_.state_dict().items()}


@pytest.fixture
def step_every_weight_in_backward(monkeypatch):
    monkeypatch.setattr(backward_step, "MIN_ELEMENTS", 1)


def _assert_same_weights(a, b):
    assert a.keys() == b.keys()
    for key in a:
        torch.testing.assert_close(a[key], b[key], rtol=0, atol=1e-6, msg=key)


def test_steps_in_backward_train_the_same_model(toy, monkeypatch):
    reference = _weights(fit_two_tasks(toy))
    monkeypatch.setattr(backward_step, "MIN_ELEMENTS", 1)
    seen = []
    original = backward_step.InBackwardSteps.__init__

    def spy(self, optimizer, min_elements):
        original(self, optimizer, min_elements)
        seen.append(len(self))

    monkeypatch.setattr(backward_step.InBackwardSteps, "__init__", spy)
    stepped = _weights(fit_two_tasks(toy))
    # Both tasks stepped weights inside the backward pass.
    assert len(seen) == 2 and min(seen) > 0
    _assert_same_weights(reference, stepped)


@pytest.mark.usefixtures("step_every_weight_in_backward")
def test_gradients_are_not_kept_after_backward(toy):
    seqs, groups, _ = toy
    grads = []

    class Spy(Callback):
        def on_batch_end(self, net, training=False, **kwargs):
            if training:
                grads.append([p.grad for p in net.module_.parameters()])

    fit_two_tasks(toy, callbacks=[Spy()])
    assert grads and all(g is None for batch in grads for g in batch)


@pytest.mark.usefixtures("step_every_weight_in_backward")
def test_hooks_and_optimizers_are_dropped_after_a_task(toy):
    enc = fit_two_tasks(toy)
    assert enc.net_.in_backward_steps_ is None
    # No hook is left on the weights: a backward pass outside training does
    # not move them.
    before = _weights(enc)
    sum(p.sum() for p in enc.net_.module_.parameters()).backward()
    _assert_same_weights(before, _weights(enc))


@pytest.mark.usefixtures("step_every_weight_in_backward")
def test_not_used_when_a_callback_reads_gradients(toy):
    norms = []

    class GradNorm(Callback):
        def on_grad_computed(self, net, named_parameters, **kwargs):
            grads = [p.grad for _, p in named_parameters if p.grad is not None]
            norms.append(float(sum(g.norm() for g in grads)))

    fit_two_tasks(toy, callbacks=[GradNorm()])
    assert norms and all(np.isfinite(norms)) and min(norms) > 0


@pytest.mark.usefixtures("step_every_weight_in_backward")
@pytest.mark.parametrize(
    "strategy, in_backward", [("teracon", True), ("hat", False), ("conure", False)]
)
def test_not_used_by_strategies_that_condition_gradients(toy, strategy, in_backward):
    # Seen while training: the steps are dropped when a task ends.
    seen = []

    class Spy(Callback):
        def on_batch_begin(self, net, training=False, **kwargs):
            if training:
                seen.append(net.in_backward_steps_ is not None)

    fit_two_tasks(toy, strategy=strategy, callbacks=[Spy()])
    assert seen and set(seen) == {in_backward}


def test_only_weights_from_the_size_on_leave_the_shared_optimizer():
    small, large = torch.nn.Linear(2, 2), torch.nn.Linear(8, 8)
    optimizer = torch.optim.Adam(
        [{"params": small.parameters()}, {"params": large.parameters(), "lr": 0.5}]
    )
    steps = backward_step.InBackwardSteps(optimizer, min_elements=64)
    assert len(steps) == 1
    assert steps.optimizers[0].param_groups[0]["lr"] == 0.5
    assert steps.optimizers[0].param_groups[0]["params"] == [large.weight]
    assert [len(g["params"]) for g in optimizer.param_groups] == [2, 1]
    before = large.weight.detach().clone()
    large(torch.ones(1, 8)).sum().backward()
    assert large.weight.grad is None
    assert not torch.equal(before, large.weight)
    steps.remove()
    before = large.weight.detach().clone()
    large(torch.ones(1, 8)).sum().backward()
    assert large.weight.grad is not None and torch.equal(before, large.weight)

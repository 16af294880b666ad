"""The model's formulas against hand values, and the fixes of the reference's faults."""

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from sklearn_teracon.nn import (
    LABELS,
    NEXT_ITEM,
    CausalConv1d,
    TaskMaskBank,
    TeraconModule,
)
from sklearn_teracon.training import (
    annealed_scale,
    floored_ratio,
    relation_aware_ratio,
    retention_sample_size,
    trim_padding_collate,
)


def _set(param, values):
    with torch.no_grad():
        param.copy_(torch.tensor(values, dtype=torch.float32))


def test_first_task_mask_is_sigmoid_of_scaled_embedding():
    bank = TaskMaskBank(n_slots=1, dim=2)
    bank.add_task()
    _set(bank.task_embeddings[0], [[0.1, -0.2]])
    # σ(10·0.1) = σ(1) = 0.7310586, σ(10·-0.2) = σ(-2) = 0.1192029
    expected = [[0.7310586, 0.1192029]]
    np.testing.assert_allclose(bank(0, 10.0).detach(), expected, atol=1e-6)


def test_saturated_masks_hold_zeros_not_subnormal_numbers():
    bank = TaskMaskBank(n_slots=2, dim=3)
    bank.add_task()
    bank.add_task()
    # s·e = -100 makes σ a float32 subnormal (3.7e-44); -40 stays normal (4.2e-18).
    _set(bank.task_embeddings[0], [[-2.0, -0.8, 0.5], [-10.0, 1.0, -0.9]])
    _set(bank.relation_biases[0], [-2.0, 0.1])
    with torch.no_grad():
        bank.relation_weights[0].zero_()
    tiny = torch.finfo(torch.float32).tiny
    for task in (0, 1):
        masks = bank(task, 50.0).detach()
        assert not ((masks > 0) & (masks < tiny)).any()
    first = bank(0, 50.0).detach()
    assert first[0, 0] == 0 and first[1, 0] == 0
    assert first[0, 1] == pytest.approx(4.248354e-18, rel=1e-5)
    assert (bank(1, 50.0).detach()[0] == 0).all()  # σ(50·-2) for every channel


def test_relation_aware_mask_mixes_own_and_other_tasks_rows():
    bank = TaskMaskBank(n_slots=1, dim=2)
    bank.add_task()
    bank.add_task()
    _set(bank.task_embeddings[0], [[0.1, -0.2]])
    _set(bank.task_embeddings[1], [[0.05, 0.0]])
    # Rows: tanh(s e_1), tanh(s e_0), tanh(-s e_0); weights 1, 0.5, -0.25; bias 0.1
    _set(bank.relation_weights[0], [[1.0, 0.5, -0.25]])
    _set(bank.relation_biases[0], [0.1])
    # s = 1, channel 0: tanh(.05) + .5 tanh(.1) - .25 tanh(-.1) + .1
    #   = .0499584 + .0498340 + .0249170 + .1 = .2247094 -> σ = .5559421
    # channel 1: 0 + .5 tanh(-.2) - .25 tanh(.2) + .1 = -.0480315 -> σ = .4879944
    expected = [[0.5559421, 0.4879944]]
    np.testing.assert_allclose(bank(1, 1.0).detach(), expected, atol=1e-6)


def test_scale_schedule_runs_from_one_over_s_to_s():
    assert annealed_scale(50.0, 0, 5) == pytest.approx(0.02)
    # 1/50 + (50 - 1/50) · 2/4 = 25.01
    assert annealed_scale(50.0, 2, 5) == pytest.approx(25.01)
    assert annealed_scale(50.0, 4, 5) == pytest.approx(50.0)
    assert annealed_scale(50.0, 0, 1) == 50.0


def test_relation_aware_ratio_and_its_floor():
    student = torch.tensor([[1.0, 0.0], [1.0, 1.0]])
    teacher = torch.tensor([[1.0, 0.0], [0.0, 1.0]])
    # cos = 1 and 1/√2; ρ = 1 − (σ(6) + σ(6/√2)) / 2 = 0.0083193
    rho = relation_aware_ratio(student, teacher, c=6.0, measure="paper")
    assert float(rho) == pytest.approx(0.0083193, abs=1e-6)
    # The reference's collapse (ρ ≈ 0.008) is floored ...
    assert floored_ratio(rho, 0.05) == 0.05
    assert floored_ratio(0.3, 0.05) == 0.3
    # ... and int(B·ρ) = 0 never switches retention off.
    assert retention_sample_size(0.0083, 32) == 1
    assert retention_sample_size(0.25, 32) == 8
    assert retention_sample_size(1.0, 3) == 3


def _module(n_items=30, dim=8, tasks=((NEXT_ITEM, 30), (LABELS, 3))):
    torch.manual_seed(0)
    module = TeraconModule(n_items, dim, dilations=[1, 2], kernel_size=3)
    for kind, n_out in tasks:
        module.add_task(kind, n_out)
    # Give old relation maps non-zero weights, as training would.
    for weight in module.masks.relation_weights:
        with torch.no_grad():
            weight.normal_()
    return module.eval()


def _outputs(module, items, n_tasks):
    with torch.no_grad():
        return [module(items, t, 50.0).clone() for t in range(n_tasks)]


def test_adding_a_task_leaves_earlier_tasks_outputs_unchanged():
    module = _module(tasks=((NEXT_ITEM, 30), (LABELS, 3), (LABELS, 4)))
    items = torch.randint(1, 30, (6, 12))
    before = _outputs(module, items, 3)
    masks_before = module.masks.all_masks(50.0).detach().clone()
    module.add_task(LABELS, 5)
    module.backbone.grow_items(45)  # the new task also brings new items
    after = _outputs(module, items, 3)
    for b, a in zip(before, after):
        torch.testing.assert_close(a, b, atol=1e-6, rtol=0)
    torch.testing.assert_close(
        module.masks.all_masks(50.0)[:3].detach(), masks_before, atol=1e-6, rtol=0
    )


def test_relation_maps_grow_instead_of_being_reinitialised():
    module = _module()
    old = module.masks.relation_weights[0].detach().clone()
    module.add_task(LABELS, 2)
    grown = module.masks.relation_weights[0].detach()
    assert grown.shape == (old.shape[0], old.shape[1] + 2)
    torch.testing.assert_close(grown[:, : old.shape[1]], old)
    assert torch.all(grown[:, old.shape[1] :] == 0)


def test_growing_a_next_item_head_keeps_its_rows():
    module = _module()
    head = module.heads[0]
    weight = head.weight.detach().clone()
    module.grow_head(0, 40)
    assert module.heads[0].out_features == 40
    torch.testing.assert_close(module.heads[0].weight[:30].detach(), weight)


def test_more_left_padding_changes_nothing():
    module = _module()
    user = torch.tensor([[5, 7, 9, 11, 4]])
    short = torch.cat([torch.zeros(1, 2, dtype=torch.long), user], 1)
    long = torch.cat([torch.zeros(1, 25, dtype=torch.long), user], 1)
    with torch.no_grad():
        for task in (0, 1):
            torch.testing.assert_close(
                module(short, task, 50.0), module(long, task, 50.0), atol=1e-6, rtol=0
            )
        h_short = module.hidden(short, 1, 50.0)
        h_long = module.hidden(long, 1, 50.0)
    torch.testing.assert_close(h_short[:, -1], h_long[:, -1], atol=1e-6, rtol=0)
    # Padding positions stay exactly zero.
    assert torch.all(h_long[:, :25] == 0)


def test_collate_drops_only_all_padding_columns():
    batch = [
        (np.array([0, 0, 0, 3, 4]), np.int64(1)),
        (np.array([0, 0, 2, 5, 6]), np.int64(0)),
    ]
    X, y = trim_padding_collate(batch)
    assert X.tolist() == [[0, 3, 4], [2, 5, 6]]
    assert y.tolist() == [1, 0]
    # Next-item training keeps at least an input and a target position.
    X, _ = trim_padding_collate([(np.array([0, 0, 7]), np.int64(0))])
    assert X.tolist() == [[0, 7]]


def test_a_new_head_can_start_from_the_class_prior():
    from sklearn_teracon._tasks import _log_prior

    # Counts of [0, 0, 1] smoothed by one: 3, 2, 1 out of 6.
    prior = _log_prior(np.array([0, 0, 1]), 3)
    np.testing.assert_allclose(prior, np.log([3 / 6, 2 / 6, 1 / 6]))
    assert _log_prior(None, 3) is None
    module = _module(tasks=())
    module.add_task(LABELS, 3, prior)
    np.testing.assert_allclose(module.heads[0].bias.detach(), prior, rtol=1e-6)


@pytest.mark.parametrize(
    ("kernel_size", "dilation", "length"), [(3, 1, 7), (3, 4, 7), (2, 8, 5), (1, 2, 6)]
)
def test_causal_conv_matches_a_left_padded_conv1d(kernel_size, dilation, length):
    # The one-matrix-multiply form replaced Conv1d over [batch, d, length] with
    # left padding: same weights (state_dict), same outputs and gradients.
    torch.manual_seed(0)
    conv = CausalConv1d(6, kernel_size, dilation)
    assert {k: v.shape for k, v in conv.state_dict().items()} == {
        "conv.weight": (6, 6, kernel_size),
        "conv.bias": (6,),
    }
    h = torch.randn(3, length, 6, requires_grad=True)
    padded = F.pad(h.transpose(1, 2), ((kernel_size - 1) * dilation, 0))
    expected = conv.conv(padded).transpose(1, 2)
    out = conv(h)
    torch.testing.assert_close(out, expected, atol=1e-6, rtol=1e-5)
    grad = torch.randn_like(out)
    got = torch.autograd.grad(out, [h, conv.conv.weight], grad)
    want = torch.autograd.grad(expected, [h, conv.conv.weight], grad)
    for g, w in zip(got, want, strict=True):
        torch.testing.assert_close(g, w, atol=1e-5, rtol=1e-5)
    # Position t sees only positions ≤ t: changing the last input moves nothing else.
    changed = h.detach().clone()
    changed[:, -1] += 1.0
    torch.testing.assert_close(conv(changed)[:, :-1], out[:, :-1].detach())

"""Sampled softmax with log-Q correction, and ``loss="sampled"`` in the estimator."""

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from sklearn_teracon import ContinualUserEncoder
from sklearn_teracon.nn.sampled import (
    PopularitySampler,
    sampled_cross_entropy,
    sampled_logit_mse,
)

from .conftest import TINY


def _head(n_columns=12, dim=5, seed=0):
    torch.manual_seed(seed)
    return torch.nn.Linear(dim, n_columns), torch.randn(7, dim)


def test_every_column_once_under_a_uniform_proposal_is_the_full_softmax():
    head, rows = _head()
    targets = torch.tensor([0, 3, 3, 11, 5, 7, 1])
    every = torch.arange(12)
    # Q uniform and 12 draws: each column's expected count is 1, log 1 = 0.
    log_expected = torch.zeros(12)
    sampled = sampled_cross_entropy(rows, head, targets, every, log_expected)
    torch.testing.assert_close(sampled, F.cross_entropy(head(rows), targets))


def test_the_log_q_correction_subtracts_each_columns_expected_count():
    head, rows = _head()
    targets = torch.tensor([2] * 7)
    negatives = torch.tensor([4, 9])
    log_expected = torch.linspace(-2.0, 1.0, 12)
    got = sampled_cross_entropy(rows, head, targets, negatives, log_expected)
    logits = head(rows)[:, [2, 4, 9]] - log_expected[[2, 4, 9]]
    torch.testing.assert_close(got, F.cross_entropy(logits, torch.zeros(7).long()))


def test_a_negative_equal_to_the_target_is_left_out_of_that_row():
    head, rows = _head()
    targets = torch.tensor([4] * 7)
    with_hit = torch.tensor([4, 9])
    alone = torch.tensor([9])
    zero = torch.zeros(12)
    torch.testing.assert_close(
        sampled_cross_entropy(rows, head, targets, with_hit, zero),
        sampled_cross_entropy(rows, head, targets, alone, zero),
    )


def test_the_sampler_draws_by_popularity_and_never_padding():
    counts = torch.tensor([1000, 1000, 0, 10, 90])
    allowed = torch.tensor([False, False, True, True, True])
    torch.manual_seed(0)
    sampler = PopularitySampler(counts, 20000, allowed)
    draws = torch.bincount(sampler.draw(), minlength=5).float() / 20000
    assert draws[:2].sum() == 0
    # Smoothed counts 1, 11, 91 of 103.
    np.testing.assert_allclose(draws[2:], [1 / 103, 11 / 103, 91 / 103], atol=0.01)
    torch.testing.assert_close(
        sampler.log_expected[2:], torch.log(torch.tensor([1, 11, 91]) / 103 * 20000)
    )


def test_sampled_retention_on_every_column_is_the_full_mse():
    head, rows = _head()
    teacher, teacher_rows = _head(seed=1)
    full = F.mse_loss(head(rows), teacher(teacher_rows))
    got = sampled_logit_mse(rows, head, teacher_rows, teacher, torch.arange(12))
    torch.testing.assert_close(got, full)
    # Columns of items newer than a head are left out.
    narrow = torch.nn.Linear(5, 8)
    got = sampled_logit_mse(rows, narrow, rows, narrow, torch.tensor([1, 9, 10]))
    assert got.item() == 0.0


@pytest.fixture(scope="module")
def item_data():
    rng = np.random.default_rng(0)
    seqs = [list(rng.integers(1, 60, rng.integers(4, 12))) for _ in range(200)]
    liked = np.array([s[-1] for s in seqs])  # an item-target task (> 20 classes)
    groups = np.array([s[0] % 2 for s in seqs])
    return seqs, liked, groups


def test_the_sampled_loss_trains_every_kind_of_task_and_is_seeded(item_data):
    seqs, liked, groups = item_data
    params = {**TINY, "loss": "sampled", "n_negatives": 16, "validation_fraction": 0.2}
    fitted = []
    for _ in range(2):
        enc = ContinualUserEncoder(**params)
        enc.partial_fit(seqs).partial_fit(seqs, liked, task="liked")
        enc.partial_fit(seqs, groups, task="group")
        fitted.append(enc)
    first, again = fitted
    for task in ("next_item", "liked", "group"):
        rows = first.history_[task]
        assert np.isfinite(rows[:, "train_loss"]).all()
        assert np.isfinite(rows[:, "valid_loss"]).all()
        np.testing.assert_array_equal(
            first.decision_function(seqs, task=task),
            again.decision_function(seqs, task=task),
        )
    # Training scores 17 columns per row, validation every one of ~60.
    rows = first.history_["next_item"]
    assert rows[-1, "train_loss"] < rows[-1, "valid_loss"]


def test_the_sampled_loss_learns_the_next_item_like_the_full_one():
    seqs = [[1 + (start + i) % 40 for i in range(10)] for start in range(200)]
    scores = {}
    for loss in ("full", "sampled"):
        enc = ContinualUserEncoder(
            **{**TINY, "max_epochs": 6, "lr": 5e-3}, loss=loss, n_negatives=8
        )
        scores[loss] = enc.fit(seqs).score(seqs)
    assert scores["sampled"] > 0.8 and scores["full"] > 0.8, scores


def test_the_command_line_sets_the_loss():
    from sklearn_teracon._cli_steps import make_encoder
    from sklearn_teracon.cli import build_parser

    args = build_parser().parse_args(["run", "--loss", "sampled", "--negatives", "64"])
    enc = make_encoder(args)
    assert (enc.loss, enc.n_negatives) == ("sampled", 64)

"""TERACON's own ideas act: masks learn, relations show, sampling follows them."""

import numpy as np
import pytest
import torch
from skorch.callbacks import Callback

from sklearn_teracon import ContinualUserEncoder
from sklearn_teracon.datasets import make_synthetic_stream
from sklearn_teracon.training import mask_cosine, mask_similarity, relation_aware_ratio

from .conftest import TINY


class MaskRecorder(Callback):
    """The trained task's masks when its training starts and ends."""

    def __init__(self):
        self.masks = {}

    def on_train_begin(self, net, **kwargs):
        self._before = net.module_.masks(net.task_, net.s).detach().clone()

    def on_train_end(self, net, **kwargs):
        after = net.module_.masks(net.task_, net.s).detach().clone()
        self.masks[net.task_names_[net.task_]] = (self._before, after)


@pytest.fixture(scope="module")
def stream_run():
    """The five planted tasks learned one after the other (fixed seed)."""
    stream = make_synthetic_stream(1000, 60, max_len=20, random_state=0)
    recorder = MaskRecorder()
    # Heads start at the prior, as in the paper: a probe-started head does
    # most of a task's work at once, so its masks barely move (category:
    # 0.011 against 0.02 and more) and their relations do not rank.
    enc = ContinualUserEncoder(
        head_init="prior",
        embedding_dim=32,
        n_blocks=1,
        max_len=20,
        lr=5e-3,
        max_epochs=4,
        patience=None,
        validation_fraction=0.0,
        random_state=0,
        callbacks=[recorder],
    )
    for task in stream:
        enc.partial_fit(*task.train, task=task.name)
    return enc, recorder


def _last_epoch(enc, task, key):
    return enc.history_[task][-1][key]


def test_a_tasks_masks_move_during_its_own_training(stream_run):
    _, recorder = stream_run
    for task, (before, after) in recorder.masks.items():
        moved = (after - before).abs().mean().item()
        assert moved > 0.02, f"{task}'s masks barely moved ({moved:.4f})"


def test_relations_rank_the_related_task_above_conflict_and_noise(stream_run):
    enc, _ = stream_run
    names = list(enc.tasks_)
    category = enc.task_relations_[names.index("category")]
    related = category[names.index("related")]
    assert related > category[names.index("conflict")]
    assert related > category[names.index("noise")]


def test_related_task_retains_fewer_users_than_the_conflicting_one(stream_run):
    enc, _ = stream_run
    related = _last_epoch(enc, "related", "rho_raw[category]")
    conflict = _last_epoch(enc, "conflict", "rho_raw[category]")
    assert related < conflict


def test_history_records_raw_and_floored_rho_per_retained_task(stream_run):
    enc, _ = stream_run
    row = enc.history_["conflict"][-1]
    for earlier in ("next_item", "category", "related"):
        raw, floored = row[f"rho_raw[{earlier}]"], row[f"rho[{earlier}]"]
        assert 0.0 <= raw <= 1.0
        # epoch means of per-batch values: the floor lifts every batch's ρ
        assert floored >= max(raw, enc.rho_min) - 1e-9
    assert "rho_raw[next_item]" not in enc.history_["next_item"][-1]


def test_centered_relation_spans_its_range_where_the_paper_formula_cannot():
    torch.manual_seed(0)
    pattern = torch.rand(2, 32)
    same, opposite = 0.5 + 0.4 * pattern, 0.9 - 0.4 * pattern
    # Both masks keep every channel above one half: the paper's cosine is near 1.
    paper = relation_aware_ratio(same, opposite, 6.0, measure="paper").item()
    centered = relation_aware_ratio(same, opposite, 6.0, measure="centered").item()
    assert paper < 0.05
    assert centered > 0.95
    assert mask_cosine(same, same).min().item() == pytest.approx(1.0)
    with pytest.raises(ValueError, match="measure"):
        mask_cosine(same, same, measure="raw")


def test_uniform_sampling_retains_rho_min_of_each_batch(toy):
    seqs, groups, _ = toy
    enc = ContinualUserEncoder(
        **{**TINY, "max_epochs": 1}, sampling="uniform", rho_min=1.0
    )
    enc.partial_fit(seqs).partial_fit(seqs, groups, task="group")
    row = enc.history_["group"][-1]
    assert row["rho[next_item]"] == row["rho_raw[next_item]"] == 1.0


def test_paper_relation_is_selectable(toy):
    seqs, groups, _ = toy
    rhos = {}
    for relation in ("paper", "centered"):
        enc = ContinualUserEncoder(**{**TINY, "max_epochs": 1}, relation=relation)
        enc.partial_fit(seqs).partial_fit(seqs, groups, task="group")
        rhos[relation] = enc.history_["group"][-1]["rho_raw[next_item]"]
        assert np.all(np.isfinite(enc.task_relations_))
    # Non-negative masks: the paper's ρ is pinned near 1 − σ(c).
    assert rhos["paper"] < 0.05 < rhos["centered"]


def test_two_constant_masks_are_identical_under_the_centred_cosine():
    # A slot whose masks are saturated to all ones in both tasks keeps the same
    # channels: similarity 1, and a task is always fully similar to itself.
    ones = torch.ones(3, 8)
    patterned = torch.linspace(0, 1, 8).repeat(3, 1)
    torch.testing.assert_close(mask_cosine(ones, ones), torch.ones(3))
    torch.testing.assert_close(mask_cosine(ones, patterned), torch.zeros(3))
    torch.testing.assert_close(mask_cosine(patterned, patterned), torch.ones(3))
    masks = torch.stack([torch.cat([ones[:1], patterned[:1]]), ones[:2]])
    torch.testing.assert_close(torch.diag(mask_similarity(masks)), torch.ones(2))

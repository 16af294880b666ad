"""DITTO: growth at arrival, who transfers, re-scoring on the shifted stream."""

import copy
import types

import numpy as np
import pytest
import torch

from sklearn_teracon import ContinualUserEncoder
from sklearn_teracon.datasets import make_synthetic_stream
from sklearn_teracon.nn.ditto_state import DittoRecord, DittoState
from sklearn_teracon.strategies import STRATEGIES, get_strategy
from sklearn_teracon.strategies.ditto import (
    DittoStrategy,
    ditto_sample_size,
    mask_view,
    similar_users,
    substitute_view,
    view_contrastive_loss,
)

from .conftest import TINY

PARAMS = {**TINY, "embedding_dim": 8, "lr": 5e-3}


def periods(n_users=96):
    """Users' sequences in two periods: items 1-24, then the same users with
    items 25-48 that only the later period has (the catalogue grows)."""
    rng = np.random.default_rng(0)
    groups = rng.integers(0, 2, n_users)
    early, late = [], []
    for g in groups:
        start, length = rng.integers(0, 12), rng.integers(4, 11)
        seq = [int(1 + 12 * g + (start + i) % 12) for i in range(length)]
        early.append(seq)
        late.append(seq[-3:] + [x + 24 for x in seq[: rng.integers(2, 8)]])
    return early, late, groups


class Arrival(DittoStrategy):
    """DITTO that keeps a copy of the model as it is when training starts."""

    name = "ditto_arrival"
    models: list = []

    def before_epochs(self, context):
        self.models.append(copy.deepcopy(context.model).eval())


@pytest.fixture
def arrival(monkeypatch):
    models = []
    monkeypatch.setattr(Arrival, "models", models)
    monkeypatch.setitem(STRATEGIES, Arrival.name, Arrival)
    return models


def _encoder(strategy="ditto", **params):
    return ContinualUserEncoder(strategy=strategy, **{**PARAMS, **params})


def _two_periods(strategy="ditto", **params):
    early, late, groups = periods()
    enc = _encoder(strategy, **params)
    enc.partial_fit(early)
    before = copy.deepcopy(enc.net_.module_).eval()
    enc.partial_fit(late, groups, task="group")
    return enc, before


# -- the selection functions ------------------------------------------------------
def test_similar_users_ranks_by_cosine_with_the_centroid_not_by_norm():
    angles = torch.tensor([0.9, 0.1, 2.5, 0.5, 1.7])
    norms = torch.tensor([1.0, 0.2, 9.0, 3.0, 1.0])  # the norm must not matter
    users = torch.stack([angles.cos(), angles.sin()], 1) * norms[:, None]
    centroid = torch.tensor([2.0, 0.0])
    assert similar_users(users, centroid, 3).tolist() == [1, 3, 0]
    assert similar_users(users, centroid, 2, most=False).tolist() == [2, 4]
    assert similar_users(users, centroid, 0).tolist() == []


@pytest.mark.parametrize(
    "users, centroid, size",
    [(torch.zeros(3), torch.zeros(3), 1), (torch.zeros(3, 2), torch.zeros(3), 1)]
    + [(torch.zeros(3, 2), torch.zeros(2), size) for size in (-1, 4, 1.5)],
)
def test_similar_users_rejects_bad_input(users, centroid, size):
    with pytest.raises(ValueError):
        similar_users(users, centroid, size)


def test_sample_size_is_the_references_floor_and_cap():
    assert ditto_sample_size(0.5, 100, 20) == 50
    assert ditto_sample_size(0.1, 100, 20) == 20  # at least min_users
    assert ditto_sample_size(0.1, 7, 20) == 7  # at most the batch
    with pytest.raises(ValueError):
        ditto_sample_size(1.5, 10, 2)


def _fake_net(n_items, centroid):
    state = DittoState()
    record = DittoRecord(len(centroid))
    record.n_items.fill_(n_items)
    record.centroid.copy_(centroid)
    state.records.add(0, record)
    return types.SimpleNamespace(module_=types.SimpleNamespace(strategy_state=state))


def test_backward_next_item_users_are_those_with_most_distinct_new_items():
    strategy = get_strategy("ditto", min_users=2)
    X = torch.tensor(
        [
            [0, 3, 4, 5, 6],  # no new item (new: >= 10)
            [0, 11, 11, 11, 3],  # one distinct new item, thrice
            [12, 13, 14, 3, 4],  # three
            [0, 0, 10, 15, 3],  # two
        ]
    )
    net = _fake_net(10, torch.ones(2))
    assert strategy.bkt_next_users(net, X, 0, 0.0).tolist() == [2, 3]


def test_backward_view_users_are_the_least_similar_with_newer_items():
    strategy = get_strategy("ditto", min_users=3)
    X = torch.tensor([[1, 2], [1, 12], [3, 14], [2, 15], [4, 3]])
    users = torch.tensor([[1.0, 0.0], [0.0, 1.0], [-1.0, 0.1], [1.0, 0.1], [-1, 0]])
    net = _fake_net(10, torch.tensor([1.0, 0.0]))
    # The 3 least similar are 4, 2, 1; user 4 has no item newer than 10.
    assert strategy.bkt_view_users(net, X, 0, 0.0, users).tolist() == [2, 1]


@pytest.mark.parametrize("known_only, expected", [(True, [0, 3]), (False, [0, 2, 3])])
def test_pseudo_label_users_are_the_most_similar(known_only, expected):
    strategy = get_strategy("ditto", min_users=3, fkt_known_only=known_only)
    strategy.known_ = 10  # the teacher knew the items below 10
    X = torch.tensor([[1, 2], [1, 3], [3, 14], [2, 5], [4, 3]])
    users = torch.tensor([[1.0, 0.0], [0.0, 1.0], [1.0, 0.5], [1.0, 0.1], [-1, 0]])
    net = _fake_net(10, torch.tensor([1.0, 0.0]))
    # The 3 most similar are 0, 3, 2; user 2 holds item 14, new to the teacher.
    chosen = strategy.fkt_users(net, X, 0, 0.0, users)
    assert sorted(chosen.tolist()) == expected


def test_views_drop_or_replace_a_share_of_the_real_items():
    torch.manual_seed(0)
    items = torch.tensor([[0, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10], [0] * 7 + [5] * 5])
    masked = mask_view(items, 0.2)
    assert ((masked > 0).sum(1)).tolist() == [10 - 2, 5 - 1]
    kept = masked[0][masked[0] > 0].tolist()
    assert kept == sorted(kept) and set(kept) < set(range(1, 11))  # order kept
    assert (masked[:, :4] == 0).all()  # left-padded again
    # Item i's nearest other item is i + 1 (i - 1 for the last).
    embedding = torch.zeros(12, 2)
    angle = torch.arange(12, dtype=torch.float32) ** 1.5 / 10
    embedding[1:] = torch.stack([angle.cos(), angle.sin()], 1)[1:]
    row = torch.tensor([[1, 3, 6, 10]])
    swapped = substitute_view(row, embedding, 0.5)
    changed = swapped != row
    assert int(changed.sum()) == 2
    nearest = {1: 3, 3: 1, 6: 3, 10: 6}  # nearest among the row's items
    for before, after in zip(row[changed].tolist(), swapped[changed].tolist()):
        assert after == nearest[before]


def test_contrastive_loss_is_lower_for_agreeing_views():
    gen = torch.Generator().manual_seed(0)
    a = torch.randn(6, 4, generator=gen)
    same = view_contrastive_loss(a, a + 0.01 * torch.randn(6, 4, generator=gen))
    other = view_contrastive_loss(a, torch.randn(6, 4, generator=gen))
    assert torch.isfinite(same) and same < other


def test_parameters_are_validated():
    assert get_strategy("ditto").get_params()["fkt_alpha"] == 0.7
    with pytest.raises(ValueError, match="fkt_alpha"):
        get_strategy("ditto", fkt_alpha=-1.0)
    with pytest.raises(ValueError, match="no parameter"):
        get_strategy("ditto", alpha=1.0)


# -- growth at arrival ------------------------------------------------------------
@pytest.mark.parametrize("backbone", ["nextitnet", "sasrec"])
def test_new_items_grow_the_model_and_old_outputs_are_unchanged_at_arrival(
    arrival, backbone
):
    early, late, groups = periods()
    enc = _encoder(Arrival.name, backbone=backbone)
    enc.partial_fit(early)
    before = copy.deepcopy(enc.net_.module_).eval()
    enc.partial_fit(late, groups, task="group")
    at_arrival = arrival[-1]
    n_before = before.backbone.n_embeddings
    assert at_arrival.backbone.n_embeddings == n_before + 24
    # The old next-item head can now rank the new items too ...
    assert at_arrival.heads[0].out_features == n_before + 24
    X = torch.as_tensor(enc.item_vocabulary_.encode(early, PARAMS["max_len"]))
    with torch.no_grad():
        old, new = before.represent(X, 0, enc.s), at_arrival.represent(X, 0, enc.s)
        # ... and answers on the old items exactly as before.
        torch.testing.assert_close(new, old, rtol=0, atol=0)
        old_scores = before.heads[0](old)
        torch.testing.assert_close(
            at_arrival.heads[0](new)[:, :n_before], old_scores, rtol=0, atol=0
        )
    # Training then changes them: the arrival copy is not the final model.
    assert not torch.equal(enc.net_.module_.heads[0].weight, at_arrival.heads[0].weight)


def test_old_next_item_task_is_re_scored_on_the_shifted_stream(arrival):
    early, late, groups = periods()
    rescored = {}
    for beta in (0.4, 0.0):
        enc = _encoder(Arrival.name, strategy_params={"bkt_beta": beta})
        enc.partial_fit(early)
        enc.partial_fit(late, groups, task="group")
        rescored[beta] = enc
    n_items = len(set(sum(early + late, [])))
    scores = rescored[0.4].decision_function(late, task="next_item")
    assert scores.shape == (len(late), n_items)  # new items ranked as well
    history = rescored[0.4].history_["group"]
    assert all(row["bkt_next_loss"] > 0 for row in history)
    assert all(row["bkt_next_loss"] == 0 for row in rescored[0.0].history_["group"])
    # The old head's rows for the new items learn only through the backward
    # transfer: without it they stay as they were at arrival.
    n_old = 2 + 24
    for enc, at_arrival in zip(rescored.values(), arrival[1::2]):
        trained = enc.net_.module_.heads[0].weight[n_old:]
        moved = not torch.equal(trained, at_arrival.heads[0].weight[n_old:])
        assert moved == (enc is rescored[0.4])
    teracon, _ = _two_periods("teracon")
    assert teracon.decision_function(late, task="next_item").shape[1] == 24


def test_later_label_tasks_pull_views_of_users_with_new_items_together():
    early, late, groups = periods()
    enc = _encoder()
    enc.partial_fit(early)
    enc.partial_fit(early, groups, task="group")
    enc.partial_fit(late, 1 - groups, task="flipped")
    rows = enc.history_["flipped"]
    assert all(r["bkt_view_loss"] > 0 and r["bkt_next_loss"] > 0 for r in rows)
    assert all(r["fkt_loss"] == 0 for r in rows)  # every user has new items
    assert "fkt_loss" in enc.history_["group"][0]
    assert enc.history_["group"][0]["bkt_view_loss"] == 0  # no new items yet


# -- forward transfer -------------------------------------------------------------
class Chooser(DittoStrategy):
    """DITTO that records, per batch and task, whom it gives pseudo-labels."""

    name = "ditto_chooser"
    calls: list = []

    def fkt_users(self, net, X, k, ratio, teacher_users):
        chosen = super().fkt_users(net, X, k, ratio, teacher_users)
        centroid = net.module_.strategy_state.centroid(k)
        self.calls.append((X, teacher_users, centroid, self.known_, chosen))
        return chosen


def test_pseudo_labels_are_drawn_from_the_most_similar_users(monkeypatch):
    calls = []
    monkeypatch.setattr(Chooser, "calls", calls)
    monkeypatch.setitem(STRATEGIES, Chooser.name, Chooser)
    early, _, groups = periods()
    enc = _encoder(Chooser.name, strategy_params={"min_users": 4})
    enc.partial_fit(early)
    enc.partial_fit(early, groups, task="group")
    assert calls
    selective = 0
    for X, users, centroid, known, chosen in calls:
        cosine = torch.nn.functional.cosine_similarity(users, centroid[None], dim=-1)
        old_only = (X < known).all(1)
        assert old_only[chosen].all() and len(chosen)
        others = torch.ones(len(X), dtype=torch.bool)
        others[chosen] = False
        others &= old_only
        if others.any():
            selective += 1
            assert cosine[others].max() <= cosine[chosen].min()
    assert selective == len(calls)  # it never took the whole batch


# -- persistence, determinism, a stream -------------------------------------------
def test_save_load_round_trip(tmp_path):
    enc, _ = _two_periods()
    path = tmp_path / "ditto.model"
    enc.save(path)
    loaded = ContinualUserEncoder.load(path)
    _, late, _ = periods()
    for task in enc.tasks_:
        np.testing.assert_array_equal(
            loaded.decision_function(late, task=task),
            enc.decision_function(late, task=task),
        )
    state, got = enc.net_.module_.strategy_state, loaded.net_.module_.strategy_state
    for task in range(2):
        assert got.n_items(task) == state.n_items(task) > 0
        assert torch.equal(got.centroid(task), state.centroid(task))
    # The loaded model continues like the original.
    early, _, groups = periods()
    for model in (enc, loaded):
        model.partial_fit(early, groups, task="again")
    np.testing.assert_array_equal(
        loaded.transform(late, task="again"), enc.transform(late, task="again")
    )


def test_centroid_is_the_mean_item_embedding_at_the_end_of_the_task():
    early, _, _ = periods()
    enc = _encoder().partial_fit(early)
    module = enc.net_.module_
    torch.testing.assert_close(
        module.strategy_state.centroid(0),
        module.backbone.item_embedding.weight[2:].mean(0),
    )
    assert module.strategy_state.n_items(0) == module.backbone.n_embeddings


def test_same_random_state_same_model():
    a, _ = _two_periods()
    b, _ = _two_periods()
    sa, sb = a.net_.module_.state_dict(), b.net_.module_.state_dict()
    assert sa.keys() == sb.keys()
    for key in sa:
        assert torch.equal(sa[key], sb[key]), key
    c, _ = _two_periods(random_state=1)
    assert not torch.equal(
        sa["heads.1.weight"], c.net_.module_.state_dict()["heads.1.weight"]
    )


def test_fits_a_three_task_synthetic_stream():
    stream = make_synthetic_stream(300, 48, max_len=12, random_state=0)
    enc = _encoder(max_len=12)
    names = ("next_item", "category", "conflict")
    for name in names:
        enc.partial_fit(*stream[name].train, task=name)
    for name in names:
        score = enc.score(*stream[name].test, task=name)
        assert 0 <= score <= 1
    assert enc.history_["conflict"][0]["fkt_loss"] > 0
    chance = 1 / 6
    assert enc.score(*stream["category"].test, task="category") > chance

"""A new labelled task with few labels: probe-started heads, early stopping
from the start, and the majority-class fallback (training/few_labels.py)."""

import copy

import numpy as np
import pytest
import torch
from sklearn.linear_model import LogisticRegression
from sklearn.preprocessing import StandardScaler

import sklearn_teracon.training.build as build_module
from sklearn_teracon import ContinualUserEncoder
from sklearn_teracon.baselines import PopularityBaseline
from sklearn_teracon.datasets import make_synthetic_stream
from sklearn_teracon.training.few_labels import PROBE_CS, fit_probe

FEW = dict(embedding_dim=16, n_blocks=1, lr=5e-3, max_epochs=4, random_state=0)


@pytest.fixture(scope="module")
def stream():
    return make_synthetic_stream(n_users=600, n_items=60, random_state=0)


@pytest.fixture(scope="module")
def pretrained(stream):
    enc = ContinualUserEncoder(**FEW)
    return enc.partial_fit(stream["next_item"].train[0])


def few(task, n, seed=0):
    X, y = task.train
    rows = np.random.default_rng(seed).choice(len(X), n, replace=False)
    return [X[i] for i in rows], np.asarray(y)[rows]


def continued(pretrained, X, y, task, **params):
    enc = copy.deepcopy(pretrained).set_params(**params)
    return enc.partial_fit(X, y, task=task)


# -- the probe --------------------------------------------------------------
def test_probe_head_is_the_standardised_regression():
    rng = np.random.default_rng(0)
    features = rng.normal(3.0, 5.0, size=(90, 4))
    labels = (features[:, 0] > 3).astype(int) + (features[:, 1] > 3)
    weight, bias = fit_probe(features, labels, 3, random_state=0)
    assert weight.shape == (3, 4) and bias.shape == (3,)
    # The folded head equals the regression on standardised features.
    z = StandardScaler().fit_transform(features)
    logits = features @ weight.T + bias
    scores = LogisticRegression(C=_chosen_C(z, labels, logits)).fit(z, labels)
    np.testing.assert_allclose(
        logits - logits.mean(1, keepdims=True),
        scores.decision_function(z)
        - scores.decision_function(z).mean(1, keepdims=True),
        atol=1e-6,
    )


def _chosen_C(z, labels, logits):
    """The grid value whose regression reproduces ``logits`` (the CV's pick)."""
    for C in PROBE_CS:
        d = LogisticRegression(C=C).fit(z, labels).decision_function(z)
        if np.allclose(
            d - d.mean(1, keepdims=True),
            logits - logits.mean(1, keepdims=True),
            atol=1e-6,
        ):
            return C
    raise AssertionError("no C of the grid gives the head")


def test_binary_probe_gives_the_regressions_probabilities():
    rng = np.random.default_rng(1)
    features = rng.normal(size=(80, 3))
    labels = (features[:, 2] + 0.3 * rng.normal(size=80) > 0).astype(int)
    weight, bias = fit_probe(features, labels, 2, random_state=0)
    logits = features @ weight.T + bias
    p_head = np.exp(logits[:, 1]) / np.exp(logits).sum(1)
    assert p_head[labels == 1].mean() > 0.8 and p_head[labels == 0].mean() < 0.2


def test_probe_ranks_absent_classes_last_and_handles_one_class():
    rng = np.random.default_rng(2)
    features = rng.normal(size=(40, 3))
    labels = np.where(features[:, 0] > 0, 2, 0)  # class 1 and 3 never seen
    weight, bias = fit_probe(features, labels, 4, random_state=0)
    logits = features @ weight.T + bias
    assert (logits.argmax(1) != 1).all() and (logits.argmax(1) != 3).all()
    assert np.all(weight[[1, 3]] == 0)
    weight, bias = fit_probe(features, np.zeros(40, dtype=int), 2, random_state=0)
    assert np.all(weight == 0) and bias[0] > bias[1]


# -- in the encoder -----------------------------------------------------------
def test_fifty_labels_never_end_below_the_majority_class(stream, pretrained):
    X, y = few(stream["category"], 50)
    X_test, y_test = stream["category"].test
    enc = continued(pretrained, X, y, "category")
    majority = PopularityBaseline().fit(X, y).score(X_test, y_test, metric="accuracy")
    assert enc.score(X_test, y_test, task="category") >= majority


def test_probe_start_beats_the_prior_start_with_fifty_labels(stream, pretrained):
    X_test, y_test = stream["category"].test
    gains = []
    for seed in range(4):  # four draws of 50 labelled users
        X, y = few(stream["category"], 50, seed)
        probe = continued(pretrained, X, y, "category", head_init="probe")
        prior = continued(
            pretrained, X, y, "category", head_init="prior", majority_fallback=False
        )
        gains.append(
            probe.score(X_test, y_test, task="category")
            - prior.score(X_test, y_test, task="category")
        )
    # At the time of writing +0.01, +0.43, +0.16, +0.12 (chance: 1/6).
    assert min(gains) > 0 and np.mean(gains) > 0.1


def test_training_that_only_hurts_gives_back_the_start(stream, pretrained):
    X, y = few(stream["category"], 200)
    before = {
        k: v.clone() for k, v in pretrained.net_.module_.backbone.state_dict().items()
    }
    enc = continued(pretrained, X, y, "category", lr=50.0, majority_fallback=False)
    history = enc.history_["category"]
    # Every epoch's validation loss is worse than the start's ...
    assert min(history[:, "valid_loss"]) > history[0, "start_valid_loss"]
    # ... so the backbone is exactly the one before the task.
    after = enc.net_.module_.backbone.state_dict()
    assert all(torch.equal(before[k], after[k]) for k in before)


def test_an_epoch_replaces_the_start_only_beyond_noise(stream, pretrained, monkeypatch):
    X, y = few(stream["category"], 200)
    backbone = pretrained.net_.module_.backbone.state_dict()
    # No margin: the epochs that lower the validation loss win ...
    monkeypatch.setattr(build_module, "START_MARGIN", 0.0)
    free = continued(pretrained, X, y, "category")
    history = free.history_["category"]
    assert min(history[:, "valid_loss"]) < history[0, "start_valid_loss"]
    moved = free.net_.module_.backbone.state_dict()
    assert not all(torch.equal(backbone[k], moved[k]) for k in backbone)
    # ... an unreachable margin keeps the start: the backbone is untouched.
    monkeypatch.setattr(build_module, "START_MARGIN", 1e6)
    kept = continued(pretrained, X, y, "category").net_.module_.backbone.state_dict()
    assert all(torch.equal(backbone[k], kept[k]) for k in backbone)


def test_noise_labels_fall_back_to_the_majority_class(stream, pretrained):
    X, _ = few(stream["category"], 120)
    X_test = stream["category"].test[0]
    next_item_test = stream["next_item"].test[0]
    fell_back = 0
    for seed in range(4):
        y = np.random.default_rng(seed).choice([0, 0, 0, 1, 2], size=len(X))
        # A prior start and a large step overfit the noise.
        params = dict(head_init="prior", lr=5e-2)
        enc = continued(pretrained, X, y, "noise", **params)
        if not enc.history_["noise"][-1]["majority_fallback"]:
            continue
        fell_back += 1
        assert set(enc.predict(X_test, task="noise")) == {0}
        # The network went back to where it was before the task.
        np.testing.assert_array_equal(
            enc.transform(next_item_test, task="next_item"),
            pretrained.transform(next_item_test, task="next_item"),
        )
        kept = continued(pretrained, X, y, "noise", majority_fallback=False, **params)
        # Without the fallback the overfitted head stays.
        assert not np.allclose(
            kept.predict_proba(X_test, task="noise"),
            enc.predict_proba(X_test, task="noise"),
        )
    assert fell_back  # seeds 1 and 2 at the time of writing


def test_a_useful_task_does_not_fall_back(stream, pretrained):
    X, y = few(stream["category"], 300)
    enc = continued(pretrained, X, y, "category")
    assert enc.history_["category"][-1]["majority_fallback"] is False


def test_item_tasks_have_no_majority_fallback(stream, pretrained):
    X, _ = few(stream["category"], 60)
    items = np.arange(len(X)) % 30  # 30 classes: ranked by MRR@5
    enc = continued(pretrained, X, items, "items")
    assert enc.tasks_["items"].metric == "mrr@5"
    assert "majority_fallback" not in enc.history_["items"][-1]

"""ContinualUserEncoder: the scikit-learn surface, input handling and reliability."""

import numpy as np
import pytest
import torch
from sklearn.exceptions import NotFittedError
from sklearn.utils.estimator_checks import parametrize_with_checks
from skorch.callbacks import Callback

from sklearn_teracon import ContinualUserEncoder
from sklearn_teracon.strategies import get_strategy
from sklearn_teracon.training import build_net

from .conftest import TINY

# A padded array's width is not a feature count: users with longer histories
# are valid input, so the n_features_in_ contract cannot hold.
_RAGGED = "sequences are ragged: the padded width is not a fixed feature count"
EXPECTED_FAILED_CHECKS = {
    "check_n_features_in": _RAGGED,
    "check_n_features_in_after_fitting": _RAGGED,
    "check_transformer_general": _RAGGED,
}


def _expected_failed(estimator):
    return EXPECTED_FAILED_CHECKS


# scikit-learn's check data uses 0 as an ordinary value; -1 never occurs there.
@parametrize_with_checks(
    [
        ContinualUserEncoder(
            embedding_dim=8, n_blocks=1, max_epochs=1, padding_value=-1, random_state=0
        )
    ],
    expected_failed_checks=_expected_failed,
)
def test_scikit_learn_estimator_checks(estimator, check):
    check(estimator)


def test_two_tasks_end_to_end(fitted, toy):
    seqs, groups, _ = toy
    assert list(fitted.tasks_) == ["next_item", "group"]
    assert fitted.n_tasks_ == 2
    assert fitted.last_task_ == "group"
    assert fitted.task_relations_.shape == (2, 2)
    np.testing.assert_allclose(np.diag(fitted.task_relations_), 1.0, atol=1e-5)

    proba = fitted.predict_proba(seqs, task="group")
    assert proba.shape == (len(seqs), 2)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0, atol=1e-5)
    np.testing.assert_array_equal(fitted.predict(seqs), proba.argmax(axis=1))

    top = fitted.recommend(seqs[:4], task="next_item", k=5)
    assert top.shape == (4, 5)
    np.testing.assert_array_equal(top[:, 0], fitted.predict(seqs[:4], task="next_item"))
    assert set(top.ravel()) <= set(fitted.classes_of("next_item"))
    assert fitted.recommend(seqs[:2], task="group", k=10).shape == (2, 2)

    assert fitted.transform(seqs).shape == (len(seqs), 16)
    assert fitted.transform(seqs, task="group").shape == (len(seqs), 16)
    assert 0.0 <= fitted.score(seqs, groups, task="group") <= 1.0
    assert 0.0 <= fitted.score(seqs, task="next_item") <= 1.0


def test_score_rows_are_each_rows_term_of_score(fitted, toy):
    seqs, groups, _ = toy
    rows = fitted.score_rows(seqs, groups, task="group")
    np.testing.assert_array_equal(rows, fitted.predict(seqs, task="group") == groups)
    assert fitted.score(seqs, groups, task="group") == rows.mean()
    # next item: each sequence's last item, ranked among every item
    rows = fitted.score_rows(seqs, task="next_item")
    assert rows.shape == (len(seqs),)
    top = fitted.recommend([s[:-1] for s in seqs], task="next_item", k=5)
    last = np.array([s[-1] for s in seqs])
    hit = top == last[:, None]
    expected = np.where(hit.any(axis=1), 1.0 / (hit.argmax(axis=1) + 1), 0.0)
    np.testing.assert_allclose(rows, expected)
    assert rows.any()
    assert fitted.score(seqs, task="next_item") == rows.mean()
    with pytest.raises(ValueError, match="needs y"):
        fitted.score_rows(seqs, task="group")


def test_tasks_are_learned(toy):
    seqs, groups, _ = toy
    enc = ContinualUserEncoder(**{**TINY, "max_epochs": 8, "lr": 3e-3})
    enc.partial_fit(seqs)
    # Each user walks through a cycle: the next item is fully determined.
    assert enc.score(seqs, task="next_item") > 0.5
    enc.partial_fit(seqs, groups, task="group")
    assert enc.score(seqs, groups, task="group") > 0.9


def test_history_records_retention_with_floored_rho(fitted):
    first, second = fitted.history_["next_item"], fitted.history_["group"]
    assert len(first) == len(second) == TINY["max_epochs"]
    assert "rho" not in first[0]  # nothing to retain while learning task 1
    assert all(rec["rho"] >= fitted.rho_min for rec in second)
    assert all(np.isfinite(rec["retention_loss"]) for rec in second)


def test_same_random_state_same_model(toy):
    seqs, groups, _ = toy

    def run(seed):
        enc = ContinualUserEncoder(**{**TINY, "random_state": seed})
        enc.partial_fit(seqs).partial_fit(seqs, groups, task="group")
        return enc.predict_proba(seqs, task="group"), enc.transform(seqs)

    a, b, c = run(0), run(0), run(1)
    np.testing.assert_array_equal(a[0], b[0])
    np.testing.assert_array_equal(a[1], b[1])
    assert not np.allclose(a[1], c[1])


def test_padded_arrays_ragged_lists_and_extra_padding_agree(fitted):
    ragged = [[3, 4, 5], [25, 26, 27, 28, 29]]
    narrow = np.array([[0, 0, 3, 4, 5], [25, 26, 27, 28, 29]])
    wide = np.hstack([np.zeros((2, 6), dtype=int), narrow])
    for task in ("next_item", "group"):
        expected = fitted.predict_proba(ragged, task=task)
        np.testing.assert_allclose(fitted.predict_proba(narrow, task=task), expected)
        np.testing.assert_allclose(fitted.predict_proba(wide, task=task), expected)
    np.testing.assert_allclose(fitted.transform(wide), fitted.transform(ragged))


def test_padding_is_ignored_by_the_loss(fitted):
    net = fitted.net_
    net.start_task(0)
    narrow = torch.tensor([[0, 3, 4, 5, 6]])
    wide = torch.tensor([[0, 0, 0, 0, 0, 0, 3, 4, 5, 6]])
    net.module_.eval()
    losses = [net.get_loss(net.infer(x), None, X=x).item() for x in (narrow, wide)]
    assert losses[0] == pytest.approx(losses[1], abs=1e-6)
    net.end_task()


def test_long_sequences_keep_their_most_recent_items(fitted):
    long = list(range(1, 40))  # max_len is 12
    np.testing.assert_allclose(
        fitted.transform([long], task="group"),
        fitted.transform([long[-12:]], task="group"),
    )


def test_unknown_items_map_to_the_unknown_index(fitted):
    assert fitted.item_vocabulary_.encode([["never-seen", 3]], 4).tolist() == [
        [0, 0, 1, fitted.item_vocabulary_.index_of([3])[0]]
    ]
    assert fitted.predict([["never-seen", 3]], task="group").shape == (1,)


def test_vocabulary_grows_with_a_later_task(fitted, toy):
    _, groups, _ = toy
    n_before = len(fitted.item_vocabulary_)
    index_before = fitted.item_vocabulary_.index_of([1, 2, 40]).tolist()
    new_items = [[100 + i, 101 + i, 3] for i in range(len(groups))]
    fitted.partial_fit(new_items, groups, task="group_new_items")
    assert len(fitted.item_vocabulary_) == n_before + len(groups) + 1
    assert fitted.item_vocabulary_.index_of([1, 2, 40]).tolist() == index_before
    rows = fitted.net_.module_.backbone.item_embedding.num_embeddings
    assert rows == len(fitted.item_vocabulary_)
    # The next-item head only grows when its own task continues.
    assert len(fitted.classes_of("next_item")) == n_before - 2
    fitted.partial_fit(new_items)
    assert len(fitted.classes_of("next_item")) == len(fitted.item_vocabulary_) - 2


def test_continuing_a_task(fitted, toy):
    seqs, groups, _ = toy
    fitted.partial_fit(seqs[:50], groups[:50], task="group")
    assert list(fitted.tasks_) == ["next_item", "group"]
    assert fitted.tasks_["group"].n_fits == 2
    assert fitted.tasks_["group"].n_samples_seen == len(seqs) + 50


def test_default_task_names(toy):
    seqs, groups, _ = toy
    enc = ContinualUserEncoder(**TINY).fit(seqs, groups)
    assert list(enc.tasks_) == ["labels"]
    enc.partial_fit(seqs)
    enc.partial_fit(seqs, groups)  # continues the last labelled task
    assert list(enc.tasks_) == ["labels", "next_item"]
    enc.fit(seqs)  # fit forgets everything
    assert list(enc.tasks_) == ["next_item"]


class _FailAtEpoch(Callback):
    def __init__(self, epoch=2, exc=RuntimeError):
        self.epoch = epoch
        self.exc = exc

    def on_epoch_end(self, net, **kwargs):
        if len(net.history) == self.epoch:
            raise self.exc("stop here")


@pytest.mark.parametrize("exc", [RuntimeError, KeyboardInterrupt])
def test_failed_partial_fit_leaves_earlier_tasks_exactly_as_before(fitted, toy, exc):
    seqs, groups, bands = toy
    before = {t: fitted.predict_proba(seqs, task=t) for t in fitted.tasks_}
    embeddings = fitted.transform(seqs)
    relations = fitted.task_relations_.copy()
    n_items = len(fitted.item_vocabulary_)
    fitted.set_params(callbacks=[_FailAtEpoch(2, exc)], max_epochs=3)
    with pytest.raises(exc, match="stop here"):
        fitted.partial_fit(
            [s + [999] for s in seqs], bands, task="band"
        )  # brings a new item too
    assert list(fitted.tasks_) == ["next_item", "group"]
    assert len(fitted.item_vocabulary_) == n_items
    for task, proba in before.items():
        np.testing.assert_array_equal(fitted.predict_proba(seqs, task=task), proba)
    np.testing.assert_array_equal(fitted.transform(seqs), embeddings)
    np.testing.assert_array_equal(fitted.task_relations_, relations)
    # Still usable.
    fitted.set_params(callbacks=None)
    fitted.partial_fit(seqs, bands, task="band")
    assert list(fitted.tasks_) == ["next_item", "group", "band"]


def test_early_stopping_is_not_an_interrupt():
    rng = np.random.default_rng(0)
    seqs = rng.integers(1, 500, size=(200, 8))
    noise = rng.integers(0, 2, len(seqs))
    enc = ContinualUserEncoder(
        **{**TINY, "max_epochs": 30, "patience": 2, "validation_fraction": 0.3}
    )
    enc.partial_fit(seqs, noise, task="noise")  # nothing to learn: it must stop
    # The start is a candidate too, so ``patience`` epochs that do not beat it
    # are enough.
    assert 2 <= len(enc.history_["noise"]) < 30


def test_verbose_shows_the_epoch_table(toy, capsys):
    # The levels and terminal handling are tested in tests/test_callbacks.py.
    seqs, _, _ = toy
    ContinualUserEncoder(**{**TINY, "verbose": 1}).partial_fit(seqs)
    captured = capsys.readouterr()
    assert "task 'next_item'" in captured.out and "train_loss" in captured.out
    assert captured.err == ""  # no progress bar below verbose=2 or off a terminal


def test_teacher_is_frozen_at_full_scale(fitted):
    net = fitted.net_
    net.start_task(1)
    teacher = net.strategy.teacher_
    expected = net.module_.masks.all_masks(net.s)
    torch.testing.assert_close(teacher.masks, expected)
    assert not any(p.requires_grad for p in teacher.module.parameters())
    net.end_task()
    assert net.strategy.teacher_ is None


def test_no_teacher_without_retention(toy):
    seqs, groups, _ = toy
    enc = ContinualUserEncoder(**{**TINY, "alpha": 0.0}).partial_fit(seqs)
    enc.partial_fit(seqs, groups, task="group")
    assert "rho" not in enc.history_["group"][0]


def test_string_items_and_string_labels():
    seqs = [["a", "b", "c"], ["b", "c", "d"], ["x", "y"], ["y", "z", "x"]] * 6
    labels = ["ab", "ab", "xy", "xy"] * 6
    enc = ContinualUserEncoder(**TINY).partial_fit(seqs).partial_fit(seqs, labels)
    assert set(enc.predict(seqs, task="labels")) <= {"ab", "xy"}
    assert set(enc.recommend(seqs[:2], task="next_item", k=3).ravel()) <= set("abcdxyz")


def test_build_net_uses_current_parameters(fitted):
    net = build_net(
        fitted.net_.module_,
        n_embeddings=10,
        embedding_dim=16,
        dilations=[1],
        kernel_size=3,
        strategy=get_strategy(
            "teracon",
            c=2.0,
            alpha=0.1,
            rho_min=0.2,
            relation="paper",
            sampling="uniform",
        ),
        s=7.0,
        lr=0.5,
        batch_size=8,
        validation_fraction=0.0,
        patience=None,
        callbacks=None,
        device="cpu",
        verbose=0,
        seed=0,
    )
    assert net.module_ is fitted.net_.module_
    teracon = net.strategy
    assert (net.s, teracon.c, teracon.alpha, teracon.rho_min, net.lr) == (
        7.0,
        2.0,
        0.1,
        0.2,
        0.5,
    )
    assert (teracon.relation, teracon.sampling) == ("paper", "uniform")


# -- bad input -------------------------------------------------------------------
@pytest.mark.parametrize(
    "X, match",
    [
        ([], "empty"),
        ([[1, 2], []], r"X\[1\] is an empty sequence"),
        (np.array([[1.0, np.nan], [2.0, 3.0]]), "NaN"),
        (np.array([[1, None], [2, 3]], dtype=object), "missing item"),
        ([[1, None, 2]], "missing item"),
        ([[1, float("nan")]], "missing item"),
        (np.array([[0, 0], [1, 2]]), "only padding"),
        (np.array([1, 2, 3]), "2-D"),
        ("abc", "string"),
        ([[1, 2], "ab"], "not a sequence"),
        ([[1, [2]]], "hashable"),
    ],
)
def test_bad_sequences_are_named(tiny_encoder, X, match):
    with pytest.raises((ValueError, TypeError), match=match):
        tiny_encoder.partial_fit(X)


@pytest.mark.parametrize(
    "y, match",
    [
        ([0, 1], "2 labels but X has 4 sequences"),
        ([0.5, 1.5, 2.5, 3.5], "Unknown label type"),
        ([[0, 1], [1, 0], [0, 1], [1, 1]], "1-D"),
        (np.array([0, np.nan, 1, 0]), "NaN"),
        ([None, "a", "b", "a"], "missing labels"),
    ],
)
def test_bad_labels_are_named(tiny_encoder, y, match):
    with pytest.raises(ValueError, match=match):
        tiny_encoder.partial_fit([[1, 2], [2, 3], [3, 4], [4, 5]], y, task="t")


def test_predict_before_fit(tiny_encoder):
    for method in ("predict", "predict_proba", "transform", "decision_function"):
        with pytest.raises(NotFittedError):
            getattr(tiny_encoder, method)([[1, 2]])


def test_unknown_task(fitted):
    with pytest.raises(ValueError, match=r"unknown task 'age'.*'next_item', 'group'"):
        fitted.predict([[1, 2]], task="age")


def test_task_kind_cannot_change(fitted, toy):
    seqs, groups, _ = toy
    with pytest.raises(ValueError, match="'group' is a 'labels' task.*needs labels y"):
        fitted.partial_fit(seqs, task="group")
    with pytest.raises(
        ValueError, match="'next_item' is a 'next_item' task.*given labels"
    ):
        fitted.partial_fit(seqs, groups, task="next_item")


def test_labels_outside_the_tasks_classes(fitted, toy):
    seqs, _, _ = toy
    with pytest.raises(ValueError, match=r"labels not among the classes.*\[7\]"):
        fitted.partial_fit(seqs[:3], [0, 1, 7], task="group")
    enc = ContinualUserEncoder(**TINY)
    enc.partial_fit(seqs[:4], [0, 0, 1, 1], task="t", classes=[0, 1, 2])
    enc.partial_fit(seqs[:4], [2, 2, 1, 1], task="t")
    np.testing.assert_array_equal(enc.tasks_["t"].classes_, [0, 1, 2])


def test_other_bad_arguments(fitted, toy):
    seqs, groups, _ = toy
    with pytest.raises(ValueError, match="score needs y"):
        fitted.score(seqs, task="group")
    with pytest.raises(ValueError, match="k must be a positive integer"):
        fitted.recommend(seqs, task="group", k=0)
    with pytest.raises(TypeError, match="task must be a non-empty string"):
        fitted.partial_fit(seqs, groups, task=3)
    with pytest.raises(ValueError, match="at least 2 items"):
        ContinualUserEncoder(**TINY).partial_fit([[1], [2]])
    with pytest.raises(ValueError, match="dilations must hold n_blocks=1"):
        ContinualUserEncoder(**{**TINY, "dilations": [1, 2]}).partial_fit(seqs)
    with pytest.raises(ValueError, match="'s' parameter"):
        ContinualUserEncoder(s=0.5).partial_fit(seqs)

"""Vocabulary-chunked losses and rankings equal their full-matrix versions."""

import numpy as np
import pytest
import torch
import torch.nn.functional as F

import sklearn_teracon.nn.chunked as chunked_module
import sklearn_teracon.training.backward_step as backward_step
import sklearn_teracon.training.inference as inference_module
import sklearn_teracon.training.micro_batches as micro_batches
import sklearn_teracon.training.net as net_module
from sklearn_teracon import ContinualUserEncoder
from sklearn_teracon.metrics import score_ranks, score_with_metric, target_ranks
from sklearn_teracon.nn.chunked import (
    bag_cross_entropy,
    chunked_cross_entropy,
    chunked_logit_mse,
    chunked_logits_finite,
    chunked_target_ranks,
    chunked_top_k,
    logits_chunk_size,
    users_per_pass,
)

from .conftest import TINY

N_ROWS, DIM, N_COLUMNS = 5, 3, 7
CHUNK_SIZES = [1, 3, N_COLUMNS, 50]  # one column, odd, exactly V, larger than V


def _head(seed=0, dtype=torch.float64):
    gen = torch.Generator().manual_seed(seed)
    rows = torch.randn(N_ROWS, DIM, generator=gen, dtype=dtype, requires_grad=True)
    weight = torch.randn(N_COLUMNS, DIM, generator=gen, dtype=dtype, requires_grad=True)
    bias = torch.randn(N_COLUMNS, generator=gen, dtype=dtype, requires_grad=True)
    return rows, weight, bias


TARGETS = torch.tensor([0, 6, 3, 2, 6])


def _grads(loss, tensors):
    return torch.autograd.grad(loss, tensors)


@pytest.mark.parametrize("chunk_size", CHUNK_SIZES)
def test_cross_entropy_and_its_gradients_equal_f_cross_entropy(chunk_size):
    rows, weight, bias = _head()
    expected = F.cross_entropy(F.linear(rows, weight, bias), TARGETS)
    loss = chunked_cross_entropy(rows, weight, bias, TARGETS, chunk_size)
    torch.testing.assert_close(loss, expected)
    for got, want in zip(
        _grads(loss, (rows, weight, bias)), _grads(expected, (rows, weight, bias))
    ):
        torch.testing.assert_close(got, want)
    assert torch.autograd.gradcheck(
        lambda r, w, b: chunked_cross_entropy(r, w, b, TARGETS, chunk_size),
        (rows, weight, bias),
    )


def test_cross_entropy_without_bias_and_in_float32():
    rows, weight, _ = _head(dtype=torch.float32)
    loss = chunked_cross_entropy(rows, weight, None, TARGETS, 2)
    torch.testing.assert_close(loss, F.cross_entropy(rows @ weight.T, TARGETS))
    assert loss.dtype == torch.float32


@pytest.mark.parametrize("chunk_size", CHUNK_SIZES)
def test_logit_mse_and_its_gradients_equal_f_mse_loss(chunk_size):
    rows, weight, bias = _head(0)
    teacher = [t.detach() for t in _head(1)]
    expected = F.mse_loss(F.linear(rows, weight, bias), F.linear(*teacher))
    loss = chunked_logit_mse(rows, weight, bias, *teacher, chunk_size)
    torch.testing.assert_close(loss, expected)
    for got, want in zip(
        _grads(loss, (rows, weight, bias)), _grads(expected, (rows, weight, bias))
    ):
        torch.testing.assert_close(got, want)
    assert torch.autograd.gradcheck(
        lambda r, w, b: chunked_logit_mse(r, w, b, *teacher, chunk_size),
        (rows, weight, bias),
    )


@pytest.mark.parametrize("chunk_size", CHUNK_SIZES)
def test_ranks_and_top_k_equal_the_full_score_matrix(chunk_size):
    rows, weight, bias = (t.detach() for t in _head())
    # Columns 1 and 4 score alike: a tie counts against the target.
    weight[4], bias[4] = weight[1], bias[1]
    targets = torch.tensor([1, 4, -1, 2, 6])
    scores = F.linear(rows, weight, bias).numpy()
    np.testing.assert_array_equal(
        chunked_target_ranks(rows, weight, bias, targets, chunk_size).numpy(),
        target_ranks(scores, targets.numpy()),
    )
    top = chunked_top_k(rows, weight, bias, 3, chunk_size).numpy()
    np.testing.assert_array_equal(
        np.take_along_axis(scores, top, 1), -np.sort(-scores, 1)[:, :3]
    )
    assert chunked_top_k(rows, weight, bias, 50, chunk_size).shape == (5, N_COLUMNS)


def test_ranking_a_nan_score_fails_clearly():
    rows, weight, bias = (t.detach() for t in _head())
    bias[2] = float("nan")
    with pytest.raises(ValueError, match="NaN"):
        chunked_target_ranks(rows, weight, bias, TARGETS, 3)


@pytest.mark.parametrize("chunk_size", CHUNK_SIZES)
def test_logits_finite_sees_an_overflow_of_finite_inputs_in_any_chunk(chunk_size):
    rows, weight, bias = (t.detach().float() for t in _head())
    assert chunked_logits_finite(rows, weight, bias, chunk_size)
    for column in (0, N_COLUMNS - 1):  # the first chunk and the last
        big = weight.clone()
        big[column] = 1e30  # finite, but its products with the rows are not
        assert torch.isfinite(big).all() and torch.isfinite(rows * 1e9).all()
        assert not chunked_logits_finite(rows * 1e9, big, bias, chunk_size)
    nan_bias = bias.clone()
    nan_bias[-1] = float("nan")
    assert not chunked_logits_finite(rows, weight, nan_bias, chunk_size)


def test_outputs_finite_checks_every_task_in_chunks(fitted, toy, monkeypatch):
    _small_chunks(monkeypatch, columns=3)
    net, seqs = fitted.net_, fitted.item_vocabulary_.encode(toy[0], TINY["max_len"])
    for record in fitted.tasks_.values():
        assert net.outputs_finite(seqs, record.index)
        head = net.module_.heads[record.index]
        with torch.no_grad():
            head.bias[-1] = float("inf")  # the last column: the last chunk
        assert not net.outputs_finite(seqs, record.index)


@pytest.mark.parametrize(
    "call, error",
    [
        (lambda r, w, b: chunked_cross_entropy(r, w, b, TARGETS, 0), ValueError),
        (lambda r, w, b: chunked_cross_entropy(r, w, b, TARGETS, 2.0), TypeError),
        (lambda r, w, b: chunked_cross_entropy(r, w.T, b, TARGETS, 2), ValueError),
        (lambda r, w, b: chunked_cross_entropy(r, w, b[:3], TARGETS, 2), ValueError),
        (lambda r, w, b: chunked_cross_entropy(r, w, b, TARGETS + 3, 2), ValueError),
        (lambda r, w, b: chunked_cross_entropy(r, w, b, TARGETS[:2], 2), ValueError),
        (lambda r, w, b: chunked_cross_entropy(r, w, b, TARGETS * 1.0, 2), TypeError),
        (lambda r, w, b: chunked_logit_mse(r, w, b, r[:2], w, b, 2), ValueError),
    ],
)
def test_bad_inputs_fail_clearly(call, error):
    with pytest.raises(error):
        call(*_head())


def test_chunk_sizes_follow_the_memory_budget():
    assert logits_chunk_size(256 * 29, 646_000) == 64 * 2**20 // (4 * 256 * 29)
    assert logits_chunk_size(10, 50) == 50  # fits: one chunk
    assert logits_chunk_size(10**9, 50) == 1
    with pytest.raises(ValueError, match="n_rows"):
        logits_chunk_size(-1, 50)
    assert users_per_pass(32, 30, 256, 16) == 32  # the paper's model at batch 32
    assert users_per_pass(1024, 30, 256, 16) < 1024
    assert users_per_pass(10**6, 10**4, 10**4, 100) == 1


def test_score_ranks_refuses_accuracy_and_bad_ranks():
    assert score_ranks("hr@2", [1.0, 3.0]) == 0.5
    with pytest.raises(ValueError, match="ranking metric"):
        score_ranks("accuracy", [1.0])
    with pytest.raises(ValueError, match="ranks"):
        score_ranks("mrr@5", [0.0])


def test_bag_loss_is_the_cross_entropy_of_every_user_item_pair(monkeypatch):
    gen = torch.Generator().manual_seed(0)
    users = torch.randn(4, DIM, generator=gen, dtype=torch.float64)
    head = torch.nn.Linear(DIM, N_COLUMNS).double()
    items = torch.tensor([[0, 0, 3, 5], [1, 2, 3, 4], [0, 0, 0, 0], [0, 6, 6, 2]])
    real = items > 0
    pairs = F.cross_entropy(head(users[real.nonzero()[:, 0]]), items[real])
    torch.testing.assert_close(bag_cross_entropy(users, head, items), pairs)
    monkeypatch.setattr(chunked_module, "logits_chunk_size", lambda n, v: 2)
    torch.testing.assert_close(bag_cross_entropy(users, head, items), pairs)
    assert bag_cross_entropy(users, head, torch.zeros_like(items)) == 0


def test_bag_weight_adds_to_the_next_item_loss(toy):
    plain = _learn_two_tasks(toy)
    bag = _learn_two_tasks(toy, bag_weight=1.0)
    assert bag.history_["next_item"][0]["train_loss"] > (
        plain.history_["next_item"][0]["train_loss"] + 1.0
    )


# -- the estimator, with chunks forced small -------------------------------------
def _small_chunks(monkeypatch, columns=3, users=5):
    for module in (inference_module, chunked_module):
        monkeypatch.setattr(module, "logits_chunk_size", lambda n, v: min(columns, v))
    for module in (net_module, micro_batches):
        monkeypatch.setattr(module, "users_per_pass", lambda n, *_: min(users, n))


def _learn_two_tasks(toy, **extra):
    seqs, groups, _ = toy
    # Without dropout: its random draws follow the user chunks, so chunking
    # would change which units drop.
    params = {**TINY, "max_epochs": 1, "alpha": 1.0, "next_item_dropout": 0}
    enc = ContinualUserEncoder(**params, **extra)
    enc.partial_fit(seqs)
    return enc.partial_fit(seqs, groups, task="group")


def _count_batch_parts(monkeypatch) -> list[int]:
    parts, original = [], micro_batches.batch_parts

    def counted(X, y, users):
        parts.append(len(split := original(X, y, users)))
        return split

    monkeypatch.setattr(micro_batches, "batch_parts", counted)
    return parts


@pytest.mark.parametrize("way", ["micro-batches", "checkpointed passes"])
@pytest.mark.parametrize("bag_weight", [0.0, 1.0])
def test_training_in_chunks_equals_training_in_one(toy, monkeypatch, bag_weight, way):
    # Next-item loss (and its bag of items) chunked over items; batches in
    # micro-batches of users, or (as under DDP and in-backward steps) whole
    # with every pass checkpointed in user chunks: the same training, within
    # rounding, retention's recorded loss included. Micro-batches draw
    # retention's users per part and weight each part by its share of the
    # task's terms: the same training where every user retains (rho_min=1)
    # and has as many items as the others (the bag's and retention's terms
    # per user are then in proportion to the task's).
    extra = {"bag_weight": bag_weight}
    if way == "checkpointed passes":
        monkeypatch.setattr(backward_step, "MIN_ELEMENTS", 1)
    else:
        seqs, groups, bands = toy
        toy = ([seq[:4] for seq in seqs], groups, bands)
        extra.update(rho_min=1.0)
    plain = _learn_two_tasks(toy, **extra)
    _small_chunks(monkeypatch)
    parts = _count_batch_parts(monkeypatch)
    chunked = _learn_two_tasks(toy, **extra)
    if way == "micro-batches":
        assert parts and max(parts) > 1
    else:
        assert parts == []
    for task in ("next_item", "group"):
        for a, b in zip(plain.history_[task], chunked.history_[task]):
            np.testing.assert_allclose(a["train_loss"], b["train_loss"], rtol=1e-4)
    np.testing.assert_allclose(
        plain.history_["group"][0]["retention_loss"],
        chunked.history_["group"][0]["retention_loss"],
        rtol=1e-4,
    )
    for (name, a), b in zip(
        plain.net_.module_.state_dict().items(),
        chunked.net_.module_.state_dict().values(),
    ):
        torch.testing.assert_close(a, b, rtol=1e-4, atol=1e-5, msg=name)


def _full_matrix_recommend(enc, seqs, k):
    """``recommend`` as it was before chunking: a sort of the whole score matrix."""
    scores = enc.decision_function(seqs, "next_item")
    top = np.argsort(-scores, axis=1, kind="stable")[:, :k]
    return enc.classes_of("next_item")[top]


def test_recommend_and_score_in_chunks_equal_the_full_matrix(fitted, toy, monkeypatch):
    seqs = toy[0]
    expected_top = _full_matrix_recommend(fitted, seqs, 5)
    expected_score = score_with_metric(
        "mrr@5",
        fitted.decision_function([s[:-1] for s in seqs], "next_item"),
        fitted._targets(fitted.tasks_["next_item"], [s[-1] for s in seqs]),
    )
    for chunked in (False, True):
        if chunked:
            _small_chunks(monkeypatch, columns=3)
        np.testing.assert_array_equal(
            fitted.recommend(seqs, task="next_item", k=5), expected_top
        )
        np.testing.assert_array_equal(
            fitted.predict(seqs, task="next_item"), expected_top[:, 0]
        )
        assert fitted.score(seqs, task="next_item") == pytest.approx(expected_score)

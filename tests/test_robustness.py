"""Divergence, structural parameters changed after fitting, and parameter bounds."""

import copy

import numpy as np
import pytest

from sklearn_teracon import ContinualUserEncoder
from sklearn_teracon._encoder_checks import MAX_DILATION, MAX_LEN
from sklearn_teracon.strategies.teracon import MAX_SCALE

from .conftest import TINY, make_toy

SMALL = {**TINY, "embedding_dim": 8, "max_epochs": 1}


@pytest.fixture(scope="module")
def data():
    seqs, groups, bands = make_toy(n_users=48)
    return seqs, groups, bands


@pytest.fixture(scope="module")
def base(data):
    seqs, groups, _ = data
    enc = ContinualUserEncoder(**SMALL).partial_fit(seqs)
    return enc.partial_fit(seqs, groups, task="group")


def _snapshot(enc, seqs):
    return {
        "tasks": list(enc.tasks_),
        "proba": {t: enc.predict_proba(seqs, task=t) for t in enc.tasks_},
        "n_partial_fits": enc.n_partial_fits_,
        "history": {t: len(h) for t, h in enc.history_.items()},
        "n_items": enc.item_vocabulary_.n_items,
    }


def _assert_unchanged(before, after):
    assert before["tasks"] == after["tasks"]
    for task, proba in before["proba"].items():
        np.testing.assert_array_equal(proba, after["proba"][task])
    assert before["n_partial_fits"] == after["n_partial_fits"]
    assert before["history"] == after["history"]
    assert before["n_items"] == after["n_items"]


@pytest.mark.parametrize("max_epochs, batch_size", [(1, 1000), (1, 16), (2, 16)])
@pytest.mark.parametrize("task", ["band", "group", "next_item"])
def test_divergence_raises_and_changes_nothing(
    base, data, max_epochs, batch_size, task
):
    seqs, groups, bands = data
    enc = copy.deepcopy(base)
    before = _snapshot(enc, seqs)
    enc.set_params(lr=1e30, max_epochs=max_epochs, batch_size=batch_size)
    y = {"band": bands, "group": groups, "next_item": None}[task]
    with pytest.raises(
        ValueError, match=f"training diverged on task '{task}'.*lower lr"
    ):
        enc.partial_fit([s + [99] for s in seqs], y, task=task)
    _assert_unchanged(before, _snapshot(enc, seqs))
    # The encoder keeps working after the failure.
    enc.set_params(lr=1e-3).partial_fit(seqs, bands, task="band")
    assert all(np.isfinite(enc.predict_proba(seqs, task=t)).all() for t in enc.tasks_)


@pytest.mark.parametrize(
    "param, value",
    [("embedding_dim", 16), ("n_blocks", 2), ("kernel_size", 2), ("dilations", [2])],
)
def test_structural_parameters_need_fit(base, data, tmp_path, param, value):
    seqs, groups, _ = data
    enc = copy.deepcopy(base).set_params(**{param: value})
    before = _snapshot(enc, seqs)
    match = f"{param}=.*shapes the network.*Call fit to start over"
    with pytest.raises(ValueError, match=match):
        enc.partial_fit(seqs, groups, task="group")
    _assert_unchanged(before, _snapshot(enc, seqs))
    with pytest.raises(ValueError, match=match):
        enc.save(tmp_path / "m.safetensors")
    assert not list(tmp_path.iterdir())
    enc.fit(seqs)
    assert list(enc.tasks_) == ["next_item"]
    enc.save(tmp_path / "m.safetensors")
    loaded = ContinualUserEncoder.load(tmp_path / "m.safetensors")
    np.testing.assert_array_equal(loaded.predict_proba(seqs), enc.predict_proba(seqs))


def test_max_len_may_change_after_fitting(base, data, tmp_path):
    seqs, groups, _ = data
    enc = copy.deepcopy(base).set_params(max_len=5)
    enc.partial_fit(seqs, groups, task="group")
    enc.save(tmp_path / "m.safetensors")
    loaded = ContinualUserEncoder.load(tmp_path / "m.safetensors")
    np.testing.assert_array_equal(
        loaded.predict_proba(seqs, task="group"), enc.predict_proba(seqs, task="group")
    )


def test_save_refuses_invalid_parameters(base, tmp_path):
    enc = copy.deepcopy(base).set_params(s=0.5)
    with pytest.raises(ValueError, match="'s' parameter"):
        enc.save(tmp_path / "m.safetensors")
    assert not list(tmp_path.iterdir())


@pytest.mark.parametrize(
    "dilations",
    [[0], [1.5], ["2"], [True], [1, 2], [[1]], {1: 2}, [MAX_DILATION + 1], [np.nan]],
)
def test_bad_dilations_are_refused_at_fit(data, dilations):
    seqs, _, _ = data
    enc = ContinualUserEncoder(**{**SMALL, "dilations": dilations})
    with pytest.raises(ValueError, match="dilations must hold n_blocks=1 integers"):
        enc.fit(seqs)


@pytest.mark.parametrize(
    "param, value",
    [
        ("embedding_dim", 10**6),
        ("n_blocks", 10**9),
        ("kernel_size", 10**6),
        ("max_len", 10**9),
        ("s", 1e300),
        ("c", 1e300),
        ("alpha", 1e300),
    ],
)
def test_sizes_beyond_the_bounds_are_refused_at_fit(data, param, value):
    seqs, _, _ = data
    enc = ContinualUserEncoder(**{**SMALL, param: value})
    with pytest.raises(ValueError, match=f"'{param}' parameter"):
        enc.fit(seqs)


@pytest.mark.parametrize(
    "params",
    [
        {"s": MAX_SCALE, "c": MAX_SCALE, "alpha": MAX_SCALE},
        {"s": 1.0, "c": 1e-12, "alpha": 0.0, "rho_min": 1e-12},
        {"dilations": [MAX_DILATION], "kernel_size": 5},
        {"max_len": 2, "batch_size": 1},
        {"max_len": MAX_LEN, "validation_fraction": 0.5, "patience": 1},
    ],
)
def test_extreme_valid_parameters_give_finite_outputs_and_round_trip(
    data, tmp_path, params
):
    seqs, groups, _ = data
    enc = ContinualUserEncoder(**{**SMALL, **params}).partial_fit(seqs)
    enc.partial_fit(seqs, groups, task="group")
    enc.save(tmp_path / "m.safetensors")
    loaded = ContinualUserEncoder.load(tmp_path / "m.safetensors")
    for task in enc.tasks_:
        proba = enc.predict_proba(seqs, task=task)
        assert np.isfinite(proba).all()
        np.testing.assert_array_equal(loaded.predict_proba(seqs, task=task), proba)
    np.testing.assert_array_equal(loaded.transform(seqs), enc.transform(seqs))

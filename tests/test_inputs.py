"""Own data in, DataFrames out: input formats, label and device errors,
``set_output``, and interaction tables to sequences."""

import copy
import doctest

import numpy as np
import pandas as pd
import pytest
import sklearn
import torch
from sklearn.exceptions import NotFittedError
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler

from sklearn_teracon import ContinualUserEncoder
from sklearn_teracon._sequences import check_labels, check_sequences
from sklearn_teracon.datasets import (
    UserSequences,
    _interactions,
    labels_for_users,
    sequences_from_interactions,
)
from sklearn_teracon.training._device import available_devices, check_device

from .conftest import TINY, make_toy

SEQS = [[3, 1, 2], [5], [2, 4, 6, 8]]


@pytest.fixture(scope="module")
def encoder():
    """Trained once for the module: next_item, then group."""
    seqs, groups, _ = make_toy(n_users=64)
    enc = ContinualUserEncoder(**{**TINY, "max_epochs": 1})
    enc.partial_fit(seqs)
    return enc.partial_fit(seqs, groups, task="group")


# ------------------------------------------------------------------ X formats


def object_array(sequences):
    out = np.empty(len(sequences), dtype=object)
    out[:] = sequences
    return out


def pyarrow():
    return pytest.importorskip("pyarrow")


def polars():
    return pytest.importorskip("polars")


FORMATS = {
    "list": lambda: SEQS,
    "tuple": lambda: tuple(tuple(s) for s in SEQS),
    "object array": lambda: object_array(SEQS),
    "object array of arrays": lambda: object_array([np.array(s) for s in SEQS]),
    "pandas Series": lambda: pd.Series(SEQS, index=["u1", "u2", "u3"]),
    "one-column DataFrame": lambda: pd.DataFrame({"items": SEQS}),
    "padded 2-D array": lambda: np.array([[0, 3, 1, 2], [0, 0, 0, 5], [2, 4, 6, 8]]),
    "pandas arrow list": lambda: pd.Series(
        SEQS, dtype=pd.ArrowDtype(pyarrow().list_(pyarrow().int64()))
    ),
    "pyarrow array": lambda: pyarrow().array(SEQS),
    "pyarrow table": lambda: pyarrow().table({"items": SEQS}),
    "polars Series": lambda: polars().Series(SEQS),
    "polars DataFrame": lambda: polars().DataFrame({"items": SEQS}),
    "UserSequences": lambda: UserSequences(np.array(["u1", "u2", "u3"]), SEQS),
}


@pytest.mark.parametrize("fmt", FORMATS)
def test_every_format_gives_the_same_sequences(fmt):
    sequences = check_sequences(FORMATS[fmt]())
    assert sequences == SEQS
    assert all(type(i) is int for seq in sequences for i in seq)


def test_groupby_series_works_in_the_encoder(encoder):
    ratings = pd.DataFrame(
        {"user": [7, 7, 9, 9, 9], "item": [1, 2, 3, 4, 5], "t": [1, 2, 3, 4, 5]}
    )
    X = ratings.sort_values("t").groupby("user").item.apply(list)
    np.testing.assert_array_equal(
        encoder.transform(X), encoder.transform([[1, 2], [3, 4, 5]])
    )


@pytest.mark.parametrize(
    "X, error, match",
    [
        (np.array([1, 2, 3]), ValueError, r"got a numpy ndarray of shape \(3,\)"),
        (np.array([1, 2, 3]), ValueError, r"one user's items.*\[list\(items\)\]"),
        (pd.Series([1, 2, 3]), TypeError, "pandas Series.*single values"),
        (np.zeros((2, 2, 2)), ValueError, r"shape \(2, 2, 2\).*neither 2-D"),
        ({"u1": [1, 2]}, TypeError, "got a dict"),
        ({1, 2}, TypeError, "got a set"),
        (iter([[1]]), TypeError, "got a list_iterator"),
        ([[1, 2], 3], TypeError, r"X\[1\] is int 3, not a sequence"),
    ],
)
def test_bad_x_names_what_was_given_and_what_is_accepted(X, error, match):
    with pytest.raises(error, match=match) as info:
        check_sequences(X)
    message = str(info.value)
    if "X[1]" not in message:
        assert "list or tuple of sequences" in message and "pandas Series" in message
    assert "a single user is X.reshape(1, -1)" not in message


@pytest.mark.parametrize(
    "X",
    [
        np.array([[2**70, 1], [2, 3]], dtype=object),
        [[1, -(2**63) - 1]],
        np.array([[2**63, 1]], dtype=np.uint64),
    ],
    ids=["object 2**70", "list -2**63-1", "uint64 2**63"],
)
def test_ids_beyond_int64_are_a_clear_value_error(X):
    with pytest.raises(ValueError, match="int64.*as strings"):
        check_sequences(X)


def test_ids_beyond_int64_leave_the_encoder_unchanged(encoder):
    before = encoder.transform(SEQS)
    with pytest.raises(ValueError, match="int64"):
        copy.deepcopy(encoder).partial_fit(np.array([[2**70, 1], [2, 3]], dtype=object))
    with pytest.raises(ValueError, match="int64"):
        encoder.transform(np.array([[2**70, 1]], dtype=object))
    np.testing.assert_array_equal(encoder.transform(SEQS), before)


# ------------------------------------------------------------------ labels


@pytest.mark.parametrize(
    "y, error, match",
    [
        ([1, "a", 2], TypeError, r"mixes labels.*numbers \(e\.g\. 1\).*strings"),
        (["a", b"b", "c"], TypeError, "mixes labels.*strings.*bytes"),
        (np.array([1, "a", 2], dtype=object), TypeError, "mixes labels"),
        (["a", None, "b"], ValueError, r"missing labels.*y\[1\]"),
        (["a", "b", float("nan")], ValueError, r"missing labels.*y\[2\]"),
        (pd.Series(["a", None, "b"]), ValueError, "missing labels"),
        (pd.Series([1, None, 2], dtype="Int64"), ValueError, "missing labels"),
        ([1.0, float("nan"), 2.0], ValueError, "NaN"),
        ([(1, 2), (3,), (4,)], ValueError, "1-D array of labels"),
        ([frozenset({1}), frozenset(), frozenset()], TypeError, "type frozenset"),
        ("abc", TypeError, "single string"),
        ([b"a", b"b", b"a"], TypeError, "bytes.*decode"),
        (np.array([b"a", b"b", b"a"]), TypeError, "bytes.*decode"),
    ],
)
def test_bad_labels_are_named(y, error, match):
    with pytest.raises(error, match=match):
        check_labels(y, 3)


@pytest.mark.parametrize("y", [[1, 2, 1], ["a", "b", "a"], [True, False, True]])
def test_labels_of_one_kind_pass(y):
    assert check_labels(y, 3).tolist() == list(y)


def test_mixed_labels_refused_by_partial_fit(encoder):
    enc = copy.deepcopy(encoder)
    with pytest.raises(TypeError, match="mixes labels"):
        enc.partial_fit(SEQS, [1, "a", 1], task="mixed")
    assert "mixed" not in enc.tasks_


# ------------------------------------------------------------------ device

UNAVAILABLE = ["cpu:7x", "tpu", "cuda:99", "mps:3", "meta"]
if not torch.cuda.is_available():
    UNAVAILABLE.append("cuda")


@pytest.mark.parametrize("device", UNAVAILABLE)
def test_unavailable_device_is_a_clear_value_error(device):
    with pytest.raises(ValueError, match=f"device='{device}'.*this machine has cpu"):
        check_device(device)


def test_available_devices_pass():
    assert available_devices()[0] == "cpu"
    for device in ["cpu", *available_devices()]:
        assert check_device(device) == device
    with pytest.raises(TypeError, match="string"):
        check_device(0)


def test_cuda_devices_are_checked_against_the_gpu_count(monkeypatch):
    # No GPU needed: pretend this machine has two.
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 2)
    assert available_devices()[:3] == ["cpu", "cuda:0", "cuda:1"]
    for device in ("cuda", "cuda:0", "cuda:1"):
        assert check_device(device) == device
    with pytest.raises(ValueError, match="'cuda:2' is not available.*cuda:1"):
        check_device("cuda:2")


def test_bad_device_at_fit_and_load(encoder, tmp_path):
    enc = ContinualUserEncoder(**{**TINY, "device": "tpu"})
    with pytest.raises(ValueError, match="device='tpu' is not a torch device"):
        enc.partial_fit(SEQS)
    assert not hasattr(enc, "net_")
    path = tmp_path / "model.safetensors"
    encoder.save(path)
    with pytest.raises(ValueError, match="device='cpu:7x'.*load.*device="):
        ContinualUserEncoder.load(path, device="cpu:7x")


# ------------------------------------------------------------------ set_output


def embedding_names(d):
    return [f"embedding_{i}" for i in range(d)]


def test_get_feature_names_out(encoder):
    names = encoder.get_feature_names_out()
    assert names.tolist() == embedding_names(TINY["embedding_dim"])
    assert encoder.get_feature_names_out(["ignored"]).tolist() == names.tolist()
    with pytest.raises(NotFittedError):
        ContinualUserEncoder().get_feature_names_out()


def test_no_n_features_in_and_the_docstring_says_why(encoder):
    assert not hasattr(encoder, "n_features_in_")
    doc = " ".join(ContinualUserEncoder.__doc__.split())
    assert "There is no ``n_features_in_``: a user is a ragged sequence" in doc


@pytest.mark.parametrize("task", [None, "group", "next_item"])
def test_set_output_pandas_on_the_encoder(encoder, task):
    enc = copy.deepcopy(encoder).set_output(transform="pandas")
    out = enc.transform(SEQS, task=task)
    assert isinstance(out, pd.DataFrame)
    assert out.columns.tolist() == embedding_names(TINY["embedding_dim"])
    np.testing.assert_array_equal(out.to_numpy(), encoder.transform(SEQS, task=task))


def test_set_output_keeps_the_index_of_a_dataframe_input(encoder):
    enc = copy.deepcopy(encoder).set_output(transform="pandas")
    X = pd.DataFrame({"items": SEQS}, index=["ann", "bob", "cy"])
    assert enc.transform(X).index.tolist() == ["ann", "bob", "cy"]


def test_set_output_pandas_in_fit_transform_and_pipeline():
    seqs, _, _ = make_toy(n_users=32)
    enc = ContinualUserEncoder(**{**TINY, "max_epochs": 1})
    out = enc.set_output(transform="pandas").fit_transform(seqs)
    assert isinstance(out, pd.DataFrame) and out.shape == (32, TINY["embedding_dim"])
    pipe = Pipeline(
        [
            ("enc", ContinualUserEncoder(**{**TINY, "max_epochs": 1})),
            ("scale", StandardScaler()),
        ]
    ).set_output(transform="pandas")
    out = pipe.fit_transform(seqs)
    assert isinstance(out, pd.DataFrame)
    assert out.columns.tolist() == embedding_names(TINY["embedding_dim"])
    assert isinstance(pipe.transform(seqs[:5]), pd.DataFrame)
    assert pipe.get_feature_names_out().tolist() == out.columns.tolist()


def test_global_transform_output_config(encoder):
    with sklearn.config_context(transform_output="pandas"):
        out = encoder.transform(SEQS, task="group")
    assert isinstance(out, pd.DataFrame)
    np.testing.assert_array_equal(out.to_numpy(), encoder.transform(SEQS, task="group"))
    assert isinstance(encoder.transform(SEQS), np.ndarray)  # config restored


def test_set_output_polars(encoder):
    pl = polars()
    enc = copy.deepcopy(encoder).set_output(transform="polars")
    out = enc.transform(SEQS)
    assert isinstance(out, pl.DataFrame)
    assert out.columns == embedding_names(TINY["embedding_dim"])
    np.testing.assert_array_equal(out.to_numpy(), encoder.transform(SEQS))


# ------------------------------------------------------------ interaction tables


@pytest.fixture
def ratings():
    return pd.DataFrame(
        {
            "user": ["bob", "ann", "bob", "ann", "ann", "bob"],
            "item": ["m2", "m1", "m1", "m3", "m2", "m3"],
            "timestamp": [20, 30, 10, 10, 30, 20],
            "rating": [3, 5, 4, 4, 2, 1],
        }
    )


def test_sequences_from_interactions_orders_by_time_then_rows(ratings):
    seqs = sequences_from_interactions(ratings, rating="rating")
    assert isinstance(seqs, UserSequences) and len(seqs) == 2
    assert seqs.users.tolist() == ["ann", "bob"]
    # ann: m3 (10), then m1 and m2 tie at 30 and keep their row order.
    assert seqs.sequences == [["m3", "m1", "m2"], ["m1", "m2", "m3"]]
    assert [r.tolist() for r in seqs.ratings] == [[4, 5, 2], [4, 3, 1]]


def test_sequences_from_interactions_options(ratings):
    seqs = sequences_from_interactions(ratings, max_len=2)
    assert seqs.sequences == [["m1", "m2"], ["m2", "m3"]] and seqs.ratings is None
    in_row_order = sequences_from_interactions(ratings, time=None)
    assert in_row_order.sequences == [["m1", "m3", "m2"], ["m2", "m1", "m3"]]
    renamed = ratings.rename(columns={"user": "u", "item": "i", "timestamp": "t"})
    same = sequences_from_interactions(renamed, user="u", item="i", time="t")
    assert same.sequences == sequences_from_interactions(ratings).sequences


@pytest.mark.parametrize("kind", ["dict", "structured", "polars", "datetime"])
def test_sequences_from_interactions_table_kinds(ratings, kind):
    if kind == "dict":
        table = {c: ratings[c].to_numpy() for c in ratings}
    elif kind == "structured":
        table = ratings.assign(user=ratings.user.map({"ann": 1, "bob": 2}))
        table = table.to_records(index=False)
    elif kind == "polars":
        table = polars().from_pandas(ratings)
    else:
        table = ratings.assign(timestamp=pd.to_datetime(ratings.timestamp, unit="D"))
    seqs = sequences_from_interactions(table)
    assert seqs.sequences == [["m3", "m1", "m2"], ["m1", "m2", "m3"]]


@pytest.mark.parametrize(
    "change, kwargs, error, match",
    [
        (None, {"item": "movie"}, ValueError, "no column 'movie'.*'user', 'item'"),
        (None, {"max_len": 0}, ValueError, "max_len"),
        (None, {"user": 3}, TypeError, "column names must be strings"),
        ("nan item", {}, ValueError, "column 'item' has missing values.*row 2"),
        ("nan time", {}, ValueError, "column 'timestamp' has missing values"),
        ("none user", {}, ValueError, "column 'user' has missing values"),
        ("mixed users", {}, TypeError, "cannot be sorted"),
        ("empty", {}, ValueError, "empty"),
    ],
)
def test_sequences_from_interactions_errors(ratings, change, kwargs, error, match):
    table = ratings.astype(object)
    if change == "nan item":
        table.loc[2, "item"] = np.nan
    elif change == "nan time":
        table["timestamp"] = table.timestamp.astype(float)
        table.loc[0, "timestamp"] = np.nan
    elif change == "none user":
        table.loc[1, "user"] = None
    elif change == "mixed users":
        table.loc[1, "user"] = 5
    elif change == "empty":
        table = table.iloc[:0]
    with pytest.raises(error, match=match):
        sequences_from_interactions(table, **kwargs)


def test_sequences_from_interactions_rejects_non_tables():
    with pytest.raises(TypeError, match="must be a pandas or polars DataFrame"):
        sequences_from_interactions([[1, 2, 3]])
    with pytest.raises(ValueError, match="different lengths"):
        sequences_from_interactions({"user": [1, 2], "item": [1], "timestamp": [1, 2]})


def test_labels_for_users_aligns_and_checks(ratings):
    seqs = sequences_from_interactions(ratings)
    profiles = pd.DataFrame({"user": ["cy", "bob", "ann"], "age": [50, 40, 30]})
    assert labels_for_users(profiles, seqs.users, label="age").tolist() == [30, 40]
    with pytest.raises(ValueError, match=r"1 of 2 users have no row.*\['bob'\]"):
        labels_for_users(profiles.iloc[[0, 2]], seqs.users, label="age")
    twice = pd.DataFrame({"user": ["ann", "bob", "ann"], "age": [30, 40, 31]})
    with pytest.raises(ValueError, match="user 'ann' has several different labels"):
        labels_for_users(twice, seqs.users, label="age")
    same_twice = twice.assign(age=[30, 40, 30])
    assert labels_for_users(same_twice, seqs.users, label="age").tolist() == [30, 40]
    with pytest.raises(ValueError, match="no column 'gender'"):
        labels_for_users(profiles, seqs.users, label="gender")


def test_user_sequences_select(ratings):
    seqs = sequences_from_interactions(ratings, rating="rating")
    bob = seqs.select(seqs.users == "bob")
    assert bob.users.tolist() == ["bob"] and bob.sequences == [["m1", "m2", "m3"]]
    assert bob.ratings[0].tolist() == [4, 3, 1]
    assert seqs.select([1, 0]).users.tolist() == ["bob", "ann"]
    with pytest.raises(ValueError, match="one entry per user"):
        seqs.select([True])
    with pytest.raises(TypeError, match="integer"):
        seqs.select(["ann"])


def test_interaction_table_to_a_labelled_task(ratings):
    seqs = sequences_from_interactions(ratings)
    profiles = {"user": ["ann", "bob"], "gender": ["F", "M"]}
    y = labels_for_users(profiles, seqs.users, label="gender")
    enc = ContinualUserEncoder(**{**TINY, "max_epochs": 1})
    enc.partial_fit(seqs.sequences * 4, np.tile(y, 4), task="gender")
    assert enc.predict(seqs.sequences, task="gender").shape == (2,)


def test_interactions_docstring_examples_run():
    result = doctest.testmod(_interactions, optionflags=doctest.NORMALIZE_WHITESPACE)
    assert result.attempted >= 8 and result.failed == 0

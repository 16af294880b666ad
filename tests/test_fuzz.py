"""Generated bad (and good) input for every public method, the CLI and model files.

Every call must either work, with outputs of the documented shape and finite
values, or fail with a ``ValueError``/``TypeError`` whose message names the
problem; a failed call changes nothing; the same ``random_state`` gives the
same model. CI runs the small ``ci`` profile (tests/conftest.py);
``HYPOTHESIS_PROFILE=thorough pytest tests/test_fuzz.py`` runs many more.
"""

import contextlib
import copy
import functools
import hashlib
import io
import json

import numpy as np
import pytest

hypothesis = pytest.importorskip("hypothesis")

from hypothesis import given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402
from hypothesis.extra import numpy as hnp  # noqa: E402
from skorch.callbacks import Callback  # noqa: E402

from sklearn_teracon import ContinualUserEncoder, TaskName  # noqa: E402
from sklearn_teracon import metrics as M  # noqa: E402
from sklearn_teracon._encoder_checks import MAX_LEN  # noqa: E402
from sklearn_teracon._model_file import DESCRIPTION_KEY, DIGEST_KEY  # noqa: E402
from sklearn_teracon.cli import build_parser  # noqa: E402
from sklearn_teracon.evaluation import ContinualReport  # noqa: E402
from sklearn_teracon.strategies.teracon import MAX_SCALE  # noqa: E402
from sklearn_teracon.training.persistence import tensor_digest  # noqa: E402

from .conftest import TINY, make_toy  # noqa: E402

# Cases that train a model are a fifth of the profile's budget.
TRAINING = settings(max_examples=max(8, settings().max_examples // 5))
TASKS = ["next_item", "group", "band"]
TINY = {**TINY, "embedding_dim": 8, "max_len": 8, "max_epochs": 1, "batch_size": 16}
# Words an error message may use to name a bad X, y, task or k.
X_WORDS = ("X", "item", "sequence")
Y_WORDS = ("y", "label", "classes")
TASK_WORDS = ("task",)


# -- helpers --------------------------------------------------------------------
def check_clear(exc: BaseException, *words: str) -> None:
    """A ValueError/TypeError whose message names one of ``words``."""
    assert isinstance(exc, ValueError | TypeError), f"{type(exc).__name__}: {exc}"
    message = str(exc)
    assert any(word in message for word in words), (
        f"the message names none of {words}: {message!r}"
    )


def attempt(call, *words):
    """``(True, result)``, or ``(False, exc)`` for a clear error."""
    try:
        return True, call()
    except Exception as exc:  # checked: only clear errors pass
        check_clear(exc, *words)
        return False, exc


def fingerprint(enc, seqs) -> dict:
    return {
        "tasks": list(enc.tasks_),
        "proba": {t: enc.predict_proba(seqs, task=t).tobytes() for t in enc.tasks_},
        "n_partial_fits": enc.n_partial_fits_,
        "history": {t: len(h) for t, h in enc.history_.items()},
        "items": list(enc.item_vocabulary_.items),
        "params": repr(enc.get_params()),
    }


def check_usable(enc, seqs) -> None:
    """Every task predicts finite, normalised probabilities of the right width."""
    for task in enc.tasks_:
        proba = enc.predict_proba(seqs, task=task)
        assert proba.shape == (len(seqs), len(enc.classes_of(task)))
        assert np.isfinite(proba).all()
        np.testing.assert_allclose(proba.sum(axis=1), 1.0, rtol=1e-5)
    assert enc.transform(seqs).shape == (len(seqs), enc.embedding_dim)


@pytest.fixture(scope="module")
def toy():
    seqs, groups, bands = make_toy(n_users=40, seed=3)
    seqs = [s[:8] for s in seqs]
    return seqs, groups, np.array(["low", "mid", "high"])[bands]


@pytest.fixture(scope="module")
def fitted(toy):
    """One tiny encoder with a next-item, an int- and a str-labelled task."""
    seqs, groups, bands = toy
    enc = ContinualUserEncoder(**TINY).partial_fit(seqs)
    enc.partial_fit(seqs, groups, task="group")
    enc.partial_fit(seqs, bands, task="band")
    return enc, seqs[:6], fingerprint(enc, seqs[:6])


@pytest.fixture(scope="module")
def saved(fitted, tmp_path_factory):
    enc, _, _ = fitted
    path = tmp_path_factory.mktemp("model") / "model.safetensors"
    enc.save(path)
    return path


# -- strategies -----------------------------------------------------------------
known_items = st.integers(1, 45)
item_ids = st.one_of(
    known_items,
    st.integers(-(2**70), 2**70),
    st.text(max_size=3),
    st.floats(),
    st.booleans(),
    st.none(),
    st.binary(max_size=2),
    st.complex_numbers(max_magnitude=4),
    st.lists(st.integers(), max_size=2),
    st.tuples(known_items),
)
good_X = st.lists(st.lists(known_items, min_size=1, max_size=6), min_size=1, max_size=4)
ragged_X = st.lists(
    st.one_of(st.lists(item_ids, max_size=5), st.tuples(item_ids), item_ids),
    max_size=4,
)
padded_X = hnp.arrays(
    dtype=st.sampled_from(["int64", "int32", "uint64", "float64", "U2", "bool"]),
    shape=hnp.array_shapes(min_dims=0, max_dims=3, min_side=0, max_side=4),
)
junk = st.sampled_from([None, "abc", b"x", 3, 2.5, {1: 2}, {1, 2}, object()])
any_X = st.one_of(good_X, good_X, ragged_X, padded_X, junk)
any_task = st.one_of(
    st.sampled_from(TASKS),
    st.none(),
    st.builds(TaskName, st.sampled_from(TASKS)),
    st.text(max_size=4),
    st.integers(),
    st.lists(st.characters(), max_size=3),
    st.sampled_from([b"band", "", ["g", "r"]]),
)
labels = st.one_of(
    st.integers(0, 3),
    st.sampled_from(["a", "b", "c"]),
    st.floats(),
    st.none(),
    st.binary(max_size=1),
    st.booleans(),
    st.tuples(st.integers(0, 2)),
)
any_y = st.one_of(
    st.none(),
    st.lists(labels, max_size=6),
    st.lists(st.sampled_from(["low", "mid", "high"]), max_size=6),
    hnp.arrays(
        dtype=st.sampled_from(["int64", "float64", "U3"]),
        shape=hnp.array_shapes(min_dims=0, max_dims=2, min_side=0, max_side=6),
    ),
    junk,
)
any_k = st.one_of(
    st.integers(-3, 60),
    st.integers(),
    st.floats(),
    st.none(),
    st.booleans(),
    st.sampled_from(["3", np.int64(2), np.float64(2.0)]),
)


# -- inference --------------------------------------------------------------------
INFERENCE = ["transform", "predict", "predict_proba", "decision_function", "recommend"]


@given(X=any_X, task=any_task, method=st.sampled_from(INFERENCE))
def test_inference_works_or_fails_clearly(fitted, X, task, method):
    enc, seqs, before = fitted
    ok, out = attempt(lambda: getattr(enc, method)(X, task=task), *X_WORDS, *TASK_WORDS)
    if ok:
        assert len(out) == len(X) if isinstance(X, list) else out.ndim >= 1
        if out.dtype.kind == "f":
            assert np.isfinite(out).all()
    assert fingerprint(enc, seqs) == before


@given(X=good_X, task=st.sampled_from(TASKS), k=any_k)
def test_recommend_k(fitted, X, task, k):
    enc, _, _ = fitted
    ok, out = attempt(lambda: enc.recommend(X, task=task, k=k), "k")
    if ok:
        n_classes = len(enc.classes_of(task))
        assert out.shape == (len(X), min(int(k), n_classes))
        assert np.isin(out, enc.classes_of(task)).all()


@given(task=any_task)
def test_classes_of(fitted, task):
    enc, _, _ = fitted
    ok, classes = attempt(lambda: enc.classes_of(task), *TASK_WORDS)
    if ok:
        assert len(classes) >= 1


@given(X=any_X, y=any_y, task=any_task)
def test_score(fitted, X, y, task):
    enc, seqs, before = fitted
    ok, value = attempt(
        lambda: enc.score(X, y, task=task), *X_WORDS, *Y_WORDS, *TASK_WORDS
    )
    if ok:
        assert 0.0 <= value <= 1.0
    assert fingerprint(enc, seqs) == before


# -- training ---------------------------------------------------------------------
@TRAINING
@given(X=any_X, y=any_y, task=any_task, classes=st.one_of(st.none(), any_y))
def test_partial_fit_works_or_changes_nothing(fitted, X, y, task, classes):
    enc, seqs, before = fitted
    enc = copy.deepcopy(enc)
    ok, _ = attempt(
        lambda: enc.partial_fit(X, y, task=task, classes=classes),
        *X_WORDS,
        *Y_WORDS,
        *TASK_WORDS,
    )
    if ok:
        check_usable(enc, seqs)
    else:
        assert fingerprint(enc, seqs) == before


def _operations(seqs, groups):
    """Calls a user may make on a fitted encoder, failing ones included."""
    new_items = [s + [100 + i] for i, s in enumerate(seqs)]

    def diverge(enc):
        lr = enc.lr
        try:
            enc.set_params(lr=1e30).partial_fit(new_items, groups, task="g2")
        finally:
            enc.set_params(lr=lr)

    def resize(enc):
        try:
            enc.set_params(embedding_dim=16).partial_fit(seqs)
        finally:
            enc.set_params(embedding_dim=TINY["embedding_dim"])

    return {
        "diverge": diverge,
        "resize": resize,
        "bad labels": lambda enc: enc.partial_fit(seqs, [None] * len(seqs), task="g"),
        "labels for next_item": lambda enc: enc.partial_fit(seqs, groups, task=None),
        "wrong kind": lambda enc: enc.partial_fit(seqs, groups, task="next_item"),
        "new items": lambda enc: enc.partial_fit(new_items),
        "new task": lambda enc: enc.partial_fit(seqs, groups, task="g"),
    }


@TRAINING
@given(names=st.lists(st.sampled_from(sorted(_operations([], []))), max_size=5))
def test_failed_calls_leave_a_usable_encoder(fitted, toy, names):
    enc, seqs, _ = fitted
    enc = copy.deepcopy(enc)
    operations = _operations(toy[0][:12], toy[1][:12])
    for name in names:
        before = fingerprint(enc, seqs)
        ok, _ = attempt(
            functools.partial(operations[name], enc),
            *X_WORDS,
            *Y_WORDS,
            "task",
            "diverged",
            "embedding_dim",
        )
        if not ok:
            assert fingerprint(enc, seqs) == before, name
    check_usable(enc, seqs)


def _param_values():
    floats = st.one_of(st.floats(), st.sampled_from([0, 1, -1, 1e30, MAX_SCALE]))
    return {
        "embedding_dim": st.sampled_from([0, -1, 4, 8, 2.5, "8", None, True, 10**9]),
        "n_blocks": st.sampled_from([0, 1, 2, 1.0, None, 10**9]),
        "dilations": st.one_of(
            st.none(),
            st.lists(st.one_of(st.integers(-2, 2000), st.floats()), max_size=3),
            st.sampled_from(["1", {1: 1}, 3, [[1]]]),
        ),
        "kernel_size": st.sampled_from([0, 1, 2, 3, 1.5, 10**7]),
        "max_len": st.sampled_from([0, 1, 2, 3, MAX_LEN, MAX_LEN + 1, 2.0]),
        "s": floats,
        "c": floats,
        "alpha": floats,
        "rho_min": floats,
        "lr": floats,
        "batch_size": st.sampled_from([0, 1, 2, 10**12, 1.5]),
        "max_epochs": st.sampled_from([0, 1, -1, 1.0, 2]),
        "patience": st.sampled_from([None, 0, 1, 2.5]),
        "validation_fraction": floats,
        "padding_value": st.one_of(
            st.integers(),
            st.text(max_size=2),
            st.none(),
            st.sampled_from([[1], 2**70, float("nan"), b"x", (0,), 1.5]),
        ),
        "device": st.sampled_from(["cpu", "", "cuda:99", "tpu", 3, None]),
        "random_state": st.sampled_from([None, 0, -1, 2**32, 1.5, "x"]),
        "verbose": st.sampled_from([0, -1, "x", 2.5, False]),
        "callbacks": st.sampled_from(
            [None, [], "x", 3, [1], [("cb", 1)], [(1, Callback())], [Callback]]
        ),
    }


@TRAINING
@given(data=st.data())
def test_any_parameters_train_and_round_trip_or_fail_clearly(
    toy, tmp_path_factory, data
):
    seqs, groups, _ = toy
    values = _param_values()
    names = data.draw(st.lists(st.sampled_from(sorted(values)), min_size=1, max_size=2))
    params = {name: data.draw(values[name], label=name) for name in names}
    enc = ContinualUserEncoder(**{**TINY, **params})
    ok, _ = attempt(
        lambda: enc.fit(seqs[:12]).partial_fit(seqs[:12], groups[:12], task="g"),
        *params,
        "diverged",
    )
    if not ok:
        return
    check_usable(enc, seqs[:5])
    path = tmp_path_factory.mktemp("params") / "m.safetensors"
    enc.save(path)
    loaded = ContinualUserEncoder.load(path)
    for task in enc.tasks_:
        np.testing.assert_array_equal(
            loaded.predict_proba(seqs[:5], task=task),
            enc.predict_proba(seqs[:5], task=task),
        )


@TRAINING
@given(seed=st.integers(0, 2**32 - 1), alpha=st.floats(0, 2), c=st.floats(0.1, 20))
def test_same_random_state_same_model(toy, seed, alpha, c):
    seqs, groups, _ = toy
    runs = []
    for _ in range(2):
        enc = ContinualUserEncoder(**{**TINY, "random_state": seed, "alpha": alpha})
        enc.set_params(c=c).partial_fit(seqs[:16]).partial_fit(
            seqs[:16], groups[:16], task="g"
        )
        runs.append(fingerprint(enc, seqs[:5])["proba"])
    assert runs[0] == runs[1]


@TRAINING
@given(
    task=any_task,
    params=st.dictionaries(
        st.sampled_from(
            ["s", "c", "alpha", "lr", "max_epochs", "embedding_dim", "nope"]
        ),
        st.one_of(st.floats(), st.integers(-2, 5), st.none()),
        max_size=2,
    ),
)
def test_task_estimator(fitted, task, params):
    enc, seqs, before = fitted
    ok, view = attempt(lambda: enc.task_estimator(task, **params), "task", *params)
    if ok:
        labels = np.arange(len(seqs)) % 2
        attempt(lambda: view.fit(seqs, labels), "task", *params, "diverged")
    assert fingerprint(enc, seqs) == before


# -- model files ------------------------------------------------------------------
def _valid_params():
    return st.fixed_dictionaries(
        {},
        optional={
            "s": st.floats(1, MAX_SCALE),
            "c": st.floats(0, MAX_SCALE, exclude_min=True),
            "alpha": st.floats(0, MAX_SCALE),
            "rho_min": st.floats(0, 1, exclude_min=True),
            "lr": st.floats(1e-300, 1e300),
            "batch_size": st.integers(1, 10**6),
            "max_len": st.integers(2, MAX_LEN),
            "max_epochs": st.integers(1, 10**6),
            "patience": st.one_of(st.none(), st.integers(1, 10**6)),
            "validation_fraction": st.floats(0, 1, exclude_max=True),
            "padding_value": st.one_of(
                st.integers(-(2**63), 2**63 - 1),
                st.text(max_size=3),
                st.none(),
                st.floats(allow_nan=False, allow_infinity=False),
                st.booleans(),
            ),
            "verbose": st.integers(0, 3),
            "random_state": st.one_of(st.none(), st.integers(0, 2**32 - 1)),
            "relation": st.sampled_from(["centered", "paper"]),
            "sampling": st.sampled_from(["relation_aware", "uniform"]),
        },
    )


@given(params=_valid_params())
def test_save_load_round_trip_for_any_valid_parameters(
    fitted, tmp_path_factory, params
):
    enc, seqs, _ = fitted
    enc = copy.copy(enc).set_params(**params)
    path = tmp_path_factory.mktemp("round_trip") / "m.safetensors"
    enc.save(path)
    loaded = ContinualUserEncoder.load(path)
    assert loaded.get_params() == enc.get_params()
    assert fingerprint(loaded, seqs)["proba"] == fingerprint(enc, seqs)["proba"]


@given(data=st.data())
def test_modified_model_file_bytes_are_refused_or_harmless(
    fitted, saved, tmp_path_factory, data
):
    enc, seqs, before = fitted
    raw = bytearray(saved.read_bytes())
    header_end = 8 + int.from_bytes(raw[:8], "little")
    position = data.draw(st.integers(0, len(raw) - 1), label="position")
    raw[position] ^= data.draw(st.integers(1, 255), label="xor")
    path = tmp_path_factory.mktemp("flip") / "m.safetensors"
    path.write_bytes(bytes(raw))
    try:
        loaded = ContinualUserEncoder.load(path)
    except ValueError as exc:
        assert str(path) in str(exc)
        if position >= header_end:
            assert "tampered or corrupt" in str(exc)
    else:
        assert position < header_end
        assert fingerprint(loaded, seqs)["proba"] == before["proba"]


json_values = st.recursive(
    st.one_of(
        st.none(),
        st.booleans(),
        st.integers(-(2**70), 2**70),
        st.floats(),
        st.text(max_size=4),
    ),
    lambda inner: (
        st.lists(inner, max_size=3)
        | st.dictionaries(st.text(max_size=3), inner, max_size=3)
    ),
    max_leaves=8,
)


def _edit(data, node):
    """Replace, delete or add one value somewhere in a JSON tree (in place)."""
    while True:
        keys = list(node) if isinstance(node, dict) else list(range(len(node)))
        if not keys:
            break
        key = data.draw(st.sampled_from(keys))
        child = node[key]
        if isinstance(child, dict | list) and data.draw(st.booleans()):
            node = child
            continue
        action = data.draw(st.sampled_from(["replace", "delete", "add"]))
        if action == "replace":
            node[key] = data.draw(json_values)
        elif isinstance(node, dict):
            if action == "delete":
                del node[key]
            else:
                node[data.draw(st.text(max_size=4))] = data.draw(json_values)
        elif action == "delete":
            del node[key]
        else:
            node.append(data.draw(json_values))
        return


@given(data=st.data())
def test_edited_model_descriptions_are_refused_or_load_usable(
    fitted, saved, tmp_path_factory, data
):
    from safetensors import safe_open
    from safetensors.torch import save_file

    _, seqs, _ = fitted
    with safe_open(str(saved), framework="pt") as f:
        description = json.loads(f.metadata()[DESCRIPTION_KEY])
        tensors = {k: f.get_tensor(k) for k in f.keys()}
    _edit(data, description)
    table = description.get("tensors") if isinstance(description, dict) else None
    for name, entry in table.items() if isinstance(table, dict) else ():
        if isinstance(entry, dict) and name in tensors and "sha256" in entry:
            if data.draw(st.booleans(), label="keep digest"):
                entry["sha256"] = tensor_digest(tensors[name])
    text = json.dumps(description)
    digest = hashlib.sha256(text.encode()).hexdigest()
    path = tmp_path_factory.mktemp("edit") / "m.safetensors"
    save_file(tensors, str(path), metadata={DESCRIPTION_KEY: text, DIGEST_KEY: digest})
    ok, loaded = attempt(lambda: ContinualUserEncoder.load(path), "tampered", "format")
    if ok:
        check_usable(loaded, seqs)


# -- metrics, reports and the command line ----------------------------------------
scores_like = st.one_of(
    hnp.arrays(
        dtype=st.sampled_from(["float64", "float32", "int64", "bool", "U1"]),
        shape=hnp.array_shapes(min_dims=0, max_dims=3, min_side=0, max_side=5),
    ),
    # Rows of one length: ragged rows are the known issue tested below.
    st.integers(0, 4).flatmap(
        lambda n: st.lists(st.lists(st.floats(), min_size=n, max_size=n), max_size=4)
    ),
    junk,
)
targets_like = st.one_of(
    hnp.arrays(
        dtype=st.sampled_from(["int64", "float64", "U1"]),
        shape=hnp.array_shapes(min_dims=0, max_dims=2, min_side=0, max_side=5),
    ),
    st.lists(st.integers(-2, 5), max_size=5),
    junk,
)


@given(
    fn=st.sampled_from([M.mrr_at_k, M.hit_rate_at_k, M.ndcg_at_k]),
    scores=scores_like,
    targets=targets_like,
    k=any_k,
)
def test_ranking_metrics(fn, scores, targets, k):
    ok, value = attempt(lambda: fn(scores, targets, k=k), "scores", "targets", "k")
    if ok:
        assert 0.0 <= value <= 1.0


@pytest.mark.parametrize(
    "call",
    [
        lambda: M.mrr_at_k([[0.1, 0.2], [0.3]], [0, 0]),
        lambda: M.target_ranks([[0.1, 0.2], [0.3]], [0, 0]),
        lambda: M.accuracy([[1], [1, 2]], [1, 2]),
    ],
)
def test_ragged_metric_input_names_the_argument(call):
    with pytest.raises(ValueError, match="scores|y_true|ragged"):
        call()


def test_float_labels_are_class_labels_for_accuracy():
    assert M.accuracy([0.5, 1.0], [0.5, 2.0]) == 0.5


@given(scores=scores_like, targets=targets_like)
def test_target_ranks(scores, targets):
    ok, ranks = attempt(lambda: M.target_ranks(scores, targets), "scores", "targets")
    if ok:
        assert (np.asarray(ranks) >= 1).all()


@given(
    metric=st.one_of(
        st.sampled_from(["accuracy", "mrr@5", "hr@1", "ndcg@10", "mrr@0", "x"]),
        st.text(max_size=6),
        st.integers(),
        st.none(),
    ),
    scores=scores_like,
    targets=targets_like,
)
def test_score_with_metric(metric, scores, targets):
    ok, value = attempt(
        lambda: M.score_with_metric(metric, scores, targets),
        "metric",
        "scores",
        "targets",
    )
    if ok:
        assert 0.0 <= value <= 1.0


class_labels = st.one_of(
    hnp.arrays(
        dtype=st.sampled_from(["int64", "U1", "bool"]),
        shape=hnp.array_shapes(min_dims=0, max_dims=2, min_side=0, max_side=5),
    ),
    st.lists(st.integers(-2, 5), max_size=5),
    junk,
)


@given(y_true=class_labels, y_pred=class_labels)  # float labels: the known issue
def test_accuracy(y_true, y_pred):
    ok, value = attempt(
        lambda: M.accuracy(y_true, y_pred), "y_true", "y_pred", "label", "target"
    )
    if ok:
        assert 0.0 <= value <= 1.0


@given(R=scores_like, single=targets_like)
def test_transfer_metrics(R, single):
    for call in (
        lambda: M.backward_transfer(R),
        lambda: M.forgetting(R),
        lambda: M.forward_transfer(R, single),
    ):
        attempt(call, "R", "single_task_scores")


@given(n=st.one_of(st.integers(), st.floats(), st.none(), st.text(max_size=2)))
def test_default_metric(n):
    ok, metric = attempt(lambda: M.default_metric(n), "n_classes")
    if ok:
        assert metric in ("accuracy", "mrr@5")


def _report_dict() -> dict:
    report = ContinualReport(
        task_names=["next_item", "age"],
        metrics=["mrr@5", "accuracy"],
        R=np.array([[0.1, np.nan], [0.09, 0.5]]),
        single_task_scores=np.array([0.1, 0.45]),
        fit_times=np.array([1.0, 2.0]),
        task_kinds=["next_item", "labels"],
    )
    return json.loads(report.to_json())


@given(data=st.data())
def test_report_from_json(data):
    description = _report_dict()
    if data.draw(st.booleans()):
        _edit(data, description)
        text = json.dumps(description)
    else:
        text = data.draw(st.one_of(st.text(max_size=20), st.binary(max_size=8)))
    ok, report = attempt(lambda: ContinualReport.from_json(text), "report", "JSON")
    if ok:
        assert report.R.shape == (report.n_tasks, report.n_tasks)
        report.to_text()


OPTIONS = [
    "--dataset",
    "synthetic",
    "--tasks",
    "--noise-task",
    "--n-users",
    "--n-items",
    "--epochs",
    "--embedding-dim",
    "--n-blocks",
    "--batch-size",
    "--device",
    "--threads",
    "--seed",
    "--no-single-task",
    "--out",
    "-q",
    "0",
    "-1",
    "3",
    "1" * 5000,
    "a,b",
    ",",
]


@given(
    argv=st.lists(st.one_of(st.sampled_from(OPTIONS), st.text(max_size=5)), max_size=6)
)
def test_cli_arguments_parse_or_exit_with_usage(argv):
    parser = build_parser()
    err = io.StringIO()
    with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
        try:
            parser.parse_args(["run", *argv])
        except SystemExit as exc:
            assert exc.code == 2, exc.code
            assert "error:" in err.getvalue()


# -- faults found by fuzzing and by trying the library as a new user (#23) -------
# Each wrong call fails at that call with a ValueError/TypeError naming the
# problem, and leaves the encoder as it was.
def _refused(enc, seqs, call, error, match):
    before = fingerprint(enc, seqs)
    with pytest.raises(error, match=match):
        call()
    assert fingerprint(enc, seqs) == before


@pytest.mark.parametrize(
    "callbacks",
    [[1], [("cb", 1)], [(1, Callback())], [("a", Callback(), 3)], [Callback(), None]],
)
def test_a_bad_callback_is_named_at_fit(toy, callbacks):
    seqs, _, _ = toy
    enc = ContinualUserEncoder(**TINY, callbacks=callbacks)
    bad = next(i for i, cb in enumerate(callbacks) if not isinstance(cb, Callback))
    with pytest.raises(ValueError, match=rf"'callbacks' parameter.*callbacks\[{bad}\]"):
        enc.partial_fit(seqs)
    assert not hasattr(enc, "net_")


def test_callbacks_as_instances_classes_and_named_tuples_train(toy):
    from skorch.callbacks import EpochTimer

    seqs, _, _ = toy
    for callbacks in ([EpochTimer()], [EpochTimer], [("timer", EpochTimer())]):
        ContinualUserEncoder(**TINY, callbacks=callbacks).partial_fit(seqs[:12])


unsavable_padding = st.one_of(
    st.sampled_from([[1], (0,), {1}, b"x", float("nan"), float("inf"), 1j]),
    st.integers(2**63, 2**80),
    st.integers(-(2**80), -(2**63) - 1),
)


@given(padding=unsavable_padding)
def test_a_padding_value_save_would_refuse_is_refused_by_partial_fit(fitted, padding):
    enc, seqs, before = fitted
    enc = copy.copy(enc).set_params(padding_value=padding)
    with pytest.raises(ValueError, match="'padding_value' parameter"):
        enc.partial_fit(seqs)
    with pytest.raises(ValueError, match="'padding_value' parameter"):
        enc.transform(np.ones((2, 3), dtype=bool))  # inference checks it too
    assert fingerprint(enc.set_params(padding_value=0), seqs) == before


@TRAINING
@given(padding=st.one_of(st.integers(-(2**63), 2**63 - 1), st.text(), st.none()))
def test_a_padding_value_partial_fit_accepts_can_be_saved(
    toy, tmp_path_factory, padding
):
    seqs, _, _ = toy
    enc = ContinualUserEncoder(**TINY, padding_value=padding).partial_fit(seqs[:12])
    path = tmp_path_factory.mktemp("padding") / "m.safetensors"
    enc.save(path)
    assert ContinualUserEncoder.load(path).padding_value == padding


def test_a_padding_value_beyond_int64_with_a_bool_array_is_a_value_error():
    from sklearn_teracon._sequences import check_sequences

    with pytest.raises(ValueError, match="padding_value=.* dtype bool"):
        check_sequences(np.ones((2, 2), dtype=bool), padding_value=2**70)


@pytest.mark.parametrize("max_len", [0, -3, 1, MAX_LEN + 1, 2.5, True, None, "8"])
@pytest.mark.parametrize("method", [*INFERENCE, "score"])
def test_a_max_len_set_after_fit_is_checked_by_inference(fitted, max_len, method):
    enc, seqs, _ = fitted
    enc = copy.copy(enc).set_params(max_len=max_len)
    args = (seqs, None, "next_item") if method == "score" else (seqs,)
    with pytest.raises(ValueError, match="'max_len' parameter"):
        getattr(enc, method)(*args)


def test_another_valid_max_len_after_fit_reads_fewer_items(fitted):
    enc, seqs, _ = fitted
    short = copy.copy(enc).set_params(max_len=3)
    np.testing.assert_array_equal(
        short.transform(seqs), enc.transform([s[-3:] for s in seqs])
    )


@pytest.mark.parametrize(
    "y",
    [
        [(1,), b"x", "s"] * 2,
        [(1, 2), (1, 2), "s"] * 2,
        [b"x", "s", 1] * 2,
        [(1,), 2, (3,)] * 2,
    ],
)
def test_labels_of_mixed_kinds_are_named(fitted, y):
    enc, seqs, _ = fitted
    _refused(
        enc, seqs, lambda: enc.partial_fit(seqs, y, task="m"), TypeError, "y mixes"
    )


@pytest.mark.parametrize(
    "classes, match",
    [
        ([0, 1, float("nan")], r"classes contains a missing value \(nan"),
        ([0, 1, None], r"classes contains a missing value \(None"),
        ([0, 1, float("inf")], "classes contains a missing value"),
        ([0, "a"], "classes mixes labels"),
        ([[0, 1], [2]], "classes must be a 1-D"),
        ([], "classes is empty"),
        ("ab", "classes must be a 1-D"),
    ],
)
def test_classes_with_missing_or_mixed_labels_are_refused(fitted, classes, match):
    enc, seqs, _ = fitted
    y = np.arange(len(seqs)) % 2

    def call():
        enc.partial_fit(seqs, y, task="m", classes=classes)

    _refused(enc, seqs, call, (ValueError, TypeError), match)
    # A task that exists checks them too, before comparing with its classes.
    _refused(
        enc,
        seqs,
        lambda: enc.partial_fit(seqs, y, task="group", classes=classes),
        (ValueError, TypeError),
        match,
    )


@pytest.mark.parametrize("fraction", [0.99, 0.999, 1 - 1e-9])
def test_a_validation_fraction_holding_out_every_user_is_ours_to_refuse(toy, fraction):
    seqs, _, _ = toy
    enc = ContinualUserEncoder(**{**TINY, "validation_fraction": fraction})
    n = len(seqs)
    with pytest.raises(
        ValueError, match=rf"validation_fraction={fraction}.* {n} of the {n} users"
    ):
        enc.partial_fit(seqs)
    assert not hasattr(enc, "net_")
    # Too few users to hold out one still trains, without validation.
    ContinualUserEncoder(**{**TINY, "validation_fraction": 0.2}).partial_fit(seqs[:3])


@pytest.mark.parametrize("random_state", [0, None])
@pytest.mark.parametrize("validation_fraction", [0.0, 0.25])
def test_training_leaves_the_global_random_states_as_they_were(
    toy, random_state, validation_fraction
):
    import torch

    seqs, groups, _ = toy
    enc = ContinualUserEncoder(
        **{
            **TINY,
            "random_state": random_state,
            "validation_fraction": validation_fraction,
        }
    )
    torch_before = torch.get_rng_state()
    numpy_before = np.random.get_state()  # noqa: NPY002 (the global one)
    enc.partial_fit(seqs).partial_fit(seqs, groups, task="g")
    assert torch.equal(torch.get_rng_state(), torch_before)
    enc.transform(seqs), enc.recommend(seqs, task="next_item"), enc.score(seqs, groups)
    assert torch.equal(torch.get_rng_state(), torch_before)  # inference too
    if random_state is not None:  # None draws its seed from NumPy's generator
        numpy_after = np.random.get_state()  # noqa: NPY002
        assert numpy_after[0] == numpy_before[0]
        np.testing.assert_array_equal(numpy_after[1], numpy_before[1])
        assert numpy_after[2:] == numpy_before[2:]


def _interaction_tables():
    import pandas as pd

    events = {
        "user": [1, 1, 2, 2],
        "item": [10, 11, 10, 12],
        "timestamp": [5, 6, 7, 8],
        "rating": [4.0, 5.0, 3.0, 1.0],
    }
    movielens = {"userId": [1, 2], "movieId": [3, 4], "rating": [5, 4]}
    tables = {
        "pandas, user/item/timestamp/rating": pd.DataFrame(events),
        "pandas, MovieLens names": pd.DataFrame(movielens),
        "pandas, item only": pd.DataFrame({"item_id": [1, 2, 3]}),
        "pandas, kinds mixed": pd.DataFrame({"a": ["u1", "u2"], "b": [1.5, 2.5]}),
        "object array, strings and floats": np.array(
            [["u1", "i1", 3.0], ["u2", "i2", 4.0]], dtype=object
        ),
    }
    try:
        import polars as pl
    except ImportError:
        pass
    else:
        tables["polars"] = pl.DataFrame(events)
    try:
        import pyarrow as pa
    except ImportError:
        pass
    else:
        tables["pyarrow"] = pa.table(events)
        tables["pyarrow, unnamed"] = pa.table({"a": [1, 2], "b": [3, 4]})
    return tables


@pytest.mark.parametrize("kind", sorted(_interaction_tables()))
@pytest.mark.parametrize("method", ["partial_fit", "transform", "predict", "score"])
def test_an_interaction_table_as_x_points_to_sequences_from_interactions(
    fitted, kind, method
):
    enc, seqs, _ = fitted
    table = _interaction_tables()[kind]
    enc = copy.deepcopy(enc) if method == "partial_fit" else enc
    task = {} if method == "partial_fit" else {"task": "next_item"}
    call = functools.partial(getattr(enc, method), table, **task)
    _refused(enc, seqs, call, (ValueError, TypeError), "sequences_from_interactions")


def test_a_padded_dataframe_of_one_dtype_is_still_a_2d_array(fitted):
    import pandas as pd

    enc, seqs, _ = fitted
    padded = np.array([[0, 3, 4], [5, 6, 7]])
    np.testing.assert_array_equal(
        enc.transform(pd.DataFrame(padded)), enc.transform([[3, 4], [5, 6, 7]])
    )


@pytest.mark.parametrize("dtype", ["U", "S", "O"])
def test_a_string_array_needs_the_string_that_pads_it(toy, dtype):
    from sklearn_teracon._sequences import check_sequences

    X = np.array([["PAD", "a", "b"], ["c", "d", "e"]]).astype(dtype)
    if dtype == "S":
        X = np.array([[b"PAD", b"a", b"b"], [b"c", b"d", b"e"]])
    with pytest.raises(ValueError, match="padding_value='PAD'"):
        check_sequences(X)  # the default padding_value=0 pads nothing here
    enc = ContinualUserEncoder(**TINY)
    with pytest.raises(ValueError, match="2-D array of strings"):
        enc.partial_fit(X)
    assert len(check_sequences(X, padding_value="PAD")[0]) == 2
    assert len(check_sequences(X, padding_value=None)[0]) == 3
    with pytest.raises(ValueError, match="2-D array of numbers"):
        check_sequences(np.array([[0, 1, 2]]), padding_value="PAD")


@pytest.mark.parametrize("container", ["pandas", "polars", "default"])
def test_set_output_survives_save_and_load(fitted, tmp_path, container):
    enc, seqs, _ = fitted
    if container == "polars":
        pytest.importorskip("polars")
    enc = copy.deepcopy(enc).set_output(transform=container)
    enc.save(tmp_path / "m.safetensors")
    loaded = ContinualUserEncoder.load(tmp_path / "m.safetensors")
    assert type(loaded.transform(seqs)) is type(enc.transform(seqs))
    assert loaded._sklearn_output_config == {"transform": container}


def test_a_file_without_set_output_has_no_such_key(fitted, saved):
    from safetensors import safe_open

    with safe_open(str(saved), framework="pt") as f:
        assert "set_output" not in json.loads(f.metadata()[DESCRIPTION_KEY])
    assert not hasattr(ContinualUserEncoder.load(saved), "_sklearn_output_config")


def test_transform_keeps_the_index_of_series_and_user_sequences(fitted):
    import pandas as pd

    from sklearn_teracon.datasets import sequences_from_interactions

    enc, seqs, _ = fitted
    enc = copy.deepcopy(enc).set_output(transform="pandas")
    series = pd.Series(seqs[:3], index=["ann", "bob", "cy"])
    assert enc.transform(series).index.tolist() == ["ann", "bob", "cy"]
    users = sequences_from_interactions(
        {"user": ["b", "a", "a"], "item": [1, 2, 3], "timestamp": [0, 1, 2]}
    )
    out = enc.transform(users)
    assert out.index.tolist() == ["a", "b"]
    np.testing.assert_array_equal(out.to_numpy(), enc.transform([[2, 3], [1]]))
    assert isinstance(copy.deepcopy(enc).partial_fit(users), ContinualUserEncoder)
    assert enc.set_output(transform="default").transform(series).shape == (3, 8)


def test_new_labels_without_task_hint_at_naming_a_new_task(fitted):
    enc, seqs, _ = fitted
    new_labels = np.arange(len(seqs)) % 2 + 7
    _refused(
        enc,
        seqs,
        lambda: enc.partial_fit(seqs, new_labels),
        ValueError,
        "classes of task 'band'.*pass task='<new name>' to learn a new task",
    )
    with pytest.raises(ValueError, match="classes of task 'band'") as info:
        enc.partial_fit(seqs, new_labels, task="band")
    assert "task='<new name>'" not in str(info.value)


@pytest.mark.parametrize("compress", [None, 0, 3, "gzip", "bz2", "xz", "lzma"])
def test_loading_a_pickle_or_joblib_file_says_what_it_is(fitted, tmp_path, compress):
    import pickle

    import joblib

    enc, _, _ = fitted
    path = tmp_path / "enc.model"
    if compress is None:
        path.write_bytes(pickle.dumps(enc))
    else:
        joblib.dump(enc, path, compress=compress)
    with pytest.raises(
        ValueError, match=r"looks like a .*(pickle|joblib).*joblib.load"
    ):
        ContinualUserEncoder.load(path)


def test_load_reads_the_file_once_so_a_concurrent_save_cannot_mix_two(
    fitted, tmp_path, monkeypatch
):
    """A save landing while a file is loaded: the load sees one whole file."""
    import builtins

    enc, seqs, before = fitted
    other = copy.deepcopy(enc).set_params(s=20.0)
    path = tmp_path / "m.safetensors"
    enc.save(path)
    real_open, opened = builtins.open, []

    def open_then_save(file, *args, **kwargs):
        handle = real_open(file, *args, **kwargs)
        if str(file) == str(path):
            opened.append(file)
            monkeypatch.setattr(builtins, "open", real_open)
            other.save(path)  # lands between this open and any later one
            monkeypatch.setattr(builtins, "open", open_then_save)
        return handle

    monkeypatch.setattr(builtins, "open", open_then_save)
    loaded = ContinualUserEncoder.load(path)
    monkeypatch.setattr(builtins, "open", real_open)
    assert len(opened) == 1
    assert fingerprint(loaded, seqs)["proba"] == before["proba"]
    assert ContinualUserEncoder.load(path).s == 20.0


@pytest.mark.parametrize("step", ["write", "fsync", "chmod", "replace"])
def test_a_failed_save_leaves_the_old_file_and_no_temporary_file(
    fitted, tmp_path, monkeypatch, step
):
    from sklearn_teracon import _model_io

    enc, _, _ = fitted
    path = tmp_path / "m.safetensors"
    enc.save(path)
    path.chmod(0o644)  # an existing file: its mode is set on the new one
    data = path.read_bytes()

    def fail(*args, **kwargs):
        raise OSError(f"{step} failed")

    monkeypatch.setattr(_model_io.os, step, fail)
    with pytest.raises(OSError, match=f"{step} failed"):
        copy.deepcopy(enc).set_params(s=20.0).save(path)
    monkeypatch.undo()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m.safetensors"]
    assert path.read_bytes() == data

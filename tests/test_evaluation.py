"""ContinualEvaluator and ContinualReport on a small synthetic stream."""

import json
import sys

import numpy as np
import pytest
from sklearn.base import clone

from sklearn_teracon import ContinualUserEncoder
from sklearn_teracon.datasets import make_synthetic_stream
from sklearn_teracon.evaluation import ContinualEvaluator, ContinualReport
from sklearn_teracon.metrics import backward_transfer, forgetting, forward_transfer

from .conftest import TINY

TASKS = ["next_item", "category", "related"]
PARAMS = {**TINY, "embedding_dim": 8, "max_len": 10, "max_epochs": 1}


@pytest.fixture(scope="module")
def stream():
    full = make_synthetic_stream(n_users=120, n_items=48, max_len=10, random_state=0)
    return full.select(TASKS)


def make_encoder(**params):
    return ContinualUserEncoder(**{**PARAMS, **params})


@pytest.fixture(scope="module")
def run(stream):
    """One evaluation with computed single-task scores, shared by the tests."""
    evaluator = ContinualEvaluator(make_encoder())
    report = evaluator.evaluate(stream)
    return evaluator, report


def assert_same_report(a, b):
    assert a.task_names == b.task_names
    assert a.metrics == b.metrics
    assert a.task_kinds == b.task_kinds
    for name in (
        "R",
        "single_task_scores",
        "fit_times",
        "single_task_fit_times",
        "task_relations",
    ):
        np.testing.assert_array_equal(getattr(a, name), getattr(b, name), err_msg=name)
    assert a.single_task_source == b.single_task_source
    assert a.history == b.history
    assert a.params == b.params
    assert a.stream == b.stream
    assert a.n_test == b.n_test
    np.testing.assert_equal(a.total_time, b.total_time)
    np.testing.assert_equal(a.vs_best_baseline, b.vs_best_baseline)


# --------------------------------------------------------------------------- #
# the matrix R
# --------------------------------------------------------------------------- #
def test_R_is_lower_triangular_with_a_filled_diagonal(run):
    _, report = run
    T = len(TASKS)
    assert report.task_names == TASKS
    assert report.R.shape == (T, T)
    lower = np.tril(np.ones((T, T), dtype=bool))
    assert np.all(np.isfinite(report.R[lower]))
    assert np.all(np.isnan(report.R[~lower]))
    np.testing.assert_array_equal(report.diagonal, np.diag(report.R))
    np.testing.assert_array_equal(report.final, report.R[-1])
    assert np.all((report.R[lower] >= 0) & (report.R[lower] <= 1))


def test_R_holds_test_scores_after_each_task(run, stream):
    """R[i, j] is the test score of task j of an encoder trained through task i."""
    _, report = run
    enc = make_encoder()
    for i, task in enumerate(stream):
        enc.partial_fit(*task.train, task=task.name)
        for j, other in enumerate(list(stream)[: i + 1]):
            expected = enc.score(*other.test, task=other.name)
            assert report.R[i, j] == pytest.approx(expected, abs=1e-12), (i, j)
    # each task in its own metric, the encoder's
    assert report.metrics == [enc.tasks_[name].metric for name in TASKS]
    assert report.metrics == ["mrr@5", "accuracy", "accuracy"]
    assert report.n_test == [len(task.test[0]) for task in stream]


def test_transfer_quantities_come_from_R(run):
    _, report = run
    assert report.bwt == backward_transfer(report.R)
    assert report.forgetting == forgetting(report.R)
    assert report.fwt == forward_transfer(report.R, report.single_task_scores)
    final_minus_own = report.R[-1, :-1] - np.diag(report.R)[:-1]
    assert report.bwt == pytest.approx(final_minus_own.mean())
    own_minus_single = np.diag(report.R)[1:] - report.single_task_scores[1:]
    assert report.fwt == pytest.approx(own_minus_single.mean())


def test_computed_single_task_scores_train_each_task_alone(run, stream):
    evaluator, report = run
    assert report.single_task_source == "computed"
    # The continual run's first model is trained alone from scratch.
    assert report.single_task_scores[0] == report.R[0, 0]
    for j, task in enumerate(stream):
        if j == 0:
            continue
        alone = make_encoder().partial_fit(*task.train, task=task.name)
        assert list(alone.tasks_) == [task.name]
        expected = alone.score(*task.test, task=task.name)
        assert report.single_task_scores[j] == pytest.approx(expected, abs=1e-12)
        assert list(evaluator.single_task_encoders_[task.name].tasks_) == [task.name]
    assert np.all(np.isfinite(report.single_task_fit_times))
    assert np.all(report.fit_times > 0)


def test_given_single_task_scores_are_used_as_given(run, stream):
    _, computed = run
    given = [np.nan, 0.25, 0.5]
    evaluator = ContinualEvaluator(make_encoder(), single_task=given)
    report = evaluator.evaluate(stream)
    assert report.single_task_source == "given"
    np.testing.assert_array_equal(report.single_task_scores, given)
    assert report.fwt == forward_transfer(report.R, given)
    assert report.fwt == pytest.approx(
        np.mean([report.R[1, 1] - 0.25, report.R[2, 2] - 0.5])
    )
    assert evaluator.single_task_encoders_ == {}  # nothing trained alone
    assert np.all(np.isnan(report.single_task_fit_times))
    np.testing.assert_array_equal(report.R, computed.R)  # same seed, same run


def test_single_task_scores_by_task_name():
    stream = make_synthetic_stream(n_users=60, n_items=48, max_len=10).select(
        ["category", "related"]
    )
    report = ContinualEvaluator(make_encoder(), single_task={"related": 0.4}).evaluate(
        stream
    )
    np.testing.assert_array_equal(report.single_task_scores, [np.nan, 0.4])
    assert report.fwt == pytest.approx(report.R[1, 1] - 0.4)


def test_without_single_task_fwt_is_nan_and_progress_is_printed(stream, capsys):
    two = stream.select(["category", "next_item"])
    report = ContinualEvaluator(make_encoder(), single_task=None, verbose=1).evaluate(
        two
    )
    assert report.single_task_source is None
    assert np.all(np.isnan(report.single_task_scores))
    assert np.isnan(report.fwt)
    assert np.isfinite(report.bwt)
    assert report.task_names == ["category", "next_item"]  # the stream's order
    out = capsys.readouterr().out
    assert "[task 1/2] category" in out
    assert "[task 2/2] next_item" in out
    assert "single task" not in out
    text = report.to_text()
    fwt_line = next(line for line in text.splitlines() if line.startswith("FWT"))
    assert "n/a" in fwt_line


@pytest.mark.parametrize(
    "single_task, message",
    [
        ("computed", "single_task must be"),
        ([0.1, 0.2], r"shape \(3,\)"),
        ([0.1, np.nan, 0.2], "not finite for \\['category'\\]"),
        ({"bogus": 0.1}, "bogus"),
        ({"category": 0.1}, "related"),
    ],
)
def test_bad_single_task_is_rejected_before_training(stream, single_task, message):
    evaluator = ContinualEvaluator(make_encoder(), single_task=single_task)
    with pytest.raises(ValueError, match=message):
        evaluator.evaluate(stream)
    assert not hasattr(evaluator, "encoder_")


@pytest.mark.parametrize(
    "bad, error, message",
    [
        ([], ValueError, "no task"),
        ("next_item", TypeError, "TaskStream"),
        ([object()], TypeError, "without name"),
    ],
)
def test_bad_stream_is_rejected(bad, error, message):
    with pytest.raises(error, match=message):
        ContinualEvaluator(make_encoder()).evaluate(bad)


def test_repeated_task_names_are_rejected(stream):
    task = stream["category"]
    with pytest.raises(ValueError, match="repeated"):
        ContinualEvaluator(make_encoder()).evaluate([task, task])


# --------------------------------------------------------------------------- #
# the encoder given is never touched
# --------------------------------------------------------------------------- #
def test_unfitted_encoder_stays_unfitted(run, stream):
    enc = make_encoder()
    params = enc.get_params()
    evaluator = ContinualEvaluator(enc, single_task=None)
    evaluator.evaluate(stream.select(["category"]))
    assert not hasattr(enc, "net_")
    assert not hasattr(enc, "tasks_")
    assert enc.get_params() == params
    assert evaluator.encoder_ is not enc
    assert list(evaluator.encoder_.tasks_) == ["category"]


def test_fitted_encoder_keeps_its_tasks_and_predictions(stream):
    task = stream["related"]
    enc = make_encoder().partial_fit(*task.train, task="mine")
    before = enc.decision_function(task.test[0], task="mine")
    n_fits = enc.n_partial_fits_
    evaluator = ContinualEvaluator(enc, single_task=None)
    report = evaluator.evaluate(stream.select(["category"]))
    assert list(enc.tasks_) == ["mine"]
    assert enc.n_partial_fits_ == n_fits
    np.testing.assert_array_equal(
        enc.decision_function(task.test[0], task="mine"), before
    )
    # the clone starts from scratch: it never saw "mine"
    assert list(evaluator.encoder_.tasks_) == ["category"]
    assert report.task_names == ["category"]


def test_report_keeps_history_relations_and_params(run):
    evaluator, report = run
    enc = evaluator.encoder_
    np.testing.assert_array_equal(report.task_relations, enc.task_relations_)
    assert report.task_relations.shape == (3, 3)
    assert list(report.history) == TASKS
    assert len(report.history["category"]) == len(enc.history_["category"])
    assert report.params == make_encoder().get_params(deep=False)
    assert report.stream == "synthetic"
    assert report.task_kinds == ["next_item", "profile", "profile"]
    assert report.total_time >= report.fit_times.sum()


# --------------------------------------------------------------------------- #
# rendering
# --------------------------------------------------------------------------- #
def test_text_table_has_a_row_per_task_and_the_transfer_lines(run):
    _, report = run
    text = str(report)
    lines = text.splitlines()
    for j, name in enumerate(TASKS):
        row = next(line for line in lines if line.startswith(name + " "))
        cells = row.split()
        expected = [
            name,
            report.metrics[j],
            f"{report.R[j, j]:.4f}",
            f"{report.R[-1, j]:.4f}",
            f"{report.single_task_scores[j]:.4f}",
            *(
                f"{scores[j]:.4f}" if np.isfinite(scores[j]) else "n/a"
                for scores in report.baseline_scores.values()
            ),
        ]
        gap = report.vs_best_baseline[j]
        assert cells[: len(expected)] == expected
        assert " ".join(cells[len(expected) :]) == (
            f"{gap['difference']:+.4f} [{gap['low']:+.4f}, {gap['high']:+.4f}] "
            f"{gap['baseline']}"
        )
    for label, value in (("BWT", report.bwt), ("FWT", report.fwt)):
        line = next(line for line in lines if line.startswith(label + " "))
        assert f"{value:+.4f}" in line
    assert any(line.startswith("forgetting") for line in lines)
    # rows in training order, after the header
    positions = [text.index("\n" + name + " ") for name in TASKS]
    assert positions == sorted(positions)


def test_markdown_has_every_task_and_the_transfer_lines(run):
    _, report = run
    md = report.to_markdown()
    for name in TASKS:
        assert f"| {name} | " in md
    assert f"- **BWT**: {report.bwt:+.4f}" in md
    assert f"- **FWT**: {report.fwt:+.4f}" in md
    assert "| after \\ on | next_item | category | related |" in md
    # the upper triangle of R is shown as "-"
    assert f"| next_item | {report.R[0, 0]:.4f} | - | - |" in md


def test_json_round_trip(run, tmp_path):
    _, report = run
    text = report.to_json()

    def no_constants(name):
        raise AssertionError(f"non-standard JSON constant {name}")

    data = json.loads(text, parse_constant=no_constants)  # strict JSON: no NaN
    assert data["R"][0][1] is None  # NaN above the diagonal is null
    assert [t["name"] for t in data["tasks"]] == TASKS
    assert data["bwt"] == pytest.approx(report.bwt)
    back = ContinualReport.from_json(text)
    assert_same_report(back, report)
    assert back.bwt == report.bwt and back.fwt == report.fwt

    path = tmp_path / "report.json"
    report.save_json(path)
    assert_same_report(ContinualReport.load_json(path), report)
    assert str(ContinualReport.load_json(path)) == str(report)


def test_json_round_trip_without_single_task_scores():
    report = ContinualReport(
        task_names=["a", "b"],
        metrics=["accuracy", "mrr@5"],
        R=[[0.5, np.nan], [0.4, 0.1]],
        single_task_scores=[np.nan, np.nan],
        fit_times=[1.0, 2.0],
    )
    back = ContinualReport.from_json(report.to_json())
    assert_same_report(back, report)
    assert np.isnan(back.fwt)
    assert back.bwt == pytest.approx(-0.1)


@pytest.mark.parametrize(
    "text", ["not json", "[1, 2]", json.dumps({"format": "something else"})]
)
def test_from_json_rejects_other_documents(text):
    with pytest.raises(ValueError, match="not a continual report"):
        ContinualReport.from_json(text)


def test_to_frame(run):
    pd = pytest.importorskip("pandas")
    _, report = run
    frame = report.to_frame()
    assert isinstance(frame, pd.DataFrame)
    assert list(frame.index) == TASKS
    np.testing.assert_array_equal(frame["after_own_training"], np.diag(report.R))
    np.testing.assert_array_equal(frame["final"], report.R[-1])
    np.testing.assert_array_equal(frame["single_task"], report.single_task_scores)
    assert frame.attrs["bwt"] == report.bwt
    assert frame.attrs["fwt"] == report.fwt


def test_to_frame_without_pandas_says_so(run, monkeypatch):
    _, report = run
    monkeypatch.setitem(sys.modules, "pandas", None)  # import pandas fails
    with pytest.raises(ImportError, match="requires pandas"):
        report.to_frame()
    assert "BWT" in report.to_text()  # the rest needs no pandas


def test_evaluator_is_a_plain_parameter_holder():
    enc = make_encoder()
    evaluator = ContinualEvaluator(enc, single_task=None, verbose=1)
    assert evaluator.encoder is enc
    assert evaluator.single_task is None
    assert evaluator.verbose == 1
    assert not hasattr(evaluator, "report_")
    twin = clone(enc)
    assert twin.get_params() == enc.get_params()


# --------------------------------------------------------------------------- #
# baselines beside the encoder
# --------------------------------------------------------------------------- #
def test_report_scores_the_baselines_of_each_task_kind(run):
    _, report = run
    scores = report.baseline_scores
    assert list(scores) == ["popularity", "itemknn", "bow_lr"]
    # next_item is an item task: popularity and co-occurrence, no classifier.
    assert np.isfinite(scores["itemknn"][0]) and np.isnan(scores["bow_lr"][0])
    # profile tasks: majority class and the bag-of-items classifier.
    assert np.isnan(scores["itemknn"][1:]).all()
    assert np.isfinite(scores["bow_lr"][1:]).all()
    # the planted category is readable from the items: far above the majority
    assert scores["bow_lr"][1] > scores["popularity"][1] + 0.2
    assert "itemknn" in report.to_markdown()
    again = ContinualReport.from_json(report.to_json())
    for name, values in scores.items():
        np.testing.assert_array_equal(again.baseline_scores[name], values)
    columns = list(report.to_frame().columns)
    assert columns[columns.index("single_task_fit_time") + 1 :][:3] == list(scores)


def test_final_scores_are_compared_with_the_best_baseline_on_the_same_users(run):
    _, report = run
    names = list(report.baseline_scores)
    table = np.array([report.baseline_scores[name] for name in names])
    for j, gap in enumerate(report.vs_best_baseline):
        best = names[int(np.nanargmax(table[:, j]))]
        assert gap["baseline"] == best
        assert gap["difference"] == pytest.approx(
            report.R[-1, j] - report.baseline_scores[best][j]
        )
        assert gap["low"] <= gap["difference"] <= gap["high"]
        assert gap["low"] < gap["high"]  # the test users do disagree
    frame = report.to_frame()
    assert list(frame["best_baseline"]) == [
        g["baseline"] for g in report.vs_best_baseline
    ]
    np.testing.assert_array_equal(
        frame["vs_best_baseline_low"], [g["low"] for g in report.vs_best_baseline]
    )
    assert "final - best baseline [95% CI]" in report.to_markdown()


def test_the_verdict_sorts_tasks_by_their_interval_against_the_best_baseline():
    def gap(low, high):
        return {
            "baseline": "b",
            "difference": (low + high) / 2,
            "low": low,
            "high": high,
        }

    report = ContinualReport(
        task_names=["a", "b", "c", "d"],
        metrics=["accuracy"] * 4,
        R=np.tril(np.full((4, 4), 0.5)),
        single_task_scores=np.full(4, np.nan),
        fit_times=np.ones(4),
        vs_best_baseline=[gap(0.01, 0.03), gap(-0.02, 0.01), None, gap(-0.05, -0.001)],
    )
    assert report.baseline_verdict() == {
        "ahead": ["a"],
        "within_noise": ["b"],
        "behind": ["d"],
    }
    sentence = "ahead on a; within noise on b; behind on d."
    assert str(report).endswith(sentence)
    assert sentence in report.to_markdown()
    plain = ContinualReport(
        task_names=["a"],
        metrics=["accuracy"],
        R=[[0.5]],
        single_task_scores=[np.nan],
        fit_times=[1.0],
    )
    assert plain.baseline_verdict() == {"ahead": [], "within_noise": [], "behind": []}
    assert "Against the best baseline" not in str(plain)


def test_a_version_1_report_without_comparisons_still_reads(run):
    _, report = run
    data = json.loads(report.to_json())
    data["version"] = 1
    for task in data["tasks"]:
        del task["vs_best_baseline"]
    back = ContinualReport.from_json(json.dumps(data))
    assert back.vs_best_baseline == [None] * len(TASKS)
    assert "best baseline" not in str(back)


@pytest.mark.parametrize(
    "gap", [{"difference": 0.1, "low": 0, "high": 0.2}, {"baseline": "x", "low": "?"}]
)
def test_from_json_rejects_a_malformed_comparison(run, gap):
    _, report = run
    data = json.loads(report.to_json())
    data["tasks"][1]["vs_best_baseline"] = gap
    with pytest.raises(ValueError, match=r"tasks\[1\]\.vs_best_baseline"):
        ContinualReport.from_json(json.dumps(data))


def test_baselines_can_be_left_out(stream):
    report = ContinualEvaluator(
        make_encoder(), single_task=None, baselines=False
    ).evaluate(stream.select(["next_item"]))
    assert report.baseline_scores == {}
    assert report.vs_best_baseline == [None]
    assert "popularity" not in str(report)

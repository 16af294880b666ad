"""ContinualEvaluator and compare_strategies over several seeds or user folds."""

import json

import numpy as np
import pytest

from sklearn_teracon import ContinualUserEncoder
from sklearn_teracon.compare import compare_strategies
from sklearn_teracon.datasets import make_synthetic_stream
from sklearn_teracon.evaluation import (
    ContinualEvaluator,
    ContinualReport,
    EvaluationInterrupted,
    ReplicatedReport,
)
from sklearn_teracon.metrics import paired_difference

from .conftest import TINY

TASKS = ["next_item", "category", "related"]
PARAMS = {**TINY, "embedding_dim": 8, "max_len": 10, "max_epochs": 1}
N_USERS = 120


@pytest.fixture(scope="module")
def stream():
    full = make_synthetic_stream(
        n_users=N_USERS, n_items=48, max_len=10, random_state=0
    )
    return full.select(TASKS)


def make_encoder(**params):
    return ContinualUserEncoder(**{**PARAMS, **params})


def same_numbers(a: ContinualReport, b: ContinualReport) -> None:
    """Every measured number but the times."""
    for name in ("R", "single_task_scores", "task_relations"):
        np.testing.assert_array_equal(getattr(a, name), getattr(b, name), err_msg=name)
    np.testing.assert_equal(a.baseline_scores, b.baseline_scores)
    np.testing.assert_equal(a.vs_best_baseline, b.vs_best_baseline)
    assert a.params == b.params and a.task_names == b.task_names


@pytest.fixture(scope="module")
def two_seeds(stream):
    """Two single runs (random_state 0 and 1) and the two-seed evaluation."""
    singles = [
        ContinualEvaluator(make_encoder(random_state=s)).evaluate(stream)
        for s in (0, 1)
    ]
    evaluator = ContinualEvaluator(make_encoder(random_state=7), seeds=[0, 1])
    return singles, evaluator, evaluator.evaluate(stream)


# --------------------------------------------------------------------------- #
# the default: one run, as before
# --------------------------------------------------------------------------- #
def test_default_and_one_seed_give_todays_report(stream, two_seeds):
    singles, _, _ = two_seeds
    default = singles[0]  # ContinualEvaluator(encoder) with random_state=0
    explicit = ContinualEvaluator(make_encoder(), seeds=None, n_folds=None)
    one_seed = ContinualEvaluator(make_encoder(random_state=3), seeds=[0])
    for report in (explicit.evaluate(stream), one_seed.evaluate(stream)):
        assert type(report) is ContinualReport
        same_numbers(report, default)
        assert report.to_text() == default.to_text()
        assert report.to_dict().keys() == default.to_dict().keys()
    assert "±" not in default.to_text() and "replicate" not in default.to_markdown()


# --------------------------------------------------------------------------- #
# seeds
# --------------------------------------------------------------------------- #
def test_two_seeds_are_two_single_runs_and_their_mean_and_std(two_seeds):
    singles, evaluator, report = two_seeds
    assert isinstance(report, ReplicatedReport) and evaluator.report_ is report
    assert report.replicates == [{"seed": 0, "fold": None}, {"seed": 1, "fold": None}]
    for replicate, single in zip(report.reports, singles):
        same_numbers(replicate, single)
    a, b = singles
    np.testing.assert_allclose(report.mean("final"), (a.final + b.final) / 2)
    np.testing.assert_allclose(report.std("final"), np.abs(a.final - b.final) / 2**0.5)
    np.testing.assert_allclose(report.final, report.mean("final"))
    assert report.bwt == pytest.approx((a.bwt + b.bwt) / 2)
    assert report.std("bwt") == pytest.approx(abs(a.bwt - b.bwt) / 2**0.5)
    assert report.fwt == pytest.approx((a.fwt + b.fwt) / 2)
    np.testing.assert_allclose(report.R, (a.R + b.R) / 2)
    assert report.params["random_state"] == 7  # the encoder given
    assert [r.params["random_state"] for r in report.reports] == [0, 1]


def test_the_paired_interval_pools_the_replicates_grouped_by_user(two_seeds, stream):
    _, _, report = two_seeds
    for j, name in enumerate(TASKS):
        gap = report.vs_best_baseline[j]
        best = report.best_baseline(name)
        means = {b: s[j] for b, s in report.baseline_scores.items() if s[j] == s[j]}
        assert best == max(means, key=means.get) == gap["baseline"]
        final = np.concatenate([report.rows[(name, "final", r)] for r in (0, 1)])
        base = np.concatenate([report.rows[(name, best, r)] for r in (0, 1)])
        users = np.tile(stream[name].users["test"], 2)  # one user, two replicates
        expected = paired_difference(final, base, users)
        assert gap["difference"] == pytest.approx(float(np.mean(final - base)))
        assert (gap["low"], gap["high"]) == pytest.approx(expected[1:])
        assert gap["n_replicates"] == 2
        side = report.baseline_verdict()
        assert sum(name in names for names in side.values()) == 1
    text = report.to_text()
    assert "2 seeds (0, 1)" in text and "mean ± std" in text
    assert "± " in text.splitlines()[4]  # a task's row
    assert "pooled over 2 replicates" in text
    assert any(w in text for w in ("ahead of it", "within noise of it", "behind it"))


def test_renderings_and_json_round_trip(two_seeds, tmp_path):
    _, _, report = two_seeds
    markdown = report.to_markdown()
    assert "### Replicates" in markdown and "| 1 | 1 | - |" in markdown
    frame = report.to_frame()
    assert list(frame.index) == TASKS
    np.testing.assert_allclose(frame["final_std"], report.std("final"))
    assert frame.attrs["n_replicates"] == 2
    assert "vs_best_baseline_low" in frame
    long = report.to_frame(per_replicate=True)
    assert len(long) == 2 * len(TASKS) and set(long["seed"]) == {0, 1}
    report.save_json(tmp_path / "r.json")
    json.loads((tmp_path / "r.json").read_text())  # strict JSON
    back = ReplicatedReport.load_json(tmp_path / "r.json")
    assert back.to_text() == report.to_text()
    assert back.rows == {}  # per-row scores are not written; the intervals are
    with pytest.raises(ValueError, match="not a replicated report"):
        ReplicatedReport.from_json(report.reports[0].to_json())
    with pytest.raises(ValueError, match="unknown quantity"):
        report.mean("nope")


# --------------------------------------------------------------------------- #
# user folds
# --------------------------------------------------------------------------- #
class SpyEncoder(ContinualUserEncoder):
    """Records the sequences of every partial_fit and score_rows call."""

    calls: list = []

    def partial_fit(self, X, y=None, *, task=None, classes=None):
        SpyEncoder.calls.append(("fit", task, X))
        return super().partial_fit(X, y, task=task, classes=classes)

    def score_rows(self, X, y=None, task=None):
        SpyEncoder.calls.append(("score", task, X))
        return super().score_rows(X, y, task=task)


def test_folds_test_every_user_exactly_once_and_never_train_on_them(stream):
    owner = {
        id(seq): int(user)
        for task in stream
        for split in ("train", "validation", "test")
        for seq, user in zip(getattr(task, split)[0], task.users[split])
    }
    SpyEncoder.calls = []
    evaluator = ContinualEvaluator(
        SpyEncoder(**PARAMS), single_task=None, baselines=False, n_folds=3
    )
    report = evaluator.evaluate(stream)
    assert report.replicates == [{"seed": 0, "fold": f} for f in range(3)]
    assert "3 user folds (seed 0)" in report.to_text()
    # Each replicate starts with the training call of the first task.
    calls = SpyEncoder.calls
    starts = [i for i, (w, t, _) in enumerate(calls) if (w, t) == ("fit", TASKS[0])]
    assert len(starts) == 3
    starts.append(len(calls))
    tested = {name: [] for name in TASKS}
    for r in range(3):
        replicate = calls[starts[r] : starts[r + 1]]
        trained = {owner[id(s)] for w, _, X in replicate if w == "fit" for s in X}
        for name in TASKS:
            scored = {
                frozenset(owner[id(s)] for s in X)
                for w, task, X in replicate
                if w == "score" and task == name
            }
            assert len(scored) == 1  # every score of a task: the fold's users
            (fold_users,) = scored
            assert not fold_users & trained  # never trained on, in any task
            tested[name] += sorted(fold_users)
            np.testing.assert_array_equal(
                np.unique(report.test_users[(name, r)]), sorted(fold_users)
            )
    for name in TASKS:  # each user of the stream is tested once, in one fold
        assert sorted(tested[name]) == list(range(N_USERS))


# --------------------------------------------------------------------------- #
# mistakes and interruptions
# --------------------------------------------------------------------------- #
@pytest.mark.parametrize(
    "kwargs, error, match",
    [
        ({"n_folds": 1}, ValueError, "n_folds must be None or an int >= 2"),
        ({"n_folds": 2.5}, ValueError, "n_folds must be None or an int >= 2"),
        ({"n_folds": N_USERS + 1}, ValueError, r"number of users \(120\)"),
        ({"seeds": []}, ValueError, "seeds must not be empty"),
        ({"seeds": [0, 1, 0]}, ValueError, r"repeated: \['0'\]"),
        ({"seeds": [0, -1]}, ValueError, "seeds must be None or ints >= 0"),
        ({"seeds": "0,1"}, TypeError, "seeds must be a list"),
    ],
)
def test_bad_seeds_and_folds_are_rejected_before_training(stream, kwargs, error, match):
    SpyEncoder.calls = []
    evaluator = ContinualEvaluator(SpyEncoder(**PARAMS), **kwargs)
    with pytest.raises(error, match=match):
        evaluator.evaluate(stream)
    assert SpyEncoder.calls == [] and not hasattr(evaluator, "report_")
    with pytest.raises(error, match=match):
        compare_strategies(make_encoder(), stream, ["teracon"], **kwargs)


def test_ctrl_c_keeps_the_finished_replicates(stream, monkeypatch):
    real = ContinualUserEncoder.partial_fit
    fits = []

    def partial_fit(self, *args, **kwargs):
        fits.append(1)
        if len(fits) == len(TASKS) + 1:  # the second replicate's first task
            raise KeyboardInterrupt
        return real(self, *args, **kwargs)

    monkeypatch.setattr(ContinualUserEncoder, "partial_fit", partial_fit)
    evaluator = ContinualEvaluator(make_encoder(), single_task=None, seeds=[0, 1])
    with pytest.raises(EvaluationInterrupted) as info:
        evaluator.evaluate(stream)
    assert isinstance(info.value.report, ReplicatedReport)
    assert info.value.report.replicates == [{"seed": 0, "fold": None}]
    assert "1 seed (0)" in info.value.report.to_text()
    assert json.loads(info.value.report.to_json())["replicates"][0]["seed"] == 0


# --------------------------------------------------------------------------- #
# compare_strategies
# --------------------------------------------------------------------------- #
def test_compare_over_seeds_shows_mean_std_and_the_gaps(stream):
    two = stream.select(TASKS[:2])
    seen = []
    table = compare_strategies(
        make_encoder(),
        two,
        ["teracon", "finetune"],
        seeds=[0, 1],
        on_progress=lambda so_far: seen.append(so_far.reports["teracon"].n_replicates),
    )
    assert seen == [1, 2] and table.replicated
    assert table.replicates == [{"seed": 0, "fold": None}, {"seed": 1, "fold": None}]
    single = compare_strategies(make_encoder(random_state=1), two, ["teracon"])
    np.testing.assert_array_equal(
        table.reports["teracon"].reports[1].R, single.reports["teracon"].R
    )
    report = table.reports["teracon"]
    assert isinstance(report, ReplicatedReport) and report.n_replicates == 2
    assert set(report.baselines) == {"popularity", "itemknn", "bow_lr"}
    text = table.to_text()
    assert "mean ± std over 2 seeds (0, 1)" in text and " ± " in text
    assert "best baseline" in text and "finetune against the best baseline" in text
    assert "±" in table.to_markdown()
    saved = json.loads(json.dumps(table.to_dict(), allow_nan=False))
    assert len(saved["strategies"]["teracon"]["per_replicate"]) == 2
    assert saved["strategies"]["finetune"]["final_std"][0] is not None
    assert "±" not in single.to_text() and "replicates" not in single.to_dict()

"""LabelScarceEvaluator, LabelScarceReport and `transfer` on a synthetic stream."""

import contextlib
import io
import json
import pickle
from collections import Counter

import numpy as np
import pytest
from sklearn.base import clone

from sklearn_teracon import ContinualUserEncoder, transfer
from sklearn_teracon.cli import main
from sklearn_teracon.datasets import make_synthetic_stream
from sklearn_teracon.evaluation import ContinualEvaluator, EvaluationInterrupted
from sklearn_teracon.metrics import paired_difference
from sklearn_teracon.transfer import LabelScarceEvaluator, LabelScarceReport

from .conftest import TINY

TASKS = ["next_item", "category", "related"]
PARAMS = {**TINY, "embedding_dim": 8, "max_len": 10, "max_epochs": 1}
SIZES = [20, 1000, None]  # 1000 > the 160 training users: clipped to all
SEEDS = [0, 1]


@pytest.fixture(scope="module")
def stream():
    full = make_synthetic_stream(n_users=200, n_items=48, max_len=10, random_state=0)
    return full.select(TASKS)


def users_of(X, stream):
    """The user of each sequence (the synthetic stream's tasks share the lists)."""
    owner = {
        id(seq): int(user)
        for task in stream
        for seq, user in zip(task.train[0], task.users["train"])
    }
    return frozenset(owner[id(seq)] for seq in X)


SEEN = []  # (who, task, users) of every training call in the run fixture


class SpyEncoder(ContinualUserEncoder):
    """Records the users of every partial_fit call into SEEN."""

    def partial_fit(self, X, y=None, *, task=None, classes=None):
        SEEN.append(("encoder", task, X))
        return super().partial_fit(X, y, task=task, classes=classes)


@pytest.fixture(scope="module")
def run(stream):
    """One evaluation with every method, two seeds, spies on who saw which users."""
    original = transfer.baselines_for

    def spying(kind):
        chosen = original(kind)
        for name, baseline in chosen.items():

            def fit(X, y=None, _fit=baseline.fit, _name=name):
                SEEN.append((_name, None, X))
                return _fit(X, y)

            baseline.fit = fit
        return chosen

    SEEN.clear()
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(transfer, "baselines_for", spying)
        evaluator = LabelScarceEvaluator(
            SpyEncoder(**PARAMS), n_labelled=SIZES, seeds=SEEDS
        )
        report = evaluator.evaluate(stream)
    seen = [(who, task, users_of(X, stream)) for who, task, X in SEEN]
    return evaluator, report, seen


# --------------------------------------------------------------------------- #
# the protocol
# --------------------------------------------------------------------------- #
def test_every_method_is_trained_on_exactly_the_recorded_user_ids(run, stream):
    _, report, seen = run
    assert set(report.labelled_users) == {
        (r, task, n) for r in range(2) for task in TASKS[1:] for n in SIZES
    }
    every_draw = Counter()
    for task in TASKS[1:]:
        everyone = frozenset(stream[task].users["train"].tolist())
        # The "all" draw, and N=1000 clipped to it, hold every training user.
        for r in range(2):
            assert frozenset(report.labelled_users[(r, task, None)]) == everyone
            assert frozenset(report.labelled_users[(r, task, 1000)]) == everyone
        draws = Counter(
            frozenset(report.labelled_users[(r, task, n)].tolist())
            for r in range(2)
            for n in (20, None)  # 1000 reuses the "all" models
        )
        assert sorted(len(u) for u in draws) == [20, 20, 160]  # seeds differ
        # The encoder: once continual (the "all" one is the prefix run's), once
        # alone; nothing else.
        encoder = Counter(u for who, t, u in seen if who == "encoder" and t == task)
        assert encoder == Counter({u: 2 * k for u, k in draws.items()})
        every_draw += draws
    # Each baseline once per draw of each task.
    for baseline in ("popularity", "bow_lr"):
        assert Counter(u for who, _, u in seen if who == baseline) == every_draw


def test_methods_and_scores_cover_every_cell(run):
    _, report, _ = run
    assert report.methods == ["teracon", "single", "probe", "popularity", "bow_lr"]
    assert report.encoder_method == "teracon"
    for task in TASKS[1:]:
        for n in SIZES:
            for method in report.methods:
                for r in range(2):
                    key = (task, n, method, r)
                    assert report.scores[key] == pytest.approx(report.rows[key].mean())
                    assert report.rows[key].shape == (30,)  # every test row
    assert any("N=1000 is more than its 160 training users" in n for n in report.notes)


def test_all_labels_is_the_full_continual_run(run, stream):
    _, report, _ = run
    for r, seed in enumerate(SEEDS):
        enc = ContinualUserEncoder(**{**PARAMS, "random_state": seed})
        R = (
            ContinualEvaluator(enc, single_task=None, baselines=False)
            .evaluate(stream)
            .R
        )
        for k, task in enumerate(TASKS[1:], start=1):
            assert report.scores[(task, None, "teracon", r)] == R[k, k]
            assert report.scores[(task, 1000, "teracon", r)] == R[k, k]


def test_the_encoder_given_is_never_trained(stream):
    enc = ContinualUserEncoder(**PARAMS)
    LabelScarceEvaluator(
        enc, n_labelled=[None], seeds=[0], probe=False, single_task=False
    ).evaluate(stream, tasks=["related"])
    assert not hasattr(enc, "tasks_")


def test_user_folds_test_every_user_exactly_once(stream):
    folds = list(stream.user_folds(3, random_state=0))
    everyone = np.unique(
        np.concatenate(
            [stream["category"].users[s] for s in ("train", "validation", "test")]
        )
    )
    for name in TASKS:
        tested = np.concatenate([fold[name].users["test"] for fold in folds])
        np.testing.assert_array_equal(np.sort(tested), everyone)
        for fold in folds:
            task = fold[name]
            assert not set(task.users["train"]) & set(task.users["test"])
            assert task.n_rows["validation"] == 0
            assert task.n_rows["train"] + task.n_rows["test"] == len(everyone)
    assert [fold.info["fold"] for fold in folds] == [0, 1, 2]
    with pytest.raises(ValueError, match="n_folds must be an int from 2"):
        next(stream.user_folds(1))


def test_folds_are_the_replicates(stream):
    report = LabelScarceEvaluator(
        ContinualUserEncoder(**PARAMS),
        n_labelled=[None],
        seeds=[4, 5],
        n_folds=3,
        probe=False,
        single_task=False,
    ).evaluate(stream, tasks=["related"])
    assert report.replicates == [{"seed": 4, "fold": f} for f in range(3)]
    tested = np.concatenate([report.test_users[("related", r)] for r in range(3)])
    assert sorted(tested.tolist()) == list(range(200))
    assert "3 user folds (seed 4)" in str(report)


# --------------------------------------------------------------------------- #
# the report's numbers
# --------------------------------------------------------------------------- #
def test_mean_std_and_paired_interval_come_from_the_replicates(run):
    _, report, _ = run
    key = ("category", 20)
    values = [report.scores[(*key, "teracon", r)] for r in range(2)]
    mean, std, n = report.aggregate()[(*key, "teracon")]
    assert (mean, n) == (pytest.approx(np.mean(values)), 2)
    assert std == pytest.approx(np.std(values, ddof=1))
    assert f"{np.mean(values):.4f} ± {np.std(values, ddof=1):.4f}" in str(report)
    best = max(
        ("popularity", "bow_lr"),
        key=lambda b: np.mean([report.scores[(*key, b, r)] for r in range(2)]),
    )
    gap = report.vs_best_baseline[key]
    expected = paired_difference(
        np.concatenate([report.rows[(*key, "teracon", r)] for r in range(2)]),
        np.concatenate([report.rows[(*key, best, r)] for r in range(2)]),
        np.concatenate([report.test_users[("category", r)] for r in range(2)]),
    )
    assert gap["baseline"] == best
    assert (gap["difference"], gap["low"], gap["high"]) == tuple(expected)


def test_numbers_by_hand():
    rows = {
        ("age", 10, "teracon", 0): [1, 0, 1, 1],
        ("age", 10, "teracon", 1): [1, 1, 0, 0],
        ("age", 10, "popularity", 0): [0, 0, 1, 0],
        ("age", 10, "popularity", 1): [0, 1, 0, 0],
    }
    report = LabelScarceReport(
        task_names=["age"],
        metrics=["accuracy"],
        n_labelled=[10],
        methods=["teracon", "popularity"],
        encoder_method="teracon",
        baselines=["popularity"],
        replicates=[{"seed": 0}, {"seed": 1}],
        scores={k: np.mean(v) for k, v in rows.items()},
        rows=rows,
        test_users={("age", 0): [7, 8, 9, 10], ("age", 1): [7, 8, 9, 10]},
    )
    # teracon: 0.75 and 0.5; popularity: 0.25 and 0.25.
    assert "0.6250 ± 0.1768" in str(report) and "0.2500 ± 0.0000" in str(report)
    gap = report.vs_best_baseline[("age", 10)]
    assert gap["difference"] == pytest.approx(0.375)  # (2 + 1) / 8 rows
    # The same user's rows of both seeds are resampled together.
    same_user = paired_difference(
        [1, 0, 1, 1, 1, 1, 0, 0], [0, 0, 1, 0, 0, 1, 0, 0], [7, 8, 9, 10] * 2
    )
    assert (gap["low"], gap["high"]) == (same_user.low, same_user.high)
    assert report.verdict() == {"ahead": [], "within_noise": ["age@10"], "behind": []}
    assert "within noise on age@10" in report.summary()


def test_text_markdown_frame_and_json(run, tmp_path):
    _, report, _ = run
    text = str(report)
    assert text.startswith("Label-scarce evaluation: 2 tasks of 'synthetic', 2 seeds")
    assert "teracon against the best baseline" in text
    for method in report.methods:
        assert method in text
    md = report.to_markdown()
    assert "| category | accuracy | 20 |" in md and "| related | accuracy | all |" in md
    frame = report.to_frame()
    assert len(frame) == 2 * 3 * 5 * 2
    assert set(frame.columns) >= {"task", "n_labelled", "n_users", "method", "score"}
    assert frame.loc[frame["labels"] == "all", "n_users"].eq(160).all()
    report.save_json(tmp_path / "report.json")
    back = LabelScarceReport.load_json(tmp_path / "report.json")
    assert back.summary() == report.summary()
    assert back.scores == report.scores
    np.testing.assert_array_equal(
        back.labelled_users[(1, "related", 20)],
        report.labelled_users[(1, "related", 20)],
    )
    with pytest.raises(ValueError, match="not a label-scarce report"):
        LabelScarceReport.from_json(json.dumps({"format": "other"}))


# --------------------------------------------------------------------------- #
# arguments
# --------------------------------------------------------------------------- #
@pytest.mark.parametrize(
    "params, tasks, error, match",
    [
        ({"n_labelled": [0]}, None, ValueError, "n_labelled must hold ints >= 1"),
        ({"n_labelled": [10, 10]}, None, ValueError, "repeated: \\['10'\\]"),
        ({"n_labelled": [None, "all"]}, None, ValueError, "repeated: \\['all'\\]"),
        ({"n_labelled": []}, None, ValueError, "n_labelled must not be empty"),
        ({"n_labelled": 100}, None, TypeError, "n_labelled must be a list"),
        ({"seeds": []}, None, ValueError, "seeds must not be empty"),
        ({"seeds": [0, -1]}, None, ValueError, "seeds must be ints >= 0"),
        ({"n_folds": 1}, None, ValueError, "n_folds must be None or an int >= 2"),
        ({"n_folds": 500}, None, ValueError, "n_folds must be an int from 2 to"),
        ({"strategies": ["nope"]}, None, ValueError, "unknown strategy 'nope'"),
        ({"probe": "yes"}, None, TypeError, "probe must be True or False"),
        ({}, ["nope"], ValueError, "unknown task 'nope'"),
        ({}, ["next_item"], ValueError, "first task"),
        ({}, ["related", "related"], ValueError, "tasks must not repeat"),
        ({"n_labelled": [1]}, None, ValueError, "have only one label"),
    ],
)
def test_bad_arguments_are_rejected_before_training(
    stream, params, tasks, error, match, monkeypatch
):
    def no_training(*args, **kwargs):
        raise AssertionError("trained before checking the arguments")

    monkeypatch.setattr(ContinualUserEncoder, "partial_fit", no_training)
    with pytest.raises(error, match=match):
        LabelScarceEvaluator(ContinualUserEncoder(**PARAMS), **params).evaluate(
            stream, tasks=tasks
        )


def test_init_only_stores():
    enc = ContinualUserEncoder()
    evaluator = LabelScarceEvaluator(enc, n_labelled="nonsense", seeds=None)
    assert evaluator.n_labelled == "nonsense" and evaluator.encoder is enc


class Interrupting(ContinualUserEncoder):
    """Ctrl-C on the fourth training call."""

    calls = 0

    def partial_fit(self, X, y=None, *, task=None, classes=None):
        type(self).calls += 1
        if type(self).calls == 4:
            raise KeyboardInterrupt
        return super().partial_fit(X, y, task=task, classes=classes)


def test_ctrl_c_raises_with_the_scores_finished(stream):
    # Calls: next_item, category on 20 users, category on all, related on 20.
    Interrupting.calls = 0
    evaluator = LabelScarceEvaluator(Interrupting(**PARAMS), n_labelled=[20, None])
    with pytest.raises(EvaluationInterrupted) as caught:
        evaluator.evaluate(stream)
    report = caught.value.report
    assert isinstance(caught.value, KeyboardInterrupt)
    assert set(report.scores) == {
        ("category", 20, "teracon", 0),
        ("category", None, "teracon", 0),
        ("category", 20, "probe", 0),
        ("category", None, "probe", 0),
    }
    assert "n/a" in str(report)


def same_report(a, b):
    """Equal in every score, per-row score, user and order (times aside)."""
    a_dict, b_dict = a.to_dict(), b.to_dict()
    for d in (a_dict, b_dict):
        d.pop("total_time")
        for row in d["scores"]:
            row.pop("fit_time")
    assert a_dict == b_dict
    for name in ("rows", "test_users", "labelled_users"):
        x, y = getattr(a, name), getattr(b, name)
        assert list(x) == list(y)
        assert all(np.array_equal(x[k], y[k]) for k in x)
    assert list(a.fit_times) == list(b.fit_times)


def test_parallel_replicates_give_the_sequential_report(run, stream):
    _, sequential, _ = run
    evaluator = LabelScarceEvaluator(
        ContinualUserEncoder(**PARAMS), n_labelled=SIZES, seeds=SEEDS, n_jobs=2
    )
    same_report(evaluator.evaluate(stream), sequential)


def test_combine_of_one_seed_reports_is_the_two_seed_report(run, stream):
    _, both, _ = run
    enc = ContinualUserEncoder(**PARAMS)
    parts = [
        LabelScarceEvaluator(enc, n_labelled=SIZES, seeds=[s]).evaluate(stream)
        for s in SEEDS
    ]
    combined = LabelScarceReport.combine(parts)
    same_report(combined, both)
    assert combined.aggregate() == both.aggregate()
    with pytest.raises(ValueError, match="share a replicate"):
        LabelScarceReport.combine([parts[0], parts[0]])
    with pytest.raises(ValueError, match="differ in methods"):
        parts[1].methods = parts[1].methods[:-1]
        LabelScarceReport.combine(parts)


def test_other_strategies_get_their_own_prefix_run(stream):
    report = LabelScarceEvaluator(
        ContinualUserEncoder(**PARAMS),
        n_labelled=[20],
        seeds=[0],
        strategies=["teracon", "finetune"],
        baselines=False,
        probe=False,
        single_task=False,
    ).evaluate(stream, tasks="related")
    assert report.methods == ["teracon", "finetune"]
    assert report.scores[("related", 20, "finetune", 0)] >= 0
    assert report.vs_best_baseline == {}


# --------------------------------------------------------------------------- #
# the command line
# --------------------------------------------------------------------------- #
def test_cli_transfer_writes_its_files(tmp_path):
    out = tmp_path / "transfer"
    argv = ["transfer", "--dataset", "synthetic", "--n-users", "120", "--n-items", "48"]
    argv += ["--epochs", "1", "--embedding-dim", "8", "--n-blocks", "1"]
    argv += ["--tasks", "next_item,related", "--labels", "20,all", "--seeds", "0,1"]
    argv += ["--out", str(out), "--quiet", "--threads", "1", "--jobs", "2"]
    stdout, stderr = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(stdout), contextlib.redirect_stderr(stderr):
        code = main(argv)
    assert code == 0, stderr.getvalue()
    names = sorted(p.name for p in out.iterdir())
    expected = ["learning_curve_related.png", "report.json", "report.md", "report.pkl"]
    assert names == expected
    report = LabelScarceReport.load_json(out / "report.json")
    assert report.summary() in stdout.getvalue()
    with open(out / "report.pkl", "rb") as f:
        full = pickle.load(f)
    assert full.scores == report.scores and full.rows
    assert full.vs_best_baseline == report.vs_best_baseline
    assert report.n_labelled == [20, None] and report.n_replicates == 2
    assert (out / "learning_curve_related.png").read_bytes()[:4] == b"\x89PNG"


@pytest.mark.parametrize(
    "extra, match",
    [
        (["--labels", "0,all"], "expected distinct numbers of users"),
        (["--seeds", "0,0"], "expected distinct seeds"),
        (["--folds", "1"], "expected an integer >= 2"),
        (["--strategies", "teracon,nope"], "unknown strategy 'nope'"),
    ],
)
def test_cli_transfer_rejects_bad_options(tmp_path, extra, match):
    stderr = io.StringIO()
    argv = ["transfer", "--dataset", "synthetic", "--out", str(tmp_path / "o"), *extra]
    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(stderr):
        code = main(argv)
    assert code in (1, 2)
    assert match in stderr.getvalue()


def test_cli_transfer_interrupted_writes_the_partial_report(tmp_path, monkeypatch):
    partial = LabelScarceReport(
        task_names=["related"],
        metrics=["accuracy"],
        n_labelled=[20],
        methods=["teracon"],
        encoder_method="teracon",
        baselines=[],
        replicates=[{"seed": 0}],
        scores={("related", 20, "teracon", 0): 0.5},
    )

    def interrupted(self, stream, tasks=None):
        raise EvaluationInterrupted(partial)

    monkeypatch.setattr(LabelScarceEvaluator, "evaluate", interrupted)
    out = tmp_path / "o"
    argv = ["transfer", "--dataset", "synthetic", "--n-users", "120", "-q"]
    stdout, stderr = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(stdout), contextlib.redirect_stderr(stderr):
        code = main([*argv, "--tasks", "next_item,related", "--out", str(out)])
    assert code == 130
    assert "interrupted: the report of the scores finished so far" in stdout.getvalue()
    assert LabelScarceReport.load_json(out / "report.json").scores == partial.scores


def test_clone_of_a_spy_keeps_its_class():
    assert type(clone(SpyEncoder(**PARAMS))) is SpyEncoder

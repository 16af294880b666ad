"""Task orders and a noisy task (#22, items 1 and 2): the orders, the noise
task, the evaluator's ``order``, the robustness studies and their command line."""

import contextlib
import io
import json

import numpy as np
import pytest

from sklearn_teracon import ContinualUserEncoder
from sklearn_teracon.cli import main
from sklearn_teracon.datasets import make_synthetic_stream
from sklearn_teracon.datasets._reorder import parse_order, task_orders
from sklearn_teracon.evaluation import ContinualEvaluator
from sklearn_teracon.robustness import compare_noise, compare_orders

from .test_cli import TINY_RUN

NAMES = ["next_item", "liked", "five_star", "age", "gender", "occupation"]
# The CLI tests' tiny run, on one thread.
TINY = [*TINY_RUN[1:], "--threads", "1"]


@pytest.fixture(scope="module")
def stream():
    full = make_synthetic_stream(160, 50, max_len=10, random_state=0)
    return full.select(["next_item", "category", "related"])


@pytest.fixture(scope="module")
def encoder():
    return ContinualUserEncoder(
        embedding_dim=8, n_blocks=1, max_len=10, max_epochs=1, random_state=0
    )


def call(argv):
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main(argv)
    return code, out.getvalue(), err.getvalue()


# -- the orders ------------------------------------------------------------------
def test_reversed_keeps_the_first_task_first_and_reverses_the_rest():
    (order,) = task_orders(NAMES, "reversed")
    assert order[0] == NAMES[0]
    assert order[1:] == NAMES[1:][::-1]
    assert task_orders(NAMES, "given") == [NAMES]


def test_random_orders_are_seeded_and_keep_the_first_task_first():
    orders = task_orders(NAMES, "random:4", random_state=3)
    assert len(orders) == 4
    for order in orders:
        assert order[0] == NAMES[0] and sorted(order) == sorted(NAMES)
    assert task_orders(NAMES, "random:4", random_state=3) == orders
    others = [task_orders(NAMES, "random:4", random_state=s) for s in range(4, 8)]
    assert any(o != orders for o in others)
    assert len({tuple(o) for o in orders}) > 1  # not one order repeated


@pytest.mark.parametrize("bad", ["backwards", "random", "random:0", "random:x", ""])
def test_a_bad_order_is_a_clear_error(bad):
    with pytest.raises(ValueError, match="given.*reversed.*random:K"):
        parse_order(bad)
    with pytest.raises(TypeError, match="order must be"):
        parse_order(2)
    with pytest.raises(ValueError, match="distinct"):
        task_orders(["a", "a"], "reversed")


def test_the_evaluator_learns_the_tasks_in_the_order_asked(stream, encoder):
    single = [np.nan, 0.25, 0.5]  # given scores follow their tasks
    evaluator = ContinualEvaluator(
        encoder, single_task=single, baselines=False, order="reversed"
    )
    report = evaluator.evaluate(stream)
    assert report.task_names == ["next_item", "related", "category"]
    assert evaluator.orders_ == [report.task_names]
    np.testing.assert_array_equal(report.single_task_scores[1:], [0.5, 0.25])
    evaluator.order = "random:2"
    reports = evaluator.evaluate(stream)
    assert [r.task_names for r in reports] == evaluator.orders_
    assert len(reports) == 2
    evaluator.order = "sideways"
    with pytest.raises(ValueError, match="random:K"):
        evaluator.evaluate(stream)


# -- the noise task --------------------------------------------------------------
def test_the_noise_task_has_its_classes_and_users_and_leaves_the_rest(stream):
    noisy = stream.with_noise_task(
        n_classes=50, fraction=0.5, random_state=1, position=1
    )
    assert noisy.names == ["next_item", "noise", "category", "related"]
    for name in stream.names:  # the very same tasks, data untouched
        assert noisy[name] is stream[name]
    noise = noisy["noise"]
    for split in ("train", "validation", "test"):
        users = np.unique(np.concatenate([t.users[split] for t in stream]))
        labels = getattr(noise, split)[1]
        assert len(labels) == int(np.floor(0.5 * users.size + 0.5))
        assert set(noise.users[split]) <= set(users)
        assert labels.min() >= 0 and labels.max() < 50
    assert len(noise.classes) > 25  # spread over the 50 classes
    again = stream.with_noise_task(n_classes=50, fraction=0.5, random_state=1)
    np.testing.assert_array_equal(again["noise"].train[1], noise.train[1])
    assert again.names[-1] == "noise"
    for bad in (-1, 4, 1.5, True):
        with pytest.raises(ValueError, match="position"):
            stream.with_noise_task(position=bad)


# -- the studies ----------------------------------------------------------------
def test_the_studies_compare_like_with_like(stream, encoder):
    orders = compare_orders(encoder, stream, ["teracon", "finetune"])
    given, other = orders.given, orders.others[0]
    assert other.task_names == ["next_item", "related", "category"]
    for i, s in enumerate(orders.strategies):
        by_name = dict(zip(other.task_names, other.reports[s].final))
        for j, t in enumerate(orders.task_names):
            g = given.reports[s].final[j]
            np.testing.assert_allclose(orders.change[i, j], 100 * (by_name[t] - g) / g)
    assert "change" in orders.to_text() and "| strategy |" in orders.to_markdown()
    noise = compare_noise(
        encoder, stream, ["teracon"], position=2, n_classes=50, clean=given
    )
    assert noise.clean is given
    assert noise.noisy.task_names == ["next_item", "category", "noise", "related"]
    row, mean = noise.noise_relations("teracon")
    relations = noise.noisy.reports["teracon"].task_relations
    np.testing.assert_allclose(row, relations[2, [0, 1, 3]])
    assert np.isfinite(mean)
    with pytest.raises(ValueError, match="position"):
        compare_noise(encoder, stream, ["teracon"], position=4)
    with pytest.raises(ValueError, match="reference"):
        compare_orders(encoder, stream, ["teracon"], order="given")


# -- the command line ------------------------------------------------------------
def test_compare_runs_both_studies_and_writes_their_tables(tmp_path):
    out = tmp_path / "study"
    argv = [
        "compare",
        *TINY,
        "--tasks",
        "next_item,category,related",
        "--strategies",
        "teracon",
        "--order",
        "reversed",
        "--noise-task",
        "1",
        "--out",
        str(out),
        "-q",
    ]
    code, stdout, stderr = call(argv)
    assert code == 0, stderr
    assert "Final scores in the given order and reversed" in stdout
    assert "Task relations of 'noise'" in stdout
    order = json.loads((out / "order.json").read_text())
    assert order["orders"] == [["next_item", "related", "category"]]
    given = order["given"]["strategies"]["teracon"]["final"]
    other = dict(
        zip(order["orders"][0], order["others"][0]["strategies"]["teracon"]["final"])
    )
    expected = 100 * (other["category"] - given[1]) / given[1]
    assert order["change_percent"]["teracon"]["category"] == pytest.approx(expected)
    noise = json.loads((out / "noise.json").read_text())
    assert noise["noisy"]["task_names"] == ["next_item", "noise", "category", "related"]
    assert set(noise["noise_relations"]) == {"teracon"}
    row = noise["noise_relations"]["teracon"]["with"]
    assert list(row) == ["next_item", "category", "related"]
    for name in (
        "compare.json",
        "given/compare.json",
        "reversed/compare.md",
        "with-noise/compare.json",
        "without-noise/compare.json",
    ):
        assert (out / name).is_file(), name


@pytest.mark.parametrize(
    "flags, code, message",
    [
        (["--order", "backwards"], 2, "random:K"),
        (["--noise-task", "-1"], 2, "integer >= 0"),
        (["--noise-task", "7"], 1, "at most 3"),
    ],
)
def test_bad_study_flags_are_clear_errors(tmp_path, flags, code, message):
    argv = [
        "compare",
        *TINY,
        "--tasks",
        "next_item,category,related",
        *flags,
        "--out",
        str(tmp_path / "x"),
        "-q",
    ]
    got, stdout, stderr = call(argv)
    assert got == code and message in stderr + stdout


def test_a_bare_noise_task_flag_still_appends_the_task(tmp_path):
    from sklearn_teracon import _cli_steps
    from sklearn_teracon.cli import build_parser

    args = build_parser().parse_args(
        ["run", *TINY, "--tasks", "category,next_item", "--noise-task"]
    )
    assert args.noise_task is True
    stream = _cli_steps._select_tasks(_cli_steps._load_stream(args), args)
    assert stream.names == ["category", "next_item", "random_noise"]
    args.noise_task = 0
    stream = _cli_steps._select_tasks(_cli_steps._load_stream(args), args)
    assert stream.names == ["noise", "category", "next_item"]

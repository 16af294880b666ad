"""The command line's ``transfer`` command and the replicates of every command.

``sklearn-teracon transfer`` scores the later tasks of a stream trained on only
N labelled users (:class:`~sklearn_teracon.transfer.LabelScarceEvaluator`) over
seeds or user folds; ``run`` and ``compare`` take the same ``--seeds`` and
``--folds`` (:func:`add_replicate_arguments`), off by default. The steps every
command shares (loading the stream, making the encoder, writing into ``--out``)
are :mod:`sklearn_teracon.cli`'s, which builds its parser with
:func:`add_transfer_parser`.
"""

from __future__ import annotations

import argparse
import contextlib
import pickle
import re
import time
from pathlib import Path

from .cli import (
    DEFAULT_TRANSFER_OUT,
    EXIT_OK,
    UserError,
    _add_jobs_argument,
    _add_output_arguments,
    _add_stream_and_model_arguments,
    _int_at_least,
    _one_line,
    _print_and_save,
    _pyplot,
    _save_figure,
    _strategy_names,
    _stream_and_encoder,
    _thread_limit,
)

__all__ = ["add_replicate_arguments", "add_transfer_parser"]


def _labels_list(text: str) -> list[int | None]:
    """``100,300,all``: positive ints, ``all`` for every labelled user."""
    parts = [part.strip() for part in text.split(",")]
    try:
        values = [None if p == "all" else int(p) for p in parts]
    except ValueError:
        values = [0]
    if any(v is not None and v < 1 for v in values) or len(set(values)) < len(parts):
        raise argparse.ArgumentTypeError(
            f"expected distinct numbers of users >= 1 or 'all', like 100,300,all, "
            f"got {text!r}"
        )
    return values


def _seed_list(text: str) -> list[int]:
    parts = [part.strip() for part in text.split(",")]
    try:
        seeds = [int(p) for p in parts]
    except ValueError:
        seeds = [-1]
    if any(seed < 0 for seed in seeds) or len(set(seeds)) < len(seeds):
        raise argparse.ArgumentTypeError(
            f"expected distinct seeds >= 0 like 0,1,2, got {text!r}"
        )
    return seeds


def _add_seeds_and_folds(
    parser, seeds: list[int] | None, seeds_help: str, also: str
) -> None:
    """``--seeds`` (default ``seeds``) and ``--folds``, seeded by the first of
    ``--seeds`` and then ``also``."""
    parser.add_argument(
        "--seeds",
        type=_seed_list,
        default=seeds,
        metavar="S,S,...",
        help=seeds_help,
    )
    parser.add_argument(
        "--folds",
        type=_int_at_least(2, "an integer >= 2"),
        metavar="K",
        default=None,
        help="replicates are K user folds instead (every user tested once), "
        f"seeded by the first of --seeds{also}",
    )


def add_replicate_arguments(parser: argparse.ArgumentParser) -> None:
    """``--seeds`` and ``--folds`` of ``run`` and ``compare`` (off by default)."""
    _add_seeds_and_folds(
        parser.add_argument_group("replicates"),
        None,
        "one replicate per seed (the model's random_state; --seed still "
        "seeds the user split): the table shows mean ± std over them and a "
        "paired 95%% interval against the best baseline (default: one run)",
        ", else by --seed",
    )


def add_transfer_parser(commands) -> None:
    """The ``transfer`` command's parser, added to ``commands``."""
    transfer = commands.add_parser(
        "transfer",
        help="score the later tasks when only N of their users are labelled",
        description=(
            "The label-scarce protocol: train the stream task after task on all "
            "of each task's users, and score every later task (each task after "
            "the first of --tasks) when it is learned from only N labelled "
            "users, for each N of --labels, against the same model trained on "
            "that task alone, a linear probe of the earlier representation and "
            "the simple baselines, all on the same users, over several seeds or "
            "user folds. Prints the table (mean and std over replicates, the "
            "encoder against the best baseline with a paired 95% interval) and "
            "writes report.json, report.pkl (the whole report, per-row scores "
            "included), report.md and learning_curve_<task>.png into --out."
        ),
    )
    _add_stream_and_model_arguments(transfer)
    transfer.add_argument(
        "--labels",
        type=_labels_list,
        default=[100, 300, 1000, None],
        metavar="N,N,...",
        help="numbers of labelled users of each later task, 'all' for every "
        "one (default: 100,300,1000,all)",
    )
    _add_seeds_and_folds(
        transfer,
        [0, 1, 2],
        "one replicate per seed: the model's random_state and the draw of "
        "the labelled users (default: 0,1,2)",
        "",
    )
    transfer.add_argument(
        "--strategies",
        default="teracon",
        metavar="NAME,NAME,...",
        help="the encoder's strategy, then others to run the same protocol "
        "for (default: %(default)s), e.g. teracon,hat",
    )
    _add_jobs_argument(transfer, "replicates (seeds or folds)")
    _add_output_arguments(
        transfer,
        DEFAULT_TRANSFER_OUT,
        "folder for report.json, report.md and the learning curves "
        "(default: %(default)s)",
        "no progress output, only the table",
    )
    transfer.set_defaults(job=_transfer_in)


def _worker_threads(threads: int | None):
    """Threads of each joblib worker: ``threads``, or the evaluator's default."""
    if threads is None:
        return contextlib.nullcontext()
    from joblib import parallel_config

    return parallel_config(backend="loky", inner_max_num_threads=threads)


def _at_least_two_tasks(stream) -> None:
    if len(stream) < 2:
        raise UserError("--tasks: name at least two tasks; the later ones are scored")


def _transfer_in(out: Path, args, started: float) -> int:
    names = _strategy_names(args.strategies)
    args.strategy = names[0]  # the encoder's; the others run beside it
    stream, encoder = _stream_and_encoder(args, _at_least_two_tasks)
    from .evaluation import EvaluationInterrupted
    from .transfer import LabelScarceEvaluator

    evaluator = LabelScarceEvaluator(
        encoder,
        n_labelled=args.labels,
        seeds=args.seeds,
        n_folds=args.folds,
        strategies=names[1:],
        n_jobs=args.jobs,
        verbose=0 if args.quiet else 1,
    )
    with _thread_limit(args.threads), _worker_threads(args.threads):
        try:
            report = evaluator.evaluate(stream)
        except EvaluationInterrupted as exc:
            if exc.report is not None and exc.report.scores:
                print("\ninterrupted: the report of the scores finished so far")
                _write_transfer_report(exc.report, out, args)
            raise
        except ValueError as exc:  # e.g. N users with a single label
            raise UserError(_one_line(exc)) from exc
    if not args.quiet:
        print()
    _write_transfer_report(report, out, args)
    print(f"total time {time.perf_counter() - started:.0f}s")
    return EXIT_OK


def _write_transfer_report(report, out: Path, args) -> None:
    """Print ``report`` and write report.json, report.pkl (the whole report,
    per-row scores included), report.md and the learning curves."""

    def save(out: Path) -> list[str]:
        report.save_json(out / "report.json")
        with open(out / "report.pkl", "wb") as f:  # with the per-row scores
            pickle.dump(report, f, protocol=pickle.HIGHEST_PROTOCOL)
        (out / "report.md").write_text(report.to_markdown(), encoding="utf-8")
        written = ["report.json", "report.pkl", "report.md"]
        plt = _pyplot()
        if plt is None:
            return written
        from .plotting import plot_learning_curve

        for task in report.task_names:
            if not any(key[0] == task for key in report.scores):
                continue
            name = "learning_curve_" + re.sub(r"[^\w.-]", "_", task) + ".png"
            _save_figure(plt, plot_learning_curve(report, task), out / name)
            written.append(name)
        return written

    _print_and_save(report.summary(), save, out, args)

"""The command line's ``transfer`` command.

``sklearn-teracon transfer`` scores the later tasks of a stream trained on only
N labelled users (:class:`~sklearn_teracon.transfer.LabelScarceEvaluator`) over
seeds or user folds, and writes ``report.json``, ``report.pkl``, ``report.md``
and one learning curve per scored task into ``--out``. :mod:`sklearn_teracon.cli`
builds its parser with :func:`add_transfer_parser`.
"""

from __future__ import annotations

import contextlib
import pickle
import re
import time
from pathlib import Path

from ._cli_arguments import (
    add_command,
    add_jobs_argument,
    add_output_arguments,
    add_seeds_and_folds,
)
from ._cli_common import (
    DEFAULT_TRANSFER_OUT,
    EXIT_OK,
    UserError,
    labels_list,
    one_line,
    strategy_names,
)
from ._cli_steps import (
    print_and_save,
    pyplot,
    save_figure,
    stream_and_encoder,
    thread_limit,
)

__all__ = ["add_transfer_parser"]


def add_transfer_parser(commands) -> None:
    """The ``transfer`` command's parser, added to ``commands``."""
    transfer = add_command(
        commands,
        "transfer",
        "score the later tasks when only N of their users are labelled",
        (
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
    transfer.add_argument(
        "--labels",
        type=labels_list,
        default=[100, 300, 1000, None],
        metavar="N,N,...",
        help="numbers of labelled users of each later task, 'all' for every "
        "one (default: 100,300,1000,all)",
    )
    add_seeds_and_folds(
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
    add_jobs_argument(transfer, "replicates (seeds or folds)")
    add_output_arguments(
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
    names = strategy_names(args.strategies)
    args.strategy = names[0]  # the encoder's; the others run beside it
    stream, encoder = stream_and_encoder(args, _at_least_two_tasks)
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
    with thread_limit(args.threads), _worker_threads(args.threads):
        try:
            report = evaluator.evaluate(stream)
        except EvaluationInterrupted as exc:
            if exc.report is not None and exc.report.scores:
                print("\ninterrupted: the report of the scores finished so far")
                _write_transfer_report(exc.report, out, args)
            raise
        except ValueError as exc:  # e.g. N users with a single label
            raise UserError(one_line(exc)) from exc
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
        plt = pyplot()
        if plt is None:
            return written
        from .plotting import plot_learning_curve

        for task in report.task_names:
            if not any(key[0] == task for key in report.scores):
                continue
            name = "learning_curve_" + re.sub(r"[^\w.-]", "_", task) + ".png"
            save_figure(plt, plot_learning_curve(report, task), out / name)
            written.append(name)
        return written

    print_and_save(report.summary(), save, out, args)

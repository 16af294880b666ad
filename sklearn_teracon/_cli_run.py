"""The command line's ``run`` and ``compare`` commands.

``run`` trains one strategy over a task stream with
:class:`~sklearn_teracon.evaluation.ContinualEvaluator` and writes
``report.json``, ``report.md``, ``transfer.png`` and ``relations.png``;
``compare`` runs several strategies over the same stream
(:func:`~sklearn_teracon.compare.compare_strategies`) and writes
``compare.json``, ``compare.md`` and ``compare.png``. Both repeat over
``--seeds`` or ``--folds`` when asked.
"""

from __future__ import annotations

import time
from pathlib import Path

from ._cli_arguments import (
    add_command,
    add_jobs_argument,
    add_output_arguments,
    add_replicate_arguments,
)
from ._cli_common import (
    DEFAULT_COMPARE_OUT,
    DEFAULT_OUT,
    EXIT_OK,
    UserError,
    one_line,
    strategy_names,
)
from ._cli_robustness import order_spec, robustness_in, wants_study
from ._cli_steps import (
    print_and_save,
    pyplot,
    save_figure,
    stream_and_encoder,
    thread_limit,
)

__all__ = ["add_compare_parser", "add_run_parser"]


def add_run_parser(commands) -> None:
    """The ``run`` command's parser, added to ``commands``."""
    run = add_command(
        commands,
        "run",
        "train TERACON over a task stream and report the continual metrics",
        "Train TERACON task after task over a stream (by default the six "
        "MovieLens-100K tasks, downloaded on first use), score every task "
        "learned so far on its test users after each task, and print the "
        "paper-shaped table: each task's score after its own training, at "
        "the end, and trained alone (SinMo), with backward and forward "
        "transfer. Writes report.json, report.md, transfer.png and "
        "relations.png into --out.",
    )
    run.set_defaults(job=_run_in)
    run.add_argument(
        "--strategy",
        default="teracon",
        metavar="NAME",
        help="the continual-learning strategy, one of those `compare` runs "
        "(default: %(default)s), e.g. hat, conure, joint",
    )
    run.add_argument(
        "--no-single-task",
        dest="single_task",
        action="store_false",
        help="skip training each task alone (SinMo): faster, but FWT is n/a",
    )
    add_replicate_arguments(run)
    add_output_arguments(
        run,
        DEFAULT_OUT,
        "folder for report.json, report.md, transfer.png, relations.png "
        "(default: %(default)s)",
        "no progress output, only the final table",
    )


def add_compare_parser(commands) -> None:
    """The ``compare`` command's parser, added to ``commands``."""
    compare = add_command(
        commands,
        "compare",
        "run several strategies over the same task stream and compare them",
        "Run every strategy named (TERACON and the systems the paper compares "
        "it with) over the same stream, split and seed with the continual "
        "protocol, and print one row per strategy: each task's final score, "
        "BWT, FWT (against the single-task models, always trained), training "
        "time and model size. Writes compare.json, compare.md and compare.png "
        "into --out.",
    )
    compare.add_argument(
        "--strategies",
        default=None,
        metavar="NAME,NAME,...",
        help="strategies to compare, in the table's order (default: all), e.g. "
        "teracon,sequential,finetune,single,joint",
    )
    compare.add_argument(
        "--order",
        type=order_spec,
        default="given",
        metavar="ORDER",
        help="given (default), reversed (the first task kept first, the others "
        "reversed) or random:K (K seeded permutations after the first task): "
        "also run the other order and tabulate each task's change in %%",
    )
    add_jobs_argument(compare, "strategies")
    add_replicate_arguments(compare)
    add_output_arguments(
        compare,
        DEFAULT_COMPARE_OUT,
        "folder for compare.json, compare.md, compare.png (default: %(default)s)",
        "no progress output, only the table",
    )
    compare.set_defaults(job=_compare_in)


# --------------------------------------------------------------------------- #
# the jobs
# --------------------------------------------------------------------------- #
def _run_in(out: Path, args, started: float) -> int:
    stream, encoder = stream_and_encoder(args)
    from .evaluation import ContinualEvaluator, EvaluationInterrupted

    evaluator = ContinualEvaluator(
        encoder,
        single_task="compute" if args.single_task else None,
        seeds=args.seeds,
        n_folds=args.folds,
        verbose=0 if args.quiet else 1,
    )
    with thread_limit(args.threads):
        try:
            report = evaluator.evaluate(stream)
        except EvaluationInterrupted as exc:
            if exc.report is not None:  # keep what Ctrl-C would throw away
                done = getattr(exc.report, "replicates", None)
                print(
                    f"\ninterrupted: the report of the {len(done)} finished replicates"
                    if done is not None
                    else f"\ninterrupted: the report of the {exc.report.n_tasks} "
                    f"finished tasks (of {len(stream)})"
                )
                _write_report(exc.report, out, args)
            raise
        except ValueError as exc:  # e.g. more --folds than users
            if args.seeds is None and args.folds is None:
                raise
            raise UserError(one_line(exc)) from exc

    if not args.quiet:
        print()
    _write_report(report, out, args)
    print(f"total time {time.perf_counter() - started:.0f}s")
    return EXIT_OK


def _compare_in(out: Path, args, started: float) -> int:
    names = None if args.strategies is None else strategy_names(args.strategies)
    if wants_study(args):  # --order or --noise-task POSITION
        return robustness_in(out, args, started, names)
    stream, encoder = stream_and_encoder(args)
    from .compare import compare_strategies

    with thread_limit(args.threads):
        try:
            comparison = compare_strategies(
                encoder,
                stream,
                names,
                seeds=args.seeds,
                n_folds=args.folds,
                n_jobs=args.jobs,
                # Killed or interrupted, the finished strategies' rows stay on disk.
                on_progress=lambda so_far: so_far.save(out, figure=False),
                verbose=0 if args.quiet else 1,
            )
        except ValueError as exc:  # e.g. more --folds than users
            if args.seeds is None and args.folds is None:
                raise
            raise UserError(one_line(exc)) from exc
    print_and_save(comparison.to_text(), comparison.save, out, args, "table")
    print(f"total time {time.perf_counter() - started:.0f}s")
    return EXIT_OK


# --------------------------------------------------------------------------- #
# the files of `run`
# --------------------------------------------------------------------------- #
def _write_report(report, out: Path, args) -> None:
    """Print ``report`` and write report.json, report.md and the figures."""

    def save(out: Path) -> list[str]:
        report.save_json(out / "report.json")
        (out / "report.md").write_text(report.to_markdown() + "\n", encoding="utf-8")
        return ["report.json", "report.md", *_write_figures(report, out)]

    print_and_save(report.to_text(), save, out, args)


def _write_figures(report, out: Path) -> list[str]:
    plt = pyplot("transfer.png and relations.png were skipped (pip install matplotlib)")
    if plt is None:
        return []
    from .plotting import plot_task_relations, plot_transfer_matrix

    title = f" ({report.stream})" if report.stream else ""
    if hasattr(report, "replicates"):  # a ReplicatedReport: its means
        title += f", mean over {report.n_replicates} replicates"
    written = []
    for filename, make in (
        (
            "transfer.png",
            lambda: plot_transfer_matrix(
                report.R,
                report.task_names,
                metrics=report.metrics,
                title=f"Continual transfer matrix{title}",
            ),
        ),
        (
            "relations.png",
            lambda: plot_task_relations(
                report.task_relations,
                report.task_names,
                title=f"Task relations: mask similarity{title}",
            ),
        ),
    ):
        save_figure(plt, make(), out / filename)
        written.append(filename)
    return written

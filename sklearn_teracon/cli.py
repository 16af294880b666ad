"""The command line: ``sklearn-teracon run`` (or ``python -m sklearn_teracon run``).

Trains TERACON over a task stream with :class:`~sklearn_teracon.evaluation.
ContinualEvaluator`, prints the paper-shaped table and writes ``report.json``,
``report.md``, ``transfer.png`` and ``relations.png`` into ``--out``.
``compare`` runs several strategies; ``transfer`` scores the later tasks
trained on only N labelled users (:class:`~sklearn_teracon.transfer.
LabelScarceEvaluator`). ``--seeds`` and ``--folds`` repeat ``run`` and
``compare`` over seeds or user folds (mean ± std, paired intervals); the
``transfer`` command and those options are built in ``_cli_transfer``.

A user mistake (unknown data set or task, unwritable output folder, failed
download, ...) ends with one line on stderr, ``sklearn-teracon: error: ...``, and
a non-zero exit code, never a traceback.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import os
import sys
import tempfile
import time
from pathlib import Path

from .training._precision import PRECISIONS

__all__ = ["main"]

PROG = "sklearn-teracon"
DATASETS = ("movielens-100k", "movielens-1m", "synthetic")

# Defaults of the main job, chosen so that the default run (MovieLens-100K, six
# tasks, with the five single-task models for FWT) takes well under 10 minutes on
# a 2-core laptop CPU: measured 106 s on a shared 2-core CPU (docs/evaluation.rst).
# Early stopping ends every MovieLens-100K task before 20 epochs (next_item near
# epoch 10, the others after 4 to 6), so the epoch limit only bounds the worst case.
DEFAULT_EPOCHS = 20
DEFAULT_EMBEDDING_DIM = 64
DEFAULT_N_BLOCKS = 4
DEFAULT_BATCH_SIZE = 128
DEFAULT_ALPHA = 2.0
DEFAULT_OUT = "teracon-run"
DEFAULT_COMPARE_OUT = "teracon-compare"
DEFAULT_TRANSFER_OUT = "teracon-transfer"
SYNTHETIC_USERS = 2000
SYNTHETIC_ITEMS = 200

EXIT_OK = 0
EXIT_ERROR = 1
EXIT_USAGE = 2
EXIT_INTERRUPTED = 130


class UserError(Exception):
    """A mistake in the command line or its environment, shown as one line."""


class _Parser(argparse.ArgumentParser):
    """argparse, but a usage error is one line on stderr (no usage block)."""

    def error(self, message: str):
        self.exit(EXIT_USAGE, f"{PROG}: error: {message} (see {PROG} --help)\n")


def _int_at_least(minimum: int, what: str):
    """An argparse type: an integer of at least ``minimum``."""

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            value = minimum - 1
        if value < minimum:
            raise argparse.ArgumentTypeError(f"expected {what}, got {text!r}")
        return value

    return parse


_positive_int = _int_at_least(1, "a positive integer")
_non_negative_int = _int_at_least(0, "an integer >= 0")


def _non_negative_float(text: str) -> float:
    """An argparse type: a finite number of at least 0."""
    try:
        value = float(text)
    except ValueError:
        value = -1.0
    if not 0 <= value < float("inf"):
        raise argparse.ArgumentTypeError(f"expected a number >= 0, got {text!r}")
    return value


def _task_list(text: str) -> list[str]:
    names = [name.strip() for name in text.split(",")]
    if not text.strip() or any(not name for name in names):
        raise argparse.ArgumentTypeError(
            f"expected comma-separated task names like next_item,liked, got {text!r}"
        )
    repeated = sorted({name for name in names if names.count(name) > 1})
    if repeated:
        raise argparse.ArgumentTypeError(
            f"each task may be named once; repeated: {', '.join(repeated)}"
        )
    return names


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of ``sklearn-teracon``."""
    parser = _Parser(
        prog=PROG,
        description=(
            "Continual universal user representation learning (TERACON, KDD 2023) "
            "as a scikit-learn estimator."
        ),
    )
    from . import __version__

    # Imported here: _cli_transfer imports this module's steps.
    from ._cli_transfer import add_replicate_arguments, add_transfer_parser

    parser.add_argument("--version", action="version", version=f"{PROG} {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")
    commands.required = True
    run = commands.add_parser(
        "run",
        help="train TERACON over a task stream and report the continual metrics",
        description=(
            "Train TERACON task after task over a stream (by default the six "
            "MovieLens-100K tasks, downloaded on first use), score every task "
            "learned so far on its test users after each task, and print the "
            "paper-shaped table: each task's score after its own training, at "
            "the end, and trained alone (SinMo), with backward and forward "
            "transfer. Writes report.json, report.md, transfer.png and "
            "relations.png into --out."
        ),
    )
    _add_stream_and_model_arguments(run)
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
    _add_output_arguments(
        run,
        DEFAULT_OUT,
        "folder for report.json, report.md, transfer.png, relations.png "
        "(default: %(default)s)",
        "no progress output, only the final table",
    )
    _add_compare_parser(commands)
    add_transfer_parser(commands)
    return parser


def _add_stream_and_model_arguments(parser: argparse.ArgumentParser) -> None:
    """The data and model options that ``run`` and ``compare`` share."""
    data = parser.add_argument_group("data")
    data.add_argument(
        "--dataset",
        choices=DATASETS,
        default="movielens-100k",
        help="task stream to learn (default: %(default)s); 'synthetic' works offline",
    )
    data.add_argument(
        "--tasks",
        type=_task_list,
        default=None,
        metavar="NAME,NAME,...",
        help="tasks to learn, in this order (default: every task of the stream, "
        "in its order); e.g. next_item,liked,age",
    )
    data.add_argument(
        "--noise-task",
        action="store_true",
        help="add a task of random labels (robustness check); it comes last unless "
        "--tasks places it",
    )
    data.add_argument(
        "--n-users",
        type=_positive_int,
        metavar="N",
        default=None,
        help=f"users of the synthetic stream (default {SYNTHETIC_USERS}; "
        "--dataset synthetic only)",
    )
    data.add_argument(
        "--n-items",
        type=_positive_int,
        metavar="N",
        default=None,
        help=f"items of the synthetic stream (default {SYNTHETIC_ITEMS}; "
        "--dataset synthetic only)",
    )
    data.add_argument(
        "--data-home",
        default=None,
        metavar="DIR",
        help="cache folder for downloaded MovieLens files (default: "
        "$SKLEARN_TERACON_DATA or ~/sklearn_teracon_data)",
    )
    model = parser.add_argument_group("model and training")
    model.add_argument(
        "--epochs",
        type=_positive_int,
        metavar="N",
        default=DEFAULT_EPOCHS,
        help="maximum epochs per task (default: %(default)s; early stopping may "
        "stop sooner)",
    )
    model.add_argument(
        "--embedding-dim",
        type=_positive_int,
        metavar="N",
        default=DEFAULT_EMBEDDING_DIM,
        help="width of item embeddings and user representations (default: "
        "%(default)s; paper: 256)",
    )
    model.add_argument(
        "--n-blocks",
        type=_positive_int,
        metavar="N",
        default=DEFAULT_N_BLOCKS,
        help="residual blocks of the NextItNet backbone (default: %(default)s; "
        "paper: 8)",
    )
    model.add_argument(
        "--batch-size",
        type=_positive_int,
        metavar="N",
        default=DEFAULT_BATCH_SIZE,
        help="users per batch (default: %(default)s)",
    )
    model.add_argument(
        "--alpha",
        type=_non_negative_float,
        metavar="A",
        default=DEFAULT_ALPHA,
        help="weight of TERACON's knowledge retention (default: %(default)s; "
        "0 turns it off); a larger one keeps earlier tasks better and lets "
        "new ones learn less",
    )
    model.add_argument(
        "--bag-weight",
        type=_non_negative_float,
        metavar="W",
        default=0.0,
        help="weight of the bag-of-items term of next-item tasks (default: "
        "%(default)s, none); the representation then keeps more of what "
        "profile tasks read",
    )
    model.add_argument(
        "--precision",
        choices=PRECISIONS,
        default="float32",
        help="arithmetic of forward passes (default: %(default)s); bfloat16 "
        "runs them under autocast, faster on CPUs with bf16 instructions and GPUs",
    )
    model.add_argument(
        "--device",
        default="cpu",
        help="torch device (default: %(default)s), e.g. cuda, cuda:1, mps",
    )
    model.add_argument(
        "--threads",
        type=_positive_int,
        metavar="N",
        default=None,
        help="CPU threads for torch (default: torch's choice, one per core); 1 is "
        "much faster on a machine whose cores are busy with other work",
    )
    model.add_argument(
        "--seed",
        type=_non_negative_int,
        metavar="N",
        default=0,
        help="seeds the user split, the noise task and the model (default: "
        "%(default)s)",
    )


def _add_jobs_argument(parser: argparse.ArgumentParser, what: str) -> None:
    parser.add_argument(
        "--jobs",
        type=_positive_int,
        metavar="N",
        default=1,
        help=f"{what} trained at once, each in its own process with its share "
        "of the cores (default: %(default)s); on a GPU several keep it busy",
    )


def _add_output_arguments(
    parser: argparse.ArgumentParser, out: str, out_help: str, quiet_help: str
) -> None:
    """``--out`` (default ``out``), ``-q``/``--quiet`` and ``--traceback``, the
    last options of every command."""
    parser.add_argument("--out", default=out, metavar="DIR", help=out_help)
    parser.add_argument("-q", "--quiet", action="store_true", help=quiet_help)
    parser.add_argument(
        "--traceback",
        action="store_true",
        help="show the full traceback of an unexpected error (for bug reports)",
    )


def _add_compare_parser(commands) -> None:
    from ._cli_transfer import add_replicate_arguments

    compare = commands.add_parser(
        "compare",
        help="run several strategies over the same task stream and compare them",
        description=(
            "Run every strategy named (TERACON and the systems the paper compares "
            "it with) over the same stream, split and seed with the continual "
            "protocol, and print one row per strategy: each task's final score, "
            "BWT, FWT (against the single-task models, always trained), training "
            "time and model size. Writes compare.json, compare.md and compare.png "
            "into --out."
        ),
    )
    _add_stream_and_model_arguments(compare)
    compare.add_argument(
        "--strategies",
        default=None,
        metavar="NAME,NAME,...",
        help="strategies to compare, in the table's order (default: all), e.g. "
        "teracon,sequential,finetune,single,joint",
    )
    _add_jobs_argument(compare, "strategies")
    add_replicate_arguments(compare)
    _add_output_arguments(
        compare,
        DEFAULT_COMPARE_OUT,
        "folder for compare.json, compare.md, compare.png (default: %(default)s)",
        "no progress output, only the table",
    )
    compare.set_defaults(job=_compare_in)


# --------------------------------------------------------------------------- #
# the steps of `run`
# --------------------------------------------------------------------------- #
def _prepare_out(path: str) -> tuple[Path, bool]:
    """Create ``path`` and check that files can be written into it.

    Returns the folder and whether it was created here.
    """
    out = Path(path).expanduser()
    if out.exists() and not out.is_dir():
        raise UserError(f"--out {path}: exists and is not a folder")
    created = not out.exists()
    try:
        out.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryFile(dir=out):
            pass
    except OSError as exc:
        reason = exc.strerror or str(exc)
        raise UserError(f"--out {path}: cannot write there ({reason})") from exc
    return out, created


def _load_stream(args):
    from .datasets import make_movielens_stream, make_synthetic_stream

    if args.dataset != "synthetic":
        given = [
            flag
            for flag, value in (
                ("--n-users", args.n_users),
                ("--n-items", args.n_items),
            )
            if value is not None
        ]
        if given:
            raise UserError(
                f"{' and '.join(given)} only "
                f"{'applies' if len(given) == 1 else 'apply'} to --dataset synthetic "
                f"(got --dataset {args.dataset})"
            )
        variant = args.dataset.split("-", 1)[1]
        try:
            return make_movielens_stream(
                variant, random_state=args.seed, data_home=args.data_home
            )
        except OSError as exc:
            raise UserError(
                f"could not load MovieLens-{variant.upper()}: {_one_line(exc)}"
            ) from exc
    try:
        return make_synthetic_stream(
            SYNTHETIC_USERS if args.n_users is None else args.n_users,
            SYNTHETIC_ITEMS if args.n_items is None else args.n_items,
            random_state=args.seed,
        )
    except ValueError as exc:
        raise UserError(f"--dataset synthetic: {_one_line(exc)}") from exc


def _noise_name(names: list[str]) -> str:
    for name in ("noise", "random_noise"):
        if name not in names:
            return name
    i = 2
    while f"random_noise_{i}" in names:
        i += 1
    return f"random_noise_{i}"


def _select_tasks(stream, args):
    if args.noise_task:
        noise = _noise_name(stream.names)
        stream = stream.with_noise_task(random_state=args.seed, name=noise)
    if args.tasks is None:
        return stream
    requested = list(args.tasks)
    if args.noise_task and noise not in requested:
        requested.append(noise)
    unknown = [name for name in requested if name not in stream.names]
    if unknown:
        plural = "s" if len(unknown) > 1 else ""
        raise UserError(
            f"--tasks: unknown task{plural} {', '.join(unknown)}; "
            f"{args.dataset} has {', '.join(stream.names)}"
        )
    return stream.select(requested)


def _make_encoder(args):
    from .encoder import ContinualUserEncoder
    from .strategies import STRATEGIES
    from .training._device import check_device

    try:
        check_device(args.device)
    except ValueError as exc:
        raise UserError(f"--device: {exc}") from None
    strategy = getattr(args, "strategy", "teracon")  # `compare` sets its own
    if strategy not in STRATEGIES:
        raise UserError(
            f"--strategy {strategy}: expected one of {', '.join(STRATEGIES)}"
        )
    return ContinualUserEncoder(
        embedding_dim=args.embedding_dim,
        n_blocks=args.n_blocks,
        batch_size=args.batch_size,
        max_epochs=args.epochs,
        alpha=args.alpha,
        bag_weight=args.bag_weight,
        device=args.device,
        precision=args.precision,
        random_state=args.seed,
        verbose=0 if args.quiet else 1,
        strategy=strategy,
    )


def _strategy_names(text: str) -> list[str]:
    """The names of ``--strategies``, each a known strategy, none twice."""
    from .strategies import STRATEGIES

    names = [name.strip() for name in text.split(",")]
    unknown = [name for name in names if name not in STRATEGIES]
    if unknown or len(set(names)) != len(names):
        raise UserError(
            f"--strategies {text}: expected distinct names among {','.join(STRATEGIES)}"
        )
    return names


def _stream_and_encoder(args, check_stream=None) -> tuple:
    """The task stream of the options (given to ``check_stream`` first, when
    there is one) and their encoder; the stream is printed unless ``--quiet``."""
    stream = _select_tasks(_load_stream(args), args)
    if check_stream is not None:
        check_stream(stream)
    encoder = _make_encoder(args)
    if not args.quiet:
        print(stream)
        print()
    return stream, encoder


def _pyplot(skipped: str = "the figures were skipped"):
    """matplotlib.pyplot on the Agg backend; without matplotlib, None and a
    note that ``skipped``."""
    try:
        import matplotlib
    except ImportError:
        print(f"note: matplotlib is not installed, so {skipped}")
        return None
    if "matplotlib.pyplot" not in sys.modules:
        matplotlib.use("Agg")  # files only: no window, works without a display
    import matplotlib.pyplot as plt

    return plt


def _save_figure(plt, fig, path: Path) -> None:
    """Write ``fig`` to ``path`` and close it."""
    try:
        fig.savefig(path, dpi=150)
    finally:
        plt.close(fig)


def _write_figures(report, out: Path) -> list[str]:
    plt = _pyplot(
        "transfer.png and relations.png were skipped (pip install matplotlib)"
    )
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
        _save_figure(plt, make(), out / filename)
        written.append(filename)
    return written


def _thread_limit(threads: int | None):
    """Limit torch's OpenMP pool (and BLAS) for a block, without importing torch."""
    if threads is None:
        return contextlib.nullcontext()
    from threadpoolctl import threadpool_limits

    return threadpool_limits(limits=threads)


def _one_line(exc: BaseException) -> str:
    text = " ".join(str(exc).split())
    return text or type(exc).__name__


def _run(args) -> int:
    started = time.perf_counter()
    # Checked first, so that a bad --out never costs a download or a training.
    out, created = _prepare_out(args.out)
    try:
        return args.job(out, args, started)
    except BaseException:
        if created:  # leave no empty folder behind after a failure
            with contextlib.suppress(OSError):
                out.rmdir()  # only succeeds while it is empty
        raise


def _run_in(out: Path, args, started: float) -> int:
    stream, encoder = _stream_and_encoder(args)
    from .evaluation import ContinualEvaluator, EvaluationInterrupted

    evaluator = ContinualEvaluator(
        encoder,
        single_task="compute" if args.single_task else None,
        seeds=args.seeds,
        n_folds=args.folds,
        verbose=0 if args.quiet else 1,
    )
    with _thread_limit(args.threads):
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
            raise UserError(_one_line(exc)) from exc

    if not args.quiet:
        print()
    _write_report(report, out, args)
    print(f"total time {time.perf_counter() - started:.0f}s")
    return EXIT_OK


def _compare_in(out: Path, args, started: float) -> int:
    names = None if args.strategies is None else _strategy_names(args.strategies)
    stream, encoder = _stream_and_encoder(args)
    from .compare import compare_strategies

    with _thread_limit(args.threads):
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
            raise UserError(_one_line(exc)) from exc
    _print_and_save(comparison.to_text(), comparison.save, out, args, "table")
    print(f"total time {time.perf_counter() - started:.0f}s")
    return EXIT_OK


def _print_and_save(text: str, save, out: Path, args, what: str = "report") -> None:
    """Print ``text``, then ``save(out)``, which returns the names of the files
    it wrote; a failure to write ends as a UserError."""
    print(text)
    print()
    try:
        written = save(out)
    except OSError as exc:
        raise UserError(f"--out {args.out}: cannot write the {what} ({exc})") from exc
    print(f"wrote {', '.join(written)} to {out}", flush=True)


def _write_report(report, out: Path, args) -> None:
    """Print ``report`` and write report.json, report.md and the figures."""

    def save(out: Path) -> list[str]:
        report.save_json(out / "report.json")
        (out / "report.md").write_text(report.to_markdown() + "\n", encoding="utf-8")
        return ["report.json", "report.md", *_write_figures(report, out)]

    _print_and_save(report.to_text(), save, out, args)


def _silence_stdout() -> None:
    """Point stdout at devnull so that Python's exit flush does not fail again."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError, AttributeError, io.UnsupportedOperation):
        pass


def main(argv: list[str] | None = None) -> int:
    """Run the command line; returns the exit code.

    Parameters
    ----------
    argv : list of str, default=None
        Arguments without the program name (default: ``sys.argv[1:]``).

    Returns
    -------
    int
        0 on success, 1 on an error, 2 on a usage error, 130 when interrupted.

    Examples
    --------
    >>> from sklearn_teracon.cli import main
    >>> main(["run", "--dataset", "synthetic", "--epochs", "1"])  # doctest: +SKIP
    0
    """
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # --help, --version, usage errors
        return exc.code if isinstance(exc.code, int) else EXIT_USAGE
    try:
        return _run(args)
    except UserError as exc:
        print(f"{PROG}: error: {exc}", file=sys.stderr)
        return EXIT_ERROR
    except KeyboardInterrupt:
        print(f"{PROG}: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    except BrokenPipeError:  # e.g. `sklearn-teracon run | head`: stop quietly
        _silence_stdout()
        return EXIT_ERROR
    except Exception as exc:  # one line, unless --traceback
        if args.traceback:
            raise
        print(
            f"{PROG}: error: {type(exc).__name__}: {_one_line(exc)} "
            "(run again with --traceback for details)",
            file=sys.stderr,
        )
        return EXIT_ERROR


if __name__ == "__main__":  # pragma: no cover
    # `python -m sklearn_teracon.cli`: run the package's copy of this module,
    # the one whose UserError _cli_transfer raises.
    from sklearn_teracon.cli import main as package_main

    sys.exit(package_main())

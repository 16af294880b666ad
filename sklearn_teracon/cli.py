"""The command line: ``sklearn-teracon run`` (or ``python -m sklearn_teracon run``).

Trains TERACON over a task stream with :class:`~sklearn_teracon.evaluation.
ContinualEvaluator`, prints the paper-shaped table and writes ``report.json``,
``report.md``, ``transfer.png`` and ``relations.png`` into ``--out``.
``compare`` runs several strategies; ``embed`` writes a saved model's
embeddings of a Parquet file's users; ``transfer`` scores the later tasks
trained on only N labelled users (:class:`~sklearn_teracon.transfer.
LabelScarceEvaluator`). ``--seeds`` and ``--folds`` repeat ``run`` and
``compare`` over seeds or user folds (mean ± std, paired intervals).

A user mistake (unknown data set or task, unwritable output folder, failed
download, ...) ends with one line on stderr, ``sklearn-teracon: error: ...``, and
a non-zero exit code, never a traceback.

This module builds the parser from the commands' modules and runs it; none of
them imports it. ``_cli_common`` holds the constants, errors and option value
parsers, ``_cli_arguments`` the option groups, ``_cli_steps`` the steps the
jobs share, ``_cli_run`` the ``run`` and ``compare`` commands and
``_cli_transfer`` the ``transfer`` command and ``_cli_embed`` the ``embed``
command.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import os
import sys
import time

# The defaults and exit codes stay importable from here, where they were first.
from ._cli_common import (  # noqa: F401
    DEFAULT_ALPHA,
    DEFAULT_BATCH_SIZE,
    DEFAULT_EMBEDDING_DIM,
    DEFAULT_EPOCHS,
    DEFAULT_N_BLOCKS,
    EXIT_ERROR,
    EXIT_INTERRUPTED,
    EXIT_OK,
    EXIT_USAGE,
    PROG,
    Parser,
    UserError,
    one_line,
)
from ._cli_embed import add_embed_parser
from ._cli_run import add_compare_parser, add_run_parser
from ._cli_steps import prepare_out
from ._cli_transfer import add_transfer_parser
from ._version import __version__

__all__ = ["main"]


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of ``sklearn-teracon``."""
    parser = Parser(
        prog=PROG,
        description=(
            "Continual universal user representation learning (TERACON, KDD 2023) "
            "as a scikit-learn estimator."
        ),
    )
    parser.add_argument("--version", action="version", version=f"{PROG} {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")
    commands.required = True
    add_run_parser(commands)
    add_compare_parser(commands)
    add_transfer_parser(commands)
    add_embed_parser(commands)
    return parser


def _run(args) -> int:
    started = time.perf_counter()
    if args.out is None:  # a command that writes one file, not a folder
        return args.job(None, args, started)
    # Checked first, so that a bad --out never costs a download or a training.
    out, created = prepare_out(args.out)
    try:
        return args.job(out, args, started)
    except BaseException:
        if created:  # leave no empty folder behind after a failure
            with contextlib.suppress(OSError):
                out.rmdir()  # only succeeds while it is empty
        raise


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
            f"{PROG}: error: {type(exc).__name__}: {one_line(exc)} "
            "(run again with --traceback for details)",
            file=sys.stderr,
        )
        return EXIT_ERROR


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())

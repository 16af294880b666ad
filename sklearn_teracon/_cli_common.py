"""What every command of the command line shares: its constants, its errors
and the parsers of option values (``--tasks``, ``--seeds``, ``--labels``,
``--strategies``, numbers).

The command line (:mod:`sklearn_teracon.cli`) is built from small modules that
import this one and never each other the other way round: the option groups
(``_cli_arguments``), the steps of a job (``_cli_steps``), the commands
(``_cli_run``, ``_cli_transfer``) and ``cli``, which builds the parser from
them and runs it.
"""

from __future__ import annotations

import argparse

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


class Parser(argparse.ArgumentParser):
    """argparse, but a usage error is one line on stderr (no usage block)."""

    def error(self, message: str):
        self.exit(EXIT_USAGE, f"{PROG}: error: {message} (see {PROG} --help)\n")


def one_line(exc: BaseException) -> str:
    """The message of ``exc`` on one line (its type's name when it has none)."""
    text = " ".join(str(exc).split())
    return text or type(exc).__name__


# --------------------------------------------------------------------------- #
# parsers of option values
# --------------------------------------------------------------------------- #
def int_at_least(minimum: int, what: str):
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


positive_int = int_at_least(1, "a positive integer")
non_negative_int = int_at_least(0, "an integer >= 0")


def non_negative_float(text: str) -> float:
    """An argparse type: a finite number of at least 0."""
    try:
        value = float(text)
    except ValueError:
        value = -1.0
    if not 0 <= value < float("inf"):
        raise argparse.ArgumentTypeError(f"expected a number >= 0, got {text!r}")
    return value


def _repeated(names: list) -> list:
    """The names that occur more than once in ``names``, sorted."""
    return sorted({name for name in names if names.count(name) > 1})


def task_list(text: str) -> list[str]:
    """An argparse type: ``next_item,liked``, task names, none twice."""
    names = [name.strip() for name in text.split(",")]
    if not text.strip() or any(not name for name in names):
        raise argparse.ArgumentTypeError(
            f"expected comma-separated task names like next_item,liked, got {text!r}"
        )
    repeated = _repeated(names)
    if repeated:
        raise argparse.ArgumentTypeError(
            f"each task may be named once; repeated: {', '.join(repeated)}"
        )
    return names


def seed_list(text: str) -> list[int]:
    """An argparse type: ``0,1,2``, distinct seeds >= 0."""
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


def labels_list(text: str) -> list[int | None]:
    """An argparse type: ``100,300,all``, positive ints, ``all`` for every
    labelled user."""
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


def strategy_names(text: str) -> list[str]:
    """The names of ``--strategies``, each a known strategy, none twice.

    Checked when the command runs, not while parsing: the strategies import
    torch, which ``--help`` and a usage error should not wait for.
    """
    from .strategies import STRATEGIES

    names = [name.strip() for name in text.split(",")]
    known = ", ".join(STRATEGIES)
    if any(not name for name in names):
        raise UserError(
            f"--strategies {text}: expected comma-separated names like "
            f"teracon,hat; choose among {known}"
        )
    unknown = list(dict.fromkeys(name for name in names if name not in STRATEGIES))
    if unknown:
        plural = "strategies" if len(unknown) > 1 else "strategy"
        quoted = ", ".join(repr(name) for name in unknown)
        raise UserError(
            f"--strategies {text}: unknown {plural} {quoted}; choose among {known}"
        )
    repeated = _repeated(names)
    if repeated:
        raise UserError(
            f"--strategies {text}: each strategy may be named once; "
            f"repeated: {', '.join(repeated)}"
        )
    return names

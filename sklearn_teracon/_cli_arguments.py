"""The option groups of the command line's commands.

:func:`add_command` makes a command's parser with the data and model options
that every command shares; the others add the options that some share:
``--jobs``, ``--seeds``/``--folds`` and the output options, which come last.
"""

from __future__ import annotations

import argparse

from ._cli_common import (
    DATASETS,
    DEFAULT_ALPHA,
    DEFAULT_BATCH_SIZE,
    DEFAULT_EMBEDDING_DIM,
    DEFAULT_EPOCHS,
    DEFAULT_N_BLOCKS,
    SYNTHETIC_ITEMS,
    SYNTHETIC_USERS,
    int_at_least,
    non_negative_float,
    non_negative_int,
    positive_int,
    seed_list,
    task_list,
)
from .training._precision import PRECISIONS

__all__ = [
    "add_command",
    "add_jobs_argument",
    "add_output_arguments",
    "add_replicate_arguments",
    "add_seeds_and_folds",
]


def add_command(commands, name: str, summary: str, description: str):
    """The parser of command ``name``, added to ``commands`` (the subparsers),
    with the data and model options every command shares."""
    parser = commands.add_parser(name, help=summary, description=description)
    _add_stream_and_model_arguments(parser)
    return parser


def _add_stream_and_model_arguments(parser: argparse.ArgumentParser) -> None:
    """The data and model options that every command shares."""
    data = parser.add_argument_group("data")
    data.add_argument(
        "--dataset",
        choices=DATASETS,
        default="movielens-100k",
        help="task stream to learn (default: %(default)s); 'synthetic' works offline",
    )
    data.add_argument(
        "--tasks",
        type=task_list,
        default=None,
        metavar="NAME,NAME,...",
        help="tasks to learn, in this order (default: every task of the stream, "
        "in its order); e.g. next_item,liked,age",
    )
    data.add_argument(
        "--noise-task",
        nargs="?",
        type=non_negative_int,
        const=True,
        default=False,
        metavar="POSITION",
        help="add a task of random labels (50 classes, half the users; robustness "
        "check); it comes last unless --tasks places it, or after the first "
        "POSITION tasks; `compare` with a POSITION also runs without it and "
        "tabulates the change",
    )
    data.add_argument(
        "--n-users",
        type=positive_int,
        metavar="N",
        default=None,
        help=f"users of the synthetic stream (default {SYNTHETIC_USERS}; "
        "--dataset synthetic only)",
    )
    data.add_argument(
        "--n-items",
        type=positive_int,
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
        type=positive_int,
        metavar="N",
        default=DEFAULT_EPOCHS,
        help="maximum epochs per task (default: %(default)s; early stopping may "
        "stop sooner)",
    )
    model.add_argument(
        "--embedding-dim",
        type=positive_int,
        metavar="N",
        default=DEFAULT_EMBEDDING_DIM,
        help="width of item embeddings and user representations (default: "
        "%(default)s; paper: 256)",
    )
    model.add_argument(
        "--n-blocks",
        type=positive_int,
        metavar="N",
        default=DEFAULT_N_BLOCKS,
        help="blocks of the backbone (default: %(default)s; paper: 8)",
    )
    model.add_argument(
        "--backbone",
        choices=("nextitnet", "sasrec"),
        default="nextitnet",
        help="the masked network: NextItNet's dilated convolutions (default, "
        "the paper's) or SASRec's causal self-attention",
    )
    model.add_argument(
        "--batch-size",
        type=positive_int,
        metavar="N",
        default=DEFAULT_BATCH_SIZE,
        help="users per batch (default: %(default)s)",
    )
    model.add_argument(
        "--alpha",
        type=non_negative_float,
        metavar="A",
        default=DEFAULT_ALPHA,
        help="weight of TERACON's knowledge retention (default: %(default)s; "
        "0 turns it off); a larger one keeps earlier tasks better and lets "
        "new ones learn less",
    )
    model.add_argument(
        "--bag-weight",
        type=non_negative_float,
        metavar="W",
        default=0.0,
        help="weight of the bag-of-items term of next-item tasks (default: "
        "%(default)s, none); the representation then keeps more of what "
        "profile tasks read",
    )
    model.add_argument(
        "--loss",
        choices=("full", "sampled"),
        default="full",
        help="next-item and item-target tasks' loss: the exact softmax "
        "(default) or a sampled one with log-Q correction, for huge catalogues",
    )
    model.add_argument(
        "--negatives",
        type=positive_int,
        metavar="N",
        default=1024,
        help="items a sampled loss draws per batch (default: %(default)s)",
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
        type=positive_int,
        metavar="N",
        default=None,
        help="CPU threads for torch (default: torch's choice, one per core); 1 is "
        "much faster on a machine whose cores are busy with other work",
    )
    model.add_argument(
        "--seed",
        type=non_negative_int,
        metavar="N",
        default=0,
        help="seeds the user split, the noise task and the model (default: "
        "%(default)s)",
    )


def add_jobs_argument(parser: argparse.ArgumentParser, what: str) -> None:
    """``--jobs``: how many of ``what`` are trained at once."""
    parser.add_argument(
        "--jobs",
        type=positive_int,
        metavar="N",
        default=1,
        help=f"{what} trained at once, each in its own process with its share "
        "of the cores (default: %(default)s); on a GPU several keep it busy",
    )


def add_output_arguments(
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


def add_seeds_and_folds(
    parser, seeds: list[int] | None, seeds_help: str, also: str
) -> None:
    """``--seeds`` (default ``seeds``) and ``--folds``, seeded by the first of
    ``--seeds`` and then ``also``."""
    parser.add_argument(
        "--seeds",
        type=seed_list,
        default=seeds,
        metavar="S,S,...",
        help=seeds_help,
    )
    parser.add_argument(
        "--folds",
        type=int_at_least(2, "an integer >= 2"),
        metavar="K",
        default=None,
        help="replicates are K user folds instead (every user tested once), "
        f"seeded by the first of --seeds{also}",
    )


def add_replicate_arguments(parser: argparse.ArgumentParser) -> None:
    """``--seeds`` and ``--folds`` of ``run`` and ``compare`` (off by default)."""
    add_seeds_and_folds(
        parser.add_argument_group("replicates"),
        None,
        "one replicate per seed (the model's random_state; --seed still "
        "seeds the user split): the table shows mean ± std over them and a "
        "paired 95%% interval against the best baseline (default: one run)",
        ", else by --seed",
    )

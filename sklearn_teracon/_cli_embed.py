"""The command line's ``embed`` command: a saved model over a Parquet file of users.

``sklearn-teracon embed --model M --input users.parquet --output emb.parquet``
writes every user's embedding (or, with ``--recommend K``, their top-K items)
in chunks, with the memory of one chunk, and a progress bar on stderr.
:mod:`sklearn_teracon.cli` builds its parser with :func:`add_embed_parser`.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Iterator
from pathlib import Path

from ._cli_common import EXIT_OK, UserError, int_at_least

__all__ = ["add_embed_parser"]


def add_embed_parser(commands) -> None:
    """The ``embed`` command's parser, added to ``commands``."""
    embed = commands.add_parser(
        "embed",
        help="embed (or recommend for) the users of a Parquet file with a saved model",
        description=(
            "Read users' item sequences from a Parquet file or folder (one list "
            "of item ids per row), and write their embeddings (transform), or "
            "their top-K items with --recommend K, to a Parquet file, chunk by "
            "chunk: any number of users with the memory of one chunk."
        ),
    )
    embed.add_argument(
        "--model",
        required=True,
        metavar="FILE",
        help="a model file written by ContinualUserEncoder.save",
    )
    embed.add_argument(
        "--input",
        required=True,
        metavar="PATH",
        help="a Parquet file, or a folder of *.parquet files",
    )
    embed.add_argument(
        "--output", required=True, metavar="FILE", help="the Parquet file to write"
    )
    embed.add_argument(
        "--column",
        default="items",
        help="the input's column of item-id lists (default: %(default)s)",
    )
    embed.add_argument(
        "--user-column",
        default=None,
        metavar="NAME",
        help="an input column of user ids, copied to the output",
    )
    embed.add_argument(
        "--task",
        default=None,
        help="the task whose representation (or items) to give "
        "(default: the universal representation; for --recommend, "
        "the last task trained)",
    )
    embed.add_argument(
        "--recommend",
        type=int_at_least(1, "a positive integer"),
        default=None,
        metavar="K",
        help="write each user's top-K items instead of embeddings",
    )
    embed.add_argument("-q", "--quiet", action="store_true", help="no progress bar")
    embed.add_argument(
        "--traceback",
        action="store_true",
        help="show the full traceback of an unexpected error",
    )
    embed.set_defaults(job=_embed, out=None)


class _WithProgress:
    """A source of sequences whose chunks advance a progress bar as they are read."""

    def __init__(self, source, quiet: bool):
        self.source = source
        self.quiet = quiet

    def __len__(self) -> int:
        return len(self.source)

    @property
    def users(self):
        return self.source.users

    def sequence_chunks(self, n_rows: int) -> Iterator:
        from tqdm.auto import tqdm

        with tqdm(
            total=len(self),
            unit="user",
            disable=self.quiet,
            file=sys.stderr,
            unit_scale=True,
        ) as bar:
            for store in self.source.sequence_chunks(n_rows):
                yield store
                bar.update(len(store))


def _embed(_, args, started: float) -> int:
    from . import ContinualUserEncoder
    from .datasets import ParquetSequences

    output = Path(args.output).expanduser()
    if output.is_dir() or not output.parent.is_dir():
        raise UserError(f"--output {args.output}: not a file in an existing folder")
    try:
        encoder = ContinualUserEncoder.load(args.model)
        users = ParquetSequences(args.input, args.column, user_column=args.user_column)
    except (OSError, ValueError) as exc:
        raise UserError(str(exc)) from exc
    if args.task is not None and args.task not in encoder.tasks_:
        raise UserError(
            f"--task {args.task}: the model has learned {list(encoder.tasks_)}"
        )
    source = _WithProgress(users, args.quiet)
    if args.recommend is None:
        encoder.transform(source, task=args.task, out=output)
        what = "embeddings"
    else:
        encoder.recommend(source, task=args.task, k=args.recommend, out=output)
        what = f"top-{args.recommend} items"
    if not args.quiet:
        print(
            f"wrote the {what} of {len(users):,} users to {output} in "
            f"{time.perf_counter() - started:.1f} s",
            file=sys.stderr,
        )
    return EXIT_OK

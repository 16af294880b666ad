"""The steps that the command line's jobs share.

Preparing ``--out``, loading the task stream and choosing its tasks, making
the encoder, limiting the threads, and writing (figures included) into the
output folder. Each step ends a user mistake as a :class:`UserError`.
"""

from __future__ import annotations

import contextlib
import sys
import tempfile
from pathlib import Path

from ._cli_common import SYNTHETIC_ITEMS, SYNTHETIC_USERS, UserError, one_line

__all__ = [
    "make_encoder",
    "noise_name",
    "prepare_out",
    "print_and_save",
    "pyplot",
    "save_figure",
    "stream_and_encoder",
    "thread_limit",
    "without_noise",
]


def prepare_out(path: str) -> tuple[Path, bool]:
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
                f"could not load MovieLens-{variant.upper()}: {one_line(exc)}"
            ) from exc
    try:
        return make_synthetic_stream(
            SYNTHETIC_USERS if args.n_users is None else args.n_users,
            SYNTHETIC_ITEMS if args.n_items is None else args.n_items,
            random_state=args.seed,
        )
    except ValueError as exc:
        raise UserError(f"--dataset synthetic: {one_line(exc)}") from exc


def noise_name(names: list[str]) -> str:
    """A name for the noise task that ``names`` does not hold."""
    for name in ("noise", "random_noise"):
        if name not in names:
            return name
    i = 2
    while f"random_noise_{i}" in names:
        i += 1
    return f"random_noise_{i}"


def _select_tasks(stream, args):
    position = args.noise_task
    if position is not True and position is not False:  # after POSITION tasks
        stream = _select_tasks(stream, without_noise(args))
        if position > len(stream):
            raise UserError(
                f"--noise-task {position}: the stream has {len(stream)} tasks, so "
                f"the position must be at most {len(stream)}"
            )
        return stream.with_noise_task(
            random_state=args.seed, name=noise_name(stream.names), position=position
        )
    if args.noise_task:
        noise = noise_name(stream.names)
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


def without_noise(args):
    """``args`` without ``--noise-task``."""
    import argparse

    return argparse.Namespace(**{**vars(args), "noise_task": False})


def make_encoder(args):
    """The :class:`~sklearn_teracon.ContinualUserEncoder` of the options."""
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
        backbone=args.backbone,
        batch_size=args.batch_size,
        max_epochs=args.epochs,
        alpha=args.alpha,
        bag_weight=args.bag_weight,
        loss=args.loss,
        n_negatives=args.negatives,
        device=args.device,
        precision=args.precision,
        random_state=args.seed,
        verbose=0 if args.quiet else 1,
        strategy=strategy,
    )


def stream_and_encoder(args, check_stream=None) -> tuple:
    """The task stream of the options (given to ``check_stream`` first, when
    there is one) and their encoder; the stream is printed unless ``--quiet``."""
    stream = _select_tasks(_load_stream(args), args)
    if check_stream is not None:
        check_stream(stream)
    encoder = make_encoder(args)
    if not args.quiet:
        print(stream)
        print()
    return stream, encoder


def thread_limit(threads: int | None):
    """Limit torch's OpenMP pool (and BLAS) for a block, without importing torch."""
    if threads is None:
        return contextlib.nullcontext()
    from threadpoolctl import threadpool_limits

    return threadpool_limits(limits=threads)


def pyplot(skipped: str = "the figures were skipped"):
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


def save_figure(plt, fig, path: Path) -> None:
    """Write ``fig`` to ``path`` and close it."""
    try:
        fig.savefig(path, dpi=150)
    finally:
        plt.close(fig)


def print_and_save(text: str, save, out: Path, args, what: str = "report") -> None:
    """Print ``text``, then ``save(out)``, which returns the names of the files
    it wrote; a failure to write ends as a UserError."""
    print(text)
    print()
    try:
        written = save(out)
    except OSError as exc:
        raise UserError(f"--out {args.out}: cannot write the {what} ({exc})") from exc
    print(f"wrote {', '.join(written)} to {out}", flush=True)

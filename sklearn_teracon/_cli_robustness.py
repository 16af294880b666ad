"""The robustness studies of the command line's ``compare``.

``compare --order reversed`` (or ``random:K``) and ``compare --noise-task
POSITION`` run :func:`~sklearn_teracon.robustness.compare_orders` and
:func:`~sklearn_teracon.robustness.compare_noise` after the comparison in the
given order without the noise task, which both share: they print and write
``compare.*`` (the given order), ``order.*`` and ``noise.*``, with each run's
own compare files in a subfolder.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from ._cli_common import EXIT_OK, UserError, one_line
from ._cli_steps import (
    noise_name,
    print_and_save,
    stream_and_encoder,
    thread_limit,
    without_noise,
)

__all__ = ["order_spec", "robustness_in", "wants_study"]


def order_spec(text: str) -> str:
    """An argparse type: ``given``, ``reversed`` or ``random:K``."""
    from .datasets._reorder import parse_order

    try:
        parse_order(text)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected given, reversed or random:K with K >= 1, got {text!r}"
        ) from None
    return text


def noise_position(args) -> int | None:
    """The POSITION of ``--noise-task POSITION``; None without one."""
    position = args.noise_task
    return None if position is True or position is False else int(position)


def wants_study(args) -> bool:
    """Whether ``compare`` runs a robustness study."""
    return args.order != "given" or noise_position(args) is not None


def robustness_in(out: Path, args, started: float, names) -> int:
    """``compare`` with ``--order`` other than given or ``--noise-task POSITION``."""
    position = noise_position(args)
    stream, encoder = stream_and_encoder(without_noise(args))
    if position is not None and position > len(stream):
        raise UserError(
            f"--noise-task {position}: the stream has {len(stream)} tasks, so the "
            f"position must be at most {len(stream)}"
        )
    from .compare import compare_strategies
    from .robustness import compare_noise, compare_orders

    params = {
        "seeds": args.seeds,
        "n_folds": args.folds,
        "n_jobs": args.jobs,
        "verbose": 0 if args.quiet else 1,
    }
    studies = []
    with thread_limit(args.threads):
        try:
            given = compare_strategies(
                encoder,
                stream,
                names,
                on_progress=lambda so_far: so_far.save(out, figure=False),
                **params,
            )
            print_and_save(given.to_text(), given.save, out, args, "table")
            if args.order != "given":
                studies.append(
                    compare_orders(
                        encoder, stream, names, order=args.order, given=given, **params
                    )
                )
            if position is not None:
                studies.append(
                    compare_noise(
                        encoder,
                        stream,
                        names,
                        position=position,
                        random_state=args.seed,
                        name=noise_name(stream.names),
                        clean=given,
                        **params,
                    )
                )
        except ValueError as exc:  # e.g. more --folds than users
            if args.seeds is None and args.folds is None:
                raise
            raise UserError(one_line(exc)) from exc
    for study in studies:
        print_and_save(study.to_text(), study.save, out, args, "table")
    print(f"total time {time.perf_counter() - started:.0f}s")
    return EXIT_OK

"""The arithmetic of forward passes: float32, or bfloat16 under autocast."""

from __future__ import annotations

import contextlib
import functools

import torch

PRECISIONS = ("float32", "bfloat16")


def check_precision(precision) -> str:
    """Return ``precision`` if it is one of ``PRECISIONS``, else raise a clear error.

    Parameters
    ----------
    precision : str
        ``"float32"`` or ``"bfloat16"``.

    Returns
    -------
    str
        ``precision`` unchanged.

    Raises
    ------
    TypeError
        If ``precision`` is not a string.
    ValueError
        If it is a string that names no supported precision.
    """
    if not isinstance(precision, str):
        raise TypeError(
            f"precision must be a string, one of {PRECISIONS}; got {precision!r}"
        )
    if precision not in PRECISIONS:
        raise ValueError(f"precision must be one of {PRECISIONS}; got {precision!r}")
    return precision


def autocast(precision: str, device) -> contextlib.AbstractContextManager:
    """A context whose forward passes run at ``precision`` on ``device``.

    ``"bfloat16"`` is ``torch.autocast`` on the device's type (CPU, CUDA):
    matrix multiplies and convolutions run in bfloat16, while the weights,
    their gradients, the optimiser state and the losses stay float32 (cross
    entropy and MSE are on autocast's float32 list). ``"float32"`` is a null
    context, so float32 results are exactly those of code without it.

    Parameters
    ----------
    precision : {"float32", "bfloat16"}
    device : str or torch.device
        Where the forward passes run, e.g. ``"cpu"`` or ``"cuda:1"``.

    Returns
    -------
    contextlib.AbstractContextManager
    """
    if check_precision(precision) == "float32":
        return contextlib.nullcontext()
    return torch.autocast(device_type=torch.device(device).type, dtype=torch.bfloat16)


def at_precision(method):
    """Run a net's method under :func:`autocast` at its ``precision`` and ``device``."""

    @functools.wraps(method)
    def run(net, *args, **kwargs):
        with autocast(net.precision, net.device):
            return method(net, *args, **kwargs)

    return run


__all__ = ["PRECISIONS", "at_precision", "autocast", "check_precision"]

"""Check a torch device string before anything is built on it."""

from __future__ import annotations

import torch


def available_devices() -> list[str]:
    """The devices this machine can train on: ``"cpu"`` and any accelerators."""
    devices = ["cpu"]
    devices += [f"cuda:{i}" for i in range(torch.cuda.device_count())]
    if torch.backends.mps.is_available():
        devices.append("mps")
    xpu = getattr(torch, "xpu", None)
    if xpu is not None and xpu.is_available():
        devices += [f"xpu:{i}" for i in range(xpu.device_count())]
    return devices


def check_device(device) -> str:
    """Return ``device`` if this machine has it, else raise a clear error.

    Parameters
    ----------
    device : str
        A torch device string: ``"cpu"``, ``"cuda"``, ``"cuda:1"``, ``"mps"``, ...

    Returns
    -------
    str
        ``device`` unchanged.

    Raises
    ------
    TypeError
        If ``device`` is not a string.
    ValueError
        If it is not a torch device string, or this machine does not have that
        device; the message lists the devices it has.

    Examples
    --------
    >>> from sklearn_teracon.training._device import check_device
    >>> check_device("cpu")
    'cpu'
    """
    if not isinstance(device, str):
        raise TypeError(
            f"device must be a string such as 'cpu' or 'cuda', got {device!r}"
        )
    available = available_devices()
    where = f"this machine has {', '.join(available)}"
    try:
        parsed = torch.device(device)
    except (RuntimeError, ValueError) as exc:
        raise ValueError(
            f"device={device!r} is not a torch device string (such as 'cpu', "
            f"'cuda', 'cuda:1' or 'mps'); {where}"
        ) from exc
    if parsed.type == "cpu":
        return device
    if parsed.type in ("cuda", "xpu"):
        index = 0 if parsed.index is None else parsed.index
        if f"{parsed.type}:{index}" in available:
            return device
    elif parsed.type == "mps" and "mps" in available and not parsed.index:
        return device
    raise ValueError(f"device={device!r} is not available: {where}")

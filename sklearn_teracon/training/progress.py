"""What a task's training loop shows on the console, by ``verbose`` level.

- 0: nothing.
- 1: one line when a task starts, then skorch's epoch table (one row per
  epoch).
- 2 and more: also a per-batch progress bar, erased before each table row.

Colours and the progress bar need a terminal: when the stream is a file or a
pipe, the table is plain text and the bar is off, so a log holds no escape
codes.
"""

from __future__ import annotations

import re
import sys

import tqdm
from skorch.callbacks import Callback, PrintLog

# Select Graphic Rendition (colour) sequences, the only ones PrintLog writes.
_COLOUR_CODE = re.compile(r"\x1b\[[0-9;]*m")


def _is_terminal(stream) -> bool:
    isatty = getattr(stream, "isatty", None)
    try:
        return bool(isatty and isatty())
    except ValueError:  # a closed stream
        return False


class TaskLine(Callback):
    """Print one line when a task's training starts (``verbose`` ≥ 1).

    Parameters
    ----------
    task_name : str
        The task being trained.
    """

    def __init__(self, task_name: str):
        self.task_name = task_name

    def on_train_begin(self, net, X=None, y=None, **kwargs):
        if net.verbose:
            print(f"task {self.task_name!r}: {len(X)} users", flush=True)


class EpochTable(PrintLog):
    """skorch's epoch table, coloured only when stdout is a terminal."""

    def format_row(self, row, key, color):
        text = super().format_row(row, key, color)
        if isinstance(text, str) and not _is_terminal(sys.stdout):
            text = _COLOUR_CODE.sub("", text)
        return text


class BatchProgressBar(Callback):
    """A per-batch progress bar over each epoch, on stderr.

    The bar is left off unless stderr is a terminal, and it is erased when the
    epoch ends, before :class:`EpochTable` prints the epoch's row.

    Parameters
    ----------
    task_name : str
        Shown in front of the bar.
    """

    def __init__(self, task_name: str):
        self.task_name = task_name

    def on_epoch_begin(self, net, dataset_train=None, dataset_valid=None, **kwargs):
        n_batches = sum(
            -(-len(dataset) // net.batch_size)
            for dataset in (dataset_train, dataset_valid)
            if dataset is not None
        )
        self.pbar_ = tqdm.tqdm(
            total=n_batches,
            desc=f"{self.task_name} epoch {len(net.history)}",
            leave=False,
            file=sys.stderr,
            disable=not _is_terminal(sys.stderr),
        )

    def on_batch_end(self, net, batch=None, training=False, **kwargs):
        if training:
            self.pbar_.set_postfix(loss=net.history[-1, "batches", -1, "train_loss"])
        self.pbar_.update()

    def on_epoch_end(self, net, **kwargs):
        self._close()

    def on_train_end(self, net, **kwargs):
        self._close()

    def _close(self) -> None:
        pbar = self.__dict__.pop("pbar_", None)
        if pbar is not None:
            pbar.close()

    def __getstate__(self):
        # A live tqdm bar holds a stream: it cannot be pickled, nor is it needed.
        state = self.__dict__.copy()
        state.pop("pbar_", None)
        return state


__all__ = ["BatchProgressBar", "EpochTable", "TaskLine"]

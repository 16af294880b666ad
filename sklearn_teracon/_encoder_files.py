"""The estimator's model files: ``save`` and ``load`` (see :doc:`/persistence`)."""

from __future__ import annotations

from sklearn.utils.validation import check_is_fitted

from ._model_file import load_encoder, save_encoder
from .training.distributed import on_rank_zero


class EncoderFiles:
    """Saving and loading of :class:`~sklearn_teracon.ContinualUserEncoder`."""

    def save(self, path) -> None:
        """Save the fitted encoder to one file that runs no code when loaded.

        Weights are stored as safetensors; everything else (parameters, tasks,
        classes, vocabulary, history, versions) as JSON in the file's header.
        The file is written atomically. ``callbacks`` are not saved (they are
        code); a loaded encoder has ``callbacks=None``. Under ``torchrun``
        rank 0 writes it, and every rank returns once it is written.

        Parameters
        ----------
        path : str or path-like
        """
        check_is_fitted(self)
        on_rank_zero(lambda: save_encoder(self, path))

    @classmethod
    def load(cls, path, *, device: str | None = None):
        """Load an encoder written by :meth:`save`.

        Parameters
        ----------
        path : str or path-like
        device : str or None
            Where to put the model (default: the saved ``device`` parameter).

        Returns
        -------
        ContinualUserEncoder
            Fitted, with every task; it can keep learning new tasks.
        """
        return load_encoder(cls, path, device=device)


__all__ = ["EncoderFiles"]

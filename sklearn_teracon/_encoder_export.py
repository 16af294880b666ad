"""The estimator's graphs: ``export`` to ONNX or TorchScript (:doc:`/serving`)."""

from __future__ import annotations

import importlib.util
import json
import numbers
import os
import secrets
from pathlib import Path

from sklearn.utils.validation import check_is_fitted

from ._encoder_files import EncoderFiles
from ._model_io import _fsync_folder, _remove_stale_temporaries
from ._sequences import N_RESERVED
from ._version import __version__
from .nn import NEXT_ITEM
from .nn.export import OUTPUTS, serving_model
from .nn.export_files import FORMATS, MIN_OPSET, write_graph
from .training.distributed import on_rank_zero

# What the exported graph's metadata describes (bumped if its keys change).
EXPORT_FORMAT_VERSION = 1
# Packages each format needs beyond torch (ONNX: the dynamo exporter's).
NEEDS = {"onnx": ("onnx", "onnxscript"), "torchscript": ()}


class EncoderExport(EncoderFiles):
    """The files of :class:`~sklearn_teracon.ContinualUserEncoder`: model files
    (:class:`EncoderFiles`: ``save``, ``load``) and serving graphs (``export``)."""

    def export(
        self,
        path,
        *,
        task: str | None = None,
        format: str = "onnx",
        output: str = "scores",
        opset: int | None = None,
    ) -> None:
        """Write one task's model (or the universal representation) for serving.

        The graph takes ``items``, an int64 matrix ``[batch, length]`` of item
        *indices* left-padded with 0, as
        ``enc.item_vocabulary_.encode(sequences, enc.max_len)`` gives them
        (index 1 is an item never seen in training), and returns float32
        rows: ``output="scores"``, what :meth:`decision_function` returns for
        ``task`` (a next-item task's columns are ``enc.classes_of(task)``, its
        two reserved columns left out); ``output="embedding"``, what
        :meth:`transform` returns (``task=None``: the universal
        representation, the mean over every task). The batch size and the
        length are dynamic; outputs agree with the library's to about 1e-6
        in float32 (:doc:`/serving`).

        At the fixed scale ``s`` a task's masks are constants: they are
        folded into the LayerNorm before each mask (``γ·m``, ``β·m``), and
        weights a strategy substitutes per task (Piggyback's, Conure's, a
        task's own backbone) are stored as computed. A task state that cannot
        be folded is exported whole, its masks computed in the graph. The
        graph runs in float32 whatever ``precision`` is. The file is written
        atomically; under ``torchrun`` rank 0 writes it.

        Parameters
        ----------
        path : str or path-like
            The file to write (its folder must exist).
        task : str or None
            A learned task. None: the last task trained for ``"scores"``
            (as :meth:`decision_function`), every task for ``"embedding"``
            (as :meth:`transform`).
        format : {"onnx", "torchscript"}, default="onnx"
            ONNX (through ``torch.onnx.export(dynamo=True)``; needs the
            ``onnx`` extra) or a ``torch.jit.trace`` (deprecated by torch).
        output : {"scores", "embedding"}, default="scores"
        opset : int or None, default=None
            ONNX opset, at least 18 (None: the exporter's default); ONNX only.

        Raises
        ------
        NotFittedError
            If the encoder is not fitted.
        ValueError
            For an unknown task, format or output, a bad opset or path.
        ImportError
            If ``format="onnx"`` and ``onnx`` or ``onnxscript`` is missing.
        """
        check_is_fitted(self)
        fmt, output, opset = _check_options(format, output, opset)
        target = _check_path(path)
        records = (
            list(self.tasks_.values())
            if task is None and output == "embedding"
            else [self._record(task)]
        )
        _check_installed(fmt)
        net = self.net_
        kind = records[0].kind if output == "scores" else None
        served, folded = serving_model(
            net.module_,
            [r.index for r in records],
            float(net.s),
            net.readout,
            output,
            rows="last" if kind == NEXT_ITEM else net.readout,
            first_column=N_RESERVED if kind == NEXT_ITEM else 0,
            length=self.max_len,
        )
        metadata = self._export_metadata(records, output, folded)
        on_rank_zero(
            lambda: _write_atomically(
                target,
                lambda tmp: write_graph(
                    served, fmt, self.max_len, tmp, metadata, opset
                ),
            )
        )

    def _export_metadata(self, records, output: str, folded: list[str]) -> str:
        """The JSON stored in the exported file: what the graph takes and gives."""
        record = records[0]
        info = {
            "export_format_version": EXPORT_FORMAT_VERSION,
            "library": "sklearn-teracon",
            "version": __version__,
            "output": output,
            "tasks": [r.name for r in records],
            "input": "items: int64 [batch, length] item indices, left-padded with 0",
            "max_len": int(self.max_len),
            "n_embeddings": int(self.net_.module_.backbone.n_embeddings),
            "s": float(self.net_.s),
            "readout": self.net_.readout,
            "folded": dict(zip([r.name for r in records], folded)),
        }
        if output == "scores":
            info["kind"] = record.kind
            info["n_columns"] = int(len(self.classes_of(record.name)))
            if record.classes_ is not None:
                info["classes"] = record.classes_.tolist()
        else:
            info["n_columns"] = int(self.net_.module_.backbone.dim)
        return json.dumps(info, default=str)


def _check_options(fmt, output, opset):
    if not isinstance(fmt, str) or fmt not in FORMATS:
        raise ValueError(f"format must be one of {FORMATS}, got {fmt!r}")
    if not isinstance(output, str) or output not in OUTPUTS:
        raise ValueError(f"output must be one of {OUTPUTS}, got {output!r}")
    if opset is None:
        return fmt, output, None
    if fmt != "onnx":
        raise ValueError(f"opset applies to format='onnx' only, not {fmt!r}")
    if isinstance(opset, bool) or not isinstance(opset, numbers.Integral):
        raise ValueError(f"opset must be an integer or None, got {opset!r}")
    if opset < MIN_OPSET:
        raise ValueError(f"opset must be at least {MIN_OPSET}, got {opset}")
    return fmt, output, int(opset)


def _check_path(path) -> Path:
    if not isinstance(path, (str, os.PathLike)) or not os.fspath(path):
        raise ValueError(f"path must be a non-empty str or path-like, got {path!r}")
    target = Path(os.path.realpath(os.fspath(path)))  # a symlink's target
    if target.is_dir():
        raise ValueError(f"{path} is a folder: give the file to write")
    if not target.parent.is_dir():
        raise ValueError(
            f"cannot write {path}: the folder {target.parent} does not exist"
        )
    return target


def _check_installed(fmt: str) -> None:
    missing = [name for name in NEEDS[fmt] if importlib.util.find_spec(name) is None]
    if missing:
        raise ImportError(
            f"format={fmt!r} needs {', '.join(missing)}: pip install "
            "'sklearn-teracon[onnx]' (onnx, onnxscript; onnxruntime to run the file)"
        )


def _write_atomically(target: Path, write) -> None:
    """``write(tmp)`` beside ``target``, then rename it over ``target`` (durably).

    A failure removes the temporary file and leaves ``target`` as it was.
    """
    _remove_stale_temporaries(target)
    tmp = target.with_name(f".{target.name}.{os.getpid()}.{secrets.token_hex(4)}.tmp")
    try:
        write(tmp)
        with open(tmp, "rb+") as f:
            os.fsync(f.fileno())
        os.replace(tmp, target)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    _fsync_folder(target.parent)


__all__ = ["EncoderExport"]

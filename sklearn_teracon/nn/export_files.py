"""Writing a serving module as an ONNX or a TorchScript file.

Both graphs take ``items``, an int64 ``[batch, length]`` matrix, and give one
float32 output row per user; the batch size and the length are dynamic
(ONNX: the axes ``batch`` and ``length``; TorchScript: a trace, whose shapes
are read at run time). ONNX goes through ``torch.onnx.export(dynamo=True)``,
the exporter torch develops (it needs ``onnxscript``); TorchScript through
``torch.jit.trace``, which torch 2.13 still runs but deprecates.
"""

from __future__ import annotations

import contextlib
import logging
import warnings

import torch

FORMATS = ("onnx", "torchscript")
# The first opset the dynamo exporter writes (lower ones fall back to it).
MIN_OPSET = 18
METADATA_KEY = "sklearn_teracon"
TORCHSCRIPT_METADATA = "sklearn_teracon.json"


def example_items(length: int) -> torch.Tensor:
    """The example input a graph is exported with: two users, every position real.

    Two, not one: an exporter may specialise a dimension of size 1 to a constant.
    """
    return torch.ones((2, length), dtype=torch.int64)  # the unknown item


@contextlib.contextmanager
def _quiet_exporters():
    """Silence the exporters' own notices (deprecations of torch's internals,
    "torchvision is not installed"): they say nothing about the user's model."""
    logger = logging.getLogger("torch.onnx._internal.exporter._registration")
    level = logger.level
    logger.setLevel(logging.ERROR)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)
            warnings.simplefilter("ignore", FutureWarning)
            yield
    finally:
        logger.setLevel(level)


def write_onnx(model, length: int, path, metadata: str, opset: int | None) -> None:
    """Export ``model`` to the ONNX file ``path`` (one file, weights inside).

    ``metadata`` is stored as the model's ``sklearn_teracon`` metadata entry
    (``InferenceSession.get_modelmeta().custom_metadata_map``).
    """
    from torch.export import Dim

    with _quiet_exporters(), torch.no_grad():
        program = torch.onnx.export(
            model,
            (example_items(length),),
            dynamo=True,
            verbose=False,
            opset_version=opset,
            input_names=["items"],
            output_names=["output"],
            dynamic_shapes=({0: Dim("batch"), 1: Dim("length")},),
        )
    # The exporter notes each node's Python stack trace and module path: most
    # of a small file, and the paths of the machine that exported it.
    for node in program.model.graph.all_nodes():
        node.metadata_props.clear()
    program.model.metadata_props[METADATA_KEY] = metadata
    # One file: weights beyond 2 GiB would need external data (not written).
    program.save(str(path), external_data=False)


def write_torchscript(model, length: int, path, metadata: str) -> None:
    """Trace ``model`` and save it to ``path``, ``metadata`` as an extra file.

    ``torch.jit.load(path, _extra_files={"sklearn_teracon.json": ""})`` reads
    the metadata back into that dictionary.
    """
    with _quiet_exporters(), torch.no_grad():
        traced = torch.jit.trace(model, (example_items(length),))
        torch.jit.save(traced, str(path), _extra_files={TORCHSCRIPT_METADATA: metadata})


def write_graph(model, fmt: str, length: int, path, metadata: str, opset=None):
    """Write ``model`` in format ``fmt`` (one of :data:`FORMATS`) to ``path``."""
    if fmt == "onnx":
        write_onnx(model, length, path, metadata, opset)
    elif fmt == "torchscript":
        write_torchscript(model, length, path, metadata)
    else:
        raise ValueError(f"format must be one of {FORMATS}, got {fmt!r}")


__all__ = [
    "FORMATS",
    "METADATA_KEY",
    "MIN_OPSET",
    "TORCHSCRIPT_METADATA",
    "example_items",
    "write_graph",
    "write_onnx",
    "write_torchscript",
]

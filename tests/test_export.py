"""``export``: ONNX and TorchScript graphs that answer as the library does."""

import copy
import json
import os

import numpy as np
import pytest
import torch
from sklearn.exceptions import NotFittedError

from sklearn_teracon import ContinualUserEncoder
from sklearn_teracon.nn.task_state import TaskState
from sklearn_teracon.strategies import STRATEGIES

TOLERANCE = 1e-5
PARAMS = dict(
    embedding_dim=8,
    n_blocks=1,
    max_len=10,
    max_epochs=1,
    batch_size=16,
    patience=None,
    validation_fraction=0.0,
    head_init="prior",
    random_state=0,
)
# TorchScript is deprecated by torch 2.13; loading a file says so.
pytestmark = pytest.mark.filterwarnings("ignore:`torch.jit:DeprecationWarning")


def _stream(seed=0):
    rng = np.random.default_rng(seed)
    groups = rng.integers(0, 2, 48)
    seqs = [
        [int(1 + 12 * g + (rng.integers(0, 12) + i) % 12) for i in range(n)]
        for g, n in zip(groups, rng.integers(3, 11, 48))
    ]
    return seqs, groups


# Users unlike the training ones: unknown items, longer than max_len.
USERS = [list(range(1, 14)), [5], [99, 3, 4], *_stream(1)[0][:10]]


@pytest.fixture(scope="module")
def encoders():
    """One encoder per strategy that learned next_item, then a label task."""
    seqs, groups = _stream()
    made = {}
    for name in STRATEGIES:
        enc = ContinualUserEncoder(strategy=name, **PARAMS)
        made[name] = enc.partial_fit(seqs).partial_fit(seqs, groups, task="group")
    return made


def _items(enc, users=USERS):
    return enc.item_vocabulary_.encode(users, enc.max_len)


def _expected(enc, output, task, users=USERS):
    if output == "scores":
        return enc.decision_function(users, task=task)
    return enc.transform(users, task=task)


def _run_torchscript(path, items):
    extra = {"sklearn_teracon.json": ""}
    graph = torch.jit.load(str(path), _extra_files=extra)
    with torch.no_grad():
        out = graph(torch.as_tensor(items)).numpy()
    return out, json.loads(extra["sklearn_teracon.json"]), graph


def _run_onnx(path):
    ort = pytest.importorskip("onnxruntime")
    options = ort.SessionOptions()
    options.intra_op_num_threads = 1
    session = ort.InferenceSession(
        str(path), options, providers=["CPUExecutionProvider"]
    )
    meta = json.loads(session.get_modelmeta().custom_metadata_map["sklearn_teracon"])
    return (lambda x: session.run(None, {"items": x})[0]), meta


def _needs_onnx():
    for name in ("onnx", "onnxscript", "onnxruntime"):
        pytest.importorskip(name)


@pytest.mark.parametrize("strategy", sorted(STRATEGIES))
def test_torchscript_answers_as_the_library(encoders, strategy, tmp_path):
    enc = encoders[strategy]
    items = _items(enc)  # 13 users: not the export's batch of 2
    cases = [("scores", t) for t in enc.tasks_] + [
        ("embedding", t) for t in [*enc.tasks_, None]
    ]
    for output, task in cases:
        path = tmp_path / f"{output}-{task}.pt"
        enc.export(path, task=task, format="torchscript", output=output)
        got, meta, graph = _run_torchscript(path, items)
        expected = _expected(enc, output, task)
        assert got.shape == expected.shape
        np.testing.assert_allclose(got, expected, rtol=0, atol=TOLERANCE)
        assert meta["output"] == output
        assert meta["tasks"] == ([task] if task else list(enc.tasks_))
        assert meta["n_columns"] == expected.shape[1]
        # Built-in strategies fold every mask: no sigmoid is left to compute.
        assert set(meta["folded"].values()) == {"masks"}
        assert "sigmoid" not in str(graph.inlined_graph)


class _Together(torch.nn.Module):
    """Several serving graphs side by side: one ONNX export for all of them."""

    def __init__(self, graphs):
        super().__init__()
        self.graphs = torch.nn.ModuleList(graphs)

    def forward(self, items):
        return torch.stack([graph(items) for graph in self.graphs])


def test_onnx_answers_as_the_library_for_every_strategy(
    encoders, tmp_path, monkeypatch
):
    """Each strategy's later task (the masks, weights or adapters it owns),
    as ``export`` builds it, through ONNX Runtime. The graphs are translated
    together: the dynamo exporter takes seconds per call and per pass."""
    _needs_onnx()
    from sklearn_teracon.nn.export_files import write_onnx

    built = []

    def keep(model, fmt, length, path, metadata, opset=None):
        built.append((model, json.loads(metadata)))
        open(path, "wb").close()

    monkeypatch.setattr("sklearn_teracon._encoder_export.write_graph", keep)
    names = sorted(STRATEGIES)
    for name in names:
        encoders[name].export(
            tmp_path / "unused.onnx", task="group", output="embedding"
        )
    monkeypatch.undo()
    path = tmp_path / "every.onnx"
    write_onnx(_Together([model for model, _ in built]).eval(), 10, path, "{}", None)
    ort = pytest.importorskip("onnxruntime")
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    # The same training data: every encoder indexes the items alike.
    items = _items(encoders["teracon"])
    for rows in (slice(None), slice(0, 1), slice(2, 7)):  # dynamic batch size
        got = session.run(None, {"items": items[rows]})[0]
        for name, out, (_, meta) in zip(names, got, built):
            enc = encoders[name]
            assert (
                enc.item_vocabulary_.items == encoders["teracon"].item_vocabulary_.items
            )
            expected = enc.transform(USERS, task="group")[rows]
            np.testing.assert_allclose(out, expected, rtol=0, atol=TOLERANCE)
            assert meta["folded"] == {"group": "masks"}, name


def test_onnx_scores_answer_as_the_library(encoders, tmp_path):
    _needs_onnx()
    import onnx

    enc = encoders["teracon"]
    for task, opset in (("next_item", None), ("group", 18)):
        path = tmp_path / f"{task}.onnx"
        enc.export(path, task=task, opset=opset)
        model = onnx.load(str(path))
        assert "Sigmoid" not in {node.op_type for node in model.graph.node}
        if opset is not None:
            assert model.opset_import[0].version == opset
        run, meta = _run_onnx(path)
        expected = enc.decision_function(USERS, task=task)
        np.testing.assert_allclose(run(_items(enc)), expected, rtol=0, atol=TOLERANCE)
        # A narrower matrix (length is dynamic too): padding changes nothing.
        short = [u for u in USERS if len(u) <= 4]
        narrow = enc.item_vocabulary_.encode(short, 4)
        np.testing.assert_allclose(
            run(narrow), enc.decision_function(short, task=task), atol=TOLERANCE
        )
        assert meta["kind"] == enc.tasks_[task].kind
    assert meta["classes"] == enc.classes_of("group").tolist()
    # The universal representation: every task's pass in one graph.
    enc.export(tmp_path / "universal.onnx", output="embedding")
    run, meta = _run_onnx(tmp_path / "universal.onnx")
    np.testing.assert_allclose(
        run(_items(enc)), enc.transform(USERS), rtol=0, atol=TOLERANCE
    )
    assert meta["tasks"] == list(enc.tasks_) and meta["output"] == "embedding"


class _Halved(TaskState):
    """A task state whose pass is more than one backbone pass: not foldable."""

    def hidden(self, model, items, task, s):
        return 0.5 * super().hidden(model, items, task, s)


class _SignedMasks(TaskState):
    """Masks with negative entries: they cannot go into the LayerNorm."""

    def masks(self, model, task, s):
        return 0.5 - model.masks(task, s)


@pytest.mark.parametrize(
    ("state", "folded"), [(_Halved, "none"), (_SignedMasks, "weights")]
)
def test_states_that_do_not_fold_still_export_exactly(
    encoders, state, folded, tmp_path
):
    enc = copy.deepcopy(encoders["teracon"])
    enc.net_.module_.strategy_state.__class__ = state
    path = tmp_path / "scores.pt"
    enc.export(path, task="group", format="torchscript")
    got, meta, _ = _run_torchscript(path, _items(enc))
    np.testing.assert_allclose(
        got, enc.decision_function(USERS, task="group"), rtol=0, atol=TOLERANCE
    )
    assert meta["folded"] == {"group": folded}


def test_export_replaces_a_file_atomically(encoders, tmp_path, monkeypatch):
    enc = encoders["sequential"]
    path = tmp_path / "model.pt"
    path.write_bytes(b"old")
    enc.export(path, format="torchscript")
    assert path.read_bytes() != b"old"
    before = path.read_bytes()

    def fail(*args, **kwargs):
        open(args[3], "wb").write(b"partial")
        raise RuntimeError("disk full")

    monkeypatch.setattr("sklearn_teracon._encoder_export.write_graph", fail)
    with pytest.raises(RuntimeError, match="disk full"):
        enc.export(path, format="torchscript")
    assert path.read_bytes() == before
    assert os.listdir(tmp_path) == ["model.pt"]


def test_export_refuses_bad_requests(encoders, tmp_path, monkeypatch):
    enc = encoders["sequential"]
    path = tmp_path / "m.onnx"
    with pytest.raises(NotFittedError):
        ContinualUserEncoder().export(path)
    bad = [
        (dict(task="age"), "unknown task 'age'"),
        (dict(format="tflite"), "format must be one of"),
        (dict(output="logits"), "output must be one of"),
        (dict(opset=17), "at least 18"),
        (dict(opset=True), "opset must be an integer"),
        (dict(opset=18, format="torchscript"), "format='onnx' only"),
    ]
    for kwargs, message in bad:
        with pytest.raises(ValueError, match=message):
            enc.export(path, **kwargs)
    for where, message in (
        (tmp_path, "is a folder"),
        (tmp_path / "no" / "m.onnx", "does not exist"),
        ("", "non-empty"),
        (3, "non-empty str"),
    ):
        with pytest.raises(ValueError, match=message):
            enc.export(where)
    monkeypatch.setattr("importlib.util.find_spec", lambda name: None)
    with pytest.raises(ImportError, match=r"sklearn-teracon\[onnx\]"):
        enc.export(path)
    assert os.listdir(tmp_path) == []

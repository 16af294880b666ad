"""save/load (safetensors + JSON), pickle and joblib round trips, bad files."""

import copy
import hashlib
import json
import os
import pickle
import stat
import time

import joblib
import numpy as np
import pytest
from safetensors import safe_open
from safetensors.torch import save_file
from sklearn.exceptions import NotFittedError

from sklearn_teracon import ContinualUserEncoder
from sklearn_teracon._model_file import DESCRIPTION_KEY, DIGEST_KEY, FORMAT_VERSION
from sklearn_teracon.training.persistence import tensor_digest

from .conftest import TINY


@pytest.fixture(scope="module")
def every_kind():
    """next_item, an int-labelled, a str-labelled and an item (many-class) task."""
    from .conftest import make_toy

    seqs, groups, bands = make_toy()
    liked = np.array([s[-1] for s in seqs])  # an item-recommendation task
    enc = ContinualUserEncoder(**TINY)
    enc.partial_fit(seqs)
    enc.partial_fit(seqs, groups, task="group")
    enc.partial_fit(seqs, np.array(["low", "mid", "high"])[bands], task="band")
    enc.partial_fit([s[:-1] for s in seqs], liked, task="liked")
    return enc, seqs


def _same_predictions(a, b, seqs):
    assert list(a.tasks_) == list(b.tasks_)
    for task in a.tasks_:
        np.testing.assert_array_equal(
            a.predict_proba(seqs, task=task), b.predict_proba(seqs, task=task)
        )
        np.testing.assert_array_equal(
            a.predict(seqs, task=task), b.predict(seqs, task=task)
        )
        np.testing.assert_array_equal(a.classes_of(task), b.classes_of(task))
    np.testing.assert_array_equal(a.transform(seqs), b.transform(seqs))


def test_save_load_round_trip_for_every_task_kind(every_kind, tmp_path):
    enc, seqs = every_kind
    assert enc.tasks_["liked"].metric == "mrr@5"
    path = tmp_path / "model.safetensors"
    enc.save(path)
    loaded = ContinualUserEncoder.load(path)
    _same_predictions(enc, loaded, seqs)
    assert loaded.get_params() == enc.get_params()
    assert loaded.tasks_["band"].classes_.dtype.kind == "U"
    assert loaded.history_["group"][0]["train_loss"] == pytest.approx(
        enc.history_["group"][0]["train_loss"]
    )
    np.testing.assert_array_equal(loaded.task_relations_, enc.task_relations_)
    assert loaded.item_vocabulary_.items == enc.item_vocabulary_.items


def test_loaded_encoder_keeps_learning_like_the_original(every_kind, tmp_path):
    enc, seqs = every_kind
    path = tmp_path / "model.safetensors"
    enc.save(path)
    loaded = ContinualUserEncoder.load(path)
    labels = np.arange(len(seqs)) % 2

    original = copy.deepcopy(enc).partial_fit(seqs, labels, task="parity")
    loaded.partial_fit(seqs, labels, task="parity")
    assert list(loaded.tasks_)[-1] == "parity"
    # Same seeds and state: resuming after a load is the same as not stopping.
    np.testing.assert_allclose(
        loaded.predict_proba(seqs, task="parity"),
        original.predict_proba(seqs, task="parity"),
        atol=1e-6,
    )


@pytest.mark.parametrize("dump, load", [(pickle.dumps, pickle.loads), ("joblib", None)])
def test_pickle_and_joblib_round_trips(every_kind, tmp_path, dump, load):
    enc, seqs = every_kind
    if dump == "joblib":
        joblib.dump(enc, tmp_path / "enc.joblib")
        copy_ = joblib.load(tmp_path / "enc.joblib")
    else:
        copy_ = load(dump(enc))
    _same_predictions(enc, copy_, seqs)


def _rewrite(src, dst, *, description=None, tensors=None, redigest=False):
    """Copy a model file, editing its description and tensors on the way.

    ``redigest`` recomputes the digests, as a deliberate editor would: the
    schema, not the digest, must then refuse the edit.
    """
    with safe_open(str(src), framework="pt") as f:
        meta = f.metadata()
        state = {k: f.get_tensor(k) for k in f.keys()}
    desc = json.loads(meta[DESCRIPTION_KEY])
    if tensors:
        tensors(state)
    if redigest:
        for name, entry in desc["tensors"].items():
            if name in state:
                entry["sha256"] = tensor_digest(state[name])
    if description:
        description(desc)
    text = json.dumps(desc)
    digest = hashlib.sha256(text.encode()).hexdigest() if redigest else meta[DIGEST_KEY]
    save_file(state, str(dst), metadata={DESCRIPTION_KEY: text, DIGEST_KEY: digest})


@pytest.fixture
def saved(every_kind, tmp_path):
    enc, _ = every_kind
    path = tmp_path / "model.safetensors"
    enc.save(path)
    return path


def test_newer_format_is_refused(saved, tmp_path):
    bad = tmp_path / "newer.safetensors"
    _rewrite(
        saved, bad, description=lambda d: d.update(format_version=FORMAT_VERSION + 1)
    )
    with pytest.raises(
        ValueError, match=f"format {FORMAT_VERSION + 1} .*upgrade sklearn-teracon"
    ):
        ContinualUserEncoder.load(bad)


def test_truncated_file_is_refused(saved, tmp_path):
    bad = tmp_path / "truncated.safetensors"
    data = saved.read_bytes()
    bad.write_bytes(data[: len(data) // 2])
    with pytest.raises(ValueError, match="corrupt or truncated"):
        ContinualUserEncoder.load(bad)


def test_tampered_shapes_are_refused(saved, tmp_path):
    import torch

    def widen(state):
        key = "backbone.item_embedding.weight"
        state[key] = torch.zeros(state[key].shape[0] + 3, state[key].shape[1])

    bad = tmp_path / "tampered.safetensors"
    _rewrite(saved, bad, tensors=widen, redigest=True)
    with pytest.raises(ValueError, match="tampered.*do not match"):
        ContinualUserEncoder.load(bad)

    def shrink_vocabulary(desc):
        desc["vocabulary"] = desc["vocabulary"][:-1]

    _rewrite(saved, bad, description=shrink_vocabulary, redigest=True)
    with pytest.raises(ValueError, match="tampered.*vocabulary has .* items"):
        ContinualUserEncoder.load(bad)


def test_other_bad_files(saved, tmp_path):
    junk = tmp_path / "junk.safetensors"
    junk.write_bytes(b"\x00" * 64)
    with pytest.raises(ValueError, match="not a readable sklearn-teracon model"):
        ContinualUserEncoder.load(junk)
    foreign = tmp_path / "foreign.safetensors"
    import torch

    save_file({"w": torch.zeros(2)}, str(foreign))
    with pytest.raises(ValueError, match="not an sklearn-teracon model"):
        ContinualUserEncoder.load(foreign)
    with pytest.raises(FileNotFoundError):
        ContinualUserEncoder.load(tmp_path / "missing.safetensors")
    with pytest.raises(NotFittedError):
        ContinualUserEncoder().save(tmp_path / "unfitted.safetensors")


def test_unsavable_item_ids_leave_no_file(tmp_path):
    seqs = [[(1, 2), (2, 3)], [(2, 3), (3, 4)]] * 4
    enc = ContinualUserEncoder(**TINY).partial_fit(seqs)
    with pytest.raises(TypeError, match="cannot save item id"):
        enc.save(tmp_path / "m.safetensors")
    assert list(tmp_path.iterdir()) == []


def test_callbacks_are_not_saved_and_device_can_be_chosen(every_kind, tmp_path):
    from skorch.callbacks import LRScheduler

    enc, seqs = every_kind
    enc = enc.set_params(callbacks=[LRScheduler()])
    try:
        enc.save(tmp_path / "m.safetensors")
    finally:
        enc.set_params(callbacks=None)
    loaded = ContinualUserEncoder.load(tmp_path / "m.safetensors", device="cpu")
    assert loaded.callbacks is None
    assert loaded.net_.device == "cpu"


def _flip(src, dst, position):
    data = bytearray(src.read_bytes())
    data[position] ^= 0x5A
    dst.write_bytes(bytes(data))


def test_every_modified_weight_byte_is_refused(saved, tmp_path):
    data = saved.read_bytes()
    header_end = 8 + int.from_bytes(data[:8], "little")
    bad = tmp_path / "flipped.safetensors"
    positions = np.linspace(header_end, len(data) - 1, 25).astype(int)
    for position in positions:
        _flip(saved, bad, position)
        with pytest.raises(ValueError, match="tampered or corrupt"):
            ContinualUserEncoder.load(bad)


def test_modified_header_bytes_are_refused_or_harmless(every_kind, saved, tmp_path):
    enc, seqs = every_kind
    data = saved.read_bytes()
    header_end = 8 + int.from_bytes(data[:8], "little")
    bad = tmp_path / "flipped.safetensors"
    refused = 0
    for position in np.linspace(0, header_end - 1, 40).astype(int):
        _flip(saved, bad, position)
        try:
            loaded = ContinualUserEncoder.load(bad)
        except ValueError:
            refused += 1
        else:  # only the header's alignment padding may change unnoticed
            _same_predictions(enc, loaded, seqs)
    assert refused >= 38


def _set(path, value):
    def edit(desc):
        *parents, last = path
        node = desc
        for key in parents:
            node = node[key]
        if value is _DELETE:
            del node[last]
        else:
            node[last] = value

    return edit


_DELETE = object()


@pytest.mark.parametrize(
    "path, value, problem",
    [
        (("params",), _DELETE, "missing keys \\['params'\\]"),
        (("extra",), 1, "unexpected keys"),
        (("params", "embedding_dim"), "16", "embedding_dim"),
        (("params", "embedding_dim"), 10**300, "embedding_dim"),
        (("params", "dilations"), [1, 2, 3], "dilations"),
        (("params", "callbacks"), [], "callbacks"),
        (("structure", "n_embeddings"), 10**12, "n_embeddings"),
        (("structure", "head_sizes"), [3], "head_sizes"),
        (("tasks", 1, "classes_"), [0, 1, 2], "classes_"),
        (("tasks", 1, "index"), 0, "index"),
        (("tasks", 2, "classes_dtype"), "<U99999999", "classes_dtype"),
        (("tasks", 0, "metric"), "recall", "metric"),
        (("tasks", 0, "fit_time"), None, "fit_time"),
        (("last_task",), "nope", "last_task"),
        (("n_partial_fits",), -1, "n_partial_fits"),
        (("task_relations",), [[1.0]], "task_relations"),
        (("history", "group", 0), {"deep": [[[[[[[[[[1]]]]]]]]]]}, "history"),
        (("tensors", "backbone.item_embedding.weight", "sha256"), "0", "sha256"),
        (("set_output",), {"transform": "excel"}, "set_output.transform"),
        (("set_output",), {"transform": "pandas", "x": 1}, "set_output has"),
        (("set_output",), None, "set_output must be an object"),
    ],
)
def test_header_edits_are_refused_by_the_schema(saved, tmp_path, path, value, problem):
    bad = tmp_path / "edited.safetensors"
    _rewrite(saved, bad, description=_set(path, value), redigest=True)
    with pytest.raises(ValueError, match=f"tampered or corrupt: .*{problem}"):
        ContinualUserEncoder.load(bad)
    # Without recomputed digests, the digest itself refuses the edit.
    _rewrite(saved, bad, description=_set(path, value))
    with pytest.raises(ValueError, match="tampered or corrupt"):
        ContinualUserEncoder.load(bad)


def test_unreadable_descriptions_are_refused(saved, tmp_path):
    with safe_open(str(saved), framework="pt") as f:
        state = {k: f.get_tensor(k) for k in f.keys()}
    bad = tmp_path / "bad.safetensors"
    for text in [
        "[" * 100_000 + "]" * 100_000,
        '{"format_version": 1' + "0" * 5000 + "}",
    ]:
        digest = hashlib.sha256(text.encode()).hexdigest()
        save_file(state, str(bad), metadata={DESCRIPTION_KEY: text, DIGEST_KEY: digest})
        with pytest.raises(ValueError, match="tampered or corrupt"):
            ContinualUserEncoder.load(bad)


def test_a_changed_tensor_dtype_is_refused(saved, tmp_path):
    import torch

    def to_int(state):
        key = "heads.0.bias"
        state[key] = state[key].to(torch.int32)

    bad = tmp_path / "int.safetensors"
    _rewrite(saved, bad, tensors=to_int, redigest=True)
    with pytest.raises(ValueError, match="tampered or corrupt.*heads.0.bias"):
        ContinualUserEncoder.load(bad)


def test_format_1_files_are_refused_with_a_reason(saved, tmp_path):
    bad = tmp_path / "old.safetensors"
    _rewrite(saved, bad, description=lambda d: d.update(format_version=1))
    with pytest.raises(ValueError, match="format 1.*integrity digests.*save"):
        ContinualUserEncoder.load(bad)


@pytest.mark.parametrize("path", [None, 3, b"model.safetensors", ["m"]])
def test_paths_of_the_wrong_type_are_refused(every_kind, path):
    enc, _ = every_kind
    with pytest.raises(TypeError, match="path must be a string or path-like"):
        enc.save(path)
    with pytest.raises(TypeError, match="path must be a string or path-like"):
        ContinualUserEncoder.load(path)


# -- how model files are written (#23) ---------------------------------------------
@pytest.mark.skipif(os.name != "posix", reason="POSIX file modes")
@pytest.mark.parametrize("mode", [0o644, 0o600, 0o640])
def test_save_keeps_the_mode_of_the_file_it_replaces(every_kind, tmp_path, mode):
    enc, _ = every_kind
    path = tmp_path / "m.safetensors"
    enc.save(path)
    path.chmod(mode)
    enc.save(path)
    assert stat.S_IMODE(path.stat().st_mode) == mode


@pytest.mark.skipif(os.name != "posix", reason="POSIX file modes")
@pytest.mark.parametrize("umask", [0o022, 0o077, 0o002])
def test_a_new_file_gets_the_mode_the_umask_gives(every_kind, tmp_path, umask):
    enc, _ = every_kind
    old = os.umask(umask)
    try:
        enc.save(tmp_path / "m.safetensors")
    finally:
        os.umask(old)
    assert stat.S_IMODE((tmp_path / "m.safetensors").stat().st_mode) == 0o666 & ~umask


@pytest.mark.skipif(os.name != "posix", reason="symlinks")
def test_save_to_a_symlink_writes_its_target(every_kind, tmp_path):
    enc, seqs = every_kind
    (tmp_path / "models").mkdir()
    target = tmp_path / "models" / "v1.safetensors"
    link = tmp_path / "current.safetensors"
    link.symlink_to(target)  # dangling until the first save
    enc.save(link)
    assert link.is_symlink() and target.is_file()
    first = target.read_bytes()
    copy.copy(enc).set_params(s=20.0).save(link)
    assert link.is_symlink() and os.readlink(link) == str(target)
    assert target.read_bytes() != first
    assert ContinualUserEncoder.load(link).s == 20.0
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "current.safetensors",
        "models",
    ]
    assert [p.name for p in target.parent.iterdir()] == ["v1.safetensors"]


def test_save_fsyncs_the_file_and_its_folder(every_kind, tmp_path, monkeypatch):
    from sklearn_teracon import _model_io

    enc, _ = every_kind
    synced, real_fsync = [], os.fsync

    def fsync(fd):
        synced.append(stat.S_ISDIR(os.fstat(fd).st_mode))
        real_fsync(fd)

    monkeypatch.setattr(_model_io.os, "fsync", fsync)
    enc.save(tmp_path / "m.safetensors")
    monkeypatch.undo()
    assert synced[0] is False  # the file, before its rename
    if os.name == "posix":
        assert synced[1:] == [True]  # then the folder


def _dead_pid() -> int:
    import subprocess
    import sys

    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    return child.pid


def test_a_later_save_removes_only_stale_temporary_files(every_kind, tmp_path):
    enc, _ = every_kind
    path = tmp_path / "m.safetensors"
    hour_ago = time.time() - 2 * 3600
    minutes_ago = time.time() - 5 * 60
    dead = _dead_pid()
    files = {
        # (name, age): removed?
        (f".m.safetensors.{dead}.0123abcd.tmp", minutes_ago): os.name == "posix",
        (f".m.safetensors.{dead}.4567abcd.tmp", time.time()): False,  # fresh
        (f".m.safetensors.{os.getpid()}.89abcdef.tmp", minutes_ago): False,  # alive
        (f".m.safetensors.{os.getpid()}.fedcba98.tmp", hour_ago): True,  # abandoned
        (".m.safetensors.k2j_x9aq.tmp", hour_ago): True,  # an earlier version's
        (".m.safetensors.k2j_x9aq.tmp.keep", hour_ago): False,  # not a temporary
        (f".other.safetensors.{dead}.0123abcd.tmp", hour_ago): False,  # not ours
    }
    for name, age in files:
        (tmp_path / name).write_bytes(b"partial")
        os.utime(tmp_path / name, (age, age))
    enc.save(path)
    left = {p.name for p in tmp_path.iterdir()}
    for (name, _), removed in files.items():
        assert (name not in left) == removed, name
    assert ContinualUserEncoder.load(path).tasks_.keys() == enc.tasks_.keys()

"""Inputs that never become Python lists, and answers written out in chunks:
padded arrays and memmaps, pyarrow list arrays, ``ParquetSequences``, the
vectorised vocabulary, ``out=`` and the ``embed`` command."""

import copy
import hashlib
import tracemalloc

import numpy as np
import pytest
from sklearn.model_selection import GridSearchCV, train_test_split

from sklearn_teracon import ContinualUserEncoder, ItemVocabulary
from sklearn_teracon._encoder_learning import _encode_growing
from sklearn_teracon._sequence_sources import check_sequence_source
from sklearn_teracon._sequence_store import SequenceStore
from sklearn_teracon.cli import main
from sklearn_teracon.strategies import STRATEGIES

from .conftest import TINY, make_toy

pa = pytest.importorskip("pyarrow")
pq = pytest.importorskip("pyarrow.parquet")


def _padded(seqs, width):
    out = np.zeros((len(seqs), width), dtype=np.int64)
    for row, seq in zip(out, seqs):
        row[width - len(seq) :] = seq
    return out


def _parquet(tmp_path, seqs, name="users.parquet", row_group_size=16, users=None):
    columns = {"items": pa.array(seqs, type=pa.list_(pa.int64()))}
    if users is not None:
        columns["user"] = pa.array(users)
    path = tmp_path / name
    pq.write_table(pa.table(columns), path, row_group_size=row_group_size)
    return path


@pytest.fixture(scope="module")
def toy():
    seqs, groups, _ = make_toy(n_users=96)
    return seqs, groups


@pytest.fixture(scope="module")
def encoder(toy):
    seqs, groups = toy
    enc = ContinualUserEncoder(**{**TINY, "max_epochs": 1, "batch_size": 8})
    enc.partial_fit(seqs)
    return enc.partial_fit(seqs, groups, task="group")


FORMS = {
    "list": lambda seqs, tmp: seqs,
    "tuple": lambda seqs, tmp: tuple(tuple(s) for s in seqs),
    "padded": lambda seqs, tmp: _padded(seqs, 20),
    "padded_int32": lambda seqs, tmp: _padded(seqs, 20).astype(np.int32),
    "memmap": lambda seqs, tmp: _memmap(tmp, _padded(seqs, 20)),
    "arrow_list": lambda seqs, tmp: pa.array(seqs),
    "arrow_chunked": lambda seqs, tmp: pa.chunked_array(
        [pa.array(seqs[:40]), pa.array(seqs[40:])]
    ),
    "arrow_table": lambda seqs, tmp: pa.table({"items": pa.array(seqs)}),
    "arrow_slice": lambda seqs, tmp: pa.array([[1]] + seqs).slice(1),
    "parquet": lambda seqs, tmp: _lazy(_parquet(tmp, seqs)),
    "parquet_folder": lambda seqs, tmp: _lazy(_folder(tmp, seqs)),
}


def _memmap(tmp, array):
    mm = np.memmap(tmp / "x.npy", dtype=array.dtype, mode="w+", shape=array.shape)
    mm[:] = array
    return mm


def _lazy(path):
    from sklearn_teracon.datasets import ParquetSequences

    return ParquetSequences(path)


def _folder(tmp, seqs):
    folder = tmp / "parts"
    folder.mkdir()
    _parquet(folder, seqs[:50], "a.parquet")
    _parquet(folder, seqs[50:], "b.parquet")
    return folder


@pytest.mark.parametrize("form", sorted(FORMS))
def test_every_input_form_gives_the_same_answers(encoder, toy, form, tmp_path):
    seqs, groups = toy
    X = FORMS[form](seqs, tmp_path)
    np.testing.assert_array_equal(encoder.transform(X), encoder.transform(seqs))
    np.testing.assert_array_equal(
        encoder.predict_proba(X, task="group"),
        encoder.predict_proba(seqs, task="group"),
    )
    np.testing.assert_array_equal(
        encoder.recommend(X, k=3), encoder.recommend(seqs, k=3)
    )
    assert encoder.score(X, task="next_item") == encoder.score(seqs, task="next_item")
    assert encoder.score(X, groups, task="group") == encoder.score(
        seqs, groups, task="group"
    )


@pytest.mark.parametrize("form", ["padded", "arrow_table", "parquet"])
def test_training_from_every_form_is_bit_identical(toy, form, tmp_path):
    seqs, groups = toy
    X = FORMS[form](seqs, tmp_path)
    params = {**TINY, "max_epochs": 1, "embedding_dim": 8}
    a = (
        ContinualUserEncoder(**params)
        .partial_fit(seqs)
        .partial_fit(seqs, groups, task="g")
    )
    b = ContinualUserEncoder(**params).partial_fit(X).partial_fit(X, groups, task="g")
    assert a.item_vocabulary_.items == b.item_vocabulary_.items
    np.testing.assert_array_equal(a.transform(seqs), b.transform(seqs))


def test_the_answers_do_not_depend_on_the_chunk_size(encoder, toy, monkeypatch):
    from sklearn_teracon import _encoder_inference

    seqs, _ = toy
    whole = encoder.transform(seqs)
    monkeypatch.setattr(_encoder_inference, "SEQUENCE_CHUNK_ROWS", 16)
    np.testing.assert_array_equal(encoder.transform(seqs), whole)


def test_the_vocabulary_keeps_python_equality_and_first_appearance():
    # 1, 1.0 and True are one key of a dict; "1" and (1, 2) are others.
    seqs = [[3, "1", 1.0], [True, (1, 2), 3, "b"], ["1", 7]]
    vocab = ItemVocabulary()
    vocab.extend(seqs)
    reference = list(dict.fromkeys(item for seq in seqs for item in seq))
    assert vocab.items == reference
    assert [type(i) for i in vocab.items] == [type(i) for i in reference]
    codes = vocab.encode([[1, "1", (1, 2), "zzz"]], max_len=5).tolist()
    assert codes == [[0, 4, 3, 5, 1]]


def test_strings_from_arrow_encode_as_from_lists(tmp_path):
    seqs = [["a", "b"], ["c"], ["b", "a", "d"]]
    listed = ItemVocabulary()
    listed.extend(seqs)
    streamed = ItemVocabulary()
    encoded, longest = _encode_growing(
        streamed, check_sequence_source(pa.array(seqs)), 4
    )
    assert streamed.items == listed.items and longest == 3
    np.testing.assert_array_equal(encoded, listed.encode(seqs, 4))


def test_store_split_last_and_take():
    store = SequenceStore.from_lists([[1, 2, 3], [4], [5, 6]])
    before, last = store.split_last()
    assert before.to_lists() == [[1, 2], [5]] and last.tolist() == [3, 6]
    assert store.take([1, 1, 0]).to_lists() == [[4], [4], [1, 2, 3]]
    assert SequenceStore.concatenate(
        [store.rows(2, 3), store.rows(0, 1)]
    ).to_lists() == [
        [5, 6],
        [1, 2, 3],
    ]


@pytest.mark.parametrize(
    "X, message",
    [
        (lambda: pa.array([[1], None]), r"X\[1\] is None"),
        (lambda: pa.array([[1], []]), r"X\[1\] is an empty sequence"),
        (lambda: pa.array([[1], [2, None]]), "sequence 1 contains a missing item"),
        (lambda: np.array([[0, 1], [0, 0]]), r"X\[1\] is an empty sequence"),
        (lambda: np.array([[2**63 + 5, 1]], dtype=np.uint64), "beyond int64"),
    ],
)
def test_bad_streamed_input_is_named(encoder, X, message):
    with pytest.raises((ValueError, TypeError), match=message):
        encoder.transform(X())


def test_parquet_sequences_index_lazily_and_split_under_grid_search(toy, tmp_path):
    from sklearn_teracon.datasets import ParquetSequences

    seqs, groups = toy
    X = ParquetSequences(_parquet(tmp_path, seqs))
    assert len(X) == len(seqs) and X[5] == seqs[5] and X[-1] == seqs[-1]
    view = X[10:20][[0, 3]]
    assert isinstance(view, ParquetSequences) and [view[0], view[1]] == [
        seqs[10],
        seqs[13],
    ]
    train, test = train_test_split(X, random_state=0)
    assert isinstance(train, ParquetSequences) and len(train) + len(test) == len(X)
    search = GridSearchCV(
        ContinualUserEncoder(**{**TINY, "max_epochs": 1, "embedding_dim": 8}),
        {"s": [10.0, 50.0]},
        cv=2,
    ).fit(X, groups, task="group")
    listed = GridSearchCV(
        ContinualUserEncoder(**{**TINY, "max_epochs": 1, "embedding_dim": 8}),
        {"s": [10.0, 50.0]},
        cv=2,
    ).fit(seqs, groups, task="group")
    np.testing.assert_array_equal(
        search.cv_results_["mean_test_score"], listed.cv_results_["mean_test_score"]
    )
    with pytest.raises(ValueError, match="no column 'clicks'"):
        ParquetSequences(tmp_path / "users.parquet", "clicks")


def test_memory_stays_near_the_encoded_matrix_for_200k_users():
    """Python lists of 200,000 × 40 ids take ~320 MiB; the encoded int32
    matrix takes 31 MiB, and encoding a chunk of users some 40 MiB more."""
    rng = np.random.default_rng(0)
    X = rng.integers(1, 50_000, size=(200_000, 40))
    tracemalloc.start()
    try:
        encoded, _ = _encode_growing(ItemVocabulary(), check_sequence_source(X), 40)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert encoded.shape == (200_000, 40)
    assert peak < encoded.nbytes + 64 * 2**20, f"peak {peak / 2**20:.0f} MiB"


def test_out_writes_parquet_equal_to_the_arrays(encoder, toy, tmp_path):
    seqs, _ = toy
    users = [f"u{i}" for i in range(len(seqs))]
    X = _lazy(_parquet(tmp_path, seqs, users=users))
    X.user_column = "user"
    path = encoder.transform(X, out=tmp_path / "emb.parquet")
    table = pq.read_table(path)
    assert table.column("user").to_pylist() == users
    np.testing.assert_array_equal(
        np.stack(table.column("embedding").to_numpy(zero_copy_only=False)),
        encoder.transform(seqs),
    )
    encoder.recommend(seqs, k=2, out=tmp_path / "top.parquet")
    top = pq.read_table(tmp_path / "top.parquet").column("items").to_pylist()
    assert top == encoder.recommend(seqs, k=2).tolist()
    encoder.predict_proba(seqs, task="group", out=tmp_path / "p.parquet")
    proba = pq.read_table(tmp_path / "p.parquet").column("proba").to_pylist()
    np.testing.assert_allclose(proba, encoder.predict_proba(seqs, task="group"))


def test_out_is_checked_and_never_left_half_written(
    encoder, toy, tmp_path, monkeypatch
):
    seqs, _ = toy
    with pytest.raises(TypeError, match="out must be None or the path"):
        encoder.transform(seqs, out=3)
    with pytest.raises(ValueError, match="is a folder"):
        encoder.transform(seqs, out=tmp_path)
    pandas_output = copy.deepcopy(encoder).set_output(transform="pandas")
    with pytest.raises(ValueError, match="use one or the other"):
        pandas_output.transform(seqs, out=tmp_path / "e.parquet")
    from sklearn_teracon import _encoder_inference

    monkeypatch.setattr(_encoder_inference, "SEQUENCE_CHUNK_ROWS", 16)
    calls = []
    embed = type(encoder.net_).embed

    def failing(net, X, task):
        calls.append(1)
        if len(calls) == 3:
            raise KeyboardInterrupt
        return embed(net, X, task)

    monkeypatch.setattr(type(encoder.net_), "embed", failing)
    with pytest.raises(KeyboardInterrupt):
        encoder.transform(seqs, task="group", out=tmp_path / "e.parquet")
    assert list(tmp_path.iterdir()) == []


def test_the_embed_command_writes_what_transform_gives(encoder, toy, tmp_path, capsys):
    seqs, _ = toy
    model = tmp_path / "model.skt"
    encoder.save(model)
    source = _parquet(tmp_path, seqs, users=list(range(len(seqs))))

    def embed(output, *options):
        arguments = ["--model", str(model), "--input", str(source), *options]
        return main(["embed", *arguments, "--output", str(tmp_path / output), "-q"])

    assert embed("emb.parquet", "--user-column", "user") == 0
    table = pq.read_table(tmp_path / "emb.parquet")
    assert table.column("user").to_pylist() == list(range(len(seqs)))
    np.testing.assert_array_equal(
        np.stack(table.column("embedding").to_numpy(zero_copy_only=False)),
        encoder.transform(seqs),
    )
    assert embed("top.parquet", "--recommend", "3", "--task", "next_item") == 0
    top = pq.read_table(tmp_path / "top.parquet").column("items").to_pylist()
    assert top == encoder.recommend(seqs, task="next_item", k=3).tolist()
    assert embed("x.parquet", "--task", "nope") == 1
    assert "the model has learned" in capsys.readouterr().err
    assert not (tmp_path / "x.parquet").exists()


def test_spilled_rows_read_back_as_the_padded_matrix():
    from sklearn_teracon._spilled_rows import SpilledRows

    seqs = [[5, 6, 7, 8], [9], [3, 4]]
    store = SequenceStore.from_lists(seqs)
    vocab = ItemVocabulary(range(3, 10))
    rows = SpilledRows(max_len=3)
    recent, kept = store.rows(0, 2).recent(3)
    rows.append(vocab.indices(recent), kept)
    recent, kept = store.rows(2, 3).recent(3)
    rows.append(vocab.indices(recent), kept)
    padded = vocab.encode(seqs, 3)
    assert rows.shape == padded.shape and len(rows) == 3
    np.testing.assert_array_equal(np.asarray(rows), padded)
    np.testing.assert_array_equal(rows[[2, 0]], padded[[2, 0]])
    np.testing.assert_array_equal(rows[-1], padded[-1])
    np.testing.assert_array_equal(rows[np.array([True, False, True])], padded[[0, 2]])
    np.testing.assert_array_equal(
        rows.item_counts(len(vocab)), np.bincount(padded.ravel(), minlength=len(vocab))
    )
    with pytest.raises(IndexError, match="out of range"):
        rows[3]
    # The digest ranks compare: the offsets and indices, as the matrix holds them.
    same, other = SpilledRows(max_len=3), SpilledRows(max_len=3)
    same.append(vocab.indices(store.recent(3)[0]), store.recent(3)[1])
    other.append(vocab.indices(store.recent(3)[0])[::-1], store.recent(3)[1])
    digests = []
    for spilled in (rows, same, other):
        digest = hashlib.sha256()
        spilled.update_digest(digest)
        digests.append(digest.hexdigest())
        spilled.close()
    assert digests[0] == digests[1] != digests[2]


def test_training_from_parquet_spills_to_a_file_it_closes(toy, tmp_path, monkeypatch):
    from sklearn_teracon import _spilled_rows

    seqs, groups = toy
    made = []
    original = _spilled_rows.SpilledRows.__init__

    def tracked(self, max_len):
        original(self, max_len)
        made.append(self)

    monkeypatch.setattr(_spilled_rows.SpilledRows, "__init__", tracked)
    X = _lazy(_parquet(tmp_path, seqs))
    params = {**TINY, "max_epochs": 1, "embedding_dim": 8, "loss": "sampled"}
    a = ContinualUserEncoder(**params).partial_fit(seqs)
    b = ContinualUserEncoder(**params).partial_fit(X)
    np.testing.assert_array_equal(a.transform(seqs), b.transform(seqs))
    assert len(made) == 1 and made[0]._file.closed
    before = b.transform(seqs)
    with pytest.raises(ValueError, match="inconsistent|labels|samples"):
        b.partial_fit(X, groups[:-1], task="group")
    assert len(made) == 2 and made[1]._file.closed
    np.testing.assert_array_equal(b.transform(seqs), before)
    assert list(b.tasks_) == ["next_item"]


@pytest.mark.parametrize("strategy", sorted(STRATEGIES))
def test_every_strategy_trains_from_parquet_as_from_lists(toy, tmp_path, strategy):
    seqs, groups = toy
    X = _lazy(_parquet(tmp_path, seqs))
    params = {**TINY, "max_epochs": 1, "embedding_dim": 8, "strategy": strategy}
    a = (
        ContinualUserEncoder(**params)
        .partial_fit(seqs)
        .partial_fit(seqs, groups, task="g")
    )
    b = ContinualUserEncoder(**params).partial_fit(X).partial_fit(X, groups, task="g")
    np.testing.assert_array_equal(a.transform(seqs), b.transform(seqs))
    np.testing.assert_array_equal(
        a.predict_proba(seqs, task="g"), b.predict_proba(seqs, task="g")
    )

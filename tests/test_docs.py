"""The README and the docstrings' examples run as written."""

import doctest
import importlib
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.parametrize(
    "module",
    [
        "sklearn_teracon._sequences",
        "sklearn_teracon.encoder",
        "sklearn_teracon.training.retention",
        "sklearn_teracon.datasets._movielens",
        "sklearn_teracon.datasets._stream",
        "sklearn_teracon.datasets._synthetic",
    ],
)
def test_docstring_examples(module):
    result = doctest.testmod(
        importlib.import_module(module), optionflags=doctest.NORMALIZE_WHITESPACE
    )
    assert result.attempted > 0, f"{module} has no examples"
    assert result.failed == 0


def test_readme_example_runs_and_learns():
    readme = (ROOT / "README.md").read_text()
    example = re.findall(r"```python\n(.*?)```", readme, re.S)[0]
    namespace = {"print": lambda *args: None}
    exec(compile(example, "README.md", "exec"), namespace)
    enc, X_test, y_test = namespace["enc"], namespace["X_test"], namespace["y_test"]
    assert list(enc.tasks_) == ["next_item", "category"]
    # Six balanced classes: chance is about 0.17.
    assert enc.score(X_test, y_test, task="category") > 0.35


def test_readme_setup_commands_are_what_ci_runs():
    readme = (ROOT / "README.md").read_text()
    ci = (ROOT / ".ci" / "run").read_text()
    test_command = next(
        line for line in readme.splitlines() if line.endswith("python -m pytest")
    )
    assert test_command in ci

"""Every code example of the docs, the README and the docstrings runs as written.

- Docstring examples (``>>>``) run with doctest in an empty namespace, as a
  user pasting them would: an example that forgets an import fails.
- In ``docs/*.rst``, a literal block with ``>>>`` runs as a doctest and a
  ``.. code-block:: python`` runs as a script; the blocks of one page share a
  namespace, in page order. In ``README.md`` every fenced ``python`` block runs.
- A block may be skipped only with an explicit reason just before it:
  ``.. skip: <reason>`` in reST, ``<!-- skip: <reason> -->`` in Markdown.
- Any other literal block must say what language it is (``.. code-block::
  console``), so that no Python example can hide in a plain literal block.
"""

import ast
import doctest
import importlib
import importlib.util
import pkgutil
import re
import runpy
import textwrap
from dataclasses import dataclass
from pathlib import Path

import pytest

import sklearn_teracon

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"
FLAGS = doctest.NORMALIZE_WHITESPACE | doctest.ELLIPSIS

MODULES = sorted(
    info.name
    for info in pkgutil.walk_packages(sklearn_teracon.__path__, "sklearn_teracon.")
    if not info.name.endswith("__main__")
)
PAGES = sorted(DOCS.glob("*.rst"))


@dataclass
class Block:
    """One code example: its language, code, line and skip reason (or None)."""

    language: str
    code: str
    line: int
    skip: str | None


_SKIP_RST = re.compile(r"^\s*\.\. skip:\s*(\S.*)$")
_CODE_BLOCK = re.compile(r"^(\s*)\.\. code-block::\s*(\S+)\s*$")
_DIRECTIVE = re.compile(r"^\s*\.\. [\w:-]+::")


def _indented_block(lines: list[str], start: int, base: int) -> tuple[str, int]:
    """The lines after ``start`` indented deeper than ``base``, dedented."""
    end = start
    while end < len(lines) and (
        not lines[end].strip() or len(lines[end]) - len(lines[end].lstrip()) > base
    ):
        end += 1
    body = [line for line in lines[start:end] if not line.strip().startswith(":")]
    return textwrap.dedent("\n".join(body)).strip("\n") + "\n", end


def rst_blocks(text: str) -> list[Block]:
    """The code-block directives and literal blocks (``::``) of a reST page."""
    lines = text.splitlines()
    blocks, skip, i = [], None, 0
    while i < len(lines):
        line = lines[i]
        if match := _SKIP_RST.match(line):
            skip, i = match.group(1), i + 1
            continue
        base = len(line) - len(line.lstrip())
        if line.lstrip().startswith(">>>") and (i == 0 or not lines[i - 1].strip()):
            # A doctest block: a paragraph of its own, up to the next blank line.
            end = next((k for k in range(i, len(lines)) if not lines[k].strip()), None)
            end = len(lines) if end is None else end
            code = textwrap.dedent("\n".join(lines[i:end])) + "\n"
            blocks.append(Block("doctest", code, i + 1, skip))
            skip, i = None, end
            continue
        if match := _CODE_BLOCK.match(line):
            language = match.group(2)
        elif line.rstrip().endswith("::") and not _DIRECTIVE.match(line):
            language = "literal"
        else:
            if line.strip():
                skip = None  # a reason applies to the very next block only
            i += 1
            continue
        code, end = _indented_block(lines, i + 1, base)
        blocks.append(Block(language, code, i + 2, skip))
        skip, i = None, end
    return blocks


def markdown_blocks(text: str) -> list[Block]:
    """The fenced code blocks of a Markdown file."""
    blocks = []
    pattern = r"(?:<!--\s*skip:\s*(.*?)\s*-->\s*\n)?```(\w*)\n(.*?)```"
    for match in re.finditer(pattern, text, re.S):
        line = text[: match.start(2)].count("\n") + 1
        blocks.append(
            Block(match.group(2) or "text", match.group(3), line, match.group(1))
        )
    return blocks


def run_blocks(blocks: list[Block], source: str, namespace: dict) -> int:
    """Run the Python and doctest blocks in order; returns how many ran."""
    ran = 0
    runner = doctest.DocTestRunner(optionflags=FLAGS)
    for block in blocks:
        where = f"{source}:{block.line}"
        is_doctest = ">>>" in block.code
        if block.language == "literal" and not is_doctest:
            pytest.fail(
                f"{where}: a literal block that is not a doctest; use "
                "'.. code-block:: python' (it then runs) or name its language"
            )
        if block.skip is not None or not (
            is_doctest or block.language in ("python", "py")
        ):
            continue
        if is_doctest:
            test = doctest.DocTestParser().get_doctest(
                block.code, namespace, where, source, block.line
            )
            if runner.run(test, clear_globs=False).failed:
                pytest.fail(f"{where}: doctest failed (output above)")
            namespace.update(test.globs)  # a DocTest runs in a copy
        else:
            exec(compile(block.code, where, "exec"), namespace)
        ran += 1
    return ran


@pytest.fixture
def scratch(tmp_path, monkeypatch):
    """Examples write files (models, figures) into a scratch folder."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("MPLBACKEND", "Agg")
    yield tmp_path
    plt = pytest.importorskip("matplotlib.pyplot")
    plt.close("all")


@pytest.mark.parametrize("module", MODULES)
def test_docstring_examples_run_when_pasted(module, scratch):
    mod = importlib.import_module(module)
    finder = doctest.DocTestFinder(exclude_empty=True)
    runner = doctest.DocTestRunner(optionflags=FLAGS)
    for test in finder.find(mod, module, globs={}):
        runner.run(test)
    assert runner.failures == 0, f"{module}: failing examples (output above)"


def test_every_public_module_has_examples():
    with_examples = set()
    for module in MODULES:
        tests = doctest.DocTestFinder().find(importlib.import_module(module))
        if any(test.examples for test in tests):
            with_examples.add(module)
    for module in ["encoder", "evaluation", "metrics", "datasets._interactions"]:
        assert f"sklearn_teracon.{module}" in with_examples


@pytest.mark.parametrize("page", PAGES, ids=[page.name for page in PAGES])
def test_doc_page_examples_run(page, scratch):
    blocks = rst_blocks(page.read_text(encoding="utf-8"))
    namespace = {"__name__": "__main__"}
    run_blocks(blocks, f"docs/{page.name}", namespace)


def test_pages_skip_few_examples():
    skipped = [
        (page.name, block.line, block.skip)
        for page in PAGES
        for block in rst_blocks(page.read_text(encoding="utf-8"))
        if block.skip is not None
    ]
    assert len(skipped) <= 12, skipped


def test_docs_build_offline_unless_intersphinx_is_asked_for(monkeypatch):
    monkeypatch.setenv("OMP_NUM_THREADS", "1")  # conf.py sets it for the gallery
    monkeypatch.delenv("SKLEARN_TERACON_DOCS_INTERSPHINX", raising=False)
    conf = runpy.run_path(str(DOCS / "conf.py"))
    assert "sphinx.ext.intersphinx" not in conf["extensions"]
    assert "sphinx_gallery.gen_gallery" in conf["extensions"]
    monkeypatch.setenv("SKLEARN_TERACON_DOCS_INTERSPHINX", "1")
    conf = runpy.run_path(str(DOCS / "conf.py"))
    assert "sphinx.ext.intersphinx" in conf["extensions"]
    assert set(conf["intersphinx_mapping"]) == {"python", "sklearn", "skorch"}


MATHJAX_EXTENSION = "sphinx-mathjax-offline"


def test_docs_typeset_math_with_their_own_mathjax(monkeypatch):
    """Formulas render offline: the pages load MathJax from _static, no CDN."""
    monkeypatch.setenv("OMP_NUM_THREADS", "1")  # conf.py sets it for the gallery
    conf = runpy.run_path(str(DOCS / "conf.py"))
    extensions = conf["extensions"]
    assert extensions.index("sphinx.ext.mathjax") < extensions.index(MATHJAX_EXTENSION)
    path = conf["mathjax_path"]
    assert "//" not in path and not path.startswith("/"), path  # under _static
    pyproject = (ROOT / "pyproject.toml").read_text(encoding="utf-8")
    docs_extra = re.search(r"^docs = \[$(.*?)^\]$", pyproject, re.M | re.S)
    assert f'"{MATHJAX_EXTENSION}' in docs_extra.group(1)


def test_the_local_mathjax_is_where_mathjax_path_says(monkeypatch):
    spec = importlib.util.find_spec(MATHJAX_EXTENSION)
    if spec is None:
        pytest.skip(f"{MATHJAX_EXTENSION} (the docs extra) is not installed")
    monkeypatch.setenv("OMP_NUM_THREADS", "1")
    path = runpy.run_path(str(DOCS / "conf.py"))["mathjax_path"]
    # The extension copies its static/mathjax folder to _static/mathjax.
    assert (Path(spec.origin).parent / "static" / path).is_file()


def test_ci_builds_the_docs_with_warnings_as_errors():
    ci = (ROOT / ".ci" / "run").read_text()
    assert 'python -m pip install -e ".[docs]"' in ci
    assert "python -m sphinx -W -b html docs docs/_build/html" in ci


EXAMPLES = sorted((ROOT / "examples").glob("*.py"))


@pytest.mark.parametrize("example", EXAMPLES, ids=[e.name for e in EXAMPLES])
def test_examples_have_a_gallery_header(example):
    docstring = ast.get_docstring(ast.parse(example.read_text(encoding="utf-8")))
    title, underline, *_ = (docstring or "").strip().splitlines() + ["", ""]
    assert title and set(underline) == {"="} and len(underline) >= len(title), (
        f"{example.name} must start with a docstring whose first line is a title "
        "underlined with '=' (sphinx-gallery's header)"
    )


def test_readme_examples_run_and_learn(scratch):
    blocks = markdown_blocks((ROOT / "README.md").read_text(encoding="utf-8"))
    namespace = {"__name__": "__main__", "print": lambda *args: None}
    assert run_blocks(blocks, "README.md", namespace) >= 3
    enc, X_test, y_test = namespace["enc"], namespace["X_test"], namespace["y_test"]
    assert list(enc.tasks_)[:2] == ["next_item", "category"]
    # Six balanced classes: chance is about 0.17.
    assert enc.score(X_test, y_test, task="category") > 0.35


def test_readme_setup_commands_are_what_ci_runs():
    readme = (ROOT / "README.md").read_text()
    ci = (ROOT / ".ci" / "run").read_text()
    test_command = next(
        line for line in readme.splitlines() if line.endswith("python -m pytest")
    )
    assert test_command in ci


# -- the collector itself ------------------------------------------------------
PAGE = """\
Title
=====

Text::

    >>> 1 + 1
    2

A doctest block:

>>> z = 2
>>> z * 3
6

.. skip: needs the moon

.. code-block:: python

    moon()

.. code-block:: python
   :caption: runs

    x = 3

    y = x + 1

.. code-block:: console

    $ echo hi
"""


def test_rst_blocks_finds_every_kind_of_block():
    blocks = rst_blocks(PAGE)
    assert [(b.language, b.skip) for b in blocks] == [
        ("literal", None),
        ("doctest", None),
        ("python", "needs the moon"),
        ("python", None),
        ("console", None),
    ]
    assert blocks[3].code == "x = 3\n\ny = x + 1\n"
    namespace = {}
    assert run_blocks(blocks, "page", namespace) == 3
    assert namespace["y"] == 4 and namespace["z"] == 2


def test_failing_and_unnamed_blocks_fail():
    with pytest.raises(NameError):
        run_blocks(rst_blocks(".. code-block:: python\n\n    moon()\n"), "p", {})
    with pytest.raises(pytest.fail.Exception, match="doctest failed"):
        run_blocks(rst_blocks("Text::\n\n    >>> 1 + 1\n    3\n"), "p", {})
    with pytest.raises(pytest.fail.Exception, match="not a doctest"):
        run_blocks(rst_blocks("Text::\n\n    x = 1\n"), "p", {})


def test_markdown_blocks_and_skip_comments():
    text = "```python\nx = 1\n```\n\n<!-- skip: slow -->\n```python\nslow()\n```\n"
    blocks = markdown_blocks(text)
    assert [(b.language, b.skip) for b in blocks] == [
        ("python", None),
        ("python", "slow"),
    ]
    namespace = {}
    assert run_blocks(blocks, "README", namespace) == 1


def test_nothing_users_read_cites_design_md():
    # DESIGN.md is a working file of the developers, not shipped to users.
    files = [
        *(ROOT / "sklearn_teracon").rglob("*.py"),
        *PAGES,
        *EXAMPLES,
        ROOT / "README.md",
    ]
    citing = [
        str(path.relative_to(ROOT))
        for path in files
        if "DESIGN.md" in path.read_text(encoding="utf-8")
    ]
    assert citing == []

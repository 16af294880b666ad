"""The package's import graph: no cycles, and no layer imports one above it.

DESIGN.md §2: ``nn`` knows only torch, ``training`` knows ``nn``, the
strategies know ``training`` and ``nn``; nothing below the estimator imports
it. Imports inside functions count too: a lazy import that hides a cycle is
still one. ``python -m tests.test_layers`` prints the graph's summary.
"""

from __future__ import annotations

import ast
import pathlib

import pytest

PACKAGE = pathlib.Path(__file__).parents[1] / "sklearn_teracon"
# Each subpackage may import only the ones listed (and itself, and helpers
# of the package that are not layers: the private data modules).
BELOW = {
    "nn": set(),
    "training": {"nn"},
    "strategies": {"nn", "training"},
}
DATA_LAYER = {"_sequences", "datasets"}


def module_name(path: pathlib.Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def import_graph() -> dict[str, set[str]]:
    """Modules of the package → the package's modules each imports."""
    modules = {module_name(p): p for p in PACKAGE.rglob("*.py")}
    graph = {}
    for name, path in modules.items():
        package = name if path.name == "__init__.py" else name.rpartition(".")[0]
        targets = set()
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom):
                if node.level:
                    base = package.split(".")
                    base = base[: len(base) - node.level + 1]
                    stem = ".".join(base + ([node.module] if node.module else []))
                else:
                    stem = node.module or ""
                for alias in node.names:
                    full = f"{stem}.{alias.name}"
                    targets.add(full if full in modules else stem)
            elif isinstance(node, ast.Import):
                targets.update(alias.name for alias in node.names)
        graph[name] = {t for t in targets if t in modules and t != name}
    return graph


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components with more than one module (Tarjan)."""
    index, low, stack, on_stack, found = {}, {}, [], set(), []

    def visit(v):
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in sorted(graph[v]):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return found


def _layer(module: str) -> str | None:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else None


def upward_imports(graph: dict[str, set[str]]) -> list[tuple[str, str]]:
    """(importer, imported) pairs where a layer imports one it may not."""
    wrong = []
    for module, targets in sorted(graph.items()):
        layer = _layer(module)
        if layer not in BELOW:
            continue
        for target in sorted(targets):
            other = _layer(target)
            if other is None:  # the package's own __init__
                wrong.append((module, target))
            elif other != layer and other not in BELOW[layer] | DATA_LAYER:
                wrong.append((module, target))
    return wrong


def largest_files(n: int = 8) -> list[tuple[int, str]]:
    sizes = [
        (len(p.read_text().splitlines()), str(p.relative_to(PACKAGE)))
        for p in PACKAGE.rglob("*.py")
    ]
    return sorted(sizes, reverse=True)[:n]


def test_the_import_graph_has_no_cycle():
    assert cycles(import_graph()) == []


def test_no_layer_imports_a_layer_above_it():
    assert upward_imports(import_graph()) == []


@pytest.mark.parametrize(
    "relative", [str(p.relative_to(PACKAGE)) for p in sorted(PACKAGE.rglob("*.py"))]
)
def test_every_module_stays_under_about_400_lines(relative):
    n_lines = len((PACKAGE / relative).read_text().splitlines())
    assert n_lines <= 420, f"{relative} has {n_lines} lines: split what it does"


if __name__ == "__main__":
    graph = import_graph()
    print("cycles:", cycles(graph))
    print("upward imports:", upward_imports(graph))
    print("largest files:", largest_files())

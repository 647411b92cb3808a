"""The house runs one way: webapp -> device_runner -> measurements -> compression.

Walks every module of the four packages (imports inside functions included, since
a lazy import is still a dependency) and fails on an import from a lower floor
to a higher one, or on two modules that reach each other through imports.
"""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
# Lowest floor first: a module may import its own floor and the floors below.
FLOORS = ("compression", "measurements", "device_runner", "webapp")


def module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def all_modules() -> dict[str, Path]:
    return {
        module_name(path): path
        for floor in FLOORS
        for path in sorted((ROOT / floor).rglob("*.py"))
        if "migrations" not in path.parts
    }


def resolve(name: str, known: dict[str, Path]) -> str | None:
    """The first-party module ``name`` refers to (a module, else its package)."""
    while name and name not in known:
        name = name.rpartition(".")[0]
    return name or None


def imports_of(module: str, path: Path, known: dict[str, Path]) -> set[str]:
    tree = ast.parse(path.read_text(), filename=str(path))
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(tree):
        names: list[str] = []
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*anchor, base] if base else anchor)
            # `from pkg import mod` names a module when pkg.mod is one.
            names = [f"{base}.{alias.name}" for alias in node.names] or [base]
        for name in names:
            target = resolve(name, known)
            if target and target != module:
                found.add(target)
    return found


def import_graph() -> dict[str, set[str]]:
    known = all_modules()
    return {module: imports_of(module, path, known) for module, path in known.items()}


def floor(module: str) -> int:
    return FLOORS.index(module.split(".")[0])


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan's algorithm)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for nxt in graph.get(node, ()):
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            component = []
            while True:
                top = stack.pop()
                on_stack.discard(top)
                component.append(top)
                if top == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


def test_it_finds_no_import_from_a_lower_floor_to_a_higher_one():
    upward = sorted(
        f"{module} -> {target}"
        for module, targets in import_graph().items()
        for target in targets
        if floor(target) > floor(module)
    )
    assert upward == []


def test_it_finds_no_two_modules_that_import_each_other():
    assert cycles(import_graph()) == []


def test_it_sees_imports_inside_functions_and_relative_ones(tmp_path):
    # The walker itself: a lazy import inside a function is still a dependency.
    graph = import_graph()
    assert "compression.data.registry" in graph["measurements.actions.registration"]
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]

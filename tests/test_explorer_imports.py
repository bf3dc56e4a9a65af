"""explorer/ has no import cycle: no module imports one that imports it back, directly or not.

The imports are read from the source (every import statement, a lazy one inside a function too),
so a cycle that Python would tolerate at run time still fails here. ``from rate2spike.explorer
import figures`` imports the module ``figures``; an import of a name the package itself defines
(``from rate2spike.explorer import Explorer``) imports ``__init__``.
"""

from __future__ import annotations

import ast
from pathlib import Path

EXPLORER = Path(__file__).resolve().parent.parent / "explorer"
PACKAGE = "rate2spike.explorer"
MODULES = {path.stem for path in EXPLORER.glob("*.py")}


def imported_modules(path: Path) -> set[str]:
    """The explorer modules one module imports."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
        if isinstance(node, ast.Import):
            found |= {alias.name.split(".")[2] for alias in node.names if alias.name.startswith(PACKAGE + ".")}
        elif isinstance(node, ast.ImportFrom):
            module = node.module or ""
            if node.level == 1:  # relative: from . import x, from .x import y
                module = f"{PACKAGE}.{module}" if module else PACKAGE
            elif node.level > 1:
                continue
            if module == PACKAGE:
                found |= {alias.name if alias.name in MODULES else "__init__" for alias in node.names}
            elif module.startswith(PACKAGE + "."):
                found.add(module.split(".")[2])
    return found - {path.stem}


def import_graph() -> dict[str, set[str]]:
    return {path.stem: imported_modules(path) for path in sorted(EXPLORER.glob("*.py"))}


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """A cycle of the graph as the path that closes it (a, b, ..., a), or None."""
    done: set[str] = set()
    path: list[str] = []

    def visit(node: str) -> list[str] | None:
        if node in path:
            return path[path.index(node):] + [node]
        if node in done:
            return None
        path.append(node)
        for target in sorted(graph.get(node, ())):
            cycle = visit(target)
            if cycle is not None:
                return cycle
        path.pop()
        done.add(node)
        return None

    for start in sorted(graph):
        cycle = visit(start)
        if cycle is not None:
            return cycle
    return None


def test_the_import_reader_sees_lazy_imports_and_finds_a_cycle(tmp_path):
    source = tmp_path / "page.py"
    source.write_text("def show():\n    from rate2spike.explorer.state import State\n"
                      "from rate2spike.explorer import figures, Explorer\nfrom . import text\n")
    assert imported_modules(source) == {"state", "figures", "__init__", "text"}
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b"}, "b": set(), "c": {"a", "b"}}) is None


def test_explorer_has_no_import_cycle():
    graph = import_graph()
    assert {"session", "views", "controls"} <= graph["app"]  # the reader reads this package
    assert "app" in graph["notebook"] and "notebook" in graph["__init__"]
    cycle = find_cycle(graph)
    assert cycle is None, f"import cycle in explorer/: {' -> '.join(cycle)}"


def test_the_session_knows_nothing_of_its_page():
    """The state is below its views: the session imports no module that shows it."""
    graph = import_graph()
    below_session = set()
    stack = ["session"]
    while stack:
        for target in graph[stack.pop()] - below_session:
            below_session.add(target)
            stack.append(target)
    assert not below_session & {"app", "views", "controls", "teaching", "figures", "notebook", "main"}

"""The project's promises about itself: CI runs the README's test command."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_ci_runs_the_readme_test_command():
    readme = (ROOT / "README.md").read_text()
    block = re.search(r"<!-- test-command -->\s*```bash\n(.+?)\n```", readme, re.S)
    assert block, "README.md must hold the test command after <!-- test-command -->"
    assert block.group(1).strip() in (ROOT / ".ci" / "run").read_text()


def test_nothing_in_the_package_reads_the_checkouts_tests_or_benchmarks():
    """The installed package stands alone: developer tooling (tests/, benchmarks/) stays in the checkout."""
    import ast

    for folder in ("core", "explorer", "assets"):
        for source in (ROOT / folder).rglob("*.py"):
            tree = ast.parse(source.read_text())
            imported = {alias.name.split(".")[0] for node in ast.walk(tree) if isinstance(node, ast.Import)
                        for alias in node.names}
            imported |= {node.module.split(".")[0] for node in ast.walk(tree)
                         if isinstance(node, ast.ImportFrom) and node.module}
            assert not imported & {"tests", "benchmarks", "numpy_reading", "browser_support"}, source
            paths = [node.value for node in ast.walk(tree) if isinstance(node, ast.Constant)
                     and node.value in ("tests", "benchmarks")]  # a path built from a folder's name
            assert not paths, f"{source} names {paths}"


def test_the_benchmarks_run_from_the_checkout_with_the_documented_options():
    from benchmarks.__main__ import build_parser

    options = {action.dest for action in build_parser()._actions}
    assert {"model", "repeats", "threads", "no_grid", "train", "dashboard", "changes", "sizes", "scale",
            "search"} <= options
    assert "python -m benchmarks" in (ROOT / "docs" / "performance.md").read_text()

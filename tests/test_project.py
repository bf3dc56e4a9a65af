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


def test_no_function_in_core_is_longer_than_80_lines_except_the_kernel():
    import ast

    long = []
    for source in sorted((ROOT / "core").rglob("*.py")):
        for node in ast.walk(ast.parse(source.read_text())):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and node.end_lineno - node.lineno + 1 >= 80:
                long.append(f"{source.relative_to(ROOT)}:{node.name}")
    assert long == ["core/lif.py:run_lif_trials"]  # the Numba kernel, one loop the compiler sees whole


def test_the_spikernn_surface_stays_small():
    assert len((ROOT / "core" / "spikernn.py").read_text().splitlines()) < 100
    assert "spikernn" not in (ROOT / "core" / "cli.py").read_text()  # the command line does not go through it


def test_the_readme_is_a_short_entry_page_whose_links_resolve():
    readme = (ROOT / "README.md").read_text()
    assert len(readme.encode()) < 10_000  # read in five minutes; the details live in docs/
    assert "python -m pip install -e . && panel serve explorer" in readme
    for page in [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]:
        for target in re.findall(r"\]\(([^)#:]+)\)", re.sub(r"`[^`]*`", "", page.read_text())):
            assert (page.parent / target).exists(), f"{page.name} links to {target}, which is not there"
    for name in ("usage", "errors", "performance", "architecture", "report", "faithfulness"):
        assert f"docs/{name}.md" in readme

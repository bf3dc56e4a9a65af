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

"""The teaching notebook runs top to bottom (nbclient), and the explorer displays in a notebook."""

from __future__ import annotations

from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
NOTEBOOK = REPO / "examples" / "why_lambda.ipynb"


def test_the_teaching_notebook_runs_and_shows_the_explorer_and_the_sweep():
    nbformat = pytest.importorskip("nbformat")
    from nbclient import NotebookClient

    notebook = nbformat.read(NOTEBOOK, as_version=4)
    NotebookClient(notebook, timeout=600, kernel_name="python3", resources={"metadata": {"path": str(REPO)}}).execute()
    outputs = [output for cell in notebook.cells if cell.cell_type == "code" for output in cell.get("outputs", [])]
    assert not [o for o in outputs if o.output_type == "error"]
    text = "".join(o.get("text", "") for o in outputs if o.output_type == "stream")
    for preset in ("λ too small", "Recommended λ", "λ too large", "Inhibit the excitatory units"):  # stored by the search
        assert preset in text
    assert "best λ = " in text
    # the explorer cell and the figures display as Panel/HoloViews output, not as a plain repr
    rich = [o for o in outputs if o.output_type in ("display_data", "execute_result")]
    assert sum("application/vnd.holoviews_load.v0+json" in o.get("data", {}) or
               "application/vnd.holoviews_exec.v0+json" in o.get("data", {}) for o in rich) >= 3


def test_explorer_opens_a_task_a_path_or_a_label_and_refuses_an_unknown_one(tmp_path):
    from rate2spike.explorer import Explorer
    from rate2spike.paths import shipped_models

    explorer = Explorer(model="mante", seed=3)
    assert explorer.task.name == "mante" and explorer.trial.spec.seed == 3
    path = next(p for p in shipped_models() if "xor" in str(p))
    assert Explorer(model=path).task.name == "xor"
    assert Explorer(model=explorer.model_label).model.path == explorer.model.path
    with pytest.raises(FileNotFoundError, match="no such model file"):
        Explorer(model=tmp_path / "missing.mat")
    layout = explorer.__panel__()
    assert "Present" in [getattr(w, "label", None) for w in layout.select(lambda o: hasattr(o, "label"))]

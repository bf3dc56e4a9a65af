"""The explorer in a Jupyter notebook: ``Explorer(model=...)`` displays the dashboard in a cell.

Run ``pn.extension("filedropper", inline=True)`` (or ``rate2spike.explorer.notebook.extension()``)
once in the notebook first, as for any Panel output. ``inline=True`` puts BokehJS and Panel's
scripts into the notebook itself: without it they come from a CDN, and a machine without internet
(a lecture hall's) shows nothing and says nothing.
"""

from __future__ import annotations

from pathlib import Path

import panel as pn

from rate2spike.explorer.app import ExplorerPage
from rate2spike.explorer.catalog import ModelCatalog
from rate2spike.explorer.internals import keep_notebook_updates_in_order
from rate2spike.explorer.session import ExplorerSession
from rate2spike.tasks import TASKS


def extension() -> None:
    """Load the front-end pieces the explorer uses into the notebook, inline, so it renders offline
    (run once, before displaying)."""
    pn.extension("filedropper", notifications=False, inline=True)
    keep_notebook_updates_in_order()


def _catalog_and_label(model) -> tuple[ModelCatalog, str | None]:
    """A catalog that offers ``model`` and its label: a task name ('go-nogo') picks the shipped
    model of that task, a path a .mat file anywhere (its folder is offered too)."""
    if model is None:
        return ModelCatalog(), None
    text = str(model)
    if text.lower() in TASKS:
        catalog = ModelCatalog()
        labels = [label for label in catalog.labels if label.split("/", 1)[0] == text.lower()]
        if not labels:
            raise FileNotFoundError(f"no shipped {text} model found")
        return catalog, labels[0]
    path = Path(model).expanduser()
    if not path.is_file():
        catalog = ModelCatalog()
        if text in catalog.labels:
            return catalog, text
        raise FileNotFoundError(f"{model}: no such model file, shipped task ({', '.join(TASKS)}) or catalogue label")
    catalog = ModelCatalog(models_dir=path.resolve().parent)
    return catalog, catalog.label_of(path.resolve())


class Explorer(ExplorerSession, pn.viewable.Viewer):
    """One explorer session for a notebook: display it in a cell to get the dashboard (controls
    and every view), and drive it from code too, e.g. ``ex.scaling_factor = 30``,
    ``ex.apply_preset("At the optimum")``, ``ex.side_by_side([10, 30, 90])``. The session and its
    viewer in one object, for a notebook's convenience; the server shows ``ExplorerPage(session)``.

    ``model``: a task name of a shipped model ('go-nogo', 'xor', 'mante'), a path to a spikeRNN
    .mat file, or a catalogue label; None opens the default shipped model. Other keyword
    arguments set session parameters (scaling_factor, seed, downsample, ...).
    """

    def __init__(self, model=None, **params):
        keep_notebook_updates_in_order()  # before the cell's comm is made (explorer/internals.py)
        catalog, label = _catalog_and_label(model)
        super().__init__(catalog=catalog)
        if label is not None:
            self.model_label = label
        if params:
            self.param.update(**params)
        self._page = None

    def __panel__(self):
        if self._page is None:
            self._page = ExplorerPage(self)
        return self._page.layout()

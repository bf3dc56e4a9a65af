"""The Population view: the report's figures for the dashboard's model folder.

It exists only when the ``--models DIR`` folder holds more than one searched model (one model
is no population), and it draws ``rate2spike.report.report_layout``: the same figures as
``rate2spike report DIR``, from the same code. The folder is read once per change of its files
(sessions share the result, keyed by each file's size and modification time) and the figures
are built when the card is first opened, so a page that never opens it pays only for the read.
"""

from __future__ import annotations

import threading
from pathlib import Path

import panel as pn

from rate2spike.explorer.text import SMALL_TEXT, card_title, text_pane
from rate2spike.paths import find_model_files
from rate2spike.report import Population, collect, report_layout

MIN_SEARCHED = 2  # searched models a folder needs for the view to appear
WIDTH = 800  # px: the report's figures fit the main area beside the sidebar on a 1280 px screen

_CACHE: dict[Path, tuple[tuple, Population]] = {}
_LOCK = threading.Lock()


def folder_population(directory) -> Population | None:
    """The population of a model folder (read again only when its files changed), or None
    without a folder or when it cannot be read (the catalog already says why)."""
    if directory is None:
        return None
    directory = Path(directory)
    try:
        paths = find_model_files(directory)
        signature = tuple((str(p), p.stat().st_mtime_ns, p.stat().st_size) for p in paths)
    except OSError:
        return None
    with _LOCK:
        cached = _CACHE.get(directory)
    if cached is not None and cached[0] == signature:
        return cached[1]
    try:
        population = collect(directory)
    except (ValueError, OSError):
        return None
    with _LOCK:
        _CACHE[directory] = (signature, population)
    return population


class PopulationView:
    """A collapsed card that draws the population report of the model folder when opened."""

    def __init__(self, population: Population):
        self.population = population
        searched = len(population.searched())
        self.pane: pn.pane.HoloViews | None = None
        self.note = text_pane(
            f"The grid searches stored in the files under {population.directory.name}, side by side: the figures "
            f"`rate2spike report DIR` writes to one HTML file. A sweep saved from this page appears here after a "
            "reload.", styles=SMALL_TEXT, margin=(0, 12, 8, 12), sizing_mode="stretch_width")
        self.card = pn.Card(self.note, title=card_title(f"Population: {searched} searched models in "
                                                        f"{population.directory.name}"),
                            collapsed=True, sizing_mode="stretch_width", margin=(0, 12, 10, 12),
                            css_classes=["population-card"])
        self.card.param.watch(self._opened, "collapsed")

    @classmethod
    def of(cls, directory) -> PopulationView | None:
        """The view for a model folder, or None unless it holds at least MIN_SEARCHED searched models."""
        population = folder_population(directory)
        if population is None or len(population.searched()) < MIN_SEARCHED:
            return None
        return cls(population)

    def _opened(self, event) -> None:
        if not event.new:
            self.show()

    def show(self) -> None:
        """Build the figures (once)."""
        if self.pane is None:
            self.pane = pn.pane.HoloViews(report_layout(self.population, WIDTH), backend="bokeh", name="population",
                                          margin=(0, 12), css_classes=["view-population"])
            self.card.append(self.pane)

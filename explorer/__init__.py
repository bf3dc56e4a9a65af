"""The rate2spike dashboard: ``panel serve explorer`` (or ``rate2spike explore``).

``session`` holds one session's inputs and results (parameters; it knows nothing of its page);
``app``'s ``ExplorerPage``, a ``pn.viewable.Viewer`` over a session, builds its page from
``controls`` (the sidebar) and ``views`` (each view declared once: its help line, its figure
from ``figures``, its plot data from ``frames``, pure functions of results);
``teaching`` adds presets, Present mode and λ side by side; ``population_view`` the report's
figures for the model folder (``rate2spike.report``); ``presets`` computes the presets;
``sweeps`` runs its background sweeps; ``catalog`` says which model files it may open;
``main`` is what the server runs per browser session and ``launch`` starts the server;
``notebook.Explorer`` shows the same page in a Jupyter cell (the checkout's benchmarks/ times
the page: ``python -m benchmarks --dashboard``); ``internals`` fences the private Panel and Bokeh hooks. Imports
go one way, from the page down to the session: no module imports one that imports it back
(tests/test_explorer_imports.py).
"""

from rate2spike.explorer.notebook import Explorer

__all__ = ["Explorer"]

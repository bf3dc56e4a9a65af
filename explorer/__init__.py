"""The rate2spike dashboard: ``panel serve explorer`` (or ``rate2spike explore``).

``session`` holds one session's inputs and results (a ``pn.viewable.Viewer``, so it also
displays in a notebook cell); ``app`` builds its page from ``controls`` (the sidebar),
``figures`` (Bokeh views) and ``frames`` (pure functions from results to plot data);
``teaching`` adds presets, Present mode and λ side by side; ``population_view`` the report's
figures for the model folder (``rate2spike.report``); ``presets`` computes the presets;
``sweeps`` runs its background sweeps; ``catalog`` says which model files it may open;
``main`` is what the server runs per browser session and ``launch`` starts the server;
``notebook.Explorer`` shows the same page in a Jupyter cell. The checkout's benchmarks/ times
the page (``python -m benchmarks --dashboard``).
"""

from rate2spike.explorer.notebook import Explorer

__all__ = ["Explorer"]

"""The rate2spike dashboard: `panel serve explorer` (or `rate2spike explore`).

``state`` holds one session, ``trial`` and ``sweeps`` run simulations for it, ``views`` turns
results into figures, ``controls``/``sweep_controls`` are the sidebar, ``app`` assembles the
page and ``main`` is what the server runs for each browser session.
"""

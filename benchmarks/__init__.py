"""The project's benchmarks: developer tooling, run from a source checkout, not installed.

``python -m benchmarks`` (options: ``python -m benchmarks --help``) times the simulator against the
NumPy reading of the method kept in tests/ (``bench``: one trial, lockstep lambdas, the default
searches, synthetic sizes, Dask scaling, training) and the dashboard's λ slider in headless
Chromium (``latency``, with ``browser``: the served dashboard and the browser that the browser
tests drive too). docs/performance.md records the figures.
"""

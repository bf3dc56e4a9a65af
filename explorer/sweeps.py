"""A lambda sweep running in the background for one dashboard session.

``rate2spike.sweep.run_grid`` runs on a plain thread (its LIF kernel releases the GIL, so the
server keeps serving every session). That thread lowers its own CPU priority before
starting, and the trial threads it starts inherit it: a sweep uses every idle core but
yields to the sessions' interactive work. The thread never touches the page: after each trial it
publishes an immutable ``SweepSnapshot`` at most a few times a second, and the session reads
the newest one from its own event loop (a periodic callback), where changing the page is
safe. Cancelling sets an Event that ``run_grid`` checks between trials.
"""

from __future__ import annotations

import math
import os
import threading
import time
from dataclasses import dataclass

import numpy as np

from rate2spike.limits import check_scaling_factor, grid_count
from rate2spike.search import SearchOptions
from rate2spike.sweep import SweepProgress, SweepResult, check_grid, run_grid
from rate2spike.trial import TrialSpec

SNAPSHOT_INTERVAL = 0.2  # s between published snapshots while trials finish
SWEEP_NICENESS = 10  # added to the sweep threads' nice value (Linux: per thread, inherited)


def lower_thread_priority(increment: int = SWEEP_NICENESS) -> bool:
    """Make the calling thread (and threads it starts later) yield CPU to interactive work."""
    try:
        tid = threading.get_native_id()
        os.setpriority(os.PRIO_PROCESS, tid, os.getpriority(os.PRIO_PROCESS, tid) + increment)
        return True
    except (AttributeError, OSError):  # not Linux, or not allowed: run at normal priority
        return False


@dataclass(frozen=True)
class SweepSnapshot:
    """What the page shows of a sweep at one moment (copies, safe to read from any thread), lambdas in
    increasing order."""

    scaling_factors: np.ndarray
    accuracy: np.ndarray
    low: np.ndarray
    high: np.ndarray
    n_done: np.ndarray
    group_accuracy: dict
    balanced_accuracy: np.ndarray
    optimum: tuple[float, float] | None  # the leading lambda while running; the result once finished
    done: int
    total: int
    elapsed: float
    remaining: float
    finished: bool = False
    cancelled: bool = False
    error: str | None = None
    warnings: tuple[str, ...] = ()  # about the optimum (edge, ties, conditions never answered), once finished
    margins: dict | None = None  # every trial's scored value (SweepResult.margins), once finished
    dropped: np.ndarray | None = None  # lambdas a race dropped
    band: np.ndarray | None = None  # lambdas not significantly below the best, once finished
    output_correlation: np.ndarray | None = None  # mean correlation of the LIF output with the rate network's
    best_match: tuple[float, float, float] | None = None  # (lambda, mse, correlation) of the closest output
    notes: tuple[str, ...] = ()  # what the search did beyond the grid (extension, refinement, race), once finished
    precision: str = "float64"  # the sweep's LIF arithmetic (float32: the faster, statistically checked mode)
    verdict: object = None  # rate2spike.verdict.Verdict of a finished search: converted, below goal or failed
    recommended: tuple[float, float, float] | None = None  # (lambda, accuracy, mse): output closest to the rate net

    @classmethod
    def of(cls, result: SweepResult, done: int, total: int, elapsed: float, remaining: float, finished=False,
           cancelled=False):
        low, high = result.interval
        by_lambda = np.argsort(result.scaling_factors, kind="stable")  # drawn by lambda, whatever order it was given in
        groups = {group: values[by_lambda] for group, values in result.group_accuracy().items()}
        return cls(result.scaling_factors[by_lambda], result.accuracy[by_lambda], low[by_lambda], high[by_lambda],
                   result.n_done[by_lambda], groups, result.balanced_accuracy()[by_lambda], result.optimum, done, total,
                   elapsed, remaining, finished, cancelled, warnings=tuple(result.warnings()) if finished else (),
                   margins=result.margins() if finished else None, dropped=result.dropped[by_lambda],
                   band=result.band if finished and not cancelled else None,
                   output_correlation=result.fidelity()["correlation"][by_lambda],
                   best_match=result.best_match if finished and not cancelled else None,
                   notes=tuple(result.notes) if finished else (), precision=result.base.precision,
                   verdict=result.verdict() if finished and not cancelled else None,
                   recommended=result.recommended() if finished and not cancelled else None)

    @classmethod
    def failed(cls, scaling_factors, total: int, previous: "SweepSnapshot | None", error: str):
        nothing = np.full(len(scaling_factors), np.nan)
        return cls(np.asarray(scaling_factors), nothing, nothing, nothing, np.zeros(len(scaling_factors), dtype=int),
                   {}, nothing, None, previous.done if previous else 0, total,
                   previous.elapsed if previous else 0.0, math.nan, finished=True, error=error)

    @property
    def is_result(self) -> bool:
        """A finished, uncancelled sweep: its optimum is a grid-search result."""
        return self.finished and not self.cancelled and self.error is None

    @property
    def fraction(self) -> float:
        return self.done / self.total if self.total else 0.0

    def status(self) -> str:
        """A line for the page: progress, elapsed and remaining time, or how it ended."""
        if self.error:
            return f"Sweep failed: {self.error}"
        head = f"{self.done} / {self.total} trials" + (f" in {self.precision}" if self.precision != "float64" else "") \
            + f", {self.elapsed:.0f} s elapsed"
        if self.cancelled:
            return f"Sweep cancelled after {head}; it is not a result and cannot be saved."
        if self.finished and self.verdict is not None and self.verdict.failed:
            return f"Sweep finished: {head}. {self.verdict.reason}." + "".join(f" Note: {n}." for n in self.notes)
        if self.finished:
            best = "" if self.optimum is None else f"; best λ = {self.optimum[0]:g} (accuracy {self.optimum[1]:.2f})"
            if self.recommended is not None:
                best += f", recommended λ = {self.recommended[0]:g} (output closest to the rate network's)"
            band = "" if self.band is None or self.band.size < 2 else \
                f"; λ band {self.band[0]:g}–{self.band[-1]:g} (not significantly below the best)"
            match = "" if self.best_match is None else f"; output closest to the rate network's at λ = {self.best_match[0]:g}"
            return (f"Sweep finished: {head}{best}{band}{match}." + "".join(f" Note: {note}." for note in self.notes)
                    + "".join(f" Warning: {note}." for note in self.warnings))
        left = "estimating time left" if math.isnan(self.remaining) else f"about {self.remaining:.0f} s left"
        leading = "" if self.optimum is None else f"; leading λ so far {self.optimum[0]:g}"
        return f"Sweep running: {head}, {left}{leading}."


MAX_LAMBDAS = 200  # scaling factors in one dashboard sweep


def sweep_grid(low: float, high: float, step: float) -> np.ndarray:
    """Scaling factors low, low+step, ..., up to high (included when on the grid): checked by the
    package's lambda rules (``rate2spike.limits``), and at most MAX_LAMBDAS for one dashboard sweep."""
    try:
        count = grid_count(low, high, step)
        check_scaling_factor(low, "the λ range's start")
    except ValueError as exc:
        raise ValueError(f"λ range {low:g}..{high:g} step {step:g}: {exc}") from None
    grid = low + step * np.arange(count)  # counted before it is made: at most MAX_GRID_LAMBDAS
    grid = grid[grid <= high + 1e-9 * step]  # high is included when on the grid, never passed
    if grid.size > MAX_LAMBDAS:
        raise ValueError(f"{grid.size} values of λ is too many for one sweep; use a larger step")
    return np.round(grid, 10)


_LIVE: set["BackgroundSweep"] = set()  # the sweeps running in this process, every page's
_LIVE_LOCK = threading.Lock()


def running_sweeps() -> int:
    """How many background sweeps this process (the server, all its pages) is running."""
    with _LIVE_LOCK:
        return len(_LIVE)


class BackgroundSweep:
    """One sweep (``base`` at each scaling factor, trials 0..n_trials-1) on its own thread;
    ``snapshot`` is the newest published state."""

    def __init__(self, base: TrialSpec, scaling_factors, n_trials: int, n_threads: int | None = None,
                 options: SearchOptions | None = None, on_done=None):
        """``on_done(sweep)`` is called on the sweep's thread once it has ended (finished, cancelled or failed)."""
        self.scaling_factors, self.n_trials = check_grid(scaling_factors, n_trials)
        self.base = base
        self.n_threads = n_threads
        self.options = options or SearchOptions()
        self.total = len(self.scaling_factors) * self.n_trials
        self.result: SweepResult | None = None
        self.snapshot: SweepSnapshot | None = None
        self._cancel = threading.Event()
        self._thread = threading.Thread(target=self._run, name="rate2spike-sweep", daemon=True)
        self._last_published = 0.0
        self._on_done = on_done

    def start(self) -> "BackgroundSweep":
        with _LIVE_LOCK:
            _LIVE.add(self)
        self._thread.start()
        return self

    def cancel(self) -> None:
        self._cancel.set()

    @property
    def running(self) -> bool:
        return self._thread.is_alive()

    def join(self, timeout: float | None = None) -> None:
        self._thread.join(timeout)

    def _progress(self, progress: SweepProgress) -> None:
        now = time.perf_counter()
        if now - self._last_published >= SNAPSHOT_INTERVAL or progress.done == progress.total:
            self._last_published = now
            self.total = progress.total  # a search that extends or races changes its total as it goes
            self.snapshot = SweepSnapshot.of(progress.result, progress.done, progress.total,
                                             progress.elapsed, progress.remaining)

    def _run(self) -> None:
        try:
            self._search()
        finally:
            with _LIVE_LOCK:
                _LIVE.discard(self)
            if self._on_done is not None:
                self._on_done(self)

    def _search(self) -> None:
        lower_thread_priority()
        try:
            result = run_grid(self.base, self.scaling_factors, self.n_trials, n_threads=self.n_threads,
                              progress=self._progress, cancel=self._cancel, options=self.options)
        except Exception as exc:  # shown on the page; the session goes on
            self.snapshot = SweepSnapshot.failed(self.scaling_factors, self.total, self.snapshot, str(exc))
            return
        self.result = result
        done = int(result.n_done.sum())
        self.total = done if not result.cancelled else max(self.total, result.planned_trials)
        self.snapshot = SweepSnapshot.of(result, done, self.total, result.elapsed, 0.0,
                                         finished=True, cancelled=result.cancelled)

"""The lambda grid search: score many trials at each scaling factor, in parallel.

Every lambda is scored on the same trials (same stimuli, same initial voltages, same
noise: common random numbers), so differences between lambdas are not sampling noise
between trial sets. Trials run on a thread pool (the kernel releases the GIL); a progress
callback sees every finished trial and a cancel signal stops the search between trials.
"""

from __future__ import annotations

import csv
import io
import math
import os
import threading
import time
from concurrent.futures import FIRST_COMPLETED, ThreadPoolExecutor, wait
from dataclasses import dataclass, field

import numpy as np

from core.model import RateModel
from core.progress import is_cancelled
from core.simulation import Stimulation, convert, make_drive, simulate_output
from core.tasks import Outcome, Task, TaskTrial, check_task_fits, get_task, infer_task

DEFAULT_SCALING_FACTORS = tuple(range(20, 76, 5))  # the reference's 20, 25, ..., 75
DEFAULT_N_TRIALS = 100
WILSON_Z = 1.959963984540054  # two-sided 95%


def trial_inputs(task: Task, seed: int, index: int, condition=None, **options) -> tuple[TaskTrial, tuple]:
    """The stimulus of trial ``index`` of a run seeded with ``seed``, and its noise seed.

    A trial is named by (seed, index): the dashboard's trial with seed s is trial 0 of a
    sweep with seed s, and a sweep uses the same (seed, index) trials at every lambda.
    """
    rng = np.random.default_rng([int(seed), int(index), 0])
    return task.make_trial(rng, condition, **options), (int(seed), int(index), 1)


def wilson_interval(successes, n, z: float = WILSON_Z):
    """95% Wilson score interval for a binomial proportion (works for 0 and n successes)."""
    successes = np.asarray(successes, dtype=float)
    n = np.asarray(n, dtype=float)
    with np.errstate(invalid="ignore", divide="ignore"):
        p = successes / n
        denom = 1 + z**2 / n
        center = (p + z**2 / (2 * n)) / denom
        half = z * np.sqrt(p * (1 - p) / n + z**2 / (4 * n**2)) / denom
    return center - half, center + half


@dataclass
class SweepResult:
    """Outcomes of a grid search, filled in as trials finish (so it can be drawn live)."""

    task: str
    scaling_factors: np.ndarray
    n_trials: int
    seed: int
    model_name: str = ""
    downsample: int = 1
    use_initial_weights: bool = False
    outcomes: list = field(default_factory=list)  # [lambda][trial] -> Outcome or None
    spike_totals: np.ndarray | None = None  # spikes summed over units and trials, per lambda
    duration: float = 1.0  # s, one trial's T (for firing rates)
    n_units: int = 1
    elapsed: float = 0.0
    cancelled: bool = False

    def __post_init__(self):
        self.scaling_factors = np.asarray(self.scaling_factors, dtype=float)
        k = len(self.scaling_factors)
        if not self.outcomes:
            self.outcomes = [[None] * self.n_trials for _ in range(k)]
        if self.spike_totals is None:
            self.spike_totals = np.zeros(k)
        # running counts, so that progress reports cost O(lambdas), not O(trials)
        self._n_done = np.array([sum(o is not None for o in row) for row in self.outcomes], dtype=int)
        self._n_correct = np.array([sum(o is not None and o.correct for o in row) for row in self.outcomes], dtype=int)

    def record(self, k_lambda: int, k_trial: int, outcome: Outcome, spikes: int = 0) -> None:
        """Store one finished trial (each trial once)."""
        if self.outcomes[k_lambda][k_trial] is not None:
            raise ValueError(f"trial {k_trial} at lambda index {k_lambda} is already recorded")
        self.outcomes[k_lambda][k_trial] = outcome
        self.spike_totals[k_lambda] += spikes
        self._n_done[k_lambda] += 1
        self._n_correct[k_lambda] += bool(outcome.correct)

    def _done(self, k) -> list[Outcome]:
        return [o for o in self.outcomes[k] if o is not None]

    @property
    def n_done(self) -> np.ndarray:
        return self._n_done.copy()

    @property
    def n_correct(self) -> np.ndarray:
        return self._n_correct.copy()

    @property
    def accuracy(self) -> np.ndarray:
        """Fraction correct per lambda (NaN where no trial has finished yet)."""
        with np.errstate(invalid="ignore", divide="ignore"):
            return self.n_correct / self.n_done

    @property
    def interval(self) -> tuple[np.ndarray, np.ndarray]:
        return wilson_interval(self.n_correct, self.n_done)

    @property
    def complete(self) -> np.ndarray:
        return self.n_done == self.n_trials

    @property
    def mean_firing_rate(self) -> np.ndarray:
        """Mean firing rate (Hz) over units and finished trials, per lambda."""
        with np.errstate(invalid="ignore", divide="ignore"):
            return self.spike_totals / (self.n_done * self.n_units * self.duration)

    @property
    def optimum(self) -> tuple[float, float] | None:
        """(lambda, accuracy) of the first maximum among fully scored lambdas, as the reference."""
        acc = np.where(self.complete, self.accuracy, np.nan)
        if np.isnan(acc).all():
            return None
        best = int(np.nanargmax(acc))
        return float(self.scaling_factors[best]), float(acc[best])

    def breakdown(self, index: int) -> dict:
        """The task's metric breakdown at one lambda (per condition, timing, integration)."""
        return get_task(self.task).breakdown(self._done(index))

    def group_accuracy(self) -> dict[str, np.ndarray]:
        """Accuracy per condition group (Go/NoGo, xor pattern, context), per lambda."""
        task = get_task(self.task)
        result = {}
        for group in task.groups():
            values = []
            for k in range(len(self.scaling_factors)):
                hits = [o.correct for o in self._done(k) if o.group == group]
                values.append(np.mean(hits) if hits else np.nan)
            result[group] = np.array(values)
        return result

    def rows(self) -> list[dict]:
        """One row per lambda: what the CSV export and the CLI table show."""
        low, high = self.interval
        groups = self.group_accuracy()
        rows = []
        for k, lam in enumerate(self.scaling_factors):
            row = {"scaling_factor": float(lam), "n_trials": int(self.n_done[k]),
                   "n_correct": int(self.n_correct[k]), "accuracy": float(self.accuracy[k]),
                   "ci95_low": float(low[k]), "ci95_high": float(high[k]),
                   "mean_firing_rate_hz": float(self.mean_firing_rate[k])}
            row.update({f"accuracy {g}": float(v[k]) for g, v in groups.items()})
            rows.append(row)
        return rows

    def to_csv(self, path=None) -> str:
        """CSV text of ``rows()``; also written to ``path`` if given."""
        buffer = io.StringIO()
        rows = self.rows()
        writer = csv.DictWriter(buffer, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
        text = buffer.getvalue()
        if path is not None:
            with open(path, "w", newline="") as fh:
                fh.write(text)
        return text


@dataclass(frozen=True)
class SweepProgress:
    """What a progress callback receives after each finished trial."""

    done: int
    total: int
    elapsed: float
    result: SweepResult

    @property
    def remaining(self) -> float:
        """Estimated seconds left, from the pace so far."""
        return self.elapsed / self.done * (self.total - self.done) if self.done else math.nan


def default_threads() -> int:
    return max(1, len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1))


def run_sweep(model: RateModel, task=None, scaling_factors=DEFAULT_SCALING_FACTORS, n_trials: int = DEFAULT_N_TRIALS,
              seed: int = 0, downsample: int = 1, use_initial_weights: bool = False,
              stimulation: Stimulation | None = None, n_threads: int | None = None,
              progress=None, cancel=None) -> SweepResult:
    """Score ``n_trials`` random trials at each scaling factor.

    ``progress(SweepProgress)`` is called in the calling thread after every trial;
    ``cancel`` (a threading.Event or a callable returning True) stops the search between
    trials, returning what finished with ``cancelled=True``.
    """
    task = infer_task(model) if task is None else get_task(task)
    check_task_fits(task, model)
    factors = np.asarray(list(scaling_factors), dtype=float).reshape(-1)
    if factors.size == 0:
        raise ValueError("scaling_factors is empty")
    if (factors <= 0).any() or not np.isfinite(factors).all():
        raise ValueError(f"scaling factors must be positive numbers, got {factors.tolist()}")
    if int(n_trials) != n_trials or n_trials < 1:
        raise ValueError(f"n_trials must be a positive integer, got {n_trials}")
    n_trials = int(n_trials)
    networks = [convert(model, lam, use_initial_weights) for lam in factors]
    trials = [trial_inputs(task, seed, k) for k in range(n_trials)]
    first_drive = make_drive(networks[0], trials[0][0].u, downsample)
    result = SweepResult(task=task.name, scaling_factors=factors, n_trials=n_trials, seed=seed,
                         model_name=model.name, downsample=downsample,
                         use_initial_weights=use_initial_weights, duration=first_drive.T, n_units=model.N)
    stop = threading.Event()

    def job(k_lambda, k_trial):
        if stop.is_set():
            return None
        network = networks[k_lambda]
        trial, sim_seed = trials[k_trial]
        drive = make_drive(network, trial.u, downsample)
        out, counts = simulate_output(network, drive, sim_seed, stimulation)
        return k_lambda, k_trial, task.score(out, drive.dt, trial), int(counts.sum())

    jobs = [(kl, kt) for kl in range(len(factors)) for kt in range(n_trials)]
    started = time.perf_counter()
    done = 0
    workers = n_threads or default_threads()
    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="lif-sweep") as pool:
        pending = set()
        queue = iter(jobs)
        # keep a bounded number of jobs queued, so a cancel takes effect quickly
        for item in queue:
            pending.add(pool.submit(job, *item))
            if len(pending) >= 2 * workers:
                break
        while pending:
            finished, pending = wait(pending, return_when=FIRST_COMPLETED)
            for future in finished:
                value = future.result()
                if value is None:
                    continue
                result.record(*value)
                done += 1
                result.elapsed = time.perf_counter() - started
                if progress is not None:
                    progress(SweepProgress(done, len(jobs), result.elapsed, result))
            if is_cancelled(cancel):
                stop.set()
                result.cancelled = True
            if not stop.is_set():
                for item in queue:
                    pending.add(pool.submit(job, *item))
                    if len(pending) >= 2 * workers:
                        break
    result.elapsed = time.perf_counter() - started
    return result

"""The lambda grid search: a grid of trial specs, scored in parallel.

A sweep is one base ``TrialSpec`` (model, task and options, seed, downsampling, weights,
stimulation) crossed with scaling factors and trial indices. Every lambda is scored on the
same trials (same stimuli, initial voltages and noise: common random numbers), so differences
between lambdas are not sampling noise between trial sets. Which (lambda, trial) pairs get scored
is up to the search procedure (``rate2spike.search``: the full grid as the reference, or with edge
extension, refinement and racing); an engine (``rate2spike.engine``: this process's threads or a
Dask cluster) runs them in blocks and compares each trial's output with the rate network's; the
search here records the scores, calls a progress callback after every finished block, journals
them for a resume (``rate2spike.journal``) and stops between blocks when cancelled.
"""

from __future__ import annotations

import csv
import datetime
import io
import math
import os
import time
import uuid
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from rate2spike.engine import DaskEngine, ThreadEngine, make_blocks
from rate2spike.fidelity import Fidelity
from rate2spike.journal import Journal
from rate2spike.limits import check_scaling_factors
from rate2spike.model import RateModel, write_atomic
from rate2spike.parameters import DEFAULT_PARAMETERS, LIFParameters
from rate2spike.paths import package_version
from rate2spike.progress import is_cancelled
from rate2spike.search import LambdaTable, SearchOptions, search
from rate2spike.tasks import Outcome
from rate2spike.text import printable
from rate2spike.trial import TrialSpec

DEFAULT_SCALING_FACTORS = tuple(range(20, 76, 5))  # the reference's 20, 25, ..., 75
DEFAULT_N_TRIALS = 100
WILSON_Z = 1.959963984540054  # two-sided 95%


def wilson_interval(successes, n, z: float = WILSON_Z):
    """95% Wilson score interval for a binomial proportion (works for 0 and n successes).

    At 0 and n successes the bound is exactly 0 and 1 (the formula's value; rounding would otherwise
    put 1 of 60 just outside its own interval), and every bound lies in 0..1."""
    successes = np.asarray(successes, dtype=float)
    n = np.asarray(n, dtype=float)
    with np.errstate(invalid="ignore", divide="ignore"):
        p = successes / n
        denom = 1 + z**2 / n
        center = (p + z**2 / (2 * n)) / denom
        half = z * np.sqrt(p * (1 - p) / n + z**2 / (4 * n**2)) / denom
    low = np.where((successes == 0) & (n > 0), 0.0, np.clip(center - half, 0.0, 1.0))  # n = 0: NaN, as before
    high = np.where((successes == n) & (n > 0), 1.0, np.clip(center + half, 0.0, 1.0))
    return (low[()], high[()])


class SweepResult:
    """Outcomes of a lambda search, filled in as trials finish (so it can be drawn live).

    Trial k at scaling factor j is ``base`` with that lambda and index k: the base spec says
    everything else about the trials (model, task and options, seed, downsampling, weights,
    stimulation). Per-lambda results (``scaling_factors``, ``accuracy``, ``rows()``...) are given in
    the user's order, then the lambdas an extended or refined search added, in increasing order; the
    optimum is the first maximum in that order, as the reference's. The ``table``
    (``rate2spike.search``) and the per-row attributes ``outcomes``, ``spike_totals``, ``output_mse``
    and ``output_correlation`` keep lambdas in increasing order (``order`` maps one onto the other).
    """

    def __init__(self, base: TrialSpec, scaling_factors, n_trials: int, options: SearchOptions | None = None):
        self.base = base
        self.n_trials = int(n_trials)
        self.options = options or SearchOptions()
        self.table = LambdaTable(scaling_factors, self.n_trials)
        k = len(self.table)
        self.outcomes: list[list] = [[None] * self.n_trials for _ in range(k)]  # [lambda][trial] -> Outcome
        self.spike_totals = np.zeros(k)  # spikes summed over units and trials, per lambda
        self.output_mse = np.full((k, self.n_trials), np.nan)  # output fidelity per lambda and trial
        self.output_correlation = np.full((k, self.n_trials), np.nan)
        self.notes: list[str] = []  # what the search did beyond the grid (extension, refinement, race)
        self.elapsed = 0.0  # s
        self.cancelled = False
        self.table.on_insert(self._insert_rows)

    def _insert_rows(self, k: int) -> None:
        self.outcomes.insert(k, [None] * self.n_trials)
        self.spike_totals = np.insert(self.spike_totals, k, 0.0)
        self.output_mse = np.insert(self.output_mse, k, np.nan, axis=0)
        self.output_correlation = np.insert(self.output_correlation, k, np.nan, axis=0)

    @property
    def task(self) -> str:
        return self.base.task.name

    @property
    def seed(self) -> int:
        return self.base.seed

    @property
    def order(self) -> np.ndarray:
        """Rows of ``table`` (increasing lambda) in the order results are given."""
        return self.table.given_order()

    @property
    def scaling_factors(self) -> np.ndarray:
        """The lambdas, in the order given (``order``)."""
        return self.table.scaling_factors[self.order]

    def record(self, k_lambda: int, k_trial: int, outcome: Outcome, spikes: int = 0,
               fidelity: Fidelity | None = None) -> None:
        """Store one finished trial (each trial once); ``k_lambda`` is the row of ``table``."""
        self.table.set(k_lambda, k_trial, outcome.correct)
        self.outcomes[k_lambda][k_trial] = outcome
        self.spike_totals[k_lambda] += spikes
        if fidelity is not None:
            self.output_mse[k_lambda, k_trial], self.output_correlation[k_lambda, k_trial] = fidelity

    def _done(self, k) -> list[Outcome]:
        return [o for o in self.outcomes[k] if o is not None]

    @property
    def n_done(self) -> np.ndarray:
        return self.table.n_done[self.order]

    @property
    def n_correct(self) -> np.ndarray:
        return self.table.n_correct[self.order]

    @property
    def accuracy(self) -> np.ndarray:
        """Fraction correct per lambda (NaN where no trial has finished yet)."""
        return self.table.accuracy[self.order]

    @property
    def interval(self) -> tuple[np.ndarray, np.ndarray]:
        return wilson_interval(self.n_correct, self.n_done)

    @property
    def complete(self) -> np.ndarray:
        """Lambdas that got all their planned trials (a race plans fewer for the lambdas it drops)."""
        return self.table.complete[self.order]

    @property
    def dropped(self) -> np.ndarray:
        """Lambdas a race dropped as worse than its leader."""
        return self.table.dropped[self.order]

    @property
    def planned_trials(self) -> int:
        """Trials the search expects to run in all, as far as it knows now (a race lowers it)."""
        return int(self.table.planned.sum())

    @property
    def mean_firing_rate(self) -> np.ndarray:
        """Mean firing rate (Hz) over units and finished trials, per lambda."""
        with np.errstate(invalid="ignore", divide="ignore"):
            return self.spike_totals[self.order] / (self.n_done * self.base.model.N * self.base.duration)

    @property
    def optimum(self) -> tuple[float, float] | None:
        """(lambda, accuracy) of the first maximum among fully scored lambdas (not dropped by a
        race) in the order given, as the reference."""
        best = self.table.best()
        if best is None:
            return None
        return float(self.table.scaling_factors[best]), float(self.table.accuracy[best])

    @property
    def band(self) -> np.ndarray:
        """The lambda band, in increasing order: every lambda whose accuracy is not significantly
        below the best's (paired exact test on the shared trials, family-wise alpha of the search
        options)."""
        return self.table.scaling_factors[self.table.band(self.options.alpha)]

    def fidelity(self) -> dict[str, np.ndarray]:
        """Mean output fidelity per lambda over finished trials: 'mse' (mean squared difference
        from the rate network's output) and 'correlation' (Pearson r over the trial)."""
        with np.errstate(invalid="ignore"), warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)  # a lambda with no trial yet: NaN
            return {"mse": np.nanmean(self.output_mse[self.order], axis=1),
                    "correlation": np.nanmean(self.output_correlation[self.order], axis=1)}

    @property
    def best_match(self) -> tuple[float, float, float] | None:
        """(lambda, mse, correlation) of the lambda whose output is closest to the rate network's
        (lowest mean squared difference among fully scored lambdas), or None."""
        mse = np.where(self.complete, self.fidelity()["mse"], np.nan)
        if np.isnan(mse).all():
            return None
        k = int(np.nanargmin(mse))
        return float(self.scaling_factors[k]), float(mse[k]), float(self.fidelity()["correlation"][k])

    def verdict(self):
        """The search's conclusion (``rate2spike.verdict.judge``): converted, below goal or failed,
        with its reason; None while the search is unfinished."""
        from rate2spike.verdict import judge

        return judge(self)

    def recommended(self, tolerance: float | None = None) -> tuple[float, float, float] | None:
        """(lambda, accuracy, mean squared difference from the rate output) of the recommended
        lambda (``rate2spike.verdict.recommend``): the output closest to the rate network's among the
        lambdas in the band and within ``tolerance`` (default 0.03) of the best accuracy."""
        from rate2spike.verdict import DEFAULT_TOLERANCE, recommend

        return recommend(self, DEFAULT_TOLERANCE if tolerance is None else tolerance)

    def file_variables(self, save_optimum: bool = True) -> dict:
        """What a model file stores of this search (``rate2spike.model.grid_search_variables``): the
        reference's curve and optimum, the band, the accuracy per condition, the verdict and the
        recommended lambda with its rule. ``save_optimum=False`` leaves out ``opt_scaling_factor``
        (a failed conversion's first maximum is not a result)."""
        from rate2spike.model import grid_search_variables
        from rate2spike.verdict import DEFAULT_TOLERANCE, recommendation_rule

        verdict, recommended = self.verdict(), self.recommended()
        return grid_search_variables(
            self.scaling_factors, self.accuracy, self.optimum[0] if save_optimum else None, self.band,
            self.group_accuracy(), verdict=None if verdict is None else verdict.line(),
            recommended=None if recommended is None else recommended[0],
            rule=recommendation_rule(DEFAULT_TOLERANCE))

    def breakdown(self, index: int) -> dict:
        """The task's metric breakdown at one lambda (``index`` in the order given)."""
        return self.base.task.breakdown(self._done(self.order[index]))

    def group_accuracy(self) -> dict[str, np.ndarray]:
        """Accuracy per condition group (Go/NoGo, xor pattern, context), per lambda."""
        result = {}
        for group in self.base.task.groups():
            values = []
            for k in self.order:
                hits = [o.correct for o in self._done(k) if o.group == group]
                values.append(np.mean(hits) if hits else np.nan)
            result[group] = np.array(values)
        return result

    def balanced_accuracy(self) -> np.ndarray:
        """Mean of the per-condition-group accuracies, per lambda: a lambda that answers one
        condition always and another never scores 0.5 here whatever the mix of trials."""
        groups = np.array(list(self.group_accuracy().values()))
        with np.errstate(invalid="ignore"), warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)  # a lambda with no trial yet: NaN
            return np.nanmean(groups, axis=0)

    @property
    def status(self) -> str:
        """'complete', 'cancelled' or 'partial' (some lambdas not fully scored)."""
        if self.cancelled:
            return "cancelled"
        return "complete" if self.complete.all() else "partial"

    def warnings(self) -> list[str]:
        """What a reader of the optimum should know: an unfinished sweep, an optimum on the grid's
        edge, lambdas that tie with it, conditions it never answers correctly."""
        notes = []
        done, total = int(self.n_done.sum()), len(self.scaling_factors) * self.n_trials
        if self.status != "complete":
            notes.append(f"the sweep is {self.status} ({done} of {total} trials): its best lambda is not a result")
        optimum = self.optimum
        verdict = self.verdict()
        if optimum is None or (verdict is not None and verdict.failed):
            return notes  # a failed conversion has no optimum to qualify: the verdict says why
        best, accuracy = optimum
        factors = self.scaling_factors
        extended = " even after extending it" if self.options.extend else ""
        if factors.size > 1 and best == factors.min():
            notes.append(f"the optimum is at the grid's lower edge ({best:g}){extended}: try lower lambdas")
        elif factors.size > 1 and best == factors.max():
            notes.append(f"the optimum is at the grid's upper edge ({best:g}){extended}: try higher lambdas")
        scored = np.where(self.complete & ~self.dropped, self.accuracy, np.nan)
        ties = [f"{lam:g}" for lam, acc in zip(factors, scored) if acc == accuracy and lam != best]
        if ties:
            notes.append(f"lambda {', '.join(ties)} tie{'s' if len(ties) == 1 else ''} with the optimum {best:g} "
                         f"(accuracy {accuracy:.3f}); the first maximum is taken, as in the reference")
        k = int(np.flatnonzero(factors == best)[0])
        for group, values in self.group_accuracy().items():
            if values[k] == 0:
                notes.append(f"at lambda {best:g} no {group} trial is answered correctly")
        return notes

    def margins(self) -> dict[str, np.ndarray]:
        """Every finished trial's scored value: what the task's rule compared with its threshold
        (the window maximum, or minimum for -1 answers), with its lambda, group, level and
        verdict. It shows where each condition starts failing as lambda changes."""
        rows = [(self.table.scaling_factors[k], o.group, o.extreme, o.level, o.correct)
                for k in self.order for o in self.outcomes[k] if o is not None]
        columns = list(zip(*rows)) if rows else [(), (), (), (), ()]
        return {"scaling_factor": np.asarray(columns[0], dtype=float), "group": np.asarray(columns[1], dtype=object),
                "value": np.asarray(columns[2], dtype=float), "level": np.asarray(columns[3], dtype=float),
                "correct": np.asarray(columns[4], dtype=bool)}

    def rows(self) -> list[dict]:
        """One row per lambda: what the CSV export and the CLI table show."""
        low, high = self.interval
        groups = self.group_accuracy()
        balanced = self.balanced_accuracy()
        fidelity = self.fidelity()
        band = set(self.band.tolist())
        origin, dropped, planned = (values[self.order] for values in
                                    (self.table.origin, self.table.dropped, self.table.planned))
        rows = []
        for k, lam in enumerate(self.scaling_factors):
            row = {"scaling_factor": float(lam), "n_trials": int(self.n_done[k]),
                   "n_correct": int(self.n_correct[k]), "accuracy": float(self.accuracy[k]),
                   "ci95_low": float(low[k]), "ci95_high": float(high[k]),
                   "balanced_accuracy": float(balanced[k]),
                   "in_band": bool(lam in band), "origin": str(origin[k]),
                   "dropped_by_race": bool(dropped[k]),
                   "output_mse": float(fidelity["mse"][k]), "output_correlation": float(fidelity["correlation"][k]),
                   "mean_firing_rate_hz": float(self.mean_firing_rate[k]),
                   "status": "complete" if self.status == "complete"
                   else f"{self.status} sweep ({self.n_done[k]} of {planned[k]} trials)"}
            row.update({f"accuracy {g}": float(v[k]) for g, v in groups.items()})
            rows.append(row)
        return rows

    def accuracy_line(self, k: int) -> str:
        """'lambda = 20: accuracy 0.950 (balanced 0.940; Go 0.900, NoGo 1.000)' for lambda ``k`` (in the
        order given), with the trial count when lambdas were scored on different numbers of trials,
        and 'dropped' for raced-out ones: the line a search prints as each lambda finishes."""
        groups = ", ".join(f"{group} {values[k]:.3f}" for group, values in self.group_accuracy().items())
        trials = "" if self.n_done[k] == self.n_trials else f" on {self.n_done[k]} trials"
        dropped = "; dropped by the race" if self.dropped[k] else ""
        return (f"lambda = {self.scaling_factors[k]:g}: accuracy {self.accuracy[k]:.3f}{trials} "
                f"(balanced {self.balanced_accuracy()[k]:.3f}; {groups}){dropped}")

    def summary(self) -> list[str]:
        """The result in a few lines, the verdict first, then optimum, recommended lambda, band and
        closest output: the one place a search's result is put in words (the CLI and
        ``lambda_grid_search`` print it; empty while no lambda is scored)."""
        lines = []
        optimum = self.optimum
        if optimum is None:
            return lines
        verdict = self.verdict()
        if verdict is not None:
            lines.append(f"verdict: {verdict.line()}")
        lines.append(f"optimal scaling factor {optimum[0]:g} (accuracy {optimum[1]:.3f}; the first maximum, as "
                     "the reference)")
        recommended = self.recommended()
        if recommended is not None:
            lines.append(f"recommended scaling factor {recommended[0]:g} (accuracy {recommended[1]:.3f}, mean "
                         f"squared difference from the rate output {recommended[2]:.4f}): the output closest to "
                         "the rate network's among the lambdas within 0.03 of the best and in the band")
        band = self.band
        lines.append(f"lambda band {format_band(band)}: not significantly below the best "
                     f"(paired exact test on the shared trials, family-wise alpha {self.options.alpha:g})")
        match = self.best_match
        if match is not None:
            lines.append(f"output closest to the rate network's at lambda {match[0]:g} "
                         f"(mean squared difference {match[1]:.4f}, correlation {match[2]:.3f})")
        return lines

    def metadata(self) -> dict:
        """What the sweep scored and how, for the head of a CSV export."""
        base = self.base
        stim = base.stimulation
        optimum, match = self.optimum, self.best_match
        return {
            "model": base.model.name, "task": base.task.name, "seed": base.seed, "trials per lambda": self.n_trials,
            "downsample": base.downsample, "initial weights": initial_weights_text(base),
            "stimulation": "none" if stim.mode == "none" else
            f"{stim.mode} units {','.join(map(str, stim.units))} steps {stim.first}-{stim.stop}",
            "task options": ", ".join(f"{k}={v:g}" for k, v in base.task_options) or "none",
            "search": self.options.describe(), "precision": base.precision,
            **({"LIF parameters": base.params.describe()} if base.params.changes() else {}),
            "verdict": "none (unfinished)" if self.verdict() is None else self.verdict().line(),
            "optimum": "none" if optimum is None else f"{optimum[0]:g}",
            "recommended": "none" if self.recommended() is None else f"{self.recommended()[0]:g}",
            "lambda band": format_band(self.band),
            "closest output": "none" if match is None else f"{match[0]:g}",
            "trials scored": int(self.n_done.sum()),
            "status": self.status, "rate2spike": package_version(),
            "date": datetime.datetime.now().isoformat(timespec="seconds"),
        }

    def to_csv(self, path=None) -> str:
        """CSV text: '# key: value' lines (metadata, then notes and warnings), a header, one row per
        lambda. Also written to ``path`` if given, atomically (``write_text_atomic``).

        Read it with ``pandas.read_csv(path, comment="#")``, or with the csv module skipping the
        lines that start with '#'. Every '#' line is one line: text from outside (the model's file
        name, task options) is written with control characters, line breaks and bidi marks as
        visible escapes (``rate2spike.text.printable``), so a file name cannot add metadata, a
        header or rows; the rows go through the csv module (quoted where needed)."""
        buffer = io.StringIO()
        comments = [(key, value) for key, value in self.metadata().items()]
        comments += [("note", note) for note in self.notes] + [("warning", note) for note in self.warnings()]
        for key, value in comments:
            buffer.write(f"# {printable(key)}: {printable(value)}\n")
        rows = self.rows()
        writer = csv.DictWriter(buffer, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
        text = buffer.getvalue()
        if path is not None:
            write_text_atomic(path, text)
        return text


def initial_weights_text(spec: TrialSpec):
    """How a spec's weights are described in a CSV head: False (the trained network), or which
    untrained parts it runs."""
    if not spec.use_initial_weights:
        return False
    return "w0 and td0 (fully untrained network)" if spec.initial_decay else "w0 with the trained td (as the reference)"


def check_csv_target(path) -> Path:
    """``path`` if a CSV file can be written there: not a folder, in a folder that exists."""
    path = Path(path)
    if path.is_dir() and not path.is_symlink():
        raise IsADirectoryError(f"{path}: is a folder; name the CSV file to write (e.g. {path / 'curve.csv'})")
    if not path.parent.is_dir():
        raise FileNotFoundError(f"{path}: no such folder {path.parent}; nothing was written")
    return path


def write_text_atomic(path, text: str) -> None:
    """Write ``text`` (UTF-8) to ``path`` with the shared atomic writer (``rate2spike.model.write_atomic``):
    readers see the old file or the new one, a link at ``path`` is replaced, not written through,
    a folder there is refused, and the file gets the mode of every other output."""
    path = check_csv_target(path)
    write_atomic(path, lambda fh: fh.write(text.encode("utf-8")))


def format_band(band) -> str:
    """'15-25 (15, 20, 25)' or '20', or 'empty'."""
    band = [float(v) for v in band]
    if not band:
        return "empty"
    if len(band) == 1:
        return f"{band[0]:g}"
    return f"{band[0]:g}-{band[-1]:g} ({', '.join(f'{v:g}' for v in band)})"


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
              seed: int = 0, downsample: int = 1, use_initial_weights: bool = False, stimulation=None,
              task_options=None, n_threads: int | None = None, progress=None, cancel=None,
              options: SearchOptions | None = None, client=None, precision: str = "float64",
              initial_decay: bool = False, params: LIFParameters = DEFAULT_PARAMETERS) -> SweepResult:
    """Score ``n_trials`` random trials of the task at each scaling factor.

    The trials are those of ``TrialSpec(model, task, seed=seed, index=k, ...)`` for k < n_trials,
    with every condition drawn from the seed. ``options`` (``SearchOptions``) adds edge extension,
    refinement or racing; see ``run_grid`` for progress, cancel and a Dask ``client``.
    ``precision='float32'`` runs the LIF arithmetic in single precision (faster; the same
    accuracies within their intervals, not the same spikes: docs/method.md). ``use_initial_weights``
    runs w0 with the trained td (the reference's); ``initial_decay`` also td0 (fully untrained).
    ``params`` (``LIFParameters``) runs a variant of the method's constants; default the reference's.
    """
    base = sweep_base(model, task, seed, downsample, use_initial_weights, stimulation, task_options, precision,
                      initial_decay, params)
    return run_grid(base, scaling_factors, n_trials, n_threads=n_threads, progress=progress, cancel=cancel,
                    options=options, client=client)


def sweep_base(model: RateModel, task=None, seed: int = 0, downsample: int = 1, use_initial_weights: bool = False,
               stimulation=None, task_options=None, precision: str = "float64",
               initial_decay: bool = False, params: LIFParameters = DEFAULT_PARAMETERS) -> TrialSpec:
    """The spec a grid search varies (lambda and trial index): every condition drawn from the seed."""
    return TrialSpec(model, task, seed=seed, downsample=downsample, use_initial_weights=use_initial_weights,
                     stimulation=stimulation, task_options=tuple((task_options or {}).items()), precision=precision,
                     initial_decay=initial_decay, params=params)


def check_grid(scaling_factors, n_trials) -> tuple[np.ndarray, int]:
    """The scaling factors as a float array and n_trials as an int, or a ValueError
    (``rate2spike.limits``: at most MAX_GRID_LAMBDAS lambdas, each at least MIN_LAMBDA)."""
    factors = check_scaling_factors(scaling_factors)
    if isinstance(n_trials, bool) or int(n_trials) != n_trials or n_trials < 1:
        raise ValueError(f"n_trials must be a positive integer, got {n_trials}")
    return factors, int(n_trials)


def search_key_name(base: TrialSpec) -> str:
    """A name for one search in the workers' rate-output caches (unique per search in a process)."""
    return f"{base.model.name}-{id(base):x}-{uuid.uuid4().hex[:8]}"


def run_grid(base: TrialSpec, scaling_factors, n_trials: int, n_threads: int | None = None,
             progress=None, cancel=None, options: SearchOptions | None = None, client=None,
             journal: Journal | None = None, block_trials: int | None = None) -> SweepResult:
    """Search lambda for ``base``: trials 0..n_trials-1 at each scaling factor.

    ``base``'s own scaling factor and index are replaced; its condition choice is kept (a grid
    search leaves it to the seed). ``options`` (``SearchOptions``) adds edge extension, refinement
    or racing; the default scores the full grid, as the reference. Every trial's output is also
    compared with the rate network's (``SweepResult.fidelity``).

    Trials run in blocks (about ``block_trials`` trials, several lambdas on each; ``rate2spike.engine``) on
    ``n_threads`` threads of this process, or on the workers of a Dask ``client``: the results are
    the same either way. A ``journal`` (``rate2spike.journal.Journal``) supplies trials scored by an
    earlier, interrupted run and receives every block that finishes. ``progress(SweepProgress)`` is
    called in the calling thread after every block; ``cancel`` (a threading.Event or a callable
    returning True) stops the search between blocks, returning what finished with ``cancelled=True``.
    """
    factors, n_trials = check_grid(scaling_factors, n_trials)
    options = options or SearchOptions()
    result = SweepResult(base, factors, n_trials, options)
    engine = DaskEngine(client) if client is not None else ThreadEngine(n_threads or default_threads())
    block_trials = block_trials or engine.block_trials
    key = search_key_name(base)
    started = time.perf_counter()
    done = 0

    def record(scores) -> None:
        nonlocal done
        for score in scores:
            result.record(result.table.index(score.scaling_factor), score.trial, score.outcome, score.spikes,
                          score.fidelity)
        done += len(scores)
        result.elapsed = time.perf_counter() - started
        if progress is not None and scores:
            progress(SweepProgress(done, max(result.planned_trials, done), result.elapsed, result))

    def finished_block(scores) -> None:
        if journal is not None:
            journal.append(scores)  # on disk before it counts
        record(scores)

    handle = None

    def evaluate(jobs) -> bool:
        """Score (lambda, trial) jobs into the table; False once cancelled."""
        nonlocal handle
        jobs = list(jobs)
        if journal is not None:  # trials an earlier run scored are replayed, not simulated
            replayed = [journal.known[job] for job in jobs if job in journal.known]
            jobs = [job for job in jobs if job not in journal.known]
            if replayed:
                record(replayed)
        if not jobs:
            return not is_cancelled(cancel)
        if handle is None:
            handle = engine.prepare(base)
        return engine.run(handle, key, make_blocks(jobs, block_trials), finished_block, lambda: is_cancelled(cancel))

    try:
        result.notes = search(result.table, evaluate, options, cancel)
    finally:
        engine.close()
    result.cancelled = is_cancelled(cancel)
    result.elapsed = time.perf_counter() - started
    return result

"""Does the spiking network behave like the rate network at a λ? ``conversion_check`` measures it.

A grid search asks whether the spiking output crosses the task's thresholds. A class also wants
the converted network to do what the rate network does: at the λ it is shown, the spiking output's
level in the decision window should be the rate network's, not five times it. ``conversion_check``
runs ``n_trials`` fresh trials at one λ (seed ``FRESH_SEED`` by default, which no grid search uses)
and reports, with 95% Wilson intervals:

- the accuracy by the reference's rule, and the clean accuracy (``rate2spike.verdict``: correct and
  not also crossing the opposite threshold);
- per condition (the task's group and the sign of its answer: Go, NoGo; xor's four patterns; mante's
  context and answer), the spiking output's mean over the decision window, the rate network's on
  the same stimuli (its own noise), and their ratio, the **gain**, where the rate network's mean is
  at least ``NEAR_ZERO`` away from 0 (a NoGo output has no level to compare).

``ConversionCheck.meets()`` is the shipped models' criterion (assets/README.md): accuracy at the
task's goal and every gain within 30% of 1.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import numpy as np

from rate2spike.model import as_model
from rate2spike.parameters import DEFAULT_PARAMETERS, LIFParameters
from rate2spike.sweep import default_threads, wilson_interval
from rate2spike.timegrid import RATE_STEP, first_sample_from
from rate2spike.trial import RATE_MODEL, TrialSpec, run_trials
from rate2spike.verdict import answers_both_ways

FRESH_SEED = 20261123  # trials no grid search (seed 0) has seen; the CLI's `evaluate` default
NEAR_ZERO = 0.2  # a rate output whose window mean is closer to 0 than this has no gain to speak of
GAIN_TOLERANCE = 0.3  # the shipped models' criterion: every gain within 30% of 1
BLOCK = 10  # trials run in lockstep


@dataclass(frozen=True)
class ConditionCheck:
    """One condition's trials: how many, how many correct (cleanly), the window means and their ratio."""

    name: str
    n: int
    correct: int
    clean: int
    lif_mean: float  # the spiking output's mean over the decision window, averaged over the trials
    rate_mean: float  # the rate network's, on the same stimuli

    @property
    def gain(self) -> float | None:
        """lif_mean / rate_mean, or None where the rate network's mean is near 0 (NoGo)."""
        return self.lif_mean / self.rate_mean if abs(self.rate_mean) >= NEAR_ZERO else None


@dataclass(frozen=True)
class ConversionCheck:
    """What ``conversion_check`` measured at one λ."""

    model_name: str
    task: str
    scaling_factor: float
    seed: int
    n: int
    correct: int
    clean: int
    goal: float
    conditions: tuple[ConditionCheck, ...]

    @property
    def accuracy(self) -> float:
        return self.correct / self.n

    @property
    def clean_accuracy(self) -> float:
        return self.clean / self.n

    @property
    def interval(self) -> tuple[float, float]:
        low, high = wilson_interval(self.correct, self.n)
        return float(low), float(high)

    @property
    def clean_interval(self) -> tuple[float, float]:
        low, high = wilson_interval(self.clean, self.n)
        return float(low), float(high)

    @property
    def gains(self) -> dict[str, float]:
        """Condition -> gain, for the conditions whose rate output is not near 0."""
        return {c.name: c.gain for c in self.conditions if c.gain is not None}

    def meets(self, tolerance: float = GAIN_TOLERANCE) -> bool:
        """Clean accuracy at the task's goal and every gain within ``tolerance`` of 1."""
        return self.clean_accuracy >= self.goal and all(abs(g - 1) <= tolerance for g in self.gains.values())

    def lines(self) -> list[str]:
        """The result as the CLI prints it."""
        low, high = self.interval
        clean_low, clean_high = self.clean_interval
        lines = [f"LIF network at lambda = {self.scaling_factor:g}: accuracy {self.accuracy:.3f} (95% CI "
                 f"{low:.3f}-{high:.3f}), clean {self.clean_accuracy:.3f} ({clean_low:.3f}-{clean_high:.3f}) "
                 f"on {self.n} trials (seed {self.seed}); goal {self.goal:g}"]
        for c in self.conditions:
            gain = "no gain (rate output near 0)" if c.gain is None else f"gain {c.gain:.2f}"
            lines.append(f"  {c.name}: {c.correct}/{c.n} correct ({c.clean} cleanly); decision-window mean: spiking "
                         f"{c.lif_mean:+.3f}, rate {c.rate_mean:+.3f}; {gain}")
        verdict = "meets" if self.meets() else "does not meet"
        lines.append(f"  {verdict} the criterion: clean accuracy >= {self.goal:g} and every gain within "
                     f"{GAIN_TOLERANCE:.0%} of 1")
        return lines


def condition_name(task, stimulus) -> str:
    """The condition's group ('Go', 'NoGo', '++'), with the answer's sign where a group holds both
    answers ('context 1, answer +1')."""
    condition = stimulus.condition
    answers = {c.label for c in task.conditions() if c.group == condition.group}
    return condition.group if len(answers) == 1 else f"{condition.group}, answer {condition.label:+d}"


def _score(trials, task, two_sided: bool) -> list[tuple[str, bool, bool, float, float]]:
    rows = []
    rate_start = int(round(task.decision_start / RATE_STEP))
    for trial in trials:
        outcome, out = trial.outcome, trial.recording.out
        lif_mean = float(np.mean(out[first_sample_from(task.decision_start, trial.recording.drive.dt):]))
        rate_mean = float(np.mean(trial.rate_response.o[rate_start:]))
        rows.append((condition_name(task, trial.stimulus), bool(outcome.correct),
                     bool(outcome.correct and not answers_both_ways(outcome, two_sided)), lif_mean, rate_mean))
    return rows


def conversion_check(model, scaling_factor: float | None = None, n_trials: int = 1000, seed: int = FRESH_SEED,
                     task=None, n_threads: int | None = None, progress=None,
                     params: LIFParameters = DEFAULT_PARAMETERS) -> ConversionCheck:
    """Accuracy, clean accuracy and the spiking/rate gain per condition of ``model`` (a RateModel or a
    path) at ``scaling_factor`` (default: the stored recommended λ, else the optimum, else 50) on
    ``n_trials`` trials of ``seed``, on ``n_threads`` threads. ``progress(done, total)`` hears each
    finished block of trials. ``params``: the LIF constants (a variant measures what a change costs,
    e.g. the NIR export's network without refractoriness or noise)."""
    model = as_model(model)
    base = TrialSpec(model, task, scaling_factor, seed=seed, params=params)
    task = base.task
    two_sided = {c.label for c in task.conditions()} >= {-1, 1}
    blocks = [range(start, min(n_trials, start + BLOCK)) for start in range(0, n_trials, BLOCK)]

    def run(block):
        return _score(run_trials([base.replace(index=k) for k in block], (RATE_MODEL,)), task, two_sided)

    rows, done = [], 0
    with ThreadPoolExecutor(max_workers=n_threads or default_threads()) as pool:
        for block_rows in pool.map(run, blocks):
            rows.extend(block_rows)
            done += len(block_rows)
            if progress is not None:
                progress(done, n_trials)
    names = list(dict.fromkeys(sorted(r[0] for r in rows)))
    conditions = []
    for name in names:
        mine = [r for r in rows if r[0] == name]
        conditions.append(ConditionCheck(name, len(mine), sum(r[1] for r in mine), sum(r[2] for r in mine),
                                         float(np.mean([r[3] for r in mine])), float(np.mean([r[4] for r in mine]))))
    return ConversionCheck(model.name, task.name, base.scaling_factor, seed, len(rows), sum(r[1] for r in rows),
                           sum(r[2] for r in rows), task.goal_accuracy, tuple(conditions))

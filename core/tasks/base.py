"""What every task shares: conditions made of factors, stimuli, and the two scoring rules.

A task is defined once, in its own module (``gonogo``, ``xor``, ``mante``), for both uses:

- the conversion trial: a stimulus of ``n_columns`` 5 ms columns for the LIF network, scored
  on the LIF output by ``score`` (the grid search's rule);
- training: batches of ``training_steps`` steps with targets for the rate network, scored by
  ``training_correct`` (the trainer's evaluation rule, which drives its stopping rule).

Both draw their inputs through the same layout function of the task, so the pulse positions
and amplitudes are written once. The two scoring rules differ where the reference's differ
(each task's docstring lists how): the reference evaluates the rate network inside its trainer
and scores the spiking network in a separately written grid search. We keep both rules as they
are, because each reproduces a number of the reference: when training stops, and the accuracy
the grid search reports.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass
from typing import Mapping

import numpy as np

from rate2spike.timegrid import first_sample_from, trial_duration

THRESHOLD = 0.7  # a +1 (or Go) answer: the output rises above 0.7; a -1 answer falls below -0.7
NOGO_CEILING = 0.3  # a NoGo answer: the output stays below 0.3
RANDOM = "random"  # a factor left to the trial's random draw


@dataclass(frozen=True)
class Factor:
    """One way conditions differ (go-nogo: trial type; mante: context, sign of each input)."""

    name: str  # key in specs, links and the CLI
    label: str  # what the dashboard calls it
    levels: tuple[str, ...]


@dataclass(frozen=True)
class Condition:
    """One trial type: a level of every factor, the breakdown group and the right answer."""

    name: str
    group: str
    label: int  # +1 / -1 (go-nogo: 1 = Go, 0 = NoGo)
    levels: tuple[str, ...]


@dataclass(frozen=True)
class TaskOption:
    """A number that changes a task's stimuli (mante: evidence strength)."""

    name: str
    label: str
    default: float
    low: float
    high: float
    step: float


@dataclass(frozen=True)
class Stimulus:
    """The input of one trial: ``u`` is inputs x columns (5 ms each); ``evidence`` is what the
    network had to integrate (mante), else None."""

    u: np.ndarray
    condition: Condition
    evidence: float | None = None


@dataclass(frozen=True)
class Outcome:
    """A scored LIF trial."""

    group: str
    label: int
    correct: bool
    response_time: float | None  # s from trial start to the first threshold crossing in the window
    evidence: float | None = None
    extreme: float = math.nan  # the window's max (min for -1 answers) that the rule compared
    level: float = math.nan  # what it was compared with (0.7, -0.7, or 0.3 for NoGo)
    opposite: float = math.nan  # the window's other extreme (its min for +1 answers, max otherwise): an output
    # that also crosses the opposite threshold answers both ways, whatever the rule counts (rate2spike.verdict)


@dataclass(frozen=True)
class TrainingBatch:
    """Training trials: u (B, n_inputs, T), target z (B, T), label (B,) as in ``Condition``."""

    u: np.ndarray
    target: np.ndarray
    labels: np.ndarray


def coin(rng: np.random.Generator, batch: int) -> np.ndarray:
    """Fair coin flips as booleans, one per trial of a training batch."""
    return rng.random(batch) < 0.5


def signed_response(window: np.ndarray, labels: np.ndarray) -> np.ndarray:
    """Training rule for +-1 answers: +1 trials rise above 0.7 and -1 trials fall below -0.7
    somewhere in the window (B, steps)."""
    return np.where(labels > 0, window.max(axis=1) > THRESHOLD, window.min(axis=1) < -THRESHOLD)


def _verdict(label: int, extreme: float) -> tuple[bool, float]:
    """The grid search's rule: (correct, level) for a window extreme (its max, its min for -1
    answers): +1 answers above 0.7, -1 answers below -0.7, NoGo (label 0) below 0.3."""
    if label > 0:
        return bool(extreme > THRESHOLD), THRESHOLD
    if label < 0:
        return bool(extreme < -THRESHOLD), -THRESHOLD
    return bool(extreme < NOGO_CEILING), NOGO_CEILING


def first_crossing(out: np.ndarray, start: int, dt: float, sign: int, level: float) -> float | None:
    """Time (s) of the first sample from ``start`` on where sign * out exceeds ``level``."""
    hits = np.flatnonzero(sign * out[start:] > level)
    return None if hits.size == 0 else (start + hits[0] + 1) * dt


class Task:
    """A cognitive task. Subclasses set the class attributes and the five methods marked
    'subclass' below; everything else is shared."""

    name: str = ""
    description: str = ""
    n_inputs: int = 0
    factors: tuple[Factor, ...] = ()
    options: tuple[TaskOption, ...] = ()
    # the conversion trial
    n_columns: int = 0  # stimulus length in 5 ms columns
    decision_start: float = 0.0  # s, where the LIF scoring window starts (it ends with the trial)
    thresholds: tuple[float, ...] = (THRESHOLD, -THRESHOLD)  # drawn on output plots
    threshold_help: str = "±0.7, which +1 answers cross upwards and -1 answers downwards"  # what they mean, for people
    # training
    training_steps: int = 0  # trial length in 5 ms rate steps
    training_min_trials: int = 0  # the stopping rule may not fire before this many trials
    # what a conversion should reach: the LIF accuracy at the best lambda that counts as converted
    # (the paper's rate networks and their conversions reach 0.95 and more; see assets/README.md)
    goal_accuracy: float = 0.95

    # --- subclass ------------------------------------------------------------------------
    def condition_of(self, levels: tuple[str, ...]) -> Condition:
        """The condition with these factor levels."""
        raise NotImplementedError

    def draw_condition(self, rng: np.random.Generator) -> Condition:
        """A random condition, drawn in the reference's order."""
        raise NotImplementedError

    def make_stimulus(self, condition: Condition, rng: np.random.Generator, options: dict) -> Stimulus:
        """The stimulus of one conversion trial (``n_columns`` columns)."""
        raise NotImplementedError

    def training_batch(self, rng: np.random.Generator, batch: int) -> TrainingBatch:
        """``batch`` fresh training trials, drawn as the reference's trainer draws them."""
        raise NotImplementedError

    def training_correct(self, o: np.ndarray, labels: np.ndarray) -> np.ndarray:
        """Boolean (B,): which rate-network outputs o (B, T) the trainer counts as correct."""
        raise NotImplementedError

    # --- conditions ----------------------------------------------------------------------
    def conditions(self) -> tuple[Condition, ...]:
        return tuple(self.condition_of(levels) for levels in itertools.product(*(f.levels for f in self.factors)))

    def condition(self, name: str) -> Condition:
        """A condition by its name (e.g. 'Go', '+-', 'context 1: input 1 +, input 2 -')."""
        for cond in self.conditions():
            if cond.name == name:
                return cond
        names = ", ".join(c.name for c in self.conditions())
        raise ValueError(f"task '{self.name}' has no condition '{name}'; choose from: {names}")

    def fixed_levels(self, choice) -> tuple[tuple[str, str], ...]:
        """Normalise a condition choice to (factor, level) pairs in factor order.

        ``choice`` is None or 'random' (everything drawn), a condition name (every factor
        fixed), or a mapping factor -> level in which 'random' leaves a factor drawn.
        """
        if choice is None or choice == RANDOM:
            return ()
        if isinstance(choice, str):
            cond = self.condition(choice)
            return tuple((f.name, level) for f, level in zip(self.factors, cond.levels))
        if isinstance(choice, tuple):
            choice = dict(choice)
        if not isinstance(choice, Mapping):
            raise ValueError(f"condition must be a name or a mapping of factors, got {choice!r}")
        known = {f.name: f for f in self.factors}
        unknown = sorted(set(choice) - set(known))
        if unknown:
            raise ValueError(f"task '{self.name}' has no factor {', '.join(unknown)}; its factors are "
                             f"{', '.join(known)}")
        fixed = []
        for factor in self.factors:
            level = choice.get(factor.name, RANDOM)
            if level == RANDOM:
                continue
            if str(level) not in factor.levels:
                raise ValueError(f"{factor.label}: '{level}' is not one of {', '.join(factor.levels)}")
            fixed.append((factor.name, str(level)))
        return tuple(fixed)

    def stimulus(self, rng: np.random.Generator, fixed=(), options=None) -> Stimulus:
        """One trial's stimulus. The condition is always drawn first and the fixed factors
        replace their part of it, so fixing a factor to the level the draw gave changes
        nothing, and fixing one factor keeps the others and the noise of the draw."""
        condition = self.draw_condition(rng)
        fixed = dict(self.fixed_levels(fixed))
        if fixed:
            levels = tuple(fixed.get(f.name, level) for f, level in zip(self.factors, condition.levels))
            condition = self.condition_of(levels)
        return self.make_stimulus(condition, rng, self.option_values(options))

    def option_values(self, options=None) -> dict:
        """Every option of the task with its value (defaults filled in), checked."""
        given = dict(options or {})
        known = {o.name: o for o in self.options}
        unknown = sorted(set(given) - set(known))
        if unknown:
            offered = ", ".join(known) if known else "none"
            raise ValueError(f"task '{self.name}' has no option {', '.join(unknown)} (its options: {offered})")
        values = {}
        for option in self.options:
            value = float(given.get(option.name, option.default))
            if not option.low <= value <= option.high:
                raise ValueError(f"{option.label} must be within {option.low:g}..{option.high:g}, got {value:g}")
            values[option.name] = value
        return values

    def groups(self) -> tuple[str, ...]:
        """The breakdown groups (Go/NoGo, xor pattern, context), in condition order."""
        return tuple(dict.fromkeys(c.group for c in self.conditions()))

    # --- time ----------------------------------------------------------------------------
    def duration(self, downsample: int = 1) -> float:
        """Length (s) of the simulated conversion trial."""
        return trial_duration(self.n_columns, downsample)

    # --- the LIF scoring rule ----------------------------------------------------------
    def score(self, out: np.ndarray, dt: float, stimulus: Stimulus) -> Outcome:
        """Score one LIF output trace (sample k at (k + 1) * dt) by the grid search's rule:
        from ``decision_start`` to the end, +1 answers need max > 0.7, -1 answers min < -0.7,
        NoGo (label 0) max < 0.3."""
        out = np.asarray(out).reshape(-1)
        start = first_sample_from(self.decision_start, dt)
        if start >= out.size:
            raise ValueError(f"output trace of {out.size} samples ends before the decision window at "
                             f"{self.decision_start} s")
        window = out[start:]
        label = stimulus.condition.label
        extreme = window.min() if label < 0 else window.max()
        opposite = window.min() if label > 0 else window.max()
        correct, level = _verdict(label, float(extreme))
        crossing = first_crossing(out, start, dt, 1 if label >= 0 else -1, THRESHOLD)
        return Outcome(stimulus.condition.group, label, correct, crossing, stimulus.evidence,
                       float(extreme), float(level), float(opposite))

    def could_score(self, outcome: Outcome) -> bool:
        """Whether ``score`` could give ``outcome`` (fields of the right types): a group and label of
        one of the task's conditions, that label's level, and the verdict its recorded extreme
        implies. A resumed journal's outcomes are checked with it before they count as results."""
        if (outcome.group, outcome.label) not in {(c.group, c.label) for c in self.conditions()}:
            return False
        return (outcome.correct, outcome.level) == _verdict(outcome.label, outcome.extreme)

    def breakdown(self, outcomes: list[Outcome]) -> dict:
        """Accuracy overall and per group (the metrics the spikeRNN docs name)."""
        result = {"accuracy": _mean([o.correct for o in outcomes]), "n_trials": len(outcomes)}
        for group in self.groups():
            result[f"accuracy {group}"] = _mean([o.correct for o in outcomes if o.group == group])
        return result


def _mean(values) -> float:
    return float(np.mean(values)) if len(values) else float("nan")


def sign_level(value: int) -> str:
    """'+' or '-' for a +1 / -1 value (the level names of sign factors)."""
    return "+" if value > 0 else "-"


def sign_value(level: str) -> int:
    return 1 if level == "+" else -1

"""The three cognitive tasks: stimuli, labels, the reference's scoring, and breakdowns.

Each task turns a condition into a stimulus ``u`` (inputs x 5 ms columns) and scores an
output trace the way the reference does (reference.md section 3). Decision windows are
defined in seconds, so they mean the same thing after downsampling; for the default step
(0.05 ms) they select exactly the reference's samples (out[9999:], out[19999:],
out[25999:]). The simulator knows nothing about tasks: a new task is a new subclass
registered in ``TASKS``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from core.model import RATE_STEP_SECONDS

THRESHOLD = 0.7  # decision threshold on the output for a +1/-1 (or Go) response
NOGO_CEILING = 0.3  # a NoGo trial is correct when the output stays below this


@dataclass(frozen=True)
class Condition:
    """One trial type. ``group`` names the breakdown bucket; ``label`` is the right answer."""

    name: str
    group: str
    label: int  # +1 / -1 (go-nogo: 1 = Go, 0 = NoGo)
    values: tuple = ()  # task-specific parameters (xor: s1, s2; mante: context, o1, o2)


@dataclass(frozen=True)
class TaskTrial:
    """A stimulus with its condition; ``evidence`` is what the network had to integrate."""

    u: np.ndarray
    condition: Condition
    evidence: float | None = None


@dataclass(frozen=True)
class Outcome:
    """The scored result of one trial."""

    group: str
    label: int
    correct: bool
    response_time: float | None  # s from trial start at which the output first crossed threshold
    evidence: float | None = None
    extreme: float = math.nan  # the window's max (or min, for -1 labels) that the rule compared
    level: float = math.nan  # what it was compared with (0.7, -0.7, or 0.3 for NoGo)


def window_start_index(start_seconds: float, dt: float) -> int:
    """First sample of a decision window: sample k holds step k+1, which ends at (k+1)*dt."""
    return max(0, math.ceil(start_seconds / dt - 1e-9) - 1)


def first_crossing(out: np.ndarray, start: int, dt: float, sign: int, level: float) -> float | None:
    """Time (s) of the first sample from ``start`` on where sign*out exceeds level."""
    hits = np.flatnonzero(sign * out[start:] > level)
    return None if hits.size == 0 else (start + hits[0] + 1) * dt


class Task:
    """Base class: subclasses define the stimulus, the conditions and the scoring rule."""

    name: str = ""
    n_inputs: int = 0
    n_columns: int = 0  # stimulus length in 5 ms columns
    decision_start: float = 0.0  # s, start of the scoring window
    description: str = ""

    def conditions(self) -> tuple[Condition, ...]:
        raise NotImplementedError

    def condition(self, name: str) -> Condition:
        for cond in self.conditions():
            if cond.name == name:
                return cond
        names = ", ".join(c.name for c in self.conditions())
        raise ValueError(f"task '{self.name}' has no condition '{name}'; choose from: {names}")

    def random_condition(self, rng: np.random.Generator) -> Condition:
        raise NotImplementedError

    def stimulus(self, condition: Condition, rng: np.random.Generator, **options) -> TaskTrial:
        raise NotImplementedError

    def make_trial(self, rng: np.random.Generator, condition: Condition | str | None = None, **options) -> TaskTrial:
        """A trial of the given condition (name or Condition), or a random one."""
        if condition is None:
            condition = self.random_condition(rng)
        elif isinstance(condition, str):
            condition = self.condition(condition)
        return self.stimulus(condition, rng, **options)

    def score(self, out: np.ndarray, dt: float, trial: TaskTrial) -> Outcome:
        """Apply the reference's correct/incorrect rule to one output trace."""
        out = np.asarray(out).reshape(-1)
        start = window_start_index(self.decision_start, dt)
        if start >= out.size:
            raise ValueError(f"output trace of {out.size} samples ends before the decision window at {self.decision_start} s")
        window = out[start:]
        label = trial.condition.label
        if label > 0:
            extreme, level = window.max(), THRESHOLD
            correct = extreme > level
        elif label < 0:
            extreme, level = window.min(), -THRESHOLD
            correct = extreme < level
        else:  # NoGo
            extreme, level = window.max(), NOGO_CEILING
            correct = extreme < level
        crossing = first_crossing(out, start, dt, 1 if label >= 0 else -1, THRESHOLD)
        return Outcome(trial.condition.group, label, bool(correct), crossing, trial.evidence,
                       float(extreme), float(level))

    def breakdown(self, outcomes: list[Outcome]) -> dict:
        """Accuracy overall and per condition group (what the seed's metrics name)."""
        result = {"accuracy": _mean([o.correct for o in outcomes]), "n_trials": len(outcomes)}
        for group in self.groups():
            result[f"accuracy {group}"] = _mean([o.correct for o in outcomes if o.group == group])
        return result

    def groups(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys(c.group for c in self.conditions()))

    def decision_window(self, T: float) -> tuple[float, float]:
        return self.decision_start, T

    @property
    def duration(self) -> float:
        """Trial length in seconds: the stimulus has one column per 5 ms rate step."""
        return (self.n_columns - 1) * RATE_STEP_SECONDS


def _mean(values) -> float:
    return float(np.mean(values)) if len(values) else float("nan")


class GoNogo(Task):
    name = "go-nogo"
    n_inputs = 1
    n_columns = 201
    decision_start = 0.5
    description = "Respond (output > 0.7) after a brief input pulse (Go); stay below 0.3 without it (NoGo)."
    _CONDITIONS = (Condition("Go", "Go", 1), Condition("NoGo", "NoGo", 0))

    def conditions(self):
        return self._CONDITIONS

    def random_condition(self, rng):
        return self._CONDITIONS[0] if rng.random() < 0.5 else self._CONDITIONS[1]

    def stimulus(self, condition, rng, **options):
        u = np.zeros((1, self.n_columns))
        if condition.label == 1:
            u[0, 50:75] = 1.0
        return TaskTrial(u, condition)

    def breakdown(self, outcomes):
        result = super().breakdown(outcomes)
        result["combined"] = result["accuracy"]
        return result


class Xor(Task):
    name = "xor"
    n_inputs = 2
    n_columns = 301
    decision_start = 1.0
    description = "Two successive +-1 pulses: answer +1 if they have the same sign, -1 if not."

    def conditions(self):
        return tuple(
            Condition(f"{_sign(a)}{_sign(b)}", f"{_sign(a)}{_sign(b)}", a * b, (a, b))
            for a in (1, -1) for b in (1, -1)
        )

    def random_condition(self, rng):
        a = 1 if rng.random() < 0.5 else -1
        b = 1 if rng.random() < 0.5 else -1
        return Condition(f"{_sign(a)}{_sign(b)}", f"{_sign(a)}{_sign(b)}", a * b, (a, b))

    def stimulus(self, condition, rng, **options):
        a, b = condition.values
        u = np.zeros((2, self.n_columns))
        u[0, 50:100] = a
        u[1, 110:160] = b
        return TaskTrial(u, condition)

    def breakdown(self, outcomes):
        """Per-pattern accuracy and the temporal precision of correct responses."""
        result = super().breakdown(outcomes)
        times = np.array([o.response_time for o in outcomes if o.correct and o.response_time is not None])
        result["response time mean (s)"] = float(times.mean()) if times.size else float("nan")
        result["response time sd (s)"] = float(times.std()) if times.size > 1 else float("nan")
        return result


class Mante(Task):
    name = "mante"
    n_inputs = 4
    n_columns = 501
    decision_start = 1.3
    description = ("Context-dependent integration: two noisy inputs, a context cue says which one to "
                   "integrate; answer the sign of its mean.")
    DEFAULT_OFFSET = 0.5
    EVIDENCE_BINS = np.array([-np.inf, -0.75, -0.5, -0.25, 0.0, 0.25, 0.5, 0.75, np.inf])

    def conditions(self):
        conds = []
        for context in (1, 2):
            for o1 in (1, -1):
                for o2 in (1, -1):
                    conds.append(self._make(context, o1, o2))
        return tuple(conds)

    @staticmethod
    def _make(context, o1, o2):
        attended = o1 if context == 1 else o2
        name = f"context {context}: input 1 {_sign(o1)}, input 2 {_sign(o2)}"
        return Condition(name, f"context {context}", attended, (context, o1, o2))

    def random_condition(self, rng):
        o1 = 1 if rng.random() < 0.5 else -1
        o2 = 1 if rng.random() < 0.5 else -1
        context = 1 if rng.random() < 0.5 else 2
        return self._make(context, o1, o2)

    def stimulus(self, condition, rng, offset: float | None = None, **options):
        """Noisy inputs with means +-offset (0.5 in the reference); ``offset`` sets the strength."""
        context, o1, o2 = condition.values
        strength = self.DEFAULT_OFFSET if offset is None else float(offset)
        u = np.zeros((4, self.n_columns))
        u[0, 50:250] = rng.standard_normal(200) + o1 * strength
        u[1, 50:250] = rng.standard_normal(200) + o2 * strength
        u[2 if context == 1 else 3, :] = 1.0
        evidence = float(u[context - 1, 50:250].mean())
        return TaskTrial(u, condition, evidence)

    def breakdown(self, outcomes):
        """Accuracy per context and the sensory-integration curve.

        The curve is accuracy against the evidence actually presented (mean of the
        attended input over the stimulus period), in bins of 0.25.
        """
        result = super().breakdown(outcomes)
        result["integration curve"] = self.integration_curve(outcomes)
        return result

    def integration_curve(self, outcomes):
        evidence = np.array([o.evidence for o in outcomes], dtype=float)
        correct = np.array([o.correct for o in outcomes], dtype=float)
        bins = self.EVIDENCE_BINS
        which = np.digitize(evidence, bins[1:-1])
        rows = []
        for b in range(len(bins) - 1):
            sel = which == b
            if sel.any():
                rows.append({"evidence low": float(bins[b]), "evidence high": float(bins[b + 1]),
                             "mean evidence": float(evidence[sel].mean()),
                             "accuracy": float(correct[sel].mean()), "n_trials": int(sel.sum())})
        return rows


def _sign(x) -> str:
    return "+" if x > 0 else "-"


TASKS: dict[str, Task] = {t.name: t for t in (GoNogo(), Xor(), Mante())}
_ALIASES = {"gonogo": "go-nogo", "go_nogo": "go-nogo", "go nogo": "go-nogo", "context": "mante"}


def get_task(name: str | Task) -> Task:
    """Look a task up by name ('go-nogo', 'xor', 'mante'; case and '_' are forgiven)."""
    if isinstance(name, Task):
        return name
    key = str(name).strip().lower()
    key = _ALIASES.get(key, key)
    if key not in TASKS:
        raise ValueError(f"unknown task '{name}'; choose from: {', '.join(TASKS)}")
    return TASKS[key]


def infer_task(model) -> Task:
    """The task a model was trained on: from the file name ('Task_<task>_...') or its input count."""
    if model.path is not None:
        lowered = model.path.name.lower()
        for task in TASKS.values():
            if f"task_{task.name}_" in lowered:
                return task
    matches = [t for t in TASKS.values() if t.n_inputs == model.n_inputs]
    if not matches:
        raise ValueError(f"{model.name}: cannot tell the task from {model.n_inputs} inputs; "
                         f"tasks take {', '.join(f'{t.name} {t.n_inputs}' for t in TASKS.values())}")
    return matches[0]


def check_task_fits(task: Task, model) -> None:
    """A task can only drive a model with the same number of inputs."""
    if task.n_inputs != model.n_inputs:
        raise ValueError(f"task '{task.name}' has {task.n_inputs} input(s) but {model.name} has "
                         f"{model.n_inputs}; choose a task with {model.n_inputs} input(s)")

"""The training tasks of the rate trainer, on the 5 ms rate grid (reference.md section 4).

These are the targets the rate network is fitted to, batched over trials. The LIF-side
versions of the tasks (201 columns, scoring on the LIF output) live in ``core.tasks``.
Each task draws ``u`` (B, n_in, T), the target ``z`` (B, T) and a label per trial, and
scores the rate output ``o`` (B, T) with the reference's evaluation rule.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass

import numpy as np

AMPLITUDE_THRESHOLD = 0.7  # a response counts when the output passes +-0.7
NOGO_CEILING = 0.3  # a NoGo response must stay within +-0.3


@dataclass(frozen=True)
class TaskBatch:
    u: np.ndarray  # (B, n_in, T) stimuli
    target: np.ndarray  # (B, T) target outputs z
    labels: np.ndarray  # (B,) go-nogo: 1 Go / 0 NoGo; xor and mante: +1 / -1


@dataclass(frozen=True)
class RateTask(ABC):
    """A task's shape and the reference's stopping floor; subclasses draw and score trials."""

    name: str
    n_inputs: int
    n_steps: int
    min_trials: int = 0  # trials that must have been trained before the stop rule may fire

    @abstractmethod
    def draw(self, rng: np.random.Generator, batch: int) -> TaskBatch:
        """Stimuli, targets and labels of ``batch`` fresh trials."""

    @abstractmethod
    def score(self, o: np.ndarray, labels: np.ndarray) -> np.ndarray:
        """Boolean (B,): which trials the output o (B, T) solved."""


def _coin(rng: np.random.Generator, batch: int) -> np.ndarray:
    """Fair coin flips as booleans."""
    return rng.random(batch) < 0.5


class GoNogo(RateTask):
    """Go: a pulse on steps 50..74, then output 1 from step 75; NoGo: no pulse, output 0."""

    STIM_ON, STIM_DUR = 50, 25

    def __init__(self):
        super().__init__("go-nogo", n_inputs=1, n_steps=200, min_trials=1500)

    @property
    def response_onset(self) -> int:
        return self.STIM_ON + self.STIM_DUR

    def draw(self, rng, batch):
        go = _coin(rng, batch)
        u = np.zeros((batch, 1, self.n_steps))
        u[go, 0, self.STIM_ON:self.response_onset] = 1.0
        target = np.zeros((batch, self.n_steps))
        target[go, self.response_onset:] = 1.0
        return TaskBatch(u, target, go.astype(np.float64))

    def score(self, o, labels):
        window = o[:, self.response_onset:]
        go = labels == 1
        return np.where(go, window.max(axis=1) > AMPLITUDE_THRESHOLD, np.abs(window).max(axis=1) < NOGO_CEILING)


class Xor(RateTask):
    """Two +-1 pulses (steps 50..99 on input 1, 110..159 on input 2); answer their product
    on steps 170..269; scored on o[200:]."""

    FIRST, SECOND = slice(50, 100), slice(110, 160)
    RESPONSE = slice(170, 270)
    EVAL_FROM = 200

    def __init__(self):
        super().__init__("xor", n_inputs=2, n_steps=300)

    def draw(self, rng, batch):
        s1 = np.where(_coin(rng, batch), 1.0, -1.0)
        s2 = np.where(_coin(rng, batch), 1.0, -1.0)
        u = np.zeros((batch, 2, self.n_steps))
        u[:, 0, self.FIRST] = s1[:, None]
        u[:, 1, self.SECOND] = s2[:, None]
        labels = s1 * s2
        target = np.zeros((batch, self.n_steps))
        target[:, self.RESPONSE] = labels[:, None]
        return TaskBatch(u, target, labels)

    def score(self, o, labels):
        return _signed_response(o[:, self.EVAL_FROM:], labels)


class Mante(RateTask):
    """Context-dependent integration: two noisy streams (offsets +-0.5) on steps 50..249,
    a context input on for the whole trial; answer the sign of the attended stream's offset
    from step 250 on; scored on the last 200 steps."""

    STIM = slice(50, 250)
    RESPONSE_ONSET = 250
    EVAL_STEPS = 200
    OFFSET = 0.5

    def __init__(self):
        super().__init__("mante", n_inputs=4, n_steps=500)

    def draw(self, rng, batch):
        offset1 = np.where(_coin(rng, batch), self.OFFSET, -self.OFFSET)
        offset2 = np.where(_coin(rng, batch), self.OFFSET, -self.OFFSET)
        attend_first = _coin(rng, batch)
        n_stim = self.STIM.stop - self.STIM.start
        u = np.zeros((batch, 4, self.n_steps))
        u[:, 0, self.STIM] = rng.standard_normal((batch, n_stim)) + offset1[:, None]
        u[:, 1, self.STIM] = rng.standard_normal((batch, n_stim)) + offset2[:, None]
        u[attend_first, 2, :] = 1.0
        u[~attend_first, 3, :] = 1.0
        labels = np.sign(np.where(attend_first, offset1, offset2))
        target = np.zeros((batch, self.n_steps))
        target[:, self.RESPONSE_ONSET:] = labels[:, None]
        return TaskBatch(u, target, labels)

    def score(self, o, labels):
        return _signed_response(o[:, -self.EVAL_STEPS:], labels)


def _signed_response(window: np.ndarray, labels: np.ndarray) -> np.ndarray:
    """+1 trials must rise above 0.7, -1 trials must fall below -0.7 somewhere in the window."""
    return np.where(labels > 0, window.max(axis=1) > AMPLITUDE_THRESHOLD, window.min(axis=1) < -AMPLITUDE_THRESHOLD)


RATE_TASKS = {task.name: task for task in (GoNogo(), Xor(), Mante())}
_ALIASES = {"gonogo": "go-nogo", "go_nogo": "go-nogo", "context": "mante"}


def get_rate_task(name: str) -> RateTask:
    """The task called ``name`` (case-insensitive; 'go_nogo' and 'gonogo' also work)."""
    key = str(name).strip().lower()
    key = _ALIASES.get(key, key)
    try:
        return RATE_TASKS[key]
    except KeyError:
        raise ValueError(f"unknown task '{name}'; use one of {', '.join(RATE_TASKS)}") from None

"""Go-NoGo: respond after a brief input pulse (Go), stay quiet without it (NoGo).

Stimulus (one input, 5 ms columns): a pulse of 1 on columns 50..74 (0.25-0.375 s) in Go
trials, nothing in NoGo trials; Go and NoGo are equally likely.

| | LIF scoring (grid search) | training evaluation (trainer) |
|---|---|---|
| trial | 201 columns, 1.0 s | 200 steps |
| window | from 0.5 s to the end | from step 75 (0.375 s, the pulse's end) |
| Go correct | max > 0.7 | max > 0.7 |
| NoGo correct | max < 0.3 | max of abs(output) < 0.3 |

The training target is 1 from step 75 on in Go trials and 0 otherwise.
"""

from __future__ import annotations

import numpy as np

from rate2spike.tasks.base import (NOGO_CEILING, THRESHOLD, Condition, Factor, Stimulus, Task, TrainingBatch,
                                   coin)


class GoNogo(Task):
    name = "go-nogo"
    description = "Respond (output > 0.7) after a brief input pulse (Go); stay below 0.3 without it (NoGo)."
    n_inputs = 1
    factors = (Factor("trial", "Trial type", ("Go", "NoGo")),)
    n_columns = 201
    decision_start = 0.5
    thresholds = (THRESHOLD, NOGO_CEILING)
    threshold_help = "+0.7, which Go crosses, and 0.3, which NoGo stays under"
    training_steps = 200
    training_min_trials = 1500
    PULSE = slice(50, 75)  # columns of the Go pulse

    def condition_of(self, levels):
        (kind,) = levels
        return Condition(kind, kind, 1 if kind == "Go" else 0, levels)

    def draw_condition(self, rng):
        return self.condition_of(("Go",) if rng.random() < 0.5 else ("NoGo",))

    def inputs(self, go: np.ndarray, n_steps: int) -> np.ndarray:
        """u (B, 1, n_steps) for Go flags (B,): the one place the pulse is laid out."""
        u = np.zeros((go.size, 1, n_steps))
        u[go, 0, self.PULSE] = 1.0
        return u

    def make_stimulus(self, condition, rng, options):
        return Stimulus(self.inputs(np.array([condition.label == 1]), self.n_columns)[0], condition)

    def training_batch(self, rng, batch):
        go = coin(rng, batch)
        target = np.zeros((batch, self.training_steps))
        target[go, self.PULSE.stop:] = 1.0
        return TrainingBatch(self.inputs(go, self.training_steps), target, go.astype(np.float64))

    def training_correct(self, o, labels):
        window = o[:, self.PULSE.stop:]
        return np.where(labels == 1, window.max(axis=1) > THRESHOLD, np.abs(window).max(axis=1) < NOGO_CEILING)

    def breakdown(self, outcomes):
        result = super().breakdown(outcomes)
        result["combined"] = result["accuracy"]
        return result

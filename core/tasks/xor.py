"""XOR: two successive +-1 pulses; answer +1 if their signs agree, -1 if not.

Stimulus (two inputs, 5 ms columns): s1 on input 1 at columns 50..99, s2 on input 2 at
columns 110..159; s1 and s2 are +1 or -1 with probability 0.5 each; the answer is s1 * s2.

| | LIF scoring (grid search) | training evaluation (trainer) |
|---|---|---|
| trial | 301 columns, 1.5 s | 300 steps |
| window | from 1.0 s to the end | from step 200 (1.0 s) |
| +1 correct | max > 0.7 | max > 0.7 |
| -1 correct | min < -0.7 | min < -0.7 |

The training target is the answer on steps 170..269 and 0 elsewhere.
"""

from __future__ import annotations

import numpy as np

from rate2spike.tasks.base import (Condition, Factor, Stimulus, Task, TrainingBatch, coin, sign_level, sign_value,
                                   signed_response)


class Xor(Task):
    name = "xor"
    description = "Two successive +-1 pulses: answer +1 if they have the same sign, -1 if not."
    n_inputs = 2
    factors = (Factor("input1", "Sign of input 1", ("+", "-")), Factor("input2", "Sign of input 2", ("+", "-")))
    n_columns = 301
    decision_start = 1.0
    training_steps = 300
    FIRST, SECOND = slice(50, 100), slice(110, 160)  # columns of the two pulses
    TARGET = slice(170, 270)  # training steps where the answer is asked for
    TRAINING_EVAL_FROM = 200

    def condition_of(self, levels):
        name = "".join(levels)
        return Condition(name, name, sign_value(levels[0]) * sign_value(levels[1]), levels)

    def draw_condition(self, rng):
        first = 1 if rng.random() < 0.5 else -1
        second = 1 if rng.random() < 0.5 else -1
        return self.condition_of((sign_level(first), sign_level(second)))

    def inputs(self, s1: np.ndarray, s2: np.ndarray, n_steps: int) -> np.ndarray:
        """u (B, 2, n_steps) for pulse signs s1, s2 (B,): the one place the pulses are laid out."""
        u = np.zeros((s1.size, 2, n_steps))
        u[:, 0, self.FIRST] = s1[:, None]
        u[:, 1, self.SECOND] = s2[:, None]
        return u

    def make_stimulus(self, condition, rng, options):
        s1, s2 = (np.array([float(sign_value(level))]) for level in condition.levels)
        return Stimulus(self.inputs(s1, s2, self.n_columns)[0], condition)

    def training_batch(self, rng, batch):
        s1 = np.where(coin(rng, batch), 1.0, -1.0)
        s2 = np.where(coin(rng, batch), 1.0, -1.0)
        labels = s1 * s2
        target = np.zeros((batch, self.training_steps))
        target[:, self.TARGET] = labels[:, None]
        return TrainingBatch(self.inputs(s1, s2, self.training_steps), target, labels)

    def training_correct(self, o, labels):
        return signed_response(o[:, self.TRAINING_EVAL_FROM:], labels)

    def breakdown(self, outcomes):
        """Per-pattern accuracy and the timing of correct responses (the docs' 'temporal precision')."""
        result = super().breakdown(outcomes)
        times = np.array([o.response_time for o in outcomes if o.correct and o.response_time is not None])
        result["response time mean (s)"] = float(times.mean()) if times.size else float("nan")
        result["response time sd (s)"] = float(times.std()) if times.size > 1 else float("nan")
        return result

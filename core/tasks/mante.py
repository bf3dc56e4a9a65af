"""Context-dependent integration ("mante"): two noisy inputs; a context cue says which one to
integrate; answer the sign of its mean.

Stimulus (four inputs, 5 ms columns): inputs 1 and 2 are unit-variance noise around +-0.5
(the evidence strength, an option) on columns 50..249; input 3 is 1 all trial long when the
context is 1 (attend input 1), input 4 when it is 2. Offsets and context are drawn with
probability 0.5 each; the answer is the sign of the attended input's offset.

| | LIF scoring (grid search) | training evaluation (trainer) |
|---|---|---|
| trial | 501 columns, 2.5 s | 500 steps |
| window | from 1.3 s to the end | the last 200 steps (from 1.5 s) |
| +1 correct | max > 0.7 | max > 0.7 |
| -1 correct | min < -0.7 | min < -0.7 |

The training target is the answer from step 250 on.
"""

from __future__ import annotations

import numpy as np

from rate2spike.tasks.base import (Condition, Factor, Stimulus, Task, TaskOption, TrainingBatch, coin, sign_level,
                                   sign_value, signed_response)


class Mante(Task):
    name = "mante"
    description = ("Context-dependent integration: two noisy inputs, a context cue says which one to "
                   "integrate; answer the sign of its mean.")
    n_inputs = 4
    factors = (Factor("context", "Context (which input to attend)", ("1", "2")),
               Factor("input1", "Sign of input 1", ("+", "-")), Factor("input2", "Sign of input 2", ("+", "-")))
    options = (TaskOption("evidence_strength", "Evidence strength (input mean)", 0.5, 0.0, 2.0, 0.05),)
    n_columns = 501
    decision_start = 1.3
    training_steps = 500
    # noisy evidence leaves some trials ambiguous: the paper's converted networks score 97.0 +- 6.6%
    goal_accuracy = 0.92
    EVIDENCE = slice(50, 250)  # columns of the noisy inputs
    TRAINING_EVAL_STEPS = 200  # the trainer scores the last 200 steps
    EVIDENCE_BINS = np.array([-np.inf, -0.75, -0.5, -0.25, 0.0, 0.25, 0.5, 0.75, np.inf])

    def condition_of(self, levels):
        context, first, second = levels
        attended = first if context == "1" else second
        return Condition(f"context {context}: input 1 {first}, input 2 {second}", f"context {context}",
                         sign_value(attended), levels)

    def draw_condition(self, rng):
        first = 1 if rng.random() < 0.5 else -1
        second = 1 if rng.random() < 0.5 else -1
        context = "1" if rng.random() < 0.5 else "2"
        return self.condition_of((context, sign_level(first), sign_level(second)))

    def inputs(self, offset1, offset2, noise1, noise2, attend_first, n_steps: int) -> np.ndarray:
        """u (B, 4, n_steps): noise (B, 200) around the offsets (B,), and the context cue;
        the one place the inputs are laid out."""
        u = np.zeros((offset1.size, 4, n_steps))
        u[:, 0, self.EVIDENCE] = noise1 + offset1[:, None]
        u[:, 1, self.EVIDENCE] = noise2 + offset2[:, None]
        u[attend_first, 2, :] = 1.0
        u[~attend_first, 3, :] = 1.0
        return u

    def make_stimulus(self, condition, rng, options):
        context, first, second = condition.levels
        strength = options["evidence_strength"]
        n = self.EVIDENCE.stop - self.EVIDENCE.start
        noise1, noise2 = rng.standard_normal(n), rng.standard_normal(n)
        u = self.inputs(np.array([sign_value(first) * strength]), np.array([sign_value(second) * strength]),
                        noise1[None], noise2[None], np.array([context == "1"]), self.n_columns)[0]
        evidence = float(u[0 if context == "1" else 1, self.EVIDENCE].mean())
        return Stimulus(u, condition, evidence)

    def training_batch(self, rng, batch):
        strength = self.options[0].default
        offset1 = np.where(coin(rng, batch), strength, -strength)
        offset2 = np.where(coin(rng, batch), strength, -strength)
        attend_first = coin(rng, batch)
        n = self.EVIDENCE.stop - self.EVIDENCE.start
        noise1, noise2 = rng.standard_normal((batch, n)), rng.standard_normal((batch, n))
        labels = np.sign(np.where(attend_first, offset1, offset2))
        target = np.zeros((batch, self.training_steps))
        target[:, self.EVIDENCE.stop:] = labels[:, None]
        u = self.inputs(offset1, offset2, noise1, noise2, attend_first, self.training_steps)
        return TrainingBatch(u, target, labels)

    def training_correct(self, o, labels):
        return signed_response(o[:, -self.TRAINING_EVAL_STEPS:], labels)

    def breakdown(self, outcomes):
        """Accuracy per context and the integration curve: accuracy against the evidence
        actually presented (mean of the attended input), in bins of 0.25."""
        result = super().breakdown(outcomes)
        evidence = np.array([o.evidence for o in outcomes], dtype=float)
        correct = np.array([o.correct for o in outcomes], dtype=float)
        bins = self.EVIDENCE_BINS
        which = np.digitize(evidence, bins[1:-1])
        result["integration curve"] = [
            {"evidence low": float(bins[b]), "evidence high": float(bins[b + 1]),
             "mean evidence": float(evidence[which == b].mean()), "accuracy": float(correct[which == b].mean()),
             "n_trials": int((which == b).sum())}
            for b in range(len(bins) - 1) if (which == b).any()
        ]
        return result

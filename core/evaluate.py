"""Accuracy of a model on fresh trials: the rate network it was trained as, and its LIF
conversion at one scaling factor. Used by ``rate2spike evaluate`` and the asset checks."""

from __future__ import annotations

import numpy as np

from core.model import RateModel
from core.rate import draw_trial_randomness, rate_forward
from core.rate_tasks import get_rate_task
from core.sweep import SweepResult, run_sweep
from core.tasks import infer_task

FRESH_SEED = 20261123  # differs from the grid search's default seed 0, so these trials are fresh
RATE_CHUNK = 100  # rate trials simulated at once


def rate_accuracy(model: RateModel, task=None, n_trials: int = 500, seed: int = FRESH_SEED) -> float:
    """Fraction of fresh trials the rate network solves, by the trainer's evaluation rule."""
    task_name = (infer_task(model) if task is None else task).name if not isinstance(task, str) else task
    rate_task = get_rate_task(task_name)
    rng = np.random.default_rng(seed)
    correct = 0
    for start in range(0, n_trials, RATE_CHUNK):
        size = min(RATE_CHUNK, n_trials - start)
        batch = rate_task.draw(rng, size)
        x0, noise = draw_trial_randomness(rng, size, model.N, rate_task.n_steps)
        _, _, o = rate_forward(model.recurrent_weights(), model.w_in, model.w_out, model.b_out,
                               model.decay_steps(), batch.u, x0, noise, model.activation)
        correct += int(rate_task.score(o, batch.labels).sum())
    return correct / n_trials


def lif_accuracy(model: RateModel, scaling_factor: float | None = None, n_trials: int = 200,
                 seed: int = FRESH_SEED, task=None, n_threads=None, progress=None) -> SweepResult:
    """Score the LIF network at one scaling factor (default: the stored optimum) on fresh trials."""
    scaling_factor = scaling_factor or model.opt_scaling_factor
    if scaling_factor is None:
        raise ValueError(f"{model.name} holds no opt_scaling_factor; pass a scaling factor or run a sweep first")
    return run_sweep(model, task, [scaling_factor], n_trials, seed=seed, n_threads=n_threads, progress=progress)

"""Constructed accuracy curves, where the true best lambda is known, to validate the search procedures.

A LIF trial at lambda is right or wrong; on common random numbers the verdicts of one trial at
different lambdas are correlated (same stimulus, same noise). Here trial t at lambda is a Bernoulli
draw with P(correct) = curve(lambda), made correlated across lambdas by a shared latent normal per
trial (a Gaussian copula): the racing, band and extension procedures run on these exactly as on
LIF trials, thousands of times a second. ``python -m benchmarks --search`` and tests/test_search.py use it.
"""

from __future__ import annotations

from typing import Callable

import numpy as np
from scipy.stats import norm

from rate2spike.search import LambdaTable, SearchOptions, search

DEFAULT_PAIRING = 0.8  # correlation of the latent variables of one trial at two lambdas


def bernoulli_evaluate(table: LambdaTable, curve: Callable[[float], float], rng: np.random.Generator,
                       pairing: float = DEFAULT_PAIRING):
    """An ``evaluate(jobs)`` for ``search`` that scores (lambda, trial) jobs as Bernoulli trials with
    P(correct) = curve(lambda); trial t shares a latent normal across lambdas (correlation ``pairing``)."""
    common = rng.standard_normal(table.n_trials)
    own: dict[float, np.ndarray] = {}
    thresholds: dict[float, float] = {}
    weight, rest = np.sqrt(pairing), np.sqrt(1 - pairing)

    def evaluate(jobs) -> bool:
        by_lambda: dict[float, list[int]] = {}
        for lam, t in jobs:
            by_lambda.setdefault(lam, []).append(t)
        for lam, trials in by_lambda.items():
            if lam not in own:
                own[lam] = rng.standard_normal(table.n_trials)
                thresholds[lam] = norm.ppf(curve(lam))
            latent = weight * common[trials] + rest * own[lam][trials]
            table.set_many(table.index(lam), trials, latent < thresholds[lam])
        return True

    return evaluate


def peaked_curve(peak: float, width: float, top: float, floor: float = 0.3) -> Callable[[float], float]:
    """A smooth accuracy-vs-lambda curve shaped like the shipped models': ``top`` at ``peak``, a flat
    shoulder, then a fall to ``floor`` about ``width`` away on either side."""
    return lambda lam: floor + (top - floor) * np.exp(-0.5 * ((lam - peak) / width) ** 4)


def optimum_agrees(full: LambdaTable, race: LambdaTable) -> bool:
    """The race's optimum is the full grid's, within one grid step of it, or inside its band."""
    full_best = float(full.scaling_factors[full.best()])
    race_best = float(race.scaling_factors[race.best()])
    return abs(race_best - full_best) <= full.grid_step() or race_best in full.scaling_factors[full.band()]


def race_agreement(grid, n_trials: int, n_curves: int = 20, seeds: int = 5, rng_seed: int = 2026) -> dict:
    """Race and full grid on ``n_curves`` random peaked curves x ``seeds`` trial sets each: how often
    the race's optimum is within one grid step of the full grid's or inside its band, and the
    fraction of trials the race saved."""
    grid = np.asarray(grid, dtype=float)
    step = float(np.min(np.diff(grid)))
    rng = np.random.default_rng(rng_seed)
    agree, saved = [], []
    for model in range(n_curves):
        curve = peaked_curve(peak=rng.uniform(grid[0] + 2, grid[-1] - 2), width=rng.uniform(1, 5) * step,
                             top=rng.uniform(0.85, 1.0))
        for seed in range(seeds):
            full = LambdaTable(grid, n_trials)
            search(full, bernoulli_evaluate(full, curve, np.random.default_rng([model, seed])), SearchOptions())
            race = LambdaTable(grid, n_trials)
            search(race, bernoulli_evaluate(race, curve, np.random.default_rng([model, seed])), SearchOptions(race=True))
            agree.append(optimum_agrees(full, race))
            saved.append(1 - race.n_done.sum() / full.n_done.sum())
    return {"runs": len(agree), "agreement": float(np.mean(agree)), "trials_saved": float(np.mean(saved))}

"""One-click teaching presets, computed from a model's grid search (never fixed numbers).

From the accuracy-vs-λ curve (the session's finished sweep, else the one stored in the model
file): the optimum; "too small", the largest λ below it whose accuracy falls clearly below the
best (else below both a quarter of the optimum and half the grid's smallest λ); "too large", the
smallest λ above it that falls clearly below the best (else above four times the optimum and
1.5 times the grid's largest λ); and the
optimum with the excitatory units inhibited during the decision window.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

CLEARLY_WORSE = 0.25  # an accuracy this far below the best counts as failing, for the presets
OUTSIDE_FACTOR = 4.0  # beyond the searched grid: a quarter or four times the optimum


@dataclass(frozen=True)
class Preset:
    """A named set of session settings and why they show what they show."""

    name: str
    settings: dict = field(default_factory=dict)
    why: str = ""


def curve_of(model, sweep_result=None) -> tuple[np.ndarray, np.ndarray] | None:
    """(scaling factors, accuracy) of the finished sweep, else of the grid search stored in the file,
    in increasing lambda (a grid may have been given in any order)."""
    if sweep_result is not None and sweep_result.optimum is not None:
        done = sweep_result.complete
        factors, accuracy = sweep_result.scaling_factors[done], sweep_result.accuracy[done]
    elif model is not None and model.scaling_factors is not None and model.all_perfs is not None \
            and model.scaling_factors.size == model.all_perfs.size:
        factors, accuracy = model.scaling_factors, model.all_perfs
    else:
        return None
    by_lambda = np.argsort(factors, kind="stable")
    return factors[by_lambda], accuracy[by_lambda]


def presets(model, sweep_result=None, decision_window: tuple[float, float] | None = None,
            lambda_bounds=(1.0, 200.0)) -> list[Preset]:
    """The presets for a model, or [] when it has no grid search yet."""
    curve = curve_of(model, sweep_result)
    if curve is None:
        return []
    factors, accuracy = curve
    stored = getattr(model, "opt_scaling_factor", None)
    if sweep_result is not None and sweep_result.optimum is not None:  # a race's best, not a raced-out lambda
        best = int(np.flatnonzero(factors == sweep_result.optimum[0])[0])
    elif stored is not None and np.any(factors == stored):  # the stored first maximum, in the order searched
        best = int(np.flatnonzero(factors == stored)[0])
    else:
        best = int(np.nanargmax(accuracy))
    optimum, top = float(factors[best]), float(accuracy[best])
    clip = lambda lam: float(np.clip(lam, *lambda_bounds))  # noqa: E731
    below = [(lam, acc) for lam, acc in zip(factors[:best], accuracy[:best]) if acc <= top - CLEARLY_WORSE]
    above = [(lam, acc) for lam, acc in zip(factors[best + 1:], accuracy[best + 1:]) if acc <= top - CLEARLY_WORSE]
    small = (float(below[-1][0]), f"accuracy {below[-1][1]:.2f} in the grid search") if below else \
        (clip(min(optimum / OUTSIDE_FACTOR, float(factors.min()) / 2)),
         "no searched λ below the optimum was clearly worse: below the searched grid")
    large = (float(above[0][0]), f"accuracy {above[0][1]:.2f} in the grid search") if above else \
        (clip(max(optimum * OUTSIDE_FACTOR, float(factors.max()) * 1.5)),
         "no searched λ above the optimum was clearly worse: above the searched grid")
    result = [
        Preset("λ too small", {"scaling_factor": clip(small[0])},
               f"λ = {small[0]:g} ({small[1]}): weights too strong, units fire too much"),
        Preset("At the optimum", {"scaling_factor": clip(optimum)},
               f"λ = {optimum:g}, the grid search's best (accuracy {top:.2f})"),
        Preset("λ too large", {"scaling_factor": clip(large[0])},
               f"λ = {large[0]:g} ({large[1]}): weights too weak, the output cannot reach its threshold"),
    ]
    if decision_window is not None and model.exc.any():
        result.append(Preset("Inhibit the excitatory units",
                             {"scaling_factor": clip(optimum), "stim_mode": "inh", "stim_units": "exc",
                              "stim_window": decision_window},
                             f"at λ = {optimum:g}, the excitatory units pushed down during the decision window"))
    return result

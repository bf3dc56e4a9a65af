"""One-click teaching presets that show what they say, on a trial chosen to show it.

From the accuracy-vs-λ curve (the session's finished sweep, else the one stored in the model file)
come three λ: "too small", the largest λ below the best that falls clearly below it (else well below
the grid); the recommended λ (the output closest to the rate network's among the λ as good as the
best; else the optimum); "too large", the smallest λ above the best that falls clearly below it
(else well above the grid). Each preset then looks, over a few seeds and every condition, for a trial
where its claim is visible, and its explanation is written from what that trial shows:

- too small / too large: a trial that fails, and how (``rate2spike.diagnose.failure_mode``: too
  high, too noisy, too low, answering before the stimulus); the λ moves further out if none fails;
- recommended: a correct trial whose spiking output follows the rate network's most closely;
- inhibit: at the recommended λ, a trial whose verdict (else output) changes most when the
  excitatory units are pushed down during the decision window.

A preset sets λ, the condition and the seed in one step, so the page shows exactly that trial.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from rate2spike.diagnose import failure_mode, window_gain
from rate2spike.network import Stimulation, parse_units
from rate2spike.timegrid import lif_dt
from rate2spike.trial import TrialSpec, run_trials

CLEARLY_WORSE = 0.25  # an accuracy this far below the best counts as failing, for the presets
OUTSIDE_FACTOR = 4.0  # beyond the searched grid: a quarter or four times the best
SEEDS = range(12)  # seeds a preset looks through for a trial that shows its claim
BEST_OF = range(3)  # seeds whose trials a preset compares to pick the clearest one
FURTHER = 2.0  # λ moves by this factor when no trial at it shows the claim (at most MOVES times)
MOVES = 3
MODE_WORDS = {"high": "the output overshoots: it rises to {extreme:.2f}, above the {level:g} line",
              "noisy": "the output is too noisy for the margin: its fluctuations cross the {level:g} line",
              "low": "the output falls short: it reaches only {extreme:.2f}, not the {level:g} line",
              "early": "the output answers before the stimulus arrives"}
TOO_SMALL_MODES = ("high", "noisy", "early")  # what weights too strong do
TOO_LARGE_MODES = ("low",)  # what weights too weak do


@dataclass(frozen=True)
class Preset:
    """A named set of session settings and why they show what they show."""

    name: str
    settings: dict = field(default_factory=dict)
    why: str = ""
    claim: str = ""  # "fails", "follows" or "changes": what the trial it sets up shows


def curve_of(model, sweep_result=None) -> tuple[np.ndarray, np.ndarray] | None:
    """(scaling factors, accuracy) of the finished sweep, else of the grid search stored in the file,
    in increasing λ."""
    if sweep_result is not None and sweep_result.optimum is not None:
        done = sweep_result.complete
        factors, accuracy = sweep_result.scaling_factors[done], sweep_result.accuracy[done]
    elif model is not None and model.scaling_factors is not None and model.all_perfs is not None \
            and model.scaling_factors.size == model.all_perfs.size:
        factors, accuracy = model.scaling_factors, model.all_perfs
    else:
        return None
    order = np.argsort(factors, kind="stable")
    return np.asarray(factors, float)[order], np.asarray(accuracy, float)[order]


def preset_lambdas(model, sweep_result=None, lambda_bounds=(1.0, 200.0)) -> dict | None:
    """The three λ of the presets: too small, good (recommended, else the optimum), too large."""
    curve = curve_of(model, sweep_result)
    if curve is None:
        return None
    factors, accuracy = curve
    best = int(np.nanargmax(accuracy))
    top = float(accuracy[best])
    recommended = sweep_result.recommended() if sweep_result is not None else None
    good = recommended[0] if recommended is not None else getattr(model, "recommended_scaling_factor", None)
    clip = lambda lam: float(np.clip(lam, *lambda_bounds))  # noqa: E731
    below = [lam for lam, acc in zip(factors[:best], accuracy[:best]) if acc <= top - CLEARLY_WORSE]
    above = [lam for lam, acc in zip(factors[best + 1:], accuracy[best + 1:]) if acc <= top - CLEARLY_WORSE]
    return {"small": clip(below[-1] if below else min(factors[best] / OUTSIDE_FACTOR, factors.min() / 2)),
            "good": clip(good if good is not None else factors[best]), "recommended": good is not None,
            "large": clip(above[0] if above else max(factors[best] * OUTSIDE_FACTOR, factors.max() * 1.5)),
            "bounds": lambda_bounds}


def _levels(task, trial) -> dict:
    """The trial's condition as factor -> level (what the session's condition selectors set)."""
    return dict(zip((f.name for f in task.factors), trial.stimulus.condition.levels))


def _candidates(model, task, lam, options, downsample, stimulation=None, seeds=SEEDS):
    """Trials at λ, seed by seed, every condition of a seed run together in lockstep (what the page
    would show for those settings): a preset stops at the first seed that shows its claim."""
    for seed in seeds:
        specs = [TrialSpec(model, task, lam, seed=seed, condition=dict(zip((f.name for f in task.factors),
                                                                           condition.levels)),
                           task_options=options, downsample=downsample, stimulation=stimulation or Stimulation())
                 for condition in task.conditions()]
        yield from run_trials(specs, ("rate_model",))


def _failing(model, task, lam, options, downsample, modes, direction, bounds):
    """The first trial that fails in one of ``modes`` at λ, moving λ by FURTHER (``direction``)
    when none does; (trial, mode) or None."""
    for _ in range(MOVES + 1):
        for trial in _candidates(model, task, lam, options, downsample):
            mode = failure_mode(trial)
            if mode in modes:
                return trial, mode
        lam = float(np.clip(lam * FURTHER ** direction, *bounds))
    return None


def _failure_preset(name, task, found, strong: bool) -> Preset | None:
    if found is None:
        return None
    trial, mode = found
    outcome, lam = trial.outcome, trial.spec.scaling_factor
    weights = "too strong, the units fire too much" if strong else "too weak, the units barely drive the output"
    how = MODE_WORDS[mode].format(extreme=outcome.extreme, level=outcome.level)
    return Preset(name, {"scaling_factor": lam, "condition": _levels(task, trial), "seed": trial.spec.seed},
                  f"λ = {lam:g}: the weights are {weights}. On this {trial.stimulus.condition.name} trial {how} "
                  "(incorrect ✗).", "fails")


def _following_preset(model, task, lam, options, downsample, recommended: bool) -> Preset | None:
    """A correct trial at λ whose output's mean in the decision window is closest to the rate network's."""
    best, gap = None, np.inf
    for trial in _candidates(model, task, lam, options, downsample, seeds=BEST_OF):
        gain = window_gain(trial)
        if trial.outcome.correct and gain is not None and gain > 0 and abs(np.log(gain)) < gap:
            best, gap = trial, abs(np.log(gain))
    if best is None:
        return None
    name = "Recommended λ" if recommended else "At the optimum"
    source = "recommended: of the λ as good as the best, its output follows the rate network's most closely" \
        if recommended else "the grid search's best"
    return Preset(name, {"scaling_factor": lam, "condition": _levels(task, best), "seed": best.spec.seed},
                  f"λ = {lam:g}, {source}. On this {best.stimulus.condition.name} trial the spiking output's mean "
                  f"in the decision window is {window_gain(best):.2f} times the rate network's (correct ✓).",
                  "follows")


def _inhibition_preset(model, task, lam, options, downsample, window) -> Preset | None:
    """At λ, the trial whose verdict (else output) changes most when the excitatory units are pushed
    down during the decision window."""
    units = parse_units("exc", model.exc)
    stimulation = Stimulation.over_window("inh", units, window, lif_dt(downsample))
    best, change = None, -np.inf
    for trial, pushed in zip(_candidates(model, task, lam, options, downsample, seeds=BEST_OF),
                             _candidates(model, task, lam, options, downsample, stimulation, seeds=BEST_OF)):
        flipped = trial.outcome.correct and not pushed.outcome.correct
        score = (1.0 if flipped else 0.0) + abs(trial.outcome.extreme - pushed.outcome.extreme)
        if score > change:
            best, change = (trial, pushed), score
    if best is None:
        return None
    trial, pushed = best
    verdict = "incorrect ✗" if not pushed.outcome.correct else "still correct ✓"
    settings = {"scaling_factor": lam, "condition": _levels(task, trial), "seed": trial.spec.seed,
                "stim_mode": "inh", "stim_units": "exc", "stim_window": tuple(window)}
    return Preset("Inhibit the excitatory units", settings,
                  f"λ = {lam:g}, the excitatory units pushed down during the decision window. On this "
                  f"{trial.stimulus.condition.name} trial the output's extreme moves from {trial.outcome.extreme:.2f} "
                  f"to {pushed.outcome.extreme:.2f} ({verdict}; without the push: "
                  f"{'correct ✓' if trial.outcome.correct else 'incorrect ✗'}).", "changes")


def presets(model, task, sweep_result=None, decision_window: tuple[float, float] | None = None,
            lambda_bounds=(1.0, 200.0), task_options=(), downsample: int = 1) -> list[Preset]:
    """The presets of a model (none before any grid search), each set on a trial that shows its
    claim. Runs a few dozen trials: a served page computes them off its event loop."""
    targets = preset_lambdas(model, sweep_result, lambda_bounds)
    if targets is None:
        return []
    options, bounds = tuple(task_options), lambda_bounds
    found = [
        _failure_preset("λ too small", task, _failing(model, task, targets["small"], options, downsample,
                                                      TOO_SMALL_MODES, -1, bounds), strong=True),
        _following_preset(model, task, targets["good"], options, downsample, targets["recommended"]),
        _failure_preset("λ too large", task, _failing(model, task, targets["large"], options, downsample,
                                                      TOO_LARGE_MODES, 1, bounds), strong=False),
    ]
    if decision_window is not None and model.exc.any():
        found.append(_inhibition_preset(model, task, targets["good"], options, downsample, decision_window))
    return [preset for preset in found if preset is not None]

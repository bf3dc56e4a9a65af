"""One dashboard trial: settings in the dashboard's terms -> a simulated, scored LIF trial.

The dashboard speaks in seconds, condition names and unit lists typed by people; the core
speaks in simulation steps, Condition objects and index tuples. This module translates, runs
the LIF trial and the rate model on the same stimulus, and scores the result. The trial with
seed s is trial 0 of a sweep with seed s (``core.sweep.trial_inputs``), so what the dashboard
shows is one of the trials the sweep scores.
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass, field

import numpy as np

from core.model import RateModel
from core.rate import RateTrial, simulate_rate
from core.simulation import BASE_DT, LIFTrial, Stimulation, convert, make_drive, simulate_trial
from core.sweep import trial_inputs
from core.tasks import Outcome, Task, TaskTrial

RANDOM = "random"


@dataclass(frozen=True)
class TrialSettings:
    """Everything besides the model and task that fixes a trial."""

    scaling_factor: float = 50.0
    seed: int = 0
    condition: str | None = None  # a condition name of the task; None draws one from the seed
    evidence_strength: float | None = None  # mante only: mean of the noisy inputs (0.5 in the reference)
    downsample: int = 1
    use_initial_weights: bool = False
    stimulation: Stimulation = field(default_factory=Stimulation)


@dataclass(frozen=True, eq=False)
class SimulatedTrial:
    """A simulated trial with everything the views need."""

    model: RateModel
    task: Task
    settings: TrialSettings
    stimulus: TaskTrial
    lif: LIFTrial
    outcome: Outcome
    rate: RateTrial | None
    seconds: float  # wall time of the simulation (LIF + rate model)
    noise_seed: tuple = ()  # the LIF trial's seed: re-running it gives the same trial

    def full_recording(self) -> LIFTrial:
        """The same trial with every array recorded (for export; the views need fewer)."""
        lif = self.lif
        return simulate_trial(lif.network, lif.drive, self.noise_seed, lif.stimulation)


class RateModelCache:
    """The rate model's response depends on the model, stimulus and seed but not on lambda, so
    dragging the lambda slider reuses it instead of simulating it again."""

    def __init__(self):
        self._model = None  # held, not just its id, so a new model can never look like the cached one
        self._key = None
        self._value = None

    def get(self, model: RateModel, u: np.ndarray, seed: int) -> RateTrial:
        key = (int(seed), u.shape, u.tobytes())
        if model is not self._model or key != self._key:
            self._value = simulate_rate(model, u, seed=seed, noise=True)
            self._model, self._key = model, key
        return self._value


VIEW_RECORDINGS = ("voltages", "spikes")  # what the views draw; rates and currents cost time


def simulate(model: RateModel, task: Task, settings: TrialSettings,
             rate_cache: RateModelCache | None = None) -> SimulatedTrial:
    """Simulate and score one LIF trial and the rate model's response to the same stimulus."""
    started = time.perf_counter()
    options = {}
    if task.name == "mante" and settings.evidence_strength is not None:
        options["offset"] = settings.evidence_strength
    stimulus, sim_seed = trial_inputs(task, settings.seed, 0, settings.condition, **options)
    network = convert(model, settings.scaling_factor, settings.use_initial_weights)
    drive = make_drive(network, stimulus.u, settings.downsample)
    lif = simulate_trial(network, drive, sim_seed, settings.stimulation, record=VIEW_RECORDINGS)
    outcome = task.score(lif.out, drive.dt, stimulus)
    rate = (rate_cache or RateModelCache()).get(model, stimulus.u, settings.seed)
    return SimulatedTrial(model, task, settings, stimulus, lif, outcome, rate, time.perf_counter() - started,
                          sim_seed)


def mante_condition(task: Task, context: str, sign1: str, sign2: str, seed: int) -> str | None:
    """The mante condition name for a context and input signs; parts left 'random' are drawn
    from the seed (all three random: None, so the trial is exactly trial 0 of a sweep)."""
    if context == sign1 == sign2 == RANDOM:
        return None
    rng = np.random.default_rng([int(seed), 7])
    ctx = int(context) if context != RANDOM else int(rng.integers(1, 3))
    s1 = {"+": 1, "-": -1}[sign1] if sign1 != RANDOM else int(rng.choice([1, -1]))
    s2 = {"+": 1, "-": -1}[sign2] if sign2 != RANDOM else int(rng.choice([1, -1]))
    for cond in task.conditions():
        if cond.values == (ctx, s1, s2):
            return cond.name
    raise ValueError(f"task '{task.name}' has no condition with context {ctx} and signs {s1}, {s2}")


_TOKEN = re.compile(r"^(\d+)(?:\s*-\s*(\d+))?$")
_GROUPS = {"all": None, "exc": True, "e": True, "inh": False, "i": False}


def parse_units(text: str, exc: np.ndarray) -> tuple[int, ...]:
    """Units typed as '0, 3, 10-19', or 'exc' / 'inh' / 'all'; each unit once, in order given."""
    units: list[int] = []
    n = exc.size
    compact = re.sub(r"\s*-\s*", "-", text.strip())  # '10 - 19' -> '10-19'
    for token in (t for t in re.split(r"[,\s;]+", compact) if t):
        group = token.lower()
        if group in _GROUPS:
            wanted = _GROUPS[group]
            units.extend(range(n) if wanted is None else np.flatnonzero(exc == wanted).tolist())
            continue
        match = _TOKEN.match(token)
        if not match:
            raise ValueError(f"stimulated units: cannot read '{token}'; "
                             "write e.g. '0, 3, 10-19' or 'exc', 'inh', 'all'")
        first = int(match.group(1))
        last = int(match.group(2)) if match.group(2) else first
        if last < first:
            raise ValueError(f"stimulated units: range '{token}' runs backwards")
        if last >= n:
            raise ValueError(f"stimulated units: unit {last} does not exist (this model has units 0..{n - 1})")
        units.extend(range(first, last + 1))
    return tuple(dict.fromkeys(int(u) for u in units))


def stimulation_from_window(mode: str, units: tuple[int, ...], window: tuple[float, float],
                            downsample: int) -> Stimulation:
    """Artificial stimulation over a window in seconds, as the core's 1-based step range
    (step i ends at i*dt, so the window [t0, t1) covers steps round(t0/dt)+1 .. round(t1/dt))."""
    if mode == "none":
        return Stimulation()
    if not units:
        raise ValueError(f"stimulation '{mode}' needs units: type e.g. '0-9' or 'inh'")
    dt = BASE_DT * downsample
    start, end = window
    return Stimulation(mode, tuple(units), int(round(start / dt)) + 1, int(round(end / dt)) + 1)

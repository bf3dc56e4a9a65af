"""One description of a trial (``TrialSpec``) and the one way to run it (``run_trial``).

A spec names everything that fixes a trial: the model, the task and its options, which
condition (or that the seed draws it), the trial's seed and index, lambda, the downsampling,
the weights, the artificial stimulation and the LIF method's constants (``LIFParameters``, the
reference's unless a variant is asked for). ``run_trial`` turns it into a stimulus, converts
the model, drives and simulates the LIF network and scores the output:

    stimulus -> convert -> drive -> simulate -> score

Everything that runs trials builds specs: the spikeRNN API, the command line, the grid search
(a grid of specs), the dashboard, the benchmark and the tests. Trial ``index`` of seed ``s``
is the same trial at every lambda (same stimulus, initial voltages and noise), which is what
makes a grid search compare lambdas fairly; the dashboard's trial with seed ``s`` is trial 0
of a sweep with seed ``s``.
"""

from __future__ import annotations

import dataclasses
import threading
from collections import OrderedDict
from dataclasses import dataclass, field

import numpy as np

from rate2spike import timegrid
from rate2spike.model import RateModel
from rate2spike.limits import check_scaling_factor
from rate2spike.network import Stimulation, check_initial_decay, convert, make_drive
from rate2spike.parameters import DEFAULT_PARAMETERS, LIFParameters
from rate2spike.rate import RateResponse, simulate_rate
from rate2spike.simulation import RECORDINGS, Recording, check_precision, simulate_networks
from rate2spike.tasks import Outcome, Stimulus, Task, check_task_fits, get_task, infer_task

DEFAULT_SCALING_FACTOR = 50.0  # lambda when a model holds no usable grid-search optimum
RATE_MODEL = "rate_model"  # a recording choice: the rate network's response to the same stimulus
TRIAL_RECORDINGS = RECORDINGS + (RATE_MODEL,)


def default_scaling_factor(model: RateModel) -> float:
    """The lambda to show a model at: its stored recommended lambda (whose output follows the rate
    network's, ``rate2spike.verdict``), else its stored optimum, else DEFAULT_SCALING_FACTOR."""
    for stored in (model.recommended_scaling_factor, model.opt_scaling_factor):
        try:
            if stored is not None:
                return check_scaling_factor(stored)
        except ValueError:
            continue
    return DEFAULT_SCALING_FACTOR


def _whole_number(value, name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) and not (
            isinstance(value, (float, np.floating)) and float(value).is_integer()):
        raise ValueError(f"{name} must be a whole number, got {value!r}")
    if int(value) < 0:
        raise ValueError(f"{name} must be 0 or more, got {value!r}")
    return int(value)


@dataclass(frozen=True)
class TrialSpec:
    """Everything that fixes one trial. Frozen, hashable and cheap to copy
    (``dataclasses.replace``); arguments are checked and normalised on creation.

    ``task`` defaults to the model's task and ``scaling_factor`` to its stored optimum (else
    50). ``condition`` is None (drawn from the seed), a condition name such as 'Go', or a
    mapping factor -> level that fixes some factors and leaves the others drawn.
    ``task_options`` maps a task's option names to values (mante: evidence_strength).
    ``stimulation`` is a ``Stimulation`` or the reference's ``stims`` dict. ``use_initial_weights``
    runs ``w0`` with the trained decay constants td, as the reference; ``initial_decay`` (only with it)
    also takes the initial td0: the fully untrained network. ``rectify_weights``
    (default True, as the rate network did) can be turned off to run a PyTorch-era file's raw w.
    ``precision`` is the LIF arithmetic's: 'float64' (the reference's) or 'float32', a faster
    sweep mode that matches it statistically, not spike for spike (docs/method.md). ``params`` are the
    LIF method's constants (``LIFParameters``; default the reference's): part of the spec's identity,
    so trials, caches and journals of a variant never mix with the reference's.
    """

    model: RateModel
    task: Task | str | None = None
    scaling_factor: float | None = None
    seed: int = 0
    index: int = 0
    condition: tuple = ()
    task_options: tuple = ()
    downsample: int = 1
    use_initial_weights: bool = False
    stimulation: Stimulation = field(default_factory=Stimulation)
    rectify_weights: bool = True  # False: the raw w of a PyTorch-era file, as that port's LIF code reads it
    precision: str = "float64"
    initial_decay: bool = False  # with use_initial_weights: td0 too (the fully untrained network)
    params: LIFParameters = DEFAULT_PARAMETERS  # the LIF method's constants

    def __post_init__(self):
        if not isinstance(self.model, RateModel):
            raise ValueError(f"a trial needs a loaded model (rate2spike.load_model), got {type(self.model).__name__}")
        task = infer_task(self.model) if self.task is None else get_task(self.task)
        check_task_fits(task, self.model)
        values = {
            "task": task,
            "scaling_factor": default_scaling_factor(self.model) if self.scaling_factor is None
            else check_scaling_factor(self.scaling_factor),
            "seed": _whole_number(self.seed, "seed"),
            "index": _whole_number(self.index, "trial index"),
            "condition": task.fixed_levels(self.condition),
            "task_options": tuple(task.option_values(dict(self.task_options)).items()),
            "downsample": timegrid.check_downsample(self.downsample),
            "use_initial_weights": bool(self.use_initial_weights),
            "initial_decay": bool(self.initial_decay),
            "rectify_weights": bool(self.rectify_weights),
            "stimulation": Stimulation.from_stims(self.stimulation, self.model.N),
            "precision": check_precision(self.precision),
        }
        if not isinstance(self.params, LIFParameters):
            raise ValueError(f"params must be a LIFParameters (rate2spike.LIFParameters), "
                             f"got {type(self.params).__name__}")
        if values["use_initial_weights"] and self.model.w0 is None:
            raise ValueError(f"{self.model.name} holds no initial weights (w0), so use_initial_weights "
                             "(--initial-weights) is not possible")
        check_initial_decay(values["use_initial_weights"], values["initial_decay"])
        if values["initial_decay"] and len(self.model.taus) == 2 and self.model.taus_gaus0 is None:
            raise ValueError(f"{self.model.name} holds no initial decay parameters (taus_gaus0), so initial_decay "
                             "is not possible")
        for name, value in values.items():
            object.__setattr__(self, name, value)

    def replace(self, **changes) -> "TrialSpec":
        """A copy with some fields changed (checked again)."""
        return dataclasses.replace(self, **changes)

    @property
    def dt(self) -> float:
        """LIF step (s)."""
        return timegrid.lif_dt(self.downsample)

    @property
    def duration(self) -> float:
        """Trial length (s)."""
        return self.task.duration(self.downsample)

    @property
    def noise_seed(self) -> tuple[int, int, int]:
        """Seed of the LIF run's stream (initial voltages, membrane noise, stimulation draws)."""
        return self.seed, self.index, 1

    @property
    def rate_noise_seed(self) -> tuple[int, int, int]:
        """Seed of the rate network's noise when its response is simulated beside the LIF run."""
        return self.seed, self.index, 2

    def stimulus(self) -> Stimulus:
        """The task's stimulus for this trial (the same at every lambda)."""
        rng = np.random.default_rng([self.seed, self.index, 0])
        return self.task.stimulus(rng, self.condition, dict(self.task_options))


@dataclass(frozen=True, eq=False)
class ScoredTrial:
    """A run trial: its spec, stimulus, what the kernel recorded, and its score."""

    spec: TrialSpec
    stimulus: Stimulus
    recording: Recording
    outcome: Outcome
    rate_response: RateResponse | None = None  # the rate network on the same stimulus, if recorded

    def with_everything_recorded(self) -> "ScoredTrial":
        """The same trial again with every recording (for export: views record less)."""
        return run_trial(self.spec, TRIAL_RECORDINGS)


class RateResponseCache:
    """The rate network's response to a trial's stimulus, simulated once: it does not depend on
    lambda, so a dashboard that moves lambda and a search that scores many lambdas on each trial
    reuse it. The one cache of rate responses.

    Keyed by the model (held, so a new model never looks like the cached one), the trial's
    rate-noise seed (``TrialSpec.rate_noise_seed``) and its stimulus. Keeps the ``capacity`` most
    recently used responses (None: every one); with ``outputs_only`` only each response's output o
    (T,), what a search's fidelity needs (the states x and r are N x T each). Thread-safe: two
    threads may both simulate a missing response, and both get the same numbers."""

    def __init__(self, capacity: int | None = 1, outputs_only: bool = False):
        self.capacity, self.outputs_only = capacity, outputs_only
        self._entries: OrderedDict = OrderedDict()  # key -> (model, response or output)
        self._lock = threading.Lock()

    def _kept(self, spec: TrialSpec, stimulus: Stimulus):
        key = (id(spec.model), spec.rate_noise_seed, stimulus.u.shape, stimulus.u.tobytes())
        with self._lock:
            entry = self._entries.get(key)
            if entry is not None and entry[0] is spec.model:
                self._entries.move_to_end(key)
                return entry[1]
        response = simulate_rate(spec.model, stimulus.u, seed=list(spec.rate_noise_seed))
        value = response.o if self.outputs_only else response
        with self._lock:
            self._entries[key] = (spec.model, value)
            self._entries.move_to_end(key)
            while self.capacity is not None and len(self._entries) > self.capacity:
                self._entries.popitem(last=False)
        return value

    def get(self, spec: TrialSpec, stimulus: Stimulus) -> RateResponse:
        """The rate network's whole response to ``stimulus`` (x, r, o and u; 5 ms columns)."""
        if self.outputs_only:
            raise ValueError("this rate-response cache keeps outputs only: ask for output()")
        return self._kept(spec, stimulus)

    def output(self, spec: TrialSpec, stimulus: Stimulus) -> np.ndarray:
        """The rate network's output o (T,) on ``stimulus``, one value per 5 ms column."""
        value = self._kept(spec, stimulus)
        return value if self.outputs_only else value.o


def run_trial(spec: TrialSpec, record=(), rate_cache: RateResponseCache | None = None) -> ScoredTrial:
    """Run and score the trial a spec describes.

    ``record`` names what to keep at every step, from TRIAL_RECORDINGS: the LIF recordings
    (voltage, spikes, rate, synaptic_current) and 'rate_model', the rate network's response
    to the same stimulus. Without any the trial keeps its output trace, spike counts and score
    (what a grid search needs). The result does not depend on what is recorded.
    """
    return run_trials([spec], record, rate_cache)[0]


def _one_network(specs, any_lambda: bool = False) -> None:
    first = specs[0]
    for spec in specs[1:]:
        if (spec.model is not first.model or (spec.scaling_factor != first.scaling_factor and not any_lambda)
                or spec.downsample != first.downsample or spec.task.name != first.task.name
                or spec.use_initial_weights != first.use_initial_weights or spec.initial_decay != first.initial_decay
                or spec.rectify_weights != first.rectify_weights or spec.stimulation != first.stimulation
                or spec.precision != first.precision or spec.params != first.params):
            raise ValueError("trials run together must share the model, task, lambda, downsampling, weights, "
                             "stimulation, precision and LIF parameters; only the seed, index, condition and task "
                             "options may differ")


def run_trials(specs, record=(), rate_cache: RateResponseCache | None = None) -> list[ScoredTrial]:
    """Run and score several trials of one network in lockstep (``run_trials_at`` at one lambda):
    the same results as ``run_trial`` on each spec, faster. The specs may differ only in
    seed, index, condition and task options (a block of a grid search)."""
    specs = list(specs)
    if not specs:
        return []
    _one_network(specs)
    return [trials[0] for trials in run_trials_at(specs, [specs[0].scaling_factor], record, rate_cache)]


def run_trials_at(specs, scaling_factors, record=(), rate_cache: RateResponseCache | None = None) -> list[list[ScoredTrial]]:
    """Run and score every spec at every scaling factor, all in lockstep
    (``simulation.simulate_networks``): ``result[s][g]`` is exactly ``run_trial(specs[s].replace(
    scaling_factor=scaling_factors[g]))``. A trial's noise is drawn once for all the lambdas, so
    this is the cheap way to score one trial at many lambdas (a grid search). The specs may differ
    only in seed, index, condition, task options and their own lambda (which is replaced)."""
    specs = list(specs)
    if not specs:
        return []
    unknown = set(record) - set(TRIAL_RECORDINGS)
    if unknown:
        raise ValueError(f"cannot record {sorted(unknown)}; choose from {', '.join(TRIAL_RECORDINGS)}")
    if not len(scaling_factors):
        raise ValueError("need at least one scaling factor")
    _one_network(specs, any_lambda=True)
    first = specs[0]
    networks = [convert(first.model, factor, first.use_initial_weights, first.rectify_weights, first.initial_decay)
                for factor in scaling_factors]  # each lambda checked there, before any trial runs
    factors = [network.scaling_factor for network in networks]
    stimuli = [spec.stimulus() for spec in specs]
    drives = [make_drive(networks[0], stimulus.u, first.downsample) for stimulus in stimuli]  # lambda-free
    recordings = simulate_networks(networks, drives, [spec.noise_seed for spec in specs], first.stimulation,
                                   record=tuple(r for r in record if r != RATE_MODEL), precision=first.precision,
                                   params=first.params)
    results = []
    for s, (spec, stimulus) in enumerate(zip(specs, stimuli)):
        response = (rate_cache or RateResponseCache()).get(spec, stimulus) if RATE_MODEL in record else None
        at_lambdas = []
        for g, factor in enumerate(factors):
            recording = recordings[s * len(factors) + g]
            outcome = spec.task.score(recording.out, recording.drive.dt, stimulus)
            at_factor = spec if spec.scaling_factor == factor else spec.replace(scaling_factor=factor)
            at_lambdas.append(ScoredTrial(at_factor, stimulus, recording, outcome, response))
        results.append(at_lambdas)
    return results

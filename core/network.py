"""A rate model becomes a LIF network at one scaling factor; a stimulus becomes its drive.

``convert`` is the method's one-to-one mapping (docs/method.md, "Conversion"): the same
units, the recurrent and readout weights divided by lambda, the rate model's decay constants
for the synapses. ``make_drive`` puts a stimulus on the LIF time grid. ``Stimulation`` is the
reference's artificial stimulation (``stims``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np

from rate2spike import timegrid
from rate2spike.limits import check_scaling_factor
from rate2spike.model import RateModel


@dataclass(frozen=True, eq=False)
class SpikingNetwork:
    """A rate model mapped onto LIF units at one scaling factor lambda."""

    WT: np.ndarray  # N x N, W transposed (row j = outgoing weights of unit j), C-contiguous; mV s
    w_in: np.ndarray  # N x n_inputs input weights (mV per unit of stimulus)
    w_out: np.ndarray  # N readout weights divided by lambda (output per Hz of filtered rate)
    td: np.ndarray  # N synaptic decay constants (s)
    td0: np.ndarray | None  # decay constants of the untrained network (s), if the file has them
    exc: np.ndarray  # N bool, True for excitatory units
    scaling_factor: float  # lambda

    @property
    def W(self) -> np.ndarray:
        """N x N recurrent weights W_rate / lambda (row i = the inputs of unit i), in mV s, as
        LIF_network_fnc returns it. A spike of unit j adds to unit i's synaptic current a
        double-exponential pulse of area W[i, j] (its peak a little below W[i, j] / td_i, in mV)."""
        return self.WT.T

    @property
    def N(self) -> int:
        return self.WT.shape[0]


def check_initial_decay(use_initial_weights: bool, initial_decay: bool) -> None:
    """``initial_decay`` (td0) only with ``use_initial_weights`` (w0), or a ValueError saying so."""
    if initial_decay and not use_initial_weights:
        raise ValueError("initial_decay (--initial-decay: the untrained decay constants td0) needs "
                         "use_initial_weights (--initial-weights): together they make the fully untrained network, "
                         "w0 with td0")


def convert(model: RateModel, scaling_factor: float, use_initial_weights: bool = False,
            rectify_weights: bool = True, initial_decay: bool = False) -> SpikingNetwork:
    """Map a rate model onto a LIF network: W = W_rate / lambda, w_out / lambda, td from the
    rate model. ``use_initial_weights``: ``w0`` instead of ``w``, with the trained td, as the
    reference; ``initial_decay`` (with it) also takes td0 from ``taus_gaus0``: the fully untrained
    network. ``rectify_weights=False``: the raw, unrectified w, as the PyTorch port's LIF code reads it.
    The conversion takes no constant of the LIF method: the synapses' rise constant tau_rise and the
    membrane's constants are the simulation's (``simulate(..., params=LIFParameters(...))``), so one
    converted network runs the reference and any variant."""
    scaling_factor = check_scaling_factor(scaling_factor)
    check_initial_decay(use_initial_weights, initial_decay)
    W_rate = model.recurrent_weights(use_initial_weights, rectify_weights)
    with np.errstate(over="ignore"):
        WT = np.ascontiguousarray(W_rate.T) / scaling_factor
    if not np.isfinite(WT).all():  # weights near the float64 limit in the file, times 1 / lambda
        raise ValueError(f"{model.name}: the recurrent weights divided by lambda = {scaling_factor:g} overflow; "
                         "use a larger lambda")
    td0 = None
    if len(model.taus) == 1 or model.taus_gaus0 is not None:
        td0 = model.decay_constants(initial=True)
    return SpikingNetwork(
        WT=WT, w_in=model.w_in, w_out=model.w_out / scaling_factor, td=model.decay_constants(initial_decay),
        td0=td0, exc=model.exc, scaling_factor=scaling_factor,
    )


@dataclass(frozen=True, eq=False)
class Drive:
    """A stimulus on the LIF time grid."""

    ext: np.ndarray  # N x columns external input w_in @ u[:, ::downsample] (mV, added to the current)
    dt: float  # LIF step (s)
    nt: int  # number of LIF steps
    T: float  # trial duration (s), timegrid.trial_duration
    downsample: int

    @property
    def times(self) -> np.ndarray:
        """Time (s) at the end of each step."""
        return timegrid.step_end_times(self.nt, self.dt)


def make_drive(network: SpikingNetwork, u, downsample: int = 1) -> Drive:
    """Check a stimulus u (n_inputs x columns, one column per 5 ms) and put it on the LIF grid."""
    u = np.asarray(u, dtype=np.float64)
    n_inputs = network.w_in.shape[1]
    if u.ndim == 1 and n_inputs == 1:
        u = u[None, :]
    if u.ndim != 2 or u.shape[0] != n_inputs:
        raise ValueError(f"stimulus u must have shape ({n_inputs}, n_timesteps) for this model, got {u.shape}")
    if not np.isfinite(u).all():
        raise ValueError("stimulus u has non-finite values (NaN or Inf)")
    downsample = timegrid.check_downsample(downsample)
    kept = u[:, ::downsample]
    if kept.shape[1] < 2:
        raise ValueError(f"stimulus u needs at least 2 columns after downsampling by {downsample}, "
                         f"got {kept.shape[1]}")
    return Drive(ext=np.ascontiguousarray(network.w_in @ kept), dt=timegrid.lif_dt(downsample),
                 nt=timegrid.lif_steps(u.shape[1], downsample), T=timegrid.trial_duration(u.shape[1], downsample),
                 downsample=downsample)


MAX_STEP = 2**62  # steps are int64 in the kernel; a stimulation window is bounded well inside that


def _whole(value, what: str) -> int:
    """A whole number from a stims entry, or a ValueError naming it (1.7 is not unit 1)."""
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise ValueError(f"{what} must be whole numbers, got {value}") from None
    if not number.is_integer():
        raise ValueError(f"{what} must be whole numbers, got {value}")
    return int(number)


@dataclass(frozen=True)
class Stimulation:
    """Artificial stimulation: push ``units`` up (exc) or down (inh) by ``LIFParameters.stim_kick``
    (0.5 mV) with probability ``stim_probability`` (0.5) per step, for steps first <= i < stop
    (1-based steps, as the reference's ``dur``)."""

    mode: str = "none"
    units: tuple[int, ...] = ()
    first: int = 0
    stop: int = 0

    @property
    def sign(self) -> int:
        return {"none": 0, "exc": 1, "inh": -1}[self.mode]

    @classmethod
    def from_stims(cls, stims, n_units: int) -> "Stimulation":
        """Read the reference's ``stims`` dict ({'mode', 'dur': [first, stop], 'units'})."""
        if stims is None:
            return cls()
        if isinstance(stims, Stimulation):
            stims.validate(n_units)
            return stims
        if not isinstance(stims, dict):
            raise ValueError(f"stims must be a dict with a 'mode' key, got {type(stims).__name__}")
        mode = str(stims.get("mode", "none")).lower()
        if mode == "none":
            return cls()
        if "dur" not in stims or "units" not in stims:
            raise ValueError(f"stims with mode '{mode}' need 'dur' ([first_step, stop_step]) and 'units'")
        dur = np.asarray(stims["dur"]).reshape(-1)
        if dur.size != 2:
            raise ValueError(f"stims['dur'] must be [first_step, stop_step], got {stims['dur']!r}")
        units = tuple(dict.fromkeys(_whole(x, "stimulated units") for x in np.asarray(stims["units"]).reshape(-1)))
        result = cls(mode=mode, units=units, first=_whole(dur[0], "stims['dur']"), stop=_whole(dur[1], "stims['dur']"))
        result.validate(n_units)
        return result

    @classmethod
    def over_window(cls, mode: str, units, window: tuple[float, float], dt: float) -> "Stimulation":
        """Stimulation over a window in seconds (how people give it) on a grid of step dt."""
        if mode == "none":
            return cls()
        if not units:
            raise ValueError(f"stimulation '{mode}' needs units: give e.g. '0-9' or 'inh'")
        return cls(mode, tuple(units), *timegrid.steps_of_window(*window, dt))

    def window(self, dt: float) -> tuple[float, float] | None:
        """The stimulated span in seconds, or None without stimulation."""
        if self.mode == "none" or self.stop <= self.first:
            return None
        return timegrid.window_of_steps(self.first, self.stop, dt)

    def validate(self, n_units: int) -> None:
        if self.mode not in ("none", "exc", "inh"):
            raise ValueError(f"stimulation mode must be 'none', 'exc' or 'inh', got '{self.mode}'")
        bad = [u for u in self.units if not 0 <= u < n_units]
        if bad:
            raise ValueError(f"stimulated units {bad} are outside 0..{n_units - 1}")
        if self.mode == "none":
            return
        if not self.units:
            raise ValueError(f"stimulation '{self.mode}' needs units to stimulate (e.g. '0-9', 'inh')")
        if not 0 <= self.first <= self.stop <= MAX_STEP:
            raise ValueError(f"stimulation window [{self.first}, {self.stop}) must run forwards within "
                             f"steps 0..{MAX_STEP}")


_UNIT_RANGE = re.compile(r"^(\d+)(?:-(\d+))?$")
_UNIT_GROUPS = {"all": None, "exc": True, "e": True, "inh": False, "i": False}


def parse_units(text: str, exc: np.ndarray) -> tuple[int, ...]:
    """Units as people type them: '0, 3, 10-19', or 'exc' / 'inh' / 'all'; each unit once,
    in the order given. ``exc`` (N bool) says which units are excitatory."""
    units: list[int] = []
    n = exc.size
    compact = re.sub(r"\s*-\s*", "-", text.strip())  # '10 - 19' -> '10-19'
    for token in (t for t in re.split(r"[,\s;]+", compact) if t):
        group = token.lower()
        if group in _UNIT_GROUPS:
            wanted = _UNIT_GROUPS[group]
            units.extend(range(n) if wanted is None else np.flatnonzero(exc == wanted).tolist())
            continue
        match = _UNIT_RANGE.match(token)
        if not match:
            raise ValueError(f"stimulated units: cannot read '{token}'; write e.g. '0, 3, 10-19' or 'exc', 'inh', 'all'")
        first = int(match.group(1))
        last = int(match.group(2)) if match.group(2) else first
        if last < first:
            raise ValueError(f"stimulated units: range '{token}' runs backwards")
        if last >= n:
            raise ValueError(f"stimulated units: unit {last} does not exist (this model has units 0..{n - 1})")
        units.extend(range(first, last + 1))
    return tuple(dict.fromkeys(int(u) for u in units))

"""Running LIF trials: a model converted at one lambda, a stimulus, a seed -> spikes and output.

This is the Python side of the simulator: it validates inputs, builds the arrays the Numba
kernel (``core.lif``) needs, and wraps its results. A trial is fully determined by the
network, the drive, the stimulation and the seed; the same seed gives the same trial
whichever thread runs it and whether or not it is recorded.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from core import lif
from core.fastrng import ZIGGURAT_FI, ZIGGURAT_KI, ZIGGURAT_WI, seed_state
from core.model import RateModel

RECORDINGS = ("voltages", "spikes", "rates", "currents")  # what simulate_trial can record
BASE_DT = 0.00005  # LIF step (s) without downsampling: 100 LIF steps per 5 ms rate step
STEPS_PER_COLUMN = 100
FIRING_RATE_FIRST_STEP = 10  # all_fr counts spikes from step 10 on (MATLAB spk(n, 10:end))


@dataclass(frozen=True, eq=False)
class SpikingNetwork:
    """A rate model mapped onto LIF units at one scaling factor lambda."""

    W: np.ndarray  # N x N recurrent weights divided by lambda
    WT: np.ndarray  # W transposed, C-contiguous (row j = outgoing weights of unit j)
    w_in: np.ndarray  # N x n_inputs
    w_out: np.ndarray  # N readout weights divided by lambda
    td: np.ndarray  # synaptic decay constants (s) used in the simulation
    td0: np.ndarray | None  # decay constants of the initial (untrained) network, if known
    exc: np.ndarray  # N bool
    scaling_factor: float
    use_initial_weights: bool = False

    @property
    def N(self) -> int:
        return self.W.shape[0]


def convert(model: RateModel, scaling_factor: float, use_initial_weights: bool = False) -> SpikingNetwork:
    """Map a rate model onto a LIF network: W = W_rate / lambda, w_out / lambda."""
    scaling_factor = float(scaling_factor)
    if not np.isfinite(scaling_factor) or scaling_factor <= 0:
        raise ValueError(f"scaling_factor must be a positive number, got {scaling_factor}")
    W = model.recurrent_weights(use_initial_weights) / scaling_factor
    td = model.decay_constants(use_initial_weights)
    td0 = None
    if len(model.taus) == 1 or model.taus_gaus0 is not None:
        td0 = model.decay_constants(use_initial_weights=True)
    return SpikingNetwork(
        W=W, WT=np.ascontiguousarray(W.T), w_in=model.w_in, w_out=model.w_out / scaling_factor,
        td=td, td0=td0, exc=model.exc, scaling_factor=scaling_factor,
        use_initial_weights=use_initial_weights,
    )


@dataclass(frozen=True, eq=False)
class Drive:
    """A stimulus on the LIF time grid: external current per unit and the step size."""

    ext: np.ndarray  # N x n_columns after downsampling: w_in @ u[:, ::downsample]
    dt: float  # s
    nt: int  # number of LIF steps
    downsample: int

    @property
    def T(self) -> float:
        """Trial duration in seconds, as the reference computes it."""
        return (self.ext.shape[1] - 1) * self.dt * STEPS_PER_COLUMN

    @property
    def times(self) -> np.ndarray:
        """Time (s) at the end of each step: step i ends at i * dt."""
        return np.arange(1, self.nt + 1) * self.dt


def make_drive(network: SpikingNetwork, u, downsample: int = 1) -> Drive:
    """Validate a stimulus (n_inputs x n_columns, 5 ms columns) and put it on the LIF grid."""
    u = np.asarray(u, dtype=np.float64)
    n_inputs = network.w_in.shape[1]
    if u.ndim == 1 and n_inputs == 1:
        u = u[None, :]
    if u.ndim != 2 or u.shape[0] != n_inputs:
        raise ValueError(f"stimulus u must have shape ({n_inputs}, n_timesteps) for this model, got {u.shape}")
    if not np.isfinite(u).all():
        raise ValueError("stimulus u has non-finite values (NaN or Inf)")
    if int(downsample) != downsample or downsample < 1:
        raise ValueError(f"downsample must be a positive integer, got {downsample}")
    downsample = int(downsample)
    u = u[:, ::downsample]
    if u.shape[1] < 2:
        raise ValueError(f"stimulus u needs at least 2 columns after downsampling by {downsample}, got {u.shape[1]}")
    ext = np.ascontiguousarray(network.w_in @ u)
    return Drive(ext=ext, dt=BASE_DT * downsample, nt=(u.shape[1] - 1) * STEPS_PER_COLUMN, downsample=downsample)


@dataclass(frozen=True)
class Stimulation:
    """Artificial stimulation: push ``units`` up (exc) or down (inh) by 0.5 mV with p = 0.5
    per step, for simulation steps first <= i < stop (1-based steps, as the reference)."""

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
        units = tuple(dict.fromkeys(int(x) for x in np.asarray(stims["units"]).reshape(-1)))  # each unit once
        result = cls(mode=mode, units=units, first=int(dur[0]), stop=int(dur[1]))
        result.validate(n_units)
        return result

    def validate(self, n_units: int) -> None:
        if self.mode not in ("none", "exc", "inh"):
            raise ValueError(f"stimulation mode must be 'none', 'exc' or 'inh', got '{self.mode}'")
        bad = [u for u in self.units if not 0 <= u < n_units]
        if bad:
            raise ValueError(f"stimulated units {bad} are outside 0..{n_units - 1}")
        if self.mode != "none" and self.stop < self.first:
            raise ValueError(f"stimulation window [{self.first}, {self.stop}) ends before it starts")


@dataclass(eq=False)
class LIFTrial:
    """A recorded trial. Recordings are steps x units (row i-1 holds step i); a recording
    that was not asked for is None."""

    network: SpikingNetwork
    drive: Drive
    v0: np.ndarray
    voltages: np.ndarray | None  # nt x N, mV, spikes drawn at +30 mV (the reference's REC)
    spikes: np.ndarray | None  # nt x N bool
    rates: np.ndarray | None  # nt x N filtered spike trains r (the reference's rs, transposed)
    synaptic_currents: np.ndarray | None  # nt x N, IPSC at the top of each step
    out: np.ndarray  # nt network output, (w_out / lambda) . r
    spike_counts: np.ndarray  # spikes per unit from step 10 on
    stimulation: Stimulation = field(default_factory=Stimulation)

    @property
    def times(self) -> np.ndarray:
        return self.drive.times

    @property
    def firing_rates(self) -> np.ndarray:
        """Mean firing rate (Hz) per unit, the reference's all_fr."""
        return self.spike_counts / self.drive.T


def _stim_arrays(stimulation: Stimulation | None, n_units: int):
    stimulation = stimulation or Stimulation()
    stimulation.validate(n_units)
    return stimulation, np.asarray(stimulation.units, dtype=np.int64)


def _noise_inputs(drive, n_units, noise, stim_draws):
    if noise is None:
        return np.empty((0, n_units)), np.empty(0)
    noise = np.ascontiguousarray(noise, dtype=np.float64)
    if noise.shape != (drive.nt, n_units):
        raise ValueError(f"noise must have shape ({drive.nt}, {n_units}), got {noise.shape}")
    stim_draws = np.zeros(drive.nt) if stim_draws is None else np.ascontiguousarray(stim_draws, dtype=np.float64)
    if stim_draws.shape != (drive.nt,):
        raise ValueError(f"stim_draws must have shape ({drive.nt},), got {stim_draws.shape}")
    return noise, stim_draws


def _run(network, drive, seed, stimulation, record=(), v0=None, noise=None, stim_draws=None):
    n = network.N
    if drive.ext.shape[0] != n:
        raise ValueError(f"drive is for {drive.ext.shape[0]} units, network has {n}")
    stimulation, units = _stim_arrays(stimulation, n)
    state = seed_state(seed)
    drawn_v0 = lif.initial_voltages(state, n)  # always drawn, so the stream is the same either way
    v0 = drawn_v0 if v0 is None else np.asarray(v0, dtype=np.float64).reshape(n)
    noise, stim_draws = _noise_inputs(drive, n, noise, stim_draws)
    unknown = set(record) - set(RECORDINGS)
    if unknown:
        raise ValueError(f"cannot record {sorted(unknown)}; choose from {', '.join(RECORDINGS)}")

    def recording(name, dtype=np.float64):
        return np.zeros((drive.nt, n) if name in record else (0, n), dtype=dtype)

    REC, rs, ipscs = recording("voltages"), recording("rates"), recording("currents")
    spk = recording("spikes", np.bool_)
    out = np.empty(drive.nt)
    counts = np.zeros(n, dtype=np.int64)
    lif.run_lif_trial(
        network.WT, drive.ext, network.td, network.w_out, drive.dt, drive.nt, v0,
        state, ZIGGURAT_KI, ZIGGURAT_WI, ZIGGURAT_FI, noise, stim_draws,
        stimulation.sign, units, stimulation.first, stimulation.stop,
        REC, spk, rs, ipscs, out, counts,
    )
    kept = [a if name in record else None for name, a in zip(RECORDINGS, (REC, spk, rs, ipscs))]
    return (v0, *kept, out, counts, stimulation)


def simulate_trial(network, drive, seed=0, stimulation=None, *, record=RECORDINGS, v0=None, noise=None,
                   stim_draws=None) -> LIFTrial:
    """Simulate one trial, recording every step of the arrays named in ``record``.

    ``seed`` (an int or a tuple of ints) fixes the initial voltages and all noise, so the
    same seed gives the same trial whatever is recorded. ``record`` is a subset of
    RECORDINGS (recording less is faster: the dashboard skips rates and currents). ``v0``,
    ``noise`` (nt x N standard normals) and ``stim_draws`` (nt uniforms) override the
    random stream; the equivalence tests use them.
    """
    v0, REC, spk, rs, ipscs, out, counts, stimulation = _run(
        network, drive, seed, stimulation, tuple(record), v0, noise, stim_draws)
    return LIFTrial(network, drive, v0, REC, spk, rs, ipscs, out, counts, stimulation)


def simulate_output(network, drive, seed=0, stimulation=None, *, v0=None, noise=None, stim_draws=None):
    """Simulate one trial keeping only the output trace and spike counts (for sweeps).

    Returns ``(out, spike_counts)``; identical to ``simulate_trial`` with the same seed.
    Releases the GIL, so threads can run trials in parallel.
    """
    _, _, _, _, _, out, counts, _ = _run(network, drive, seed, stimulation, (), v0, noise, stim_draws)
    return out, counts

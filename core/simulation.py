"""The Python side of the LIF kernel: one call simulates one network on one drive.

``simulate`` checks its inputs, allocates what the kernel (``rate2spike.lif``) fills, and
returns a ``Recording``. A run is fixed by the network, the drive, the stimulation, the seed
and the method's constants (``LIFParameters``, the reference's by default): the same seed gives
the same spikes whatever thread runs it and whatever is recorded.
Trials of a task go through ``rate2spike.trial.run_trial``, which calls this.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from rate2spike import lif
from rate2spike.fastrng import Lanes
from rate2spike.network import Drive, SpikingNetwork, Stimulation
from rate2spike.parameters import DEFAULT_PARAMETERS, LIFParameters

RECORDINGS = ("voltage", "spikes", "rate", "synaptic_current")  # what can be recorded at every step
# The kernel's arithmetic precision. float64 is the reference's; float32 (a faster sweep mode, off
# by default) is checked against it statistically (docs/method.md, "Single precision").
PRECISIONS = {"float64": np.float64, "float32": np.float32}


def check_precision(precision) -> str:
    """The precision's name, or a ValueError naming the choices."""
    name = getattr(precision, "__name__", precision)
    if not isinstance(name, str) or name not in PRECISIONS:
        raise ValueError(f"precision must be one of {', '.join(PRECISIONS)}, got {precision!r}")
    return name


@dataclass(frozen=True, eq=False)
class Recording:
    """What one run of the kernel gives. Step-by-step recordings are nt x N (row i - 1 holds
    step i); one that was not asked for is None."""

    network: SpikingNetwork
    drive: Drive
    stimulation: Stimulation
    v0: np.ndarray  # N initial voltages (mV)
    out: np.ndarray  # nt network output (w_out / lambda) . r
    spike_counts: np.ndarray  # N spikes per unit from step params.firing_rate_first_step (10) on
    voltage: np.ndarray | None = None  # mV; a spike is drawn at params.v_spike_drawn (the reference's REC)
    spikes: np.ndarray | None = None  # bool
    rate: np.ndarray | None = None  # r, the filtered spike train (Hz; the reference's rs, transposed)
    synaptic_current: np.ndarray | None = None  # mV, at the top of each step (the reference's IPSCs)
    params: LIFParameters = DEFAULT_PARAMETERS  # the method's constants the run used

    @property
    def times(self) -> np.ndarray:
        """Time (s) at the end of each recorded step."""
        return self.drive.times

    def spike_events(self) -> tuple[np.ndarray, np.ndarray]:
        """(step rows, units) of every recorded spike, in time order. Scans the rows with a spike
        first: a trial has far fewer spikes than unit-steps, so this is several times faster
        than ``np.nonzero`` over the whole nt x N matrix."""
        if self.spikes is None:
            raise ValueError("spikes were not recorded in this run")
        rows = np.flatnonzero(self.spikes.any(axis=1))
        steps, units = np.nonzero(self.spikes[rows])
        return rows[steps], units

    @property
    def firing_rates(self) -> np.ndarray:
        """Mean firing rate (Hz) per unit: spikes from step ``params.firing_rate_first_step`` (10) on,
        over T (the reference's all_fr)."""
        return self.spike_counts / self.drive.T


def _explicit_noise(drives, n_units: int, noise, stim_draws):
    """The kernel's noise inputs (nt x K*N normals, nt x K uniforms): empty (draw from the
    seeds' streams) or the given K x nt x N and K x nt arrays, checked and laid out step-major."""
    k_trials, nt = len(drives), drives[0].nt
    if noise is None:
        return np.empty((0, k_trials * n_units)), np.empty((0, k_trials))
    noise = np.asarray(noise, dtype=np.float64)
    if noise.shape != (k_trials, nt, n_units):
        raise ValueError(f"noise must have shape ({k_trials}, {nt}, {n_units}), got {noise.shape}")
    stim_draws = np.zeros((k_trials, nt)) if stim_draws is None else np.asarray(stim_draws, dtype=np.float64)
    if stim_draws.shape != (k_trials, nt):
        raise ValueError(f"stim_draws must have shape ({k_trials}, {nt}), got {stim_draws.shape}")
    return (np.ascontiguousarray(noise.transpose(1, 0, 2).reshape(nt, k_trials * n_units)),
            np.ascontiguousarray(stim_draws.T))


def _initial_voltages(lanes, n_units: int, v0, params: LIFParameters) -> np.ndarray:
    """S x N initial voltages (mV): drawn first from each seed's scalar stream (always, so the
    streams are the same either way), or the given ``v0``, checked."""
    drawn = np.stack([lif.initial_voltages(stream.scalar, n_units, params.v_initial_low, params.v_initial_high)
                      for stream in lanes])
    if v0 is None:
        return drawn
    v0 = np.asarray(v0, dtype=np.float64)
    if v0.shape != drawn.shape:
        raise ValueError(f"v0 must have shape {drawn.shape}, got {v0.shape}")
    return v0


def _check_lockstep(drives, n_units: int) -> None:
    for drive in drives:
        if drive.ext.shape[0] != n_units:
            raise ValueError(f"drive is for {drive.ext.shape[0]} units, network has {n_units}")
    first = drives[0]
    for drive in drives[1:]:
        if (drive.nt, drive.dt, drive.ext.shape[1]) != (first.nt, first.dt, first.ext.shape[1]):
            raise ValueError(f"trials run together must have the same time grid: {drive.nt} steps of {drive.dt} s "
                             f"against {first.nt} of {first.dt} s")


def simulate(network: SpikingNetwork, drive: Drive, seed=0, stimulation: Stimulation | None = None, *,
             record=(), v0=None, noise=None, stim_draws=None, precision="float64",
             params: LIFParameters = DEFAULT_PARAMETERS) -> Recording:
    """Simulate one run, recording every step of the arrays named in ``record``.

    ``seed`` (an int or a tuple of ints) fixes the initial voltages and all noise. ``record``
    is a subset of RECORDINGS; recording less is faster and gives the same run. ``v0`` (N, mV),
    ``noise`` (nt x N standard normals) and ``stim_draws`` (nt uniforms) replace the random
    stream; the equivalence tests use them. ``precision`` is the arithmetic's, from PRECISIONS
    (float32 draws the same noise, rounded). ``params`` are the method's constants (``LIFParameters``:
    the reference's by default; ``LIFParameters(t_ref=0.0)`` runs without a refractory period).
    Releases the GIL, so threads run trials in parallel.
    """
    return simulate_batch(network, [drive], [seed], stimulation, record=record, precision=precision, params=params,
                          v0=None if v0 is None else np.asarray(v0, dtype=np.float64).reshape(1, -1),
                          noise=None if noise is None else np.asarray(noise, dtype=np.float64)[None],
                          stim_draws=None if stim_draws is None else np.asarray(stim_draws, dtype=np.float64)[None])[0]


def simulate_batch(network: SpikingNetwork, drives, seeds, stimulation: Stimulation | None = None, *,
                   record=(), v0=None, noise=None, stim_draws=None, precision="float64",
                   params: LIFParameters = DEFAULT_PARAMETERS) -> list[Recording]:
    """Simulate K runs of one network in lockstep: one per drive, with the matching seed (the
    drives must share their time grid). Run k gives exactly what ``simulate(network, drives[k],
    seeds[k], ...)`` gives; together they run faster, because every per-unit update is one
    loop over all K runs. ``v0`` (K x N), ``noise`` (K x nt x N) and ``stim_draws`` (K x nt)
    replace the random streams, as in ``simulate``; ``precision`` and ``params`` as there.
    """
    return simulate_networks([network], drives, seeds, stimulation, record=record, v0=v0, noise=noise,
                             stim_draws=stim_draws, precision=precision, params=params)


def _same_but_weights(networks) -> None:
    first = networks[0]
    for network in networks[1:]:
        if network.N != first.N or not (network.td == first.td).all():
            raise ValueError("networks run together must have the same units and decay constants; only the "
                             "recurrent and readout weights (lambda) may differ")


def simulate_networks(networks, drives, seeds, stimulation: Stimulation | None = None, *,
                      record=(), v0=None, noise=None, stim_draws=None, precision="float64",
                      params: LIFParameters = DEFAULT_PARAMETERS) -> list[Recording]:
    """Simulate every seed (with its drive) in every network, in lockstep: the same trials at
    several lambdas. The networks must differ only in their weights (``convert`` of one model at
    several scaling factors) and the drives share their time grid. Returns the runs seed-major:
    run s * len(networks) + g is seeds[s] in networks[g], exactly what ``simulate(networks[g],
    drives[s], seeds[s], ...)`` gives. Each seed's noise is drawn once per step for all the
    networks, so M networks cost far less than M runs. ``v0`` (S x N), ``noise`` (S x nt x N)
    and ``stim_draws`` (S x nt) replace the seeds' streams, as in ``simulate``; ``precision``
    and ``params`` as there.
    """
    networks, drives, seeds = list(networks), list(drives), list(seeds)
    if not networks:
        raise ValueError("need at least one network")
    if not drives or len(seeds) != len(drives):
        raise ValueError(f"need one seed per drive, got {len(drives)} drives and {len(seeds)} seeds")
    _same_but_weights(networks)
    if not isinstance(params, LIFParameters):
        raise ValueError(f"params must be a LIFParameters (rate2spike.LIFParameters), got {type(params).__name__}")
    real = PRECISIONS[check_precision(precision)]
    n, n_streams, n_networks = networks[0].N, len(drives), len(networks)
    _check_lockstep(drives, n)
    unknown = set(record) - set(RECORDINGS)
    if unknown:
        raise ValueError(f"cannot record {sorted(unknown)}; choose from {', '.join(RECORDINGS)}")
    stimulation = stimulation or Stimulation()
    stimulation.validate(n)
    lanes = [Lanes(seed, n) for seed in seeds]
    v0 = _initial_voltages(lanes, n, v0, params)
    noise, stim_draws = _explicit_noise(drives, n, noise, stim_draws)
    nt, k_trials = drives[0].nt, n_streams * n_networks
    if nt >= 2**24 and real is np.float32:  # the kernel counts steps in the state's precision
        raise ValueError(f"float32 runs hold step numbers below 2**24; this trial has {nt} steps: use float64")
    arrays = {name: np.zeros((nt if name in record else 0, k_trials * n), dtype=bool if name == "spikes" else real)
              for name in RECORDINGS}
    out = np.empty((k_trials, nt))
    counts = np.zeros(k_trials * n, dtype=np.int64)
    ext_by_column = np.concatenate([drive.ext.T for drive in drives], axis=1, dtype=real)  # C-contiguous
    lif.run_lif_trials(
        np.stack([network.WT for network in networks], dtype=real), ext_by_column, networks[0].td,
        np.stack([network.w_out for network in networks], dtype=real), drives[0].dt, nt, lif.kernel_constants(params),
        np.repeat(v0, n_networks, axis=0).reshape(-1).astype(real, copy=False),
        np.stack([stream.scalar for stream in lanes]),
        *(np.concatenate([getattr(stream, word) for stream in lanes]) for word in ("s0", "s1", "s2", "s3", "bits")),
        np.zeros(-(-n_streams * n // 8) * 8, np.uint8),  # the flags of every lane, whole 8-byte words
        noise, stim_draws,
        stimulation.sign, np.asarray(stimulation.units, dtype=np.int64), stimulation.first, stimulation.stop,
        *arrays.values(), out, counts,
    )
    counts = counts.reshape(k_trials, n)

    def trial_part(array, k):
        part = array[:, k * n:(k + 1) * n]
        return part if k_trials == 1 else np.ascontiguousarray(part)

    return [Recording(networks[k % n_networks], drives[k // n_networks], stimulation, v0[k // n_networks], out[k],
                      counts[k], **{name: trial_part(array, k) for name, array in arrays.items() if name in record},
                      params=params)
            for k in range(k_trials)]

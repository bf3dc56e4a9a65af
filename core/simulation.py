"""The Python side of the LIF kernel: one call simulates one network on one drive.

``simulate`` checks its inputs, allocates what the kernel (``rate2spike.lif``) fills, and
returns a ``Recording``. A run is fixed by the network, the drive, the stimulation and the
seed: the same seed gives the same spikes whatever thread runs it and whatever is recorded.
Trials of a task go through ``rate2spike.trial.run_trial``, which calls this.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from rate2spike import lif
from rate2spike.fastrng import Lanes
from rate2spike.network import Drive, SpikingNetwork, Stimulation

RECORDINGS = ("voltage", "spikes", "rate", "synaptic_current")  # what can be recorded at every step


@dataclass(frozen=True, eq=False)
class Recording:
    """What one run of the kernel gives. Step-by-step recordings are nt x N (row i - 1 holds
    step i); one that was not asked for is None."""

    network: SpikingNetwork
    drive: Drive
    stimulation: Stimulation
    v0: np.ndarray  # N initial voltages (mV)
    out: np.ndarray  # nt network output (w_out / lambda) . r
    spike_counts: np.ndarray  # N spikes per unit from step 10 on
    voltage: np.ndarray | None = None  # mV; a spike is drawn at +30 mV (the reference's REC)
    spikes: np.ndarray | None = None  # bool
    rate: np.ndarray | None = None  # r, the filtered spike train (Hz; the reference's rs, transposed)
    synaptic_current: np.ndarray | None = None  # mV, at the top of each step (the reference's IPSCs)

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
        """Mean firing rate (Hz) per unit: spikes from step 10 on over T (the reference's all_fr)."""
        return self.spike_counts / self.drive.T


def _explicit_noise(drive: Drive, n_units: int, noise, stim_draws):
    """The kernel's noise inputs: empty (draw from the seed's stream) or checked arrays."""
    if noise is None:
        return np.empty((0, n_units)), np.empty(0)
    noise = np.ascontiguousarray(noise, dtype=np.float64)
    if noise.shape != (drive.nt, n_units):
        raise ValueError(f"noise must have shape ({drive.nt}, {n_units}), got {noise.shape}")
    stim_draws = np.zeros(drive.nt) if stim_draws is None else np.ascontiguousarray(stim_draws, dtype=np.float64)
    if stim_draws.shape != (drive.nt,):
        raise ValueError(f"stim_draws must have shape ({drive.nt},), got {stim_draws.shape}")
    return noise, stim_draws


def simulate(network: SpikingNetwork, drive: Drive, seed=0, stimulation: Stimulation | None = None, *,
             record=(), v0=None, noise=None, stim_draws=None) -> Recording:
    """Simulate one run, recording every step of the arrays named in ``record``.

    ``seed`` (an int or a tuple of ints) fixes the initial voltages and all noise. ``record``
    is a subset of RECORDINGS; recording less is faster and gives the same run. ``v0`` (N, mV),
    ``noise`` (nt x N standard normals) and ``stim_draws`` (nt uniforms) replace the random
    stream; the equivalence tests use them. Releases the GIL, so threads run trials in parallel.
    """
    n = network.N
    if drive.ext.shape[0] != n:
        raise ValueError(f"drive is for {drive.ext.shape[0]} units, network has {n}")
    unknown = set(record) - set(RECORDINGS)
    if unknown:
        raise ValueError(f"cannot record {sorted(unknown)}; choose from {', '.join(RECORDINGS)}")
    stimulation = stimulation or Stimulation()
    stimulation.validate(n)
    lanes = Lanes(seed, n)
    state = lanes.scalar
    drawn_v0 = lif.initial_voltages(state, n)  # always drawn, so the stream is the same either way
    v0 = drawn_v0 if v0 is None else np.asarray(v0, dtype=np.float64).reshape(n)
    noise, stim_draws = _explicit_noise(drive, n, noise, stim_draws)
    arrays = {name: np.zeros((drive.nt if name in record else 0, n), dtype=bool if name == "spikes" else np.float64)
              for name in RECORDINGS}
    out = np.empty(drive.nt)
    counts = np.zeros(n, dtype=np.int64)
    lif.run_lif_trial(
        network.WT, drive.ext, network.td, network.w_out, drive.dt, drive.nt, v0,
        *lanes.arrays(), noise, stim_draws,
        stimulation.sign, np.asarray(stimulation.units, dtype=np.int64), stimulation.first, stimulation.stop,
        *arrays.values(), out, counts,
    )
    return Recording(network, drive, stimulation, v0, out, counts,
                     **{name: array for name, array in arrays.items() if name in record})

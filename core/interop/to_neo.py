"""Spikes of exported trials as a Neo block (for Elephant and the tools that read Neo), written with
Neo's MATLAB I/O (``NeoMatlabIO``, a .mat file any Neo reads back and can re-save in its other
formats). Neo's NIX I/O took 45 s for three go-nogo trials (600 annotated spike trains), this 1.3 s.

One segment per trial (annotated with its condition, seed, index and score); in each, one
SpikeTrain per LIF unit (times in s from the trial's start, annotated with the unit's index, type,
decay constant td, λ and the model file's SHA-256) and the network output as an AnalogSignal, one
sample per LIF step from dt on.
"""

from __future__ import annotations

import numpy as np

from rate2spike.interop.common import Exported, require, trial_facts, unit_spike_times, write_by_name


def neo_block(exported: Exported, trials):
    """An in-memory ``neo.Block`` of ``trials`` (``ScoredTrial`` with spikes recorded)."""
    neo, pq = require("neo"), require("quantities")
    prov, net = exported.provenance, exported.network
    block = neo.Block(name=prov["model"], description=f"LIF network converted at lambda = {prov['scaling_factor']:g}",
                      task=prov["task"], scaling_factor=prov["scaling_factor"], model_sha256=prov["model_sha256"])
    for trial in trials:
        facts = trial_facts(trial)
        segment = neo.Segment(name=f"trial {facts['trial_index']} of seed {facts['seed']}", **facts)
        duration, dt = trial.recording.drive.T, trial.recording.drive.dt
        for unit, times in enumerate(unit_spike_times(trial)):
            segment.spiketrains.append(neo.SpikeTrain(
                times, units=pq.s, t_start=0.0 * pq.s, t_stop=duration * pq.s, name=f"unit {unit}", unit=unit,
                excitatory=bool(net.exc[unit]), decay_constant_s=float(net.td[unit]),
                scaling_factor=prov["scaling_factor"], model_sha256=prov["model_sha256"]))
        segment.analogsignals.append(neo.AnalogSignal(
            trial.recording.out.reshape(-1, 1), units=pq.dimensionless, sampling_period=dt * pq.s, t_start=dt * pq.s,
            name="network_output", description="(w_out / lambda) . r at the end of each LIF step"))
        block.segments.append(segment)
    return block


def write_neo(exported: Exported, trials, path) -> None:
    """Write ``trials`` to a Neo MATLAB file at ``path`` (``neo.io.NeoMatlabIO``), atomically."""
    neo = require("neo")
    block = neo_block(exported, trials)
    write_by_name(path, lambda temporary: neo.io.NeoMatlabIO(str(temporary)).write_block(block))


def read_neo_spikes(path) -> list[list[np.ndarray]]:
    """Per segment (trial), per unit, its spike times (s) as stored in the file (the round trip's reading)."""
    neo = require("neo")
    block = neo.io.NeoMatlabIO(str(path)).read_block()
    return [[np.asarray(st.rescale("s").magnitude) for st in segment.spiketrains] for segment in block.segments]

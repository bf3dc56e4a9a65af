"""Spikes of exported trials as an NWB file (Neurodata Without Borders, via pynwb).

Trials follow one another on one clock (trial k from k x T s) and are listed in the trials table
with their condition, seed, index and score. The units table holds one row per LIF unit: its spike
times over all trials and its metadata (excitatory or not, synaptic decay constant td in s, λ, the
model file's SHA-256). The network output (w_out / λ) . r is a TimeSeries in acquisition, one
value per LIF step. The file passes ``nwbinspector`` without errors (a test checks it).
"""

from __future__ import annotations

import datetime

import numpy as np

from rate2spike.interop.common import Exported, require, trial_facts, unit_spike_times, write_by_name

SESSION_START = datetime.datetime(2019, 1, 1, tzinfo=datetime.timezone.utc)  # a simulation has no date: fixed


def nwb_file(exported: Exported, trials):
    """An in-memory ``pynwb.NWBFile`` of ``trials`` (``ScoredTrial`` with spikes recorded)."""
    pynwb = require("pynwb")
    prov, net = exported.provenance, exported.network
    nwb = pynwb.NWBFile(
        session_description=f"LIF network converted from rate model {prov['model']} ({prov['task']}) at lambda = "
                            f"{prov['scaling_factor']:g}, simulated by rate2spike",
        identifier=f"rate2spike-{prov['model_sha256'][:16]}-lambda{prov['scaling_factor']:g}-seed{trials[0].spec.seed}",
        session_start_time=SESSION_START, source_script="rate2spike export --to nwb",
        source_script_file_name="rate2spike/interop/to_nwb.py", experiment_description=f"spiking trials of the {prov['task']} task by a LIF network converted from a trained "
                               "rate RNN (Kim, Li & Sejnowski, PNAS 2019)",
        institution="simulation (rate2spike)", keywords=["spiking RNN", "LIF", "rate-to-spike conversion", prov["task"]],
        subject=pynwb.file.Subject(subject_id="simulated-network", description="a simulated LIF network, no animal",
                                   sex="U", age="P0D"),
        notes=f"model_sha256 {prov['model_sha256']}; LIF constants {prov['lif_parameters']}")
    nwb.add_trial_column("condition", "the task's condition of the trial")
    nwb.add_trial_column("seed", "the trial's seed (rate2spike TrialSpec.seed)")
    nwb.add_trial_column("trial_index", "the trial's index within its seed (TrialSpec.index)")
    nwb.add_trial_column("correct", "scored correct by the task's rule")
    duration = trials[0].recording.drive.T
    per_unit = [[] for _ in range(net.N)]
    outputs = []
    for k, trial in enumerate(trials):
        start = k * duration
        facts = trial_facts(trial)
        nwb.add_trial(start_time=start, stop_time=start + duration, **facts)
        for unit, times in enumerate(unit_spike_times(trial)):
            per_unit[unit].append(times + start)
        outputs.append(trial.recording.out)
    for name, text in (("excitatory", "True for an excitatory unit (Dale's principle)"),
                       ("decay_constant", "synaptic decay constant td of the unit, in s"),
                       ("scaling_factor", "lambda: recurrent and readout weights were divided by it"),
                       ("model_sha256", "SHA-256 of the rate model file the network was converted from")):
        nwb.add_unit_column(name, text)
    nwb.units.resolution = float(trials[0].recording.drive.dt)  # spikes fall at the ends of LIF steps
    for unit in range(net.N):
        nwb.add_unit(spike_times=np.concatenate(per_unit[unit]), excitatory=bool(net.exc[unit]),
                     decay_constant=float(net.td[unit]), scaling_factor=float(prov["scaling_factor"]),
                     model_sha256=prov["model_sha256"])
    dt = trials[0].recording.drive.dt
    nwb.add_acquisition(pynwb.TimeSeries(
        name="network_output", data=np.concatenate(outputs), unit="a.u.", starting_time=dt, rate=1.0 / dt,
        description="the LIF network's output (w_out / lambda) . r at the end of each step, trials one after another"))
    return nwb


def write_nwb(exported: Exported, trials, path) -> None:
    """Write ``trials`` to an NWB file at ``path``, atomically."""
    pynwb = require("pynwb")
    nwb = nwb_file(exported, trials)

    def write(temporary):
        with pynwb.NWBHDF5IO(str(temporary), "w") as io:
            io.write(nwb)

    write_by_name(path, write)


def read_nwb_spikes(path) -> list[np.ndarray]:
    """Per unit, its spike times (s) as stored in an NWB file (the round trip's reading)."""
    pynwb = require("pynwb")
    with pynwb.NWBHDF5IO(str(path), "r") as io:
        units = io.read().units
        return [np.asarray(units["spike_times"][n]) for n in range(len(units))]

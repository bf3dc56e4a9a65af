"""Saving one trial (the dashboard's and the CLI's export): its arrays under the reference's
names and every setting of its spec, so the file says what it holds and can be re-run.

Compact: spikes (spk) and the output (out) are kept at every step, exactly; voltages (REC),
filtered rates (rs) and synaptic currents (IPSCs) every ``EXPORT_EVERY`` steps (0.5 ms at the
default step) in single precision, with their times in ``t_recorded``. A go-nogo trial of 200
units is about 4 MB instead of 56. The full-resolution trial is the same seeded run again:
``TrialSpec`` with the recorded settings (or ``rate2spike simulate``).
"""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import scipy.io

from rate2spike.model import write_atomic, write_mat_atomic
from rate2spike.trial import ScoredTrial


EXPORT_EVERY = 10  # steps between the saved samples of voltages, rates and currents


def trial_variables(trial: ScoredTrial) -> dict:
    """The trial's recordings (spk N x nt, rs and IPSCs N x samples, REC samples x N, in the
    orientation of LIF_network_fnc) and settings, the LIF constants as ``lif_<field>`` (s, mV)."""
    spec, run = trial.spec, trial.recording
    every = slice(EXPORT_EVERY - 1, None, EXPORT_EVERY)  # samples at 0.5, 1.0, ... ms (step ends)
    variables = {
        "model": spec.model.name, "task": spec.task.name, "condition": trial.stimulus.condition.name,
        "seed": spec.seed, "trial_index": spec.index, "scaling_factor": spec.scaling_factor,
        "downsample": spec.downsample, "use_initial_weights": int(spec.use_initial_weights),
        "initial_decay": int(spec.initial_decay),
        "rectify_weights": int(spec.rectify_weights),
        "stim_mode": spec.stimulation.mode, "stim_units": np.asarray(spec.stimulation.units, dtype=np.int64),
        "stim_dur": np.array([spec.stimulation.first, spec.stimulation.stop]),
        "correct": int(trial.outcome.correct), "u": trial.stimulus.u,
        "condition_levels": np.array([f"{name}={level}" for name, level in spec.condition], dtype=str),
        "dt": run.drive.dt, "T": run.drive.T, "t_recorded": run.times[every], "td": run.network.td, "v0": run.v0,
        "exc": run.network.exc.reshape(-1, 1), "out": run.out, "all_fr": run.firing_rates.reshape(-1, 1),
    }
    variables.update({f"task_option_{name}": value for name, value in spec.task_options})
    variables.update({f"lif_{name}": value for name, value in spec.params.as_dict().items()})  # the method's constants
    def sampled(values, transpose):
        if values is None:
            return None
        values = values[every].astype(np.float32)
        return values.T if transpose else values

    arrays = {"REC": sampled(run.voltage, False), "spk": None if run.spikes is None else run.spikes.T.astype(np.uint8),
              "rs": sampled(run.rate, True), "IPSCs": sampled(run.synaptic_current, True),
              "rate_output": None if trial.rate_response is None else trial.rate_response.o}
    variables.update({name: value for name, value in arrays.items() if value is not None})
    return variables


def _write(target, variables: dict, fmt: str) -> None:
    if fmt == "mat":
        scipy.io.savemat(target, variables, do_compression=True)
    elif fmt == "npz":
        np.savez_compressed(target, **variables)
    else:
        raise ValueError(f"unknown format '{fmt}'; choose mat or npz")


def save_trial(path, trial: ScoredTrial) -> None:
    """Write a trial to ``.npz`` or ``.mat`` (chosen by the suffix), atomically: a link at ``path``
    is replaced, never written through (``rate2spike.model.write_atomic``)."""
    path = Path(path)
    fmt = path.suffix.lstrip(".")
    if fmt not in ("mat", "npz"):
        raise ValueError(f"{path}: choose a .mat or .npz file name")
    if fmt == "mat":
        write_mat_atomic(path, trial_variables(trial))
    else:
        variables = trial_variables(trial)
        write_atomic(path, lambda fh: _write(fh, variables, fmt))


def trial_bytes(trial: ScoredTrial, fmt: str) -> bytes:
    """The same export as bytes, for a download button."""
    buffer = io.BytesIO()
    _write(buffer, trial_variables(trial), fmt)
    return buffer.getvalue()


def trial_file_name(trial: ScoredTrial, fmt: str) -> str:
    """A name that says what the file holds, read from the trial itself."""
    spec = trial.spec
    stem = spec.model.path.stem if spec.model.path is not None else "trial"
    return f"{stem}_lambda{spec.scaling_factor:g}_seed{spec.seed}.{fmt}"

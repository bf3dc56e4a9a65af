"""Saving one simulated trial (the dashboard's and the CLI's export)."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import scipy.io

from core.model import write_mat_atomic


def trial_variables(trial, **extra) -> dict:
    """The arrays of a trial under the reference's names (spk, rs N x nt; REC nt x N)."""
    variables = {
        "REC": trial.voltages, "spk": trial.spikes.T.astype(np.uint8), "rs": trial.rates.T,
        "out": trial.out, "t": trial.times, "all_fr": trial.firing_rates.reshape(-1, 1),
        "scaling_factor": trial.network.scaling_factor, "dt": trial.drive.dt, "T": trial.drive.T,
        "td": trial.network.td, "v0": trial.v0, "exc": trial.network.exc.reshape(-1, 1),
    }
    variables.update({k: v for k, v in extra.items() if v is not None})
    return variables


def save_trial(path, trial, **extra) -> None:
    """Write a trial to ``.npz`` or ``.mat`` (chosen by the suffix)."""
    path = Path(path)
    variables = trial_variables(trial, **extra)
    if path.suffix == ".mat":
        write_mat_atomic(path, variables)
    elif path.suffix == ".npz":
        np.savez_compressed(path, **variables)
    else:
        raise ValueError(f"{path}: choose a .mat or .npz file name")


def trial_bytes(trial, fmt: str, **extra) -> bytes:
    """The same export as bytes, for a download button."""
    buffer = io.BytesIO()
    variables = trial_variables(trial, **extra)
    if fmt == "mat":
        scipy.io.savemat(buffer, variables, do_compression=True)
    elif fmt == "npz":
        np.savez_compressed(buffer, **variables)
    else:
        raise ValueError(f"unknown format '{fmt}'; choose mat or npz")
    return buffer.getvalue()

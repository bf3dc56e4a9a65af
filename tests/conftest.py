"""Shared fixtures: synthetic spikeRNN model files in the styles found in the wild."""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
import pytest
import scipy.io


def model_variables(N=60, n_inputs=1, seed=0, style="tf", taus=(4.0, 20.0), gain=1.5):
    """Variables of a random (untrained) model file, shaped as a trainer would save them.

    style 'tf': float32 arrays, bool inh/exc, 2-D vectors, w rectified.
    style 'torch': float64, 1-D vectors, raw w with negative entries.
    """
    rng = np.random.default_rng(seed)
    inh = rng.random(N) < 0.2
    m = np.diag(np.where(inh, -1.0, 1.0))
    mask = rng.random((N, N)) < 0.2
    raw = rng.standard_normal((N, N)) / np.sqrt(N * 0.2) * gain * mask
    w = np.abs(raw) if style == "tf" else raw
    variables = {
        "N": N, "w": w, "w0": np.abs(raw), "m": m, "som_m": np.ones((N, N)),
        "w_in": rng.standard_normal((N, n_inputs)), "w_out": rng.standard_normal((1, N)) / 10,
        "b_out": 0.0, "taus": np.array(taus, dtype=float).reshape(1, -1),
        "inh": inh.reshape(-1, 1), "exc": (~inh).reshape(-1, 1), "activation": "sigmoid",
        "losses": rng.random((1, 7)), "tr": 700,
    }
    if len(taus) == 2:
        variables["taus_gaus"] = rng.standard_normal((N, 1))
        variables["taus_gaus0"] = rng.standard_normal((N, 1))
    if style == "tf":
        for key, value in variables.items():
            if isinstance(value, np.ndarray) and value.dtype == np.float64:
                variables[key] = value.astype(np.float32)
    else:
        variables["w_out"] = variables["w_out"].reshape(-1)
        variables["inh"] = inh.astype(float)
        variables["exc"] = (~inh).astype(float)
        if "taus_gaus" in variables:
            variables["taus_gaus"] = variables["taus_gaus"].reshape(-1)
    return variables


TASK_INPUTS = {"go-nogo": 1, "xor": 2, "mante": 4}


def write_model(path, **kwargs) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    scipy.io.savemat(path, model_variables(**kwargs))
    return path


MODEL_DIR = "P_rec_0.2_Taus_4.0_20.0"


def model_path(root: Path, task: str, N: int) -> Path:
    """Where a trainer would put a model: <root>/models/<task>/P_rec_0.2_Taus_4.0_20.0/Task_..."""
    return root / "models" / task / MODEL_DIR / f"Task_{task}_N_{N}_Taus_4.0_20.0_Act_sigmoid_2019_01_01_000000.mat"


def synthetic_assets(root: Path, tasks=("go-nogo",), N: int = 60, seed: int = 0) -> Path:
    """An assets folder (for $RATE2SPIKE_ASSETS) with one small untrained model per task."""
    for task in tasks:
        write_model(model_path(root, task, N), N=N, n_inputs=TASK_INPUTS[task], seed=seed)
    return root


def reading_constants(params) -> dict:
    """A ``LIFParameters`` as the NumPy reading's constants (tests/numpy_reading.py: CONSTANTS, in
    MATLAB's names), to run the reading on a variant; the reading's own defaults stay its own."""
    return {"tref": params.t_ref, "tm": params.tau_m, "vreset": params.v_reset, "vpeak": params.v_threshold,
            "BIAS": params.bias, "spike_drawn": params.v_spike_drawn, "tr": params.tau_rise,
            "noise_divisor": 1 / params.noise_sd, "kick": params.stim_kick, "kick_probability": params.stim_probability,
            "v0_low": params.v_initial_low, "v0_high": params.v_initial_high,
            "all_fr_from": params.firing_rate_first_step}


def file_digest(path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


@pytest.fixture
def model_file(tmp_path):
    """A small go-nogo-shaped model file (N = 60, TensorFlow style)."""
    return write_model(tmp_path / "Task_go-nogo_N_60_Taus_4.0_20.0_Act_sigmoid_2019_01_01_000000.mat")


@pytest.fixture
def make_model(tmp_path):
    """Factory: make_model(name, **model_variables kwargs) -> path in a temporary folder."""
    def make(name="model.mat", **kwargs):
        return write_model(tmp_path / name, **kwargs)
    return make


@pytest.fixture
def assets(tmp_path, monkeypatch):
    """A synthetic assets folder (one small untrained model per task) as the shipped models."""
    root = synthetic_assets(tmp_path / "assets", tasks=("go-nogo", "xor", "mante"), N=40)
    monkeypatch.setenv("RATE2SPIKE_ASSETS", str(root))
    return root

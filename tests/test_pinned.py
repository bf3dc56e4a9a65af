"""Numbers pinned before the restructure into one trial pipeline: the same seeds must give the
same per-lambda counts on every shipped model, and the spikeRNN API the same arrays.

Recorded with the code as of commit 1ba52b7 (before TrialSpec existed): a default-grid sweep
of 8 trials per lambda, seed 0, on each shipped model; one seeded LIF_network_fnc call with
stimulation on the shipped go-nogo model; evaluate_single_trial for seeds 0..9. A change that
alters a spike anywhere changes these.
"""

from __future__ import annotations

import hashlib

import numpy as np
import pytest

from rate2spike import LIF_network_fnc, evaluate_single_trial, load_model, run_sweep
from rate2spike.paths import shipped_model_dir, shipped_models
from rate2spike.sweep import DEFAULT_SCALING_FACTORS

PINNED_SWEEPS = {
    "go-nogo": {"file": "Task_go-nogo_N_200_Taus_4.0_20.0_Act_sigmoid_2026_11_23_161852.mat",
                "n_correct": [8, 8, 8, 8, 8, 8, 8, 7, 6, 2, 3, 3],
                "spikes": [8204, 8472, 8820, 9392, 9971, 10516, 11166, 11941, 12738, 13668, 14601, 15579]},
    "xor": {"file": "Task_xor_N_200_Taus_4.0_20.0_Act_sigmoid_2026_11_23_164834.mat",
            "n_correct": [8, 8, 7, 8, 8, 8, 7, 8, 8, 8, 8, 8],
            "spikes": [5593, 5707, 5781, 5798, 5946, 6025, 6208, 6246, 6364, 6551, 6643, 6820]},
    "mante": {"file": "Task_mante_N_200_Taus_4.0_20.0_Act_sigmoid_2026_11_23_162048.mat",
              "n_correct": [7, 7, 8, 8, 8, 8, 8, 6, 5, 3, 2, 1],
              "spikes": [14169, 15444, 16776, 18096, 19520, 20765, 22118, 23781, 25563, 27345, 29400, 31285]},
}
PINNED_LIF_NETWORK_FNC = {
    "spk_sum": 1573, "all_fr_sum": 1431.0, "out_last": 5.413918443632894,
    "spk_sha": "ede15f36354f6ed817d7a6c7a37e04ba64bd52acec98e06674a3a109f71807d7",
}
PINNED_SINGLE_TRIALS = [1, 1, 1, 1, 1, 1, 0, 1, 1, 1]


@pytest.mark.parametrize("task", sorted(PINNED_SWEEPS))
def test_sweep_counts_on_the_shipped_models_are_unchanged(task):
    path = shipped_model_dir(task) / PINNED_SWEEPS[task]["file"]
    result = run_sweep(load_model(path), None, DEFAULT_SCALING_FACTORS, 8, seed=0)
    assert result.task == task
    assert result.n_correct.tolist() == PINNED_SWEEPS[task]["n_correct"]
    assert result.spike_totals.astype(int).tolist() == PINNED_SWEEPS[task]["spikes"]


def _go_nogo():
    return next(p for p in shipped_models() if p.parent == shipped_model_dir("go-nogo"))


def test_lif_network_fnc_returns_the_same_arrays():
    u = np.zeros((1, 201))
    u[0, 50:75] = 1
    stims = {"mode": "exc", "dur": [1000, 5000], "units": [1, 2, 3]}
    W, REC, spk, rs, all_fr, out, params = LIF_network_fnc(str(_go_nogo()), 20.0, u, stims, 1, False, seed=5)
    pinned = PINNED_LIF_NETWORK_FNC
    assert int(spk.sum()) == pinned["spk_sum"]
    assert hashlib.sha256(spk.astype(np.uint8).tobytes()).hexdigest() == pinned["spk_sha"]
    assert float(all_fr.sum()) == pinned["all_fr_sum"]
    assert out[-1] == pytest.approx(pinned["out_last"], abs=1e-12)


def test_evaluate_single_trial_gives_the_same_scores():
    path = str(_go_nogo())
    assert [evaluate_single_trial(path, 20.0, "go-nogo", False, 1, seed=s) for s in range(10)] == PINNED_SINGLE_TRIALS

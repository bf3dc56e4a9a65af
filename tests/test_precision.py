"""The single-precision sweep mode (``precision='float32'``): the same equations, and the same
science within the double-precision run's confidence intervals (docs/method.md, "Single precision").

float32 rounds differently, so after some tens of milliseconds a trial's spikes are no longer the
double-precision run's one for one; what a user relies on is that accuracy-vs-lambda curves and
spike statistics do not move beyond their statistical uncertainty. These tests compare the two on
the same trials (same stimuli, initial voltages and noise draws) for the shipped models and for
untrained synthetic networks.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest

from benchmarks.bench import default_bench_model, synthetic_model
from rate2spike.model import load_model
from rate2spike.network import convert, make_drive
from rate2spike.paths import find_model_files, shipped_model_dir
from rate2spike.simulation import simulate, simulate_networks
from rate2spike.sweep import run_sweep, wilson_interval
from rate2spike.trial import TrialSpec, run_trials_at

GRID = [10.0, 25.0, 40.0, 55.0, 70.0, 85.0]  # good and bad lambdas for every shipped model
Z = 1.96  # 95% intervals


def _scored(model, task, precision: str, n_trials: int):
    """(correct[lambda, trial], spikes per unit[lambda, trial, unit]) of trials 0..n_trials-1 at GRID."""

    def one(k):
        trials = run_trials_at([TrialSpec(model, task, index=k, precision=precision)], GRID)[0]
        return [t.outcome.correct for t in trials], [t.recording.spike_counts for t in trials]

    with ThreadPoolExecutor(2) as pool:
        per_trial = list(pool.map(one, range(n_trials)))
    correct = np.array([c for c, _ in per_trial]).T
    counts = np.array([s for _, s in per_trial]).transpose(1, 0, 2)
    return correct, counts


def _mean_interval(samples, axis=0):
    """mean -+ 1.96 standard errors over ``axis``; the error is at least one spike's worth over all
    samples, so a unit that never fires in either precision is not a zero-width interval."""
    n = samples.shape[axis]
    mean = samples.mean(axis=axis)
    error = np.maximum(samples.std(axis=axis, ddof=1) / np.sqrt(n), 1.0 / n)
    return mean - Z * error, mean + Z * error


def _shipped(task):
    return load_model(find_model_files(shipped_model_dir(task))[0], stored_results=False), task


MODELS = {
    "go-nogo": lambda: _shipped("go-nogo"),
    "xor": lambda: _shipped("xor"),
    "mante": lambda: _shipped("mante"),
    "synthetic N=100 seed 1": lambda: (synthetic_model(100, seed=1), "go-nogo"),
    "synthetic N=300 seed 2": lambda: (synthetic_model(300, seed=2), "go-nogo"),
}
TRIALS = {"go-nogo": 100, "xor": 60, "mante": 40}


@pytest.mark.parametrize("name", list(MODELS))
def test_float32_curves_and_spike_statistics_fall_inside_the_float64_intervals(name):
    """At every lambda: float32 accuracy inside float64's 95% Wilson interval, the mean firing rate
    inside float64's 95% interval, and at least 95% of units' rates inside their own intervals."""
    model, task = MODELS[name]()
    n_trials = TRIALS.get(name, 40)
    correct64, counts64 = _scored(model, task, "float64", n_trials)
    correct32, counts32 = _scored(model, task, "float32", n_trials)
    low, high = wilson_interval(correct64.sum(axis=1), n_trials)
    accuracy32 = correct32.mean(axis=1)
    assert ((accuracy32 >= low) & (accuracy32 <= high)).all(), (name, accuracy32, low, high)

    population64, population32 = counts64.sum(axis=2), counts32.sum(axis=2)  # spikes per trial
    low, high = _mean_interval(population64, axis=1)
    mean32 = population32.mean(axis=1)
    assert ((mean32 >= low) & (mean32 <= high)).all(), (name, mean32, low, high)

    low, high = _mean_interval(counts64, axis=1)  # per lambda and unit
    inside = ((counts32.mean(axis=1) >= low) & (counts32.mean(axis=1) <= high)).mean(axis=1)
    assert (inside >= 0.95).all(), (name, inside)
    # the two runs are the same trials, not merely alike: they agree far better than two seeds would
    assert (correct32 == correct64).mean() >= 0.9


def test_float32_runs_the_same_equations_until_rounding_moves_a_spike():
    """Same trial, same noise: the first spikes are the same spikes at the same steps, the voltages
    agree to rounding over the first 10 ms, and the recordings are single precision."""
    model = load_model(default_bench_model())
    network = convert(model, 30.0)
    drive = make_drive(network, TrialSpec(model).stimulus().u, 1)
    double = simulate(network, drive, 3, record=("voltage", "spikes"))
    single = simulate(network, drive, 3, record=("voltage", "spikes"), precision="float32")
    assert single.voltage.dtype == np.float32 and double.voltage.dtype == np.float64
    early = 200  # 10 ms
    assert np.abs(single.voltage[:early] - double.voltage[:early]).max() < 1e-3  # mV
    steps64, units64 = double.spike_events()
    steps32, units32 = single.spike_events()
    first = 100
    assert len(steps64) > first
    np.testing.assert_array_equal(steps32[:first], steps64[:first])
    np.testing.assert_array_equal(units32[:first], units64[:first])
    np.testing.assert_allclose(single.out[:early], double.out[:early], atol=1e-5)


def test_float32_sweeps_in_lockstep_give_each_trial_what_it_gives_alone():
    """The float32 kernel keeps the lockstep guarantee: a lambda's trial does not depend on the
    other lambdas or trials run beside it."""
    model = load_model(default_bench_model())
    networks = [convert(model, factor) for factor in (20.0, 45.0)]
    drives = [make_drive(networks[0], TrialSpec(model, index=k).stimulus().u, 1) for k in range(2)]
    together = simulate_networks(networks, drives, [5, 6], precision="float32")
    for s, seed in enumerate((5, 6)):
        for g, network in enumerate(networks):
            alone = simulate(network, drives[s], seed, precision="float32")
            np.testing.assert_array_equal(together[s * 2 + g].out, alone.out)
            np.testing.assert_array_equal(together[s * 2 + g].spike_counts, alone.spike_counts)


def test_a_float32_sweep_says_so_and_a_bad_precision_is_refused():
    model = load_model(default_bench_model())
    result = run_sweep(model, scaling_factors=[30.0], n_trials=4, precision="float32")
    assert result.metadata()["precision"] == "float32"
    assert "precision: float32" in result.to_csv()
    with pytest.raises(ValueError, match="precision must be one of float64, float32"):
        TrialSpec(model, precision="float16")
    with pytest.raises(ValueError, match="precision"):
        run_sweep(model, scaling_factors=[30.0], n_trials=4, precision="half")

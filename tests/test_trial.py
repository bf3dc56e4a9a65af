"""TrialSpec and run_trial: the one description of a trial and the one way to run it."""

from __future__ import annotations

import dataclasses
import re

import numpy as np
import pytest

from rate2spike.model import load_model, save_grid_search
from rate2spike.timegrid import trial_duration
from rate2spike.trial import DEFAULT_SCALING_FACTOR, TRIAL_RECORDINGS, TrialSpec, run_trial


@pytest.fixture
def model(model_file):
    return load_model(model_file)


def test_defaults_come_from_the_model(model, model_file):
    spec = TrialSpec(model)
    assert spec.task.name == "go-nogo" and spec.scaling_factor == DEFAULT_SCALING_FACTOR
    save_grid_search(model_file, [20, 30], [0.6, 0.9], 30)
    assert TrialSpec(load_model(model_file)).scaling_factor == 30.0


@pytest.mark.parametrize("changes,phrase", [
    ({"scaling_factor": 0}, r"scaling_factor must be a positive number of at least 0.001 \(lambda divides the "
                            r"weights\), got 0"),
    ({"scaling_factor": float("nan")}, "scaling_factor must be a positive number of at least 0.001"),
    ({"scaling_factor": 1e-320}, "scaling_factor must be a positive number of at least 0.001"),
    ({"seed": -1}, "seed must be 0 or more"),
    ({"seed": 1.5}, "seed must be a whole number"),
    ({"downsample": 0}, "downsample must be a positive integer"),
    ({"task": "xor"}, r"has 2 input\(s\) but .* has 1"),
    ({"condition": "Maybe"}, "no condition 'Maybe'"),
    ({"task_options": (("evidence_strength", 1.0),)}, "no option evidence_strength"),
    ({"stimulation": {"mode": "exc", "dur": [1, 9], "units": [99]}}, "outside 0..59"),
])
def test_bad_specs_are_refused_with_the_reason(model, changes, phrase):
    with pytest.raises(ValueError, match=phrase):
        TrialSpec(model, **changes)


def test_specs_are_frozen_hashable_and_checked_again_when_replaced(model):
    spec = TrialSpec(model, scaling_factor=30, condition="Go")
    assert spec.condition == (("trial", "Go"),)
    assert {spec, spec.replace(seed=0)} == {spec}
    with pytest.raises(dataclasses.FrozenInstanceError):
        spec.seed = 3
    with pytest.raises(ValueError, match="positive"):
        spec.replace(scaling_factor=-2)


def test_recording_more_gives_the_same_trial(model):
    spec = TrialSpec(model, scaling_factor=25, seed=3, condition="Go")
    bare, full = run_trial(spec), run_trial(spec, TRIAL_RECORDINGS)
    np.testing.assert_array_equal(bare.recording.out, full.recording.out)
    assert bare.outcome == full.outcome and bare.recording.voltage is None
    assert full.recording.voltage.shape == (20000, 60) and full.rate_response.o.shape == (201,)
    np.testing.assert_array_equal(full.recording.spike_counts, full.recording.spikes[9:].sum(axis=0))


def test_the_trial_records_what_it_was_run_with(model):
    spec = TrialSpec(model, scaling_factor=33, seed=8, index=2, downsample=2,
                     stimulation={"mode": "inh", "dur": [10, 500], "units": [0, 1]})
    trial = run_trial(spec)
    assert trial.spec is spec
    assert trial.recording.network.scaling_factor == 33 and trial.recording.drive.dt == spec.dt == 1e-4
    assert trial.recording.stimulation == spec.stimulation
    assert trial.stimulus.condition.name in ("Go", "NoGo")


def test_one_trial_length_everywhere(model):
    """Downsampling by 3 keeps 67 of 201 columns: 0.99 s, for the spec, the task and the run."""
    spec = TrialSpec(model, downsample=3)
    trial = run_trial(spec)
    assert spec.duration == spec.task.duration(3) == trial.recording.drive.T == trial_duration(201, 3)
    assert spec.duration == pytest.approx(0.99)
    assert trial.recording.times[-1] == pytest.approx(0.99)


def test_the_rate_response_cache_simulates_each_trial_once_and_never_mixes_models(model, model_file, monkeypatch):
    """A λ change reuses the rate network's response; a new trial, seed or model gets its own."""
    import rate2spike.trial as trial_module
    from rate2spike.rate import simulate_rate
    from rate2spike.trial import RATE_MODEL, RateResponseCache

    calls = []
    monkeypatch.setattr(trial_module, "simulate_rate", lambda *a, **k: calls.append(a) or simulate_rate(*a, **k))
    cache = RateResponseCache(capacity=2)
    spec = TrialSpec(model, scaling_factor=20, seed=3)
    at_20 = run_trial(spec, (RATE_MODEL,), cache).rate_response
    at_40 = run_trial(spec.replace(scaling_factor=40), (RATE_MODEL,), cache).rate_response
    assert len(calls) == 1 and at_40 is at_20  # lambda does not change the rate network
    fresh = simulate_rate(model, at_20.u, seed=list(spec.rate_noise_seed))
    np.testing.assert_array_equal(at_20.o, fresh.o)  # the cached response is the trial's own
    other = run_trial(spec.replace(index=1), (RATE_MODEL,), cache).rate_response
    assert len(calls) == 2 and not np.array_equal(other.o, at_20.o)
    twin = load_model(model_file)  # the same file loaded again is another model object: not trusted as the same
    run_trial(TrialSpec(twin, scaling_factor=20, seed=3), (RATE_MODEL,), cache)
    assert len(calls) == 3
    run_trial(spec, (RATE_MODEL,), cache)  # pushed out by the two newer ones (capacity 2)
    assert len(calls) == 4

    outputs = RateResponseCache(capacity=None, outputs_only=True)
    stimulus = spec.stimulus()
    np.testing.assert_array_equal(outputs.output(spec, stimulus), at_20.o)
    with pytest.raises(ValueError, match="outputs only"):
        outputs.get(spec, stimulus)


def test_lambda_is_checked_by_the_one_rule_wherever_it_is_given(model):
    """The spec, a lockstep run and the dashboard's grid refuse the same lambda with the same rule."""
    from rate2spike.explorer.sweeps import sweep_grid
    from rate2spike.limits import LAMBDA_RULE
    from rate2spike.trial import run_trials_at

    for attempt in (lambda: TrialSpec(model, scaling_factor=1e-320),
                    lambda: run_trials_at([TrialSpec(model, scaling_factor=20)], [20, float("nan")]),
                    lambda: sweep_grid(0.0, 10.0, 1.0)):
        with pytest.raises(ValueError, match=re.escape(LAMBDA_RULE)):
            attempt()
    assert sweep_grid(20, 33, 5).tolist() == [20, 25, 30]  # the range's end is never passed
    with pytest.raises(ValueError, match="too many for one sweep"):
        sweep_grid(1, 300, 1)

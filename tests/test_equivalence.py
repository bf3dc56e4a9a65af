"""The Numba simulator against the plain NumPy reading of the reference (same inputs, same noise)."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.io

from rate2spike import LIF_network_fnc, load_model
from rate2spike.model import read_mat
from numpy_reading import reference_lif
from rate2spike.network import Stimulation, convert, make_drive
from rate2spike.parameters import DEFAULT_PARAMETERS, LIFParameters
from rate2spike.simulation import RECORDINGS, simulate, simulate_batch, simulate_networks
from rate2spike.trial import TrialSpec, run_trial, run_trials, run_trials_at

from conftest import model_variables, reading_constants

GO = np.zeros((1, 201))
GO[0, 50:75] = 1.0


def _compare(variables, path, scaling, u, stims, downsample=1, use_initial_weights=False, seed=1,
             params=DEFAULT_PARAMETERS):
    model = load_model(path)
    network = convert(model, scaling, use_initial_weights)
    drive = make_drive(network, u, downsample)
    rng = np.random.default_rng(seed)
    noise = rng.standard_normal((drive.nt, model.N))
    draws = rng.random(drive.nt)
    v0 = -65 + 95 * rng.random(model.N)
    trial = simulate(network, drive, 0, Stimulation.from_stims(stims, model.N), record=RECORDINGS, v0=v0, noise=noise,
                     stim_draws=draws, params=params)
    constants = None if params == DEFAULT_PARAMETERS else reading_constants(params)  # the reading's own by default
    W, REC, spk, rs, all_fr, out, ref_params = reference_lif(
        read_mat(path), scaling, u, stims, downsample, use_initial_weights, v0=v0, noise=noise, stim_draws=draws,
        constants=constants)
    assert spk.sum() > 100, "the test network must spike to test anything"
    np.testing.assert_array_equal(trial.spikes.T, spk.astype(bool))
    np.testing.assert_allclose(trial.voltage, REC, rtol=0, atol=1e-9)
    np.testing.assert_allclose(trial.rate.T, rs, rtol=0, atol=1e-9)
    np.testing.assert_allclose(trial.synaptic_current.T, ref_params["IPSCs"], rtol=0, atol=1e-9)
    np.testing.assert_allclose(trial.out, out, rtol=0, atol=1e-9)
    np.testing.assert_allclose(trial.firing_rates, all_fr[:, 0], rtol=0, atol=1e-12)
    np.testing.assert_allclose(network.W, W, rtol=1e-12, atol=1e-15)
    assert drive.nt == ref_params["nt"] and drive.dt == ref_params["dt"] and np.isclose(drive.T, ref_params["T"])
    np.testing.assert_allclose(network.td, ref_params["td"], rtol=1e-12)
    # recording nothing gives the same output trace and spike counts
    bare = simulate(network, drive, 0, Stimulation.from_stims(stims, model.N), v0=v0, noise=noise, stim_draws=draws,
                    params=params)
    np.testing.assert_array_equal(bare.out, trial.out)
    np.testing.assert_array_equal(bare.spike_counts, trial.spike_counts)
    assert bare.voltage is None and bare.spikes is None
    return trial


@pytest.fixture(scope="module")
def go_nogo_60(tmp_path_factory):
    path = tmp_path_factory.mktemp("eq") / "go_nogo_60.mat"
    variables = model_variables(N=60, seed=3)
    scipy.io.savemat(path, variables)
    return variables, path


def test_full_go_nogo_trial_matches_reference(go_nogo_60):
    variables, path = go_nogo_60
    trial = _compare(variables, path, 25.0, GO, {"mode": "none"})
    assert trial.voltage.shape == (20000, 60)


@pytest.mark.parametrize("mode", ["exc", "inh"])
def test_stimulation_matches_reference(go_nogo_60, mode):
    variables, path = go_nogo_60
    stims = {"mode": mode, "dur": [2000, 9000], "units": [1, 5, 9, 9, 40]}
    trial = _compare(variables, path, 25.0, GO, stims)
    # the stimulation did something: the same trial without it differs
    model = load_model(path)
    network = convert(model, 25.0)
    drive = make_drive(network, GO)
    rng = np.random.default_rng(1)
    noise, draws, v0 = rng.standard_normal((drive.nt, 60)), rng.random(drive.nt), -65 + 95 * rng.random(60)
    plain = simulate(network, drive, 0, None, record=("spikes",), v0=v0, noise=noise, stim_draws=draws)
    assert not np.array_equal(plain.spikes, trial.spikes)


@pytest.mark.parametrize("downsample", [2, 5])
def test_downsampling_matches_reference(go_nogo_60, downsample):
    variables, path = go_nogo_60
    trial = _compare(variables, path, 25.0, GO, {"mode": "none"}, downsample=downsample)
    assert trial.drive.nt == 20000 // downsample


# Variants of the method (LIFParameters): the kernel takes the constants as arguments, so each runs
# exactly the NumPy reading run with the same constants.
VARIANTS = {
    "no refractory period": LIFParameters(t_ref=0.0),
    "every constant changed": LIFParameters(t_ref=0.003, tau_m=0.015, v_reset=-70.0, v_threshold=-45.0, bias=-43.0,
                                            v_spike_drawn=20.0, tau_rise=0.004, noise_sd=0.2, stim_kick=0.8,
                                            stim_probability=0.3, firing_rate_first_step=25),
}


@pytest.mark.parametrize("name", sorted(VARIANTS))
def test_a_variant_matches_the_reading_run_with_its_constants(go_nogo_60, name):
    variables, path = go_nogo_60
    stims = {"mode": "exc", "dur": [2000, 9000], "units": [1, 5, 9, 40]}
    variant = _compare(variables, path, 25.0, GO, stims, params=VARIANTS[name])
    reference = _compare(variables, path, 25.0, GO, stims)  # the same inputs and noise
    assert variant.params == VARIANTS[name] and reference.params == DEFAULT_PARAMETERS
    assert not np.array_equal(variant.spikes, reference.spikes)  # the variant did run


def test_initial_weights_match_reference(go_nogo_60):
    """w0 with the trained decay constants, as the reference runs it."""
    variables, path = go_nogo_60
    _compare(variables, path, 25.0, GO, {"mode": "exc", "dur": [100, 20000], "units": [0, 1]}, use_initial_weights=True)


def test_the_fully_untrained_network_is_the_reference_run_on_w0_and_td0(go_nogo_60, tmp_path):
    """initial_decay (beyond the reference) runs w0 with td0: the reference's run of a file whose
    trained w and taus_gaus are its initial ones."""
    variables, path = go_nogo_60
    model = load_model(path)
    network = convert(model, 25.0, use_initial_weights=True, initial_decay=True)
    np.testing.assert_array_equal(network.td, model.decay_constants(initial=True))
    untrained = {**variables, "w": variables["w0"], "taus_gaus": variables["taus_gaus0"]}
    drive = make_drive(network, GO)
    rng = np.random.default_rng(2)
    noise, v0 = rng.standard_normal((drive.nt, 60)), -65 + 95 * rng.random(60)
    run = simulate(network, drive, 0, None, record=("spikes",), v0=v0, noise=noise)
    ref = reference_lif(untrained, 25.0, GO, {"mode": "none"}, v0=v0, noise=noise, stim_draws=np.zeros(drive.nt))
    assert ref[2].sum() > 100
    np.testing.assert_array_equal(run.spikes, ref[2].T.astype(bool))


@pytest.mark.parametrize("style,taus,n_inputs", [("torch", (4.0, 20.0), 2), ("tf", (10.0,), 4)])
def test_other_file_styles_match_reference(tmp_path, style, taus, n_inputs):
    variables = model_variables(N=80, n_inputs=n_inputs, seed=4, style=style, taus=taus)
    path = tmp_path / "m.mat"
    scipy.io.savemat(path, variables)
    u = np.zeros((n_inputs, 61))
    u[:, 10:30] = 1.0
    _compare(variables, path, 20.0, u, {"mode": "none"})


def test_same_seed_same_trial_different_seed_different(model_file):
    network = convert(load_model(model_file), 20.0)
    drive = make_drive(network, GO)
    a = simulate(network, drive, (7, 0), record=RECORDINGS)
    b = simulate(network, drive, (7, 0), record=RECORDINGS)
    c = simulate(network, drive, (7, 1), record=RECORDINGS)
    np.testing.assert_array_equal(a.voltage, b.voltage)
    np.testing.assert_array_equal(a.v0, b.v0)
    assert not np.array_equal(a.spikes, c.spikes)
    np.testing.assert_array_equal(simulate(network, drive, (7, 0)).out, a.out)


def test_lif_network_fnc_seeded_equals_reference_outputs(go_nogo_60):
    """The public API returns the reference's tuple, shaped as spikeRNN documents."""
    variables, path = go_nogo_60
    W, REC, spk, rs, all_fr, out, params = LIF_network_fnc(str(path), 30.0, GO, {"mode": "none"}, 1, False, seed=5)
    assert W.shape == (60, 60) and REC.shape == (20000, 60) and spk.shape == (60, 20000)
    assert rs.shape == (60, 20000) and all_fr.shape == (60, 1) and out.shape == (20000,)
    assert set(params) >= {"dt", "T", "nt", "w_out", "td", "td0", "IPSCs"}
    assert params["IPSCs"].shape == (60, 20000)
    np.testing.assert_allclose(W, reference_lif(variables, 30.0, GO[:, :3], {"mode": "none"})[0], rtol=1e-12)
    np.testing.assert_allclose(out, (params["w_out"] / 30.0 @ rs).ravel(), atol=1e-9)  # the file's w_out
    np.testing.assert_allclose(all_fr[:, 0], spk[:, 9:].sum(axis=1) / params["T"])
    spiking = REC[spk.T.astype(bool)]
    assert spiking.size and np.all(spiking == 30.0)
    # a seeded call replays exactly
    W2, REC2, *_ = LIF_network_fnc(str(path), 30.0, GO, {"mode": "none"}, 1, False, seed=5)
    np.testing.assert_array_equal(REC, REC2)


def test_recording_less_gives_the_same_trial(model_file):
    network = convert(load_model(model_file), 20.0)
    drive = make_drive(network, GO)
    full = simulate(network, drive, (3, 0), record=RECORDINGS)
    part = simulate(network, drive, (3, 0), record=("voltage", "spikes"))
    np.testing.assert_array_equal(full.voltage, part.voltage)
    np.testing.assert_array_equal(full.spikes, part.spikes)
    np.testing.assert_array_equal(full.out, part.out)
    assert part.rate is None and part.synaptic_current is None
    with pytest.raises(ValueError, match="cannot record"):
        simulate(network, drive, 0, record=("voltages",))


def test_trials_in_lockstep_are_the_trials_run_one_by_one(model_file):
    """simulate_batch gives each trial exactly what simulate gives it alone, whatever the batch
    size: different stimuli, seeds, stimulation (its draws come from each trial's own stream)
    and recordings."""
    model = load_model(model_file)
    network = convert(model, 20.0)
    nogo = np.zeros_like(GO)
    drives = [make_drive(network, u) for u in (GO, nogo, GO, nogo, GO)]
    seeds = [(5, k) for k in range(5)]
    stimulation = Stimulation("exc", tuple(range(0, model.N, 3)), 2000, 9000)
    alone = [simulate(network, d, s, stimulation, record=RECORDINGS) for d, s in zip(drives, seeds)]
    assert len({int(t.spike_counts.sum()) for t in alone}) > 1  # the trials do differ
    for size in (2, 3, 5):
        together = []
        for start in range(0, 5, size):
            together += simulate_batch(network, drives[start:start + size], seeds[start:start + size], stimulation,
                                       record=RECORDINGS)
        for one, batch in zip(alone, together):
            np.testing.assert_array_equal(one.v0, batch.v0)
            np.testing.assert_array_equal(one.out, batch.out)
            np.testing.assert_array_equal(one.spike_counts, batch.spike_counts)
            for name in RECORDINGS:
                np.testing.assert_array_equal(getattr(one, name), getattr(batch, name))


def test_lockstep_with_explicit_noise_matches_the_reference(go_nogo_60):
    """The second trial of a batch, fed the same noise as the NumPy reference, has its spikes."""
    variables, path = go_nogo_60
    network = convert(load_model(path), 30.0)
    drives = [make_drive(network, np.zeros_like(GO)), make_drive(network, GO)]
    rng = np.random.default_rng(3)
    noise = rng.standard_normal((2, drives[0].nt, 60))
    v0 = -65 + 95 * rng.random((2, 60))
    batch = simulate_batch(network, drives, [0, 0], record=("spikes",), v0=v0, noise=noise)
    ref = reference_lif(variables, 30.0, GO, {"mode": "none"}, v0=v0[1], noise=noise[1], stim_draws=np.zeros(drives[1].nt))
    np.testing.assert_array_equal(batch[1].spikes, ref[2].T.astype(bool))


def test_lambdas_sharing_noise_are_the_trials_run_one_by_one(model_file):
    """simulate_networks runs each seed through several lambdas, drawing its noise once: every
    (seed, lambda) run is exactly what simulate gives it alone (stimulation draws included)."""
    model = load_model(model_file)
    networks = [convert(model, factor) for factor in (15.0, 20.0, 40.0)]
    drives = [make_drive(networks[0], u) for u in (GO, np.zeros_like(GO))]
    seeds = [(6, 0), (6, 1)]
    stimulation = Stimulation("inh", tuple(range(0, model.N, 4)), 3000, 8000)
    together = simulate_networks(networks, drives, seeds, stimulation, record=RECORDINGS)
    assert len(together) == 6
    counts = set()
    for s, (drive, seed) in enumerate(zip(drives, seeds)):
        for g, network in enumerate(networks):
            one, shared = simulate(network, drive, seed, stimulation, record=RECORDINGS), together[s * 3 + g]
            assert shared.network is network and shared.drive is drive
            np.testing.assert_array_equal(one.v0, shared.v0)
            np.testing.assert_array_equal(one.out, shared.out)
            np.testing.assert_array_equal(one.spike_counts, shared.spike_counts)
            for name in RECORDINGS:
                np.testing.assert_array_equal(getattr(one, name), getattr(shared, name))
            counts.add(int(one.spike_counts.sum()))
    assert len(counts) == 6  # the lambdas and trials do differ


def test_lambdas_sharing_explicit_noise_match_the_reference(go_nogo_60):
    """Fed the reference's noise, each lambda of a shared-noise run has the reference's spikes."""
    variables, path = go_nogo_60
    model = load_model(path)
    drive = make_drive(convert(model, 30.0), GO)
    rng = np.random.default_rng(4)
    noise = rng.standard_normal((1, drive.nt, 60))
    v0 = -65 + 95 * rng.random((1, 60))
    runs = simulate_networks([convert(model, 25.0), convert(model, 35.0)], [drive], [0], record=("spikes",),
                             v0=v0, noise=noise)
    for run, factor in zip(runs, (25.0, 35.0)):
        ref = reference_lif(variables, factor, GO, {"mode": "none"}, v0=v0[0], noise=noise[0], stim_draws=np.zeros(drive.nt))
        np.testing.assert_array_equal(run.spikes, ref[2].T.astype(bool))


def test_a_trial_at_several_lambdas_is_each_trial_alone(model_file):
    model = load_model(model_file)
    specs = [TrialSpec(model, seed=2, index=k) for k in range(2)]
    for spec, at_lambdas in zip(specs, run_trials_at(specs, [18.0, 27.0])):
        for factor, trial in zip((18.0, 27.0), at_lambdas):
            alone = run_trial(spec.replace(scaling_factor=factor))
            assert trial.spec == alone.spec and trial.outcome == alone.outcome
            np.testing.assert_array_equal(trial.recording.out, alone.recording.out)


def test_networks_run_together_must_share_their_units(model_file, go_nogo_60):
    model, other = load_model(model_file), load_model(go_nogo_60[1])
    assert not np.array_equal(convert(model, 20.0).td, convert(other, 20.0).td)  # two different models
    with pytest.raises(ValueError, match="same units and decay constants"):
        simulate_networks([convert(model, 20.0), convert(other, 20.0)], [make_drive(convert(model, 20.0), GO)], [0])
    with pytest.raises(ValueError, match="need at least one network"):
        simulate_networks([], [make_drive(convert(model, 20.0), GO)], [0])


def test_trials_run_together_must_share_the_network_and_time_grid(model_file):
    model = load_model(model_file)
    network = convert(model, 20.0)
    with pytest.raises(ValueError, match="same time grid"):
        simulate_batch(network, [make_drive(network, GO), make_drive(network, GO[:, :100])], [0, 1])
    with pytest.raises(ValueError, match="one seed per drive"):
        simulate_batch(network, [make_drive(network, GO)], [0, 1])
    spec = TrialSpec(model, scaling_factor=20.0)
    with pytest.raises(ValueError, match="must share the model, task, lambda"):
        run_trials([spec, spec.replace(scaling_factor=30.0)])
    together = run_trials([spec.replace(index=k) for k in range(3)])
    for k, trial in enumerate(together):
        alone = run_trial(spec.replace(index=k))
        np.testing.assert_array_equal(alone.recording.out, trial.recording.out)
        assert alone.outcome == trial.outcome

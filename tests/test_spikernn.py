"""The spikeRNN API: the seed documents' examples run as written (import line aside), and the reference's
behaviour where the PyTorch port differs."""

from __future__ import annotations


import numpy as np
import pytest

import scipy.io

from rate2spike import LIF_network_fnc, evaluate_single_trial, lambda_grid_search, load_model, run_sweep
from rate2spike.engine import Block, score_block
from rate2spike.journal import Journal, search_key
from rate2spike.model import read_mat
from rate2spike.network import Stimulation, convert, make_drive
from rate2spike.search import SearchOptions
from rate2spike.simulation import simulate
from rate2spike.sweep import sweep_base
from rate2spike.tasks import Stimulus, get_task
from conftest import file_digest, model_variables, write_model

LIF_EXAMPLE = '''
import numpy as np
from rate2spike import LIF_network_fnc
# Load trained rate model and convert to spiking
model_path = 'trained_model.mat'
scaling_factor = 50.0
# Create Go trial stimulus
u = np.zeros((1, 201))
u[0, 30:50] = 1 # 20ms stimulus pulse
# Convert and simulate
stims = {'mode': 'none'}
W, REC, spk, rs, all_fr, out, params = LIF_network_fnc(
model_path, scaling_factor, u, stims,
downsample=1, use_initial_weights=False
)
print(f"Generated {np.sum(spk)} spikes")
print(f"Network output: {out[-1]:.4f}")
# Apply excitatory stimulation to specific neurons
stims = {
'mode': 'exc',
'dur': [1000, 1500], # Stimulate from t=1000 to t=1500
'units': [10, 15, 20] # Stimulate neurons 10, 15, 20
}
W, REC, spk, rs, all_fr, out, params = LIF_network_fnc(
model_path, scaling_factor, u, stims,
downsample=1, use_initial_weights=False
)
'''

GRID_EXAMPLE = '''
from rate2spike import lambda_grid_search
lambda_grid_search(
model_dir='models/go-nogo',
n_trials=50,
scaling_factors=list(range(30, 81, 5)),
task_name='go-nogo'
)
'''


def test_lif_example_runs_as_written(tmp_path, monkeypatch, capsys):
    write_model(tmp_path / "trained_model.mat", N=200)
    monkeypatch.chdir(tmp_path)
    namespace = {}
    exec(LIF_EXAMPLE, namespace)
    printed = capsys.readouterr().out
    assert "Generated" in printed and "Network output:" in printed
    assert namespace["REC"].shape == (20000, 200) and namespace["spk"].shape == (200, 20000)


def test_grid_search_example_runs_and_saves(tmp_path, monkeypatch, capsys):
    path = write_model(tmp_path / "models" / "go-nogo" / "Task_go-nogo_N_60_Taus_4.0_20.0_Act_sigmoid_x.mat")
    monkeypatch.chdir(tmp_path)
    before = read_mat(path)
    exec(GRID_EXAMPLE, {})
    printed = capsys.readouterr().out
    assert "lambda = 30: accuracy" in printed and "optimal scaling factor" in printed
    model = load_model(path)
    np.testing.assert_array_equal(model.scaling_factors, np.arange(30, 81, 5))
    assert model.all_perfs.shape == (11,) and model.opt_scaling_factor in model.scaling_factors
    best = model.scaling_factors[np.argmax(model.all_perfs)]
    assert model.opt_scaling_factor == best
    after = read_mat(path)
    for key in before:
        np.testing.assert_array_equal(after[key], before[key])


def test_grid_search_skips_done_files_unless_forced(tmp_path, capsys):
    path = write_model(tmp_path / "m.mat", N=40)
    first = lambda_grid_search(tmp_path, None, 4, [20, 40], verbose=False)
    assert list(first) == [path]
    digest = file_digest(path)
    second = lambda_grid_search(tmp_path, None, 4, [20, 40])
    assert second == {} and file_digest(path) == digest
    assert "already has opt_scaling_factor" in capsys.readouterr().out
    third = lambda_grid_search(tmp_path, None, 4, [25, 35, 45], force=True, verbose=False)
    assert third[path].n_done.tolist() == [4, 4, 4]
    np.testing.assert_array_equal(load_model(path).scaling_factors, [25, 35, 45])


def test_grid_search_keeps_the_reference_grid_by_default_and_races_when_asked(tmp_path, capsys):
    """Off by default, so results stay the reference's; the band is stored beside its three variables;
    race and extend change what is scored and say so."""
    path = write_model(tmp_path / "m.mat", N=40)
    plain = lambda_grid_search(tmp_path, None, 6, [20, 40])[path]
    stored = load_model(path)
    assert stored.scaling_factors.tolist() == [20.0, 40.0] and plain.n_done.tolist() == [6, 6]
    assert stored.opt_scaling_factor in stored.scaling_factor_band
    np.testing.assert_array_equal(stored.scaling_factor_band, plain.band)
    assert "lambda band" in capsys.readouterr().out
    import shutil

    from rate2spike.paths import shipped_model_dir
    shipped = tmp_path / "shipped"
    shipped.mkdir()
    path = shipped / "go-nogo.mat"
    shutil.copy(next(shipped_model_dir("go-nogo").glob("*.mat")), path)
    # this model's best lambda lies below 40 and 70 fails: the race follows it off the grid
    raced = lambda_grid_search(shipped, None, 20, [40, 70], force=True, race=True, extend=True)[path]
    out = capsys.readouterr().out
    assert raced.options.race and "note: the race's leader was at the grid's lower edge (40); added lambda 10" in out
    assert load_model(path).scaling_factors.size > 2


def test_grid_search_skips_broken_files_and_reports(tmp_path, capsys):
    write_model(tmp_path / "good.mat", N=40)
    (tmp_path / "broken.mat").write_bytes(b"not a mat file" * 20)
    results = lambda_grid_search(tmp_path, "go-nogo", 2, [20])
    assert [p.name for p in results] == ["good.mat"] and [p.name for p in results.failures] == ["broken.mat"]
    assert "broken.mat" in capsys.readouterr().err
    with pytest.raises(FileNotFoundError):
        lambda_grid_search(tmp_path / "empty_dir_that_does_not_exist")


def test_evaluate_single_trial_is_trial_zero_of_a_grid_search(model_file):
    """The score of one random trial is that of trial 0 of a sweep with the same seed."""
    model = load_model(model_file)
    scores = [evaluate_single_trial(str(model_file), 30.0, "go-nogo", False, 1, seed=s) for s in range(6)]
    expected = [int(run_sweep(model, "go-nogo", [30.0], 1, seed=s).outcomes[0][0].correct) for s in range(6)]
    assert scores == expected
    with pytest.raises(ValueError, match="input"):
        evaluate_single_trial(str(model_file), 30.0, "mante", False, 1)


def test_lif_network_fnc_errors(model_file):
    with pytest.raises(ValueError, match=r"shape \(1, n_timesteps\)"):
        LIF_network_fnc(str(model_file), 30.0, np.zeros((2, 201)), {"mode": "none"})
    with pytest.raises(ValueError, match="scaling_factor"):
        LIF_network_fnc(str(model_file), 0.0, np.zeros((1, 201)), {"mode": "none"})
    with pytest.raises(ValueError, match="outside"):
        LIF_network_fnc(str(model_file), 30.0, np.zeros((1, 201)), {"mode": "exc", "dur": [1, 5], "units": [999]})
    with pytest.raises(ValueError, match="'dur'"):
        LIF_network_fnc(str(model_file), 30.0, np.zeros((1, 201)), {"mode": "inh"})
    with pytest.raises(ValueError, match="downsample"):
        LIF_network_fnc(str(model_file), 30.0, np.zeros((1, 201)), None, downsample=0)


def test_default_grid_search_uses_the_shipped_models_and_skips_finished_files(capsys):
    from rate2spike.paths import shipped_model_dir
    path = next(shipped_model_dir("go-nogo").glob("*.mat"))
    before = file_digest(path)
    assert lambda_grid_search() == {}
    assert "already has opt_scaling_factor" in capsys.readouterr().out
    assert file_digest(path) == before


# --- the reference (the MATLAB code) where the PyTorch port differs (docs/method.md, "The reference") ----
# Each test below fails if rate2spike followed the port instead. Trials are silent and noise-free where
# the step matters: the voltage then moves only by the drive and the stimulation, so each step can be read.

BIAS, TM = -40.0, 0.010  # the bias current (mV) and membrane time constant (s) of the method


def _quiet(path, u, stims=None, v0=-65.0):
    """A trial with no noise and every unit starting at ``v0`` (mV): (network, recording)."""
    model = load_model(path)
    network = convert(model, 30.0)
    drive = make_drive(network, u)
    v0 = np.broadcast_to(np.asarray(v0, dtype=float), (model.N,)).copy()
    run = simulate(network, drive, 0, Stimulation.from_stims(stims, model.N), record=("voltage", "spikes"), v0=v0,
                   noise=np.zeros((drive.nt, model.N)), stim_draws=np.zeros(drive.nt))
    return network, run


def test_the_stimulus_column_changes_at_step_50_as_matlab_rounds(model_file):
    """Step i is driven by column round(i/100) + 1 (MATLAB, 1-based): column 1 (0-based) from step 50
    on, column 2 from step 150. The port's int(i/100 + 0.5) on a 0-based i switches one step later."""
    u = np.zeros((1, 3))
    u[0, 1] = 1.0
    network, run = _quiet(model_file, u)
    assert not run.spikes.any()
    v = np.concatenate([[-65.0], run.voltage[:, 0]])  # v[i] after step i
    dt = run.drive.dt
    drive = TM * (v[1:] - v[:-1]) / dt + v[:-1] - BIAS  # I - BIAS at each step i = 1..nt: the column's input
    steps = np.arange(1, run.drive.nt + 1)
    expected = np.where((steps >= 50) & (steps < 150), network.w_in[0, 0], 0.0)
    free = steps > 45  # every unit starts refractory (the last spike time is 0): no integration until 2 ms
    np.testing.assert_allclose(drive[free], expected[free], atol=1e-6)


def test_the_stimulation_acts_on_steps_first_to_stop_minus_one(model_file):
    """stims dur [10, 15] pushes the units at steps 10..14, as MATLAB's i >= dur(1) & i < dur(2);
    the port compares its 0-based i, so it pushes at steps 11..15."""
    _, run = _quiet(model_file, np.zeros((1, 3)), {"mode": "exc", "dur": [10, 15], "units": [0, 3]})
    steps = np.arange(1, 41)  # refractory (dv = 0): only the stimulation moves v
    expected = -65.0 + 0.5 * np.clip(steps - 9, 0, 5)
    np.testing.assert_array_equal(run.voltage[:40, 0], expected)
    np.testing.assert_array_equal(run.voltage[:40, 3], expected)
    np.testing.assert_array_equal(run.voltage[:40, 1], -65.0)


def test_all_fr_counts_spikes_from_step_10(model_file):
    """all_fr is MATLAB's spk(n, 10:end) / T: a spike at step 10 counts, one at step 9 does not (the
    port's spk[n, 10:] starts at step 11)."""
    v0 = np.full(60, -65.0)
    v0[0], v0[1] = -40.25, -40.75  # pushed over -40 mV at step 9 and step 10
    _, run = _quiet(model_file, np.zeros((1, 3)), {"mode": "exc", "dur": [9, 11], "units": [0, 1]}, v0)
    assert np.flatnonzero(run.spikes[:, 0]).tolist() == [8] and np.flatnonzero(run.spikes[:, 1]).tolist() == [9]
    assert run.spikes.sum() == 2
    expected = np.zeros(60)
    expected[1] = 1 / run.drive.T  # 100 Hz over the 10 ms trial
    np.testing.assert_allclose(run.firing_rates, expected)


@pytest.mark.parametrize("task_name,condition,first", [
    ("go-nogo", "Go", 9999), ("xor", "++", 19999), ("mante", "context 1: input 1 -, input 2 +", 25999)])
def test_decision_windows_start_at_the_matlab_samples(task_name, condition, first):
    """MATLAB scores out(10000:end), out(20000:end), out(26000:end): 0-based samples 9999, 19999, 25999
    on. The port starts one sample later (out[10000:], out[26000:]) and its xor rule indexes the flat
    out as 2-D, so every xor trial scores 0 there."""
    task = get_task(task_name)
    cond = task.condition(condition)
    stimulus = Stimulus(np.zeros((task.n_inputs, 1)), cond)
    nt = int(round(task.duration() / 5e-5))
    out = np.zeros(nt)
    out[first] = 1.0 if cond.label > 0 else -1.0
    assert task.score(out, 5e-5, stimulus).correct
    out[first], out[first - 1] = 0.0, out[first]
    assert not task.score(out, 5e-5, stimulus).correct
    if task_name == "go-nogo":  # NoGo: a rise before the window is allowed, inside it is not
        nogo = Stimulus(stimulus.u, task.condition("NoGo"))
        assert task.score(out, 5e-5, nogo).correct
        out[first] = out[first - 1]
        assert not task.score(out, 5e-5, nogo).correct


def test_params_w_out_is_the_files_w_out(model_file):
    """params.w_out is the file's w_out (1 x N), as MATLAB returns it; only out uses w_out / lambda."""
    u = np.zeros((1, 21))
    *_, rs, _, out, params = LIF_network_fnc(str(model_file), 30.0, u, {"mode": "none"}, seed=1)
    np.testing.assert_array_equal(params["w_out"], read_mat(model_file)["w_out"].astype(np.float64).reshape(1, -1))
    np.testing.assert_allclose(out, (params["w_out"] / 30.0 @ rs).ravel(), atol=1e-12)


def test_initial_weights_run_w0_with_the_trained_decay_constants(model_file):
    """The reference runs w0 with the trained td and only reports td0; td0 too is initial_decay's
    fully untrained network, an option of ours that needs use_initial_weights."""
    model = load_model(model_file)
    u = np.zeros((1, 21))
    W, *_, params = LIF_network_fnc(str(model_file), 30.0, u, None, 1, True, seed=1)
    np.testing.assert_array_equal(params["td"], model.decay_constants())
    np.testing.assert_array_equal(params["td0"], model.decay_constants(initial=True))
    assert not np.allclose(params["td"], params["td0"])
    np.testing.assert_allclose(W, model.recurrent_weights(use_initial_weights=True) / 30.0)
    *_, untrained = LIF_network_fnc(str(model_file), 30.0, u, None, 1, True, seed=1, initial_decay=True)
    np.testing.assert_array_equal(untrained["td"], params["td0"])
    with pytest.raises(ValueError, match="needs use_initial_weights"):
        LIF_network_fnc(str(model_file), 30.0, u, None, 1, False, initial_decay=True)
    with pytest.raises(ValueError, match="needs use_initial_weights"):
        lambda_grid_search(model_file.parent, None, 2, [20], initial_decay=True)


def test_a_journal_of_the_old_initial_weights_is_not_resumed(model_file):
    """Journals written when use_initial_weights also took td0 have no 'initial_decay' in their key,
    so a search with w0 never replays them; journals of trained searches keep their key and resume."""
    base = sweep_base(load_model(model_file), "go-nogo", use_initial_weights=True)
    key = search_key(base, [20.0], 2, SearchOptions())
    assert key["initial_decay"] is False
    assert "initial_decay" not in search_key(base.replace(use_initial_weights=False), [20.0], 2, SearchOptions())
    old = {name: value for name, value in key.items() if name != "initial_decay"}
    journal = Journal.open(model_file, old, lambda line: None)
    journal.append(score_block(base, "old-journal", Block((20.0,), (0,))))
    journal.close()
    said = []
    again = Journal.open(model_file, key, said.append)
    again.close()
    assert again.known == {} and "other initial decay" in said[0]


def test_a_grid_in_any_order_is_returned_and_saved_in_that_order(tmp_path):
    """all_perfs[k] belongs to scaling_factors[k] of the grid as given (MATLAB saves both so)."""
    path = write_model(tmp_path / "m.mat", N=40, seed=5)
    model = load_model(path)
    given = run_sweep(model, "go-nogo", [40, 20, 30], 6, seed=2)
    increasing = run_sweep(model, "go-nogo", [20, 30, 40], 6, seed=2)
    assert given.scaling_factors.tolist() == [40, 20, 30]
    assert [row["scaling_factor"] for row in given.rows()] == [40, 20, 30]
    np.testing.assert_array_equal(given.accuracy, increasing.accuracy[[2, 0, 1]])
    lambda_grid_search(tmp_path, None, 6, [40, 20, 30], seed=2, verbose=False)
    stored = load_model(path)
    assert stored.scaling_factors.tolist() == [40, 20, 30]
    np.testing.assert_array_equal(stored.all_perfs, given.accuracy)
    for group, values in given.group_accuracy().items():
        np.testing.assert_array_equal(stored.condition_perfs[group], values)


def test_ties_go_to_the_first_maximum_in_the_order_given(tmp_path):
    """At lambdas this large the output never moves, so every lambda gets the same verdicts: the
    optimum is the first lambda given, not the smallest."""
    path = write_model(tmp_path / "m.mat", N=40)
    result = run_sweep(load_model(path), "go-nogo", [3000, 1000, 2000], 4)
    assert np.unique(result.accuracy).size == 1 and result.optimum[0] == 3000
    lambda_grid_search(tmp_path, None, 4, [3000, 1000, 2000], verbose=False)
    assert load_model(path).opt_scaling_factor == 3000


def test_a_file_holding_nan_is_read_as_not_searched_and_then_searched(tmp_path, capsys):
    """Both references write opt_scaling_factor = NaN before searching: an interrupted search leaves
    it. Such a file loads (a note says so), counts as not searched and a search fills it in."""
    path = tmp_path / "m.mat"
    variables = model_variables(N=40)
    variables.update(opt_scaling_factor=np.nan, all_perfs=np.array([[0.5, 0.6]]), scaling_factors=np.array([[1, 2]]))
    scipy.io.savemat(path, variables)
    model = load_model(path)
    assert model.opt_scaling_factor is None and model.all_perfs is None and model.unfinished_search
    assert len(model.notes) == 1 and "opt_scaling_factor is NaN" in model.notes[0]
    results = lambda_grid_search(tmp_path, None, 2, [20, 30])
    assert list(results) == [path] and "opt_scaling_factor is NaN" in capsys.readouterr().out
    stored = load_model(path)
    assert stored.opt_scaling_factor in (20.0, 30.0) and stored.scaling_factors.tolist() == [20.0, 30.0]

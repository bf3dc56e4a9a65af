"""The spikeRNN API: the seed documents' examples run as written (import line aside)."""

from __future__ import annotations


import numpy as np
import pytest

from rate2spike import LIF_network_fnc, evaluate_single_trial, lambda_grid_search, load_model, run_sweep
from rate2spike.model import read_mat
from conftest import file_digest, write_model

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
    raced = lambda_grid_search(tmp_path, None, 6, [20, 40], force=True, race=True, extend=True)[path]
    out = capsys.readouterr().out
    assert raced.options.race and "note: the optimum was at the grid's" in out
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

"""Teaching presets: computed from the grid search, one click each."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest

from rate2spike.explorer.presets import presets


def model(factors, perfs, exc=(True, False)):
    return SimpleNamespace(scaling_factors=np.array(factors, float), all_perfs=np.array(perfs, float),
                           exc=np.array(exc))


def test_presets_come_from_the_stored_curve():
    found = {p.name: p for p in presets(model([10, 20, 30, 40, 50], [0.4, 0.9, 1.0, 0.95, 0.5]), None, (0.5, 1.0))}
    assert found["At the optimum"].settings == {"scaling_factor": 30.0}
    assert found["λ too small"].settings == {"scaling_factor": 10.0} and "accuracy 0.40" in found["λ too small"].why
    assert found["λ too large"].settings == {"scaling_factor": 50.0}
    inhibit = found["Inhibit the excitatory units"].settings
    assert inhibit == {"scaling_factor": 30.0, "stim_mode": "inh", "stim_units": "exc", "stim_window": (0.5, 1.0)}


def test_an_optimum_on_the_grid_edge_reaches_beyond_it():
    found = {p.name: p for p in presets(model([20, 40, 60], [1.0, 0.9, 0.3]), None, None)}
    assert found["λ too small"].settings == {"scaling_factor": 5.0} and "below the searched grid" in found["λ too small"].why
    assert found["λ too large"].settings == {"scaling_factor": 60.0}
    assert "Inhibit the excitatory units" not in found  # no decision window given


def test_a_finished_sweep_wins_over_the_stored_curve_and_no_curve_no_presets():
    sweep = SimpleNamespace(optimum=(45.0, 1.0), complete=np.array([True, True, True]),
                            scaling_factors=np.array([15.0, 45.0, 90.0]), accuracy=np.array([0.2, 1.0, 0.1]))
    found = {p.name: p.settings["scaling_factor"] for p in presets(model([20], [1.0]), sweep)}
    assert found == {"λ too small": 15.0, "At the optimum": 45.0, "λ too large": 90.0}
    assert presets(SimpleNamespace(scaling_factors=None, all_perfs=None, exc=np.array([True]))) == []


def test_a_session_applies_a_preset_in_one_step(tmp_path, monkeypatch):
    from conftest import model_path, synthetic_assets
    from rate2spike.explorer.session import ExplorerSession
    from rate2spike.model import save_grid_search
    root = synthetic_assets(tmp_path / "assets", N=40)
    save_grid_search(model_path(root, "go-nogo", 40), [20, 30, 40], [0.5, 0.9, 0.4], 30)
    monkeypatch.setenv("RATE2SPIKE_ASSETS", str(root))
    session = ExplorerSession()
    try:
        runs = []
        session.param.watch(lambda e: runs.append(e.new), "trial")
        why = session.apply_preset("Inhibit the excitatory units")
        spec = session.trial.spec
        assert len(runs) == 1 and spec.scaling_factor == 30.0 and spec.stimulation.mode == "inh"
        assert len(spec.stimulation.units) == int(session.model.exc.sum()) and "λ = 30" in why
        session.apply_preset("λ too large")
        assert session.trial.spec.scaling_factor == 40.0 and session.trial.spec.stimulation.mode == "none"
        with pytest.raises(ValueError, match="no preset"):
            session.apply_preset("Magic")
    finally:
        session.close()

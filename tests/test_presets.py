"""Teaching presets that show what they say: λ from the grid search, and on each shipped model a trial
whose verdict and output agree with the preset's explanation."""

from __future__ import annotations

import re
from types import SimpleNamespace

import numpy as np
import pytest

from rate2spike.diagnose import failure_mode, window_gain
from rate2spike.explorer.presets import MODE_WORDS, preset_lambdas
from rate2spike.explorer.session import ExplorerSession
from rate2spike.paths import shipped_models


def model(factors, perfs, recommended=None):
    return SimpleNamespace(scaling_factors=np.array(factors, float), all_perfs=np.array(perfs, float),
                           recommended_scaling_factor=recommended)


def test_the_lambdas_come_from_the_curve():
    found = preset_lambdas(model([10, 20, 30, 40, 50], [0.4, 0.9, 1.0, 0.95, 0.5]))
    assert (found["small"], found["good"], found["large"]) == (10.0, 30.0, 50.0) and not found["recommended"]
    edge = preset_lambdas(model([20, 40, 60], [1.0, 0.9, 0.3], recommended=40.0))
    assert (edge["small"], edge["good"], edge["large"]) == (5.0, 40.0, 60.0) and edge["recommended"]
    assert preset_lambdas(SimpleNamespace(scaling_factors=None, all_perfs=None)) is None


def test_a_finished_sweep_wins_over_the_stored_curve():
    sweep = SimpleNamespace(optimum=(45.0, 1.0), complete=np.array([True, True, True]),
                            scaling_factors=np.array([90.0, 15.0, 45.0]), accuracy=np.array([0.1, 0.2, 1.0]),
                            recommended=lambda: (45.0, 1.0, 0.01))
    found = preset_lambdas(model([20], [1.0]), sweep)
    assert (found["small"], found["good"], found["large"]) == (15.0, 45.0, 90.0)


def _mode_named(why: str) -> str:
    """The failure mode a preset's explanation states (its words, from MODE_WORDS)."""
    return next(mode for mode, words in MODE_WORDS.items() if words.split(":")[0] in why)


@pytest.fixture
def shipped_session(request, monkeypatch):
    monkeypatch.delenv("RATE2SPIKE_ASSETS", raising=False)
    session = ExplorerSession()
    session.model_label = next(label for label in session.catalog.labels if label.startswith(request.param))
    yield session
    session.close()


@pytest.mark.parametrize("shipped_session", ["go-nogo", "xor", "mante"], indirect=True)
def test_every_preset_shows_on_screen_what_its_explanation_says(shipped_session):
    session = shipped_session
    found = session.presets()
    names = [p.name for p in found]
    assert names[0] == "λ too small" and names[2] == "λ too large" and names[-1] == "Inhibit the excitatory units"
    for preset in found:
        why = session.apply_preset(preset.name)
        trial = session.trial
        assert trial.spec.scaling_factor == preset.settings["scaling_factor"] and trial.spec.seed == preset.settings["seed"]
        assert trial.stimulus.condition.name in why  # the condition the page shows is the one explained
        verdict = "correct ✓" if trial.outcome.correct else "incorrect ✗"
        if preset.claim == "fails":  # too small / too large: fails, for the stated reason
            assert not trial.outcome.correct and verdict in why
            assert failure_mode(trial) == _mode_named(why), (why, failure_mode(trial))
        elif preset.claim == "follows":  # recommended / optimum: correct, its gain as printed
            assert trial.outcome.correct and why.endswith("(correct ✓).")
            printed = float(re.search(r"is ([\d.]+) times the rate network's", why).group(1))
            assert printed == pytest.approx(window_gain(trial), abs=0.006)
        else:  # inhibit: the stimulation is on, and the verdict or the output changed as said
            assert trial.spec.stimulation.mode == "inh" and trial.spec.stimulation.units
            moved = re.search(r"moves from (-?[\d.]+) to (-?[\d.]+) \((.+?);", why)
            assert float(moved.group(2)) == pytest.approx(trial.outcome.extreme, abs=0.006)
            assert moved.group(3) == ("incorrect ✗" if not trial.outcome.correct else "still correct ✓")
            assert abs(float(moved.group(1)) - float(moved.group(2))) > 0.05  # a visible change
    session.apply_preset(found[0].name)
    assert session.trial.spec.stimulation.mode == "none"  # a preset without stimulation turns it off


def test_a_session_applies_a_preset_in_one_step(tmp_path, monkeypatch):
    from conftest import model_path, synthetic_assets
    from rate2spike.model import save_grid_search
    root = synthetic_assets(tmp_path / "assets", N=40)
    save_grid_search(model_path(root, "go-nogo", 40), [20, 30, 40], [0.5, 0.9, 0.4], 30)
    monkeypatch.setenv("RATE2SPIKE_ASSETS", str(root))
    session = ExplorerSession()
    try:
        found = {p.name: p for p in session.presets()}
        runs = []
        session.param.watch(lambda e: runs.append(e.new), "trial")
        session.apply_preset("Inhibit the excitatory units")
        spec = session.trial.spec
        assert len(runs) == 1 and spec.stimulation.mode == "inh"  # λ, condition, seed and stimulation: one trial
        assert spec.scaling_factor == found["Inhibit the excitatory units"].settings["scaling_factor"]
        assert session.cached_presets() is not None  # found once, not again for each click
        with pytest.raises(ValueError, match="no preset"):
            session.apply_preset("Magic")
    finally:
        session.close()


def test_stimulation_from_a_preset_is_said_at_the_current_lambda_and_turns_off(tmp_path, monkeypatch):
    """After 'Inhibit the excitatory units' and another λ: the status names the stimulation at the new λ,
    the preset's note (which quotes its own λ) is gone, every trial title says so; one call turns it off."""
    from conftest import model_path, synthetic_assets
    from rate2spike.explorer import frames
    from rate2spike.model import save_grid_search
    root = synthetic_assets(tmp_path / "assets", N=40)
    save_grid_search(model_path(root, "go-nogo", 40), [20, 30, 40], [0.5, 0.9, 0.4], 30)
    monkeypatch.setenv("RATE2SPIKE_ASSETS", str(root))
    session = ExplorerSession()
    try:
        why = session.apply_preset("Inhibit the excitatory units")
        lam = session.trial.spec.scaling_factor
        n_exc = int(session.model.exc.sum())
        assert session.preset_note == f"Inhibit the excitatory units: {why}"
        assert session.stimulation_status.startswith(f"Stimulation on: all {n_exc} excitatory units pushed down, ")
        assert session.stimulation_status.endswith(f"trial at λ = {lam:g}")
        session.scaling_factor = 35.0
        assert session.stimulation_status.endswith("trial at λ = 35") and session.preset_note == ""
        output = frames.output_frame(session.trial)
        assert output.title.split("\n")[1].startswith("Stimulation on: all")
        assert len(output.sources["stimulation"]["start"]) == 1
        assert frames.raster_frame(session.trial, narrow=True).title.split("\n")[1] == (
            f"Stimulated: {n_exc} E units down, {frames.stimulation_span(session.trial)[0][0]:.3g}–"
            f"{frames.stimulation_span(session.trial)[0][1]:.3g} s")
        session.stop_stimulation()
        assert session.trial.spec.stimulation.mode == "none" and session.stimulation_status == ""
        assert "Stimulat" not in frames.output_frame(session.trial).title
        assert len(frames.output_frame(session.trial).sources["stimulation"]["start"]) == 0
        session.apply_preset("λ too small")  # a preset's note stays while its own trial is shown
        assert session.preset_note.startswith("λ too small: ") and session.stimulation_status == ""
    finally:
        session.close()

"""conversion_check: accuracy, clean accuracy and the spiking/rate gain per condition at one λ."""

from __future__ import annotations

import numpy as np
import pytest

from rate2spike.cli import main
from rate2spike.conversion import FRESH_SEED, ConditionCheck, conversion_check
from rate2spike.model import load_model
from rate2spike.sweep import run_grid
from rate2spike.trial import TrialSpec


def test_the_check_scores_the_trials_a_grid_search_of_its_seed_scores(model_file):
    model = load_model(model_file)
    check = conversion_check(model, 30.0, n_trials=12, seed=4, n_threads=2)
    grid = run_grid(TrialSpec(model, "go-nogo", 30.0, seed=4), [30.0], 12, n_threads=1)
    assert (check.n, check.correct) == (12, int(grid.n_correct[0]))
    assert check.clean == check.correct  # go-nogo answers one way: every correct answer is clean
    assert [c.name for c in check.conditions] == sorted(c.name for c in check.conditions)
    assert sum(c.n for c in check.conditions) == 12
    assert check.scaling_factor == 30.0 and check.seed == 4 and check.goal == 0.95


def test_gain_is_the_ratio_of_window_means_where_the_rate_output_is_not_near_zero():
    assert ConditionCheck("Go", 10, 10, 10, lif_mean=1.5, rate_mean=1.0).gain == pytest.approx(1.5)
    assert ConditionCheck("NoGo", 10, 10, 10, lif_mean=0.1, rate_mean=0.05).gain is None
    assert ConditionCheck("+-", 10, 9, 9, lif_mean=-0.8, rate_mean=-1.0).gain == pytest.approx(0.8)


def test_meets_asks_for_the_goal_and_every_gain_within_30_percent(model_file):
    check = conversion_check(load_model(model_file), 30.0, n_trials=4, seed=1, n_threads=1)
    good = ConditionCheck("Go", 4, 4, 4, 1.2, 1.0)
    for conditions, correct, expected in [((good,), 4, True), ((ConditionCheck("Go", 4, 4, 4, 1.4, 1.0),), 4, False),
                                          ((good,), 3, False)]:
        changed = check.__class__(**{**vars(check), "conditions": conditions, "correct": correct, "clean": correct})
        assert changed.meets() is expected
    assert np.isfinite(check.interval).all() and check.clean_interval[0] <= check.clean_accuracy


def test_evaluate_prints_the_clean_accuracy_and_the_gain_per_condition(model_file, capsys):
    assert main(["evaluate", str(model_file), "--lambda", "30", "--n-trials", "6", "--rate-trials", "0",
                 "--threads", "1"]) == 0
    out = capsys.readouterr().out
    assert f"on 6 trials (seed {FRESH_SEED}); goal 0.95" in out and "clean" in out
    assert "decision-window mean: spiking" in out and "the criterion" in out

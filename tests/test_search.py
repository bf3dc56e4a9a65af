"""Racing, the lambda band, edge extension and refinement: their error rates on constructed accuracy
curves (Bernoulli trials on common random numbers, where the true best lambda is known), their
agreement with the full grid, and their use on a shipped model."""

from __future__ import annotations

import numpy as np
import pytest

from rate2spike.model import load_model
from rate2spike.paths import find_model_files, shipped_model_dir
from rate2spike.search import (EXTENSION, REFINEMENT, LambdaTable, SearchOptions, paired_worse_p, racing_level,
                               reachable_scaling_factors, search)
from rate2spike.sweep import run_sweep
from rate2spike.validation import bernoulli_evaluate, peaked_curve, race_agreement

ALPHA = 0.05


GRID = np.arange(20.0, 76.0, 5.0)


def test_the_paired_test_uses_only_discordant_trials():
    best = np.array([1] * 10 + [0] * 5)
    other = np.array([0] * 10 + [0] * 5)  # 10 trials best right and other wrong, none the reverse
    assert paired_worse_p(best, other) == pytest.approx(0.5 ** 10)
    assert paired_worse_p(best, best) == 1.0  # no discordant trial: no evidence
    assert paired_worse_p(other, best) == pytest.approx(1.0)  # the other way round: other is better
    # 8 against 2: P(X >= 8 | 10, 1/2) = 56 / 1024
    assert paired_worse_p([1] * 8 + [0] * 2, [0] * 8 + [1] * 2) == pytest.approx(56 / 1024)


@pytest.mark.parametrize("pairing", [0.0, 0.8])
def test_a_race_drops_a_truly_best_lambda_at_most_at_its_stated_rate(pairing):
    """The hardest case for a race: the best lambda has close rivals, so it often trails the leader.
    Over many seeds it is dropped in at most alpha of the races (the bound is conservative)."""
    curve = dict(zip(GRID, [0.90, 0.89, 0.88, 0.88, 0.86, 0.85, 0.8, 0.7, 0.6, 0.5, 0.4, 0.3]))
    best = 20.0
    runs, dropped = 400, 0
    for seed in range(runs):
        table = LambdaTable(GRID, 100)
        search(table, bernoulli_evaluate(table, curve.get, np.random.default_rng(seed), pairing),
               SearchOptions(race=True, alpha=ALPHA))
        dropped += bool(table.dropped[table.index(best)])
    assert dropped / runs <= ALPHA


def test_with_many_equally_good_lambdas_each_stays_in_the_race_and_in_the_band():
    """Six lambdas tie at the top: each of them is dropped by the race, or left out of the full grid's
    band, in at most alpha of the runs."""
    values = [0.9] * 6 + [0.8, 0.6, 0.5, 0.4, 0.3, 0.3]
    curve = dict(zip(GRID, values))
    runs = 300
    raced_out = np.zeros(6)
    banded_out = np.zeros(6)
    for seed in range(runs):
        rng = np.random.default_rng(seed)
        race = LambdaTable(GRID, 100)
        search(race, bernoulli_evaluate(race, curve.get, rng), SearchOptions(race=True, alpha=ALPHA))
        raced_out += race.dropped[:6]
        grid = LambdaTable(GRID, 100)
        search(grid, bernoulli_evaluate(grid, curve.get, rng), SearchOptions(alpha=ALPHA))
        band = set(grid.band(ALPHA).tolist())
        banded_out += [k not in band for k in range(6)]
    assert (raced_out / runs <= ALPHA).all()
    assert (banded_out / runs <= ALPHA).all()


def test_the_band_excludes_lambdas_that_are_clearly_worse():
    curve = dict(zip(GRID, [0.95, 0.95, 0.7, 0.5, 0.3, 0.3, 0.3, 0.3, 0.3, 0.3, 0.3, 0.3]))
    table = LambdaTable(GRID, 200)
    search(table, bernoulli_evaluate(table, curve.get, np.random.default_rng(1)), SearchOptions())
    assert table.scaling_factors[table.band(ALPHA)].tolist() == [20.0, 25.0]


def test_racing_agrees_with_the_full_grid_on_synthetic_curves_and_scores_fewer_trials():
    """20 synthetic accuracy curves (optimum anywhere on the grid, narrow or wide peaks) x 3 seeds:
    the race's optimum is within one grid step of the full grid's or inside the full grid's band."""
    found = race_agreement(GRID, 100, n_curves=20, seeds=3)
    assert found["runs"] == 60 and found["agreement"] == 1.0
    assert found["trials_saved"] > 0.3  # a race scores far fewer trials on such curves


def test_the_race_level_spends_alpha_over_rounds_and_rivals():
    assert racing_level(0.05, 10, 12) == pytest.approx(0.05 / 110)
    assert racing_level(0.05, 1, 1) == 0.05


def test_edge_extension_finds_an_optimum_below_the_grid_and_stops_when_accuracy_falls():
    curve = peaked_curve(peak=12, width=6, top=0.97)
    table = LambdaTable(GRID, 100)
    notes = search(table, bernoulli_evaluate(table, curve, np.random.default_rng(3)), SearchOptions(extend=True))
    added = table.scaling_factors[table.origin == EXTENSION].tolist()
    assert {10.0, 15.0} <= set(added) and min(added) >= 1.0
    assert table.scaling_factors[table.best()] in (10.0, 15.0)
    assert notes and notes[0].startswith("the lambda band reached the grid's lower edge (20); added lambda 15, 10")
    assert table.n_done[table.origin == EXTENSION].tolist() == [100] * len(added)  # the same trials as the grid


def test_edge_extension_never_goes_below_one_and_respects_its_limit():
    table = LambdaTable([3.0, 6.0, 9.0], 100)
    search(table, bernoulli_evaluate(table, lambda lam: 1.0 if lam < 2 else 0.9 - lam / 15, np.random.default_rng(0)),
           SearchOptions(extend=True))
    assert table.scaling_factors.tolist()[0] == 1.0
    table = LambdaTable([20.0, 25.0], 200)
    search(table, bernoulli_evaluate(table, lambda lam: min(1.0, (lam - 15) / 30), np.random.default_rng(0)),
           SearchOptions(extend=True, extend_limit=3))
    assert table.scaling_factors.tolist() == [20.0, 25.0, 30.0, 35.0, 40.0]


@pytest.mark.parametrize("race", [False, True])
def test_a_flat_curve_is_never_extended(race):
    """A model that every lambda fails alike (a readout five times too strong: Go always, NoGo never)
    gives no direction to search in: no lambda is added, whatever the first maximum says."""
    table = LambdaTable(GRID, 100)
    notes = search(table, bernoulli_evaluate(table, lambda lam: 0.49, np.random.default_rng(1), pairing=1.0),
                   SearchOptions(extend=True, race=race))
    assert table.scaling_factors.tolist() == GRID.tolist() and not any("edge" in note for note in notes)


def plateau_curve(best: float, top: float = 0.98, shoulder: float = 0.95, fall_from: float = 72.0):
    """High and nearly flat over a broad range (xor's shape), best just below the grid, falling above it."""
    return lambda lam: float(np.clip(top - abs(lam - best) * (top - shoulder) / 15
                                     - max(0.0, lam - fall_from) * 0.04, 0.05, 0.999))


@pytest.mark.parametrize("curve_name", ["plateau below the grid", "peak below the grid", "peak inside",
                                        "peak above the grid"])
def test_full_grid_and_race_with_extension_each_find_an_optimum_in_the_others_band(curve_name):
    """The band is bracketed: extension goes on while the band reaches an edge, in the full grid (where
    the best need not be on the edge) as after a race, so the two agree: each one's optimum lies in
    the other's band (on 100 seeds: 96, 100, 100 and 92 of 100 runs for these four curves)."""
    curve = {"plateau below the grid": plateau_curve(10.0), "peak below the grid": peaked_curve(12, 10, 0.97),
             "peak inside": peaked_curve(40, 10, 0.96), "peak above the grid": peaked_curve(84, 8, 0.96)}[curve_name]
    agree, runs = 0, 20
    for seed in range(runs):
        full, race = LambdaTable(GRID, 100), LambdaTable(GRID, 100)
        search(full, bernoulli_evaluate(full, curve, np.random.default_rng(seed)), SearchOptions(extend=True))
        search(race, bernoulli_evaluate(race, curve, np.random.default_rng(seed)),
               SearchOptions(extend=True, race=True))
        full_best, race_best = (float(t.scaling_factors[t.best()]) for t in (full, race))
        agree += (full_best in race.scaling_factors[race.band()]) and (race_best in full.scaling_factors[full.band()])
        if curve_name.endswith("below the grid"):
            assert full.scaling_factors[0] < GRID[0]  # the band reached the lower edge: the grid grew
    assert agree >= 0.85 * runs


def test_a_race_with_extension_follows_the_optimum_off_the_grid():
    curve = peaked_curve(peak=84, width=8, top=0.96)
    table = LambdaTable(GRID, 100)
    notes = search(table, bernoulli_evaluate(table, curve, np.random.default_rng(4)),
                   SearchOptions(race=True, extend=True))
    assert table.scaling_factors[table.best()] >= 80
    assert any("upper edge (75)" in note for note in notes)


def test_refinement_scores_a_finer_step_around_the_best_on_the_same_trials():
    curve = peaked_curve(peak=33, width=4, top=0.98)
    table = LambdaTable(GRID, 60)
    notes = search(table, bernoulli_evaluate(table, curve, np.random.default_rng(5)), SearchOptions(refine=True))
    fine = table.scaling_factors[table.origin == REFINEMENT]
    best_grid = 35.0 if curve(35) >= curve(30) else 30.0
    assert len(fine) == 8 and np.allclose(np.diff(fine[fine < best_grid]), 1.0)
    assert (table.n_done[table.origin == REFINEMENT] == 60).all()
    assert notes[-1].startswith("refined around")


def test_bad_options_are_refused_with_their_name():
    with pytest.raises(ValueError, match="alpha"):
        SearchOptions(alpha=1.5)
    with pytest.raises(ValueError, match="round_trials"):
        SearchOptions(round_trials=0)
    with pytest.raises(ValueError, match="repeated"):
        LambdaTable([20, 20], 10)


def test_refinement_in_a_race_races_the_finer_lambdas_against_the_best():
    curve = peaked_curve(peak=33, width=4, top=0.98)
    table = LambdaTable(GRID, 200)
    notes = search(table, bernoulli_evaluate(table, curve, np.random.default_rng(6)),
                   SearchOptions(race=True, refine=True))
    fine = table.origin == REFINEMENT
    assert fine.sum() == 8 and table.dropped[fine].any()  # fine lambdas far from the peak are raced out
    assert (table.n_done[fine & table.dropped] < 200).all()
    assert abs(table.scaling_factors[table.best()] - 33) <= 2
    assert any(note.startswith("refined around") and "raced against it" in note for note in notes)


@pytest.mark.parametrize("task, n_trials", [("go-nogo", 40), ("xor", 30), ("mante", 30)])
def test_on_a_shipped_model_a_race_scores_the_full_grids_trials_and_agrees_with_it(task, n_trials):
    """On LIF trials: every trial the race scores is the full grid's trial (same verdict), the race
    scores fewer of them (every shipped curve falls at large λ), and its optimum is the full grid's,
    a grid step away, or in its band."""
    model = load_model(find_model_files(shipped_model_dir(task))[0], stored_results=False)
    grid = [10.0, 25.0, 40.0, 55.0, 70.0, 85.0]
    full = run_sweep(model, scaling_factors=grid, n_trials=n_trials)
    race = run_sweep(model, scaling_factors=grid, n_trials=n_trials, options=SearchOptions(race=True))
    for k, n in enumerate(race.n_done):
        np.testing.assert_array_equal(race.table.verdicts[k, :n], full.table.verdicts[k, :n])
    assert race.n_done.sum() < full.n_done.sum()
    assert race.optimum[0] in full.band or abs(race.optimum[0] - full.optimum[0]) <= 10


def test_blocks_put_the_lambdas_of_a_trial_together_and_cover_every_job_once():
    """A block runs several lambdas on the same trials (they share the trials' noise draws); any
    set of (lambda, trial) jobs, a full grid or a race round's or a journal's leftovers, is
    covered exactly once, in blocks of about the asked size and no lone lambda beside a full one."""
    from rate2spike.engine import make_blocks

    grid = [(lam, k) for lam in range(20, 80, 5) for k in range(10)]  # 12 lambdas x 10 trials
    blocks = make_blocks(grid, 12)
    assert all(block.scaling_factors == tuple(float(lam) for lam in range(20, 80, 5)) and len(block.trials) == 1
               for block in blocks)
    ragged = grid[5:] + [(80, k) for k in range(4)]  # a journal replayed 5 jobs; the grid was extended by one lambda
    for size in (1, 4, 12, 24):
        blocks = make_blocks(ragged, size)
        covered = [(lam, k) for block in blocks for lam in block.scaling_factors for k in block.trials]
        assert sorted(covered) == sorted((float(lam), k) for lam, k in ragged)
        assert all(len(block) <= max(size, 1) for block in blocks)
    widths = {len(block.scaling_factors) for block in make_blocks([(lam, 0) for lam in range(13)], 12)}
    assert widths == {6, 7}  # 13 lambdas in two blocks of 7 and 6, not 12 and 1



@pytest.mark.parametrize("options", [SearchOptions(), SearchOptions(extend=True), SearchOptions(refine=True),
                                     SearchOptions(extend=True, refine=True, extend_limit=3),
                                     SearchOptions(race=True, extend=True, refine=True)])
def test_every_lambda_a_search_scores_is_one_it_could_reach(options):
    """A resumed journal's lambdas are checked against ``reachable_scaling_factors``: every lambda a
    search adds (extension at either edge, down to lambda 1, refinement around the best) is in it,
    and a lambda off that set is not."""
    for grid, peak in (([3.0, 6.0, 9.0], 1.0), (GRID, 12.0), (GRID, 90.0), (GRID, 33.0), ([30.0], 30.0)):
        reachable = reachable_scaling_factors(grid, options)
        for seed in range(3):
            table = LambdaTable(grid, 60)
            search(table, bernoulli_evaluate(table, peaked_curve(peak=peak, width=6, top=0.97),
                                             np.random.default_rng(seed)), options)
            assert set(table.scaling_factors.tolist()) <= reachable
        assert (len(reachable) > len(grid)) == (options.extend or options.refine)
        assert 20.5 not in reachable and max(grid) + 1e-6 not in reachable


def test_results_keep_the_order_given_and_added_lambdas_follow_in_increasing_order():
    """The table sorts its lambdas, results do not: the user's grid as given, then the lambdas the
    search added. A tie goes to the first in that order, so an added lambda becomes the optimum only
    when it is strictly better than every lambda the user gave (as the reference's first maximum)."""
    table = LambdaTable([30.0, 20.0, 25.0], 10)
    curve = lambda lam: 1.0 if lam <= 20 else 0.0  # noqa: E731  (20 and every lambda below it tie)
    notes = search(table, bernoulli_evaluate(table, curve, np.random.default_rng(0)), SearchOptions(extend=True))
    assert table.scaling_factors[table.given_order()].tolist() == [30.0, 20.0, 25.0, 1.0, 5.0, 10.0, 15.0]
    assert table.scaling_factors[table.best()] == 20.0 and "added lambda 15, 10, 5, 1" in notes[0]
    given = LambdaTable([30.0, 20.0, 25.0], 10)
    for lam, correct in ((30.0, True), (20.0, True), (25.0, False)):  # the table's rows are 20, 25, 30
        given.set_many(given.index(lam), range(10), [correct] * 10)
    assert given.scaling_factors[given.best()] == 30.0  # the first maximum as given, not the smallest lambda

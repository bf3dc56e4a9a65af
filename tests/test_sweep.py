"""The grid search: fair comparison across lambdas, intervals, progress, cancel, results."""

from __future__ import annotations

import csv
import threading

import numpy as np
import pytest

from rate2spike.model import load_model
from rate2spike.sweep import SweepResult, run_grid, run_sweep, wilson_interval
from rate2spike.tasks import Outcome
from rate2spike.trial import TrialSpec, run_trial


def test_wilson_interval_known_values():
    low, high = wilson_interval(8, 10)
    assert low == pytest.approx(0.4902, abs=1e-4) and high == pytest.approx(0.9433, abs=1e-4)
    low, high = wilson_interval(0, 20)
    assert low == pytest.approx(0.0, abs=1e-12) and high == pytest.approx(0.1611, abs=1e-4)
    low, high = wilson_interval(20, 20)
    assert high == pytest.approx(1.0) and low == pytest.approx(0.8389, abs=1e-4)
    for n in (40, 60, 100, 200):  # all or none correct: the observed proportion is inside, exactly
        assert wilson_interval(n, n)[1] == 1.0 and wilson_interval(0, n)[0] == 0.0
    low, high = wilson_interval(np.array([0, 30, 60]), 60)
    assert low[0] == 0.0 and high[2] == 1.0 and 0 < low[1] < 0.5 < high[1] < 1


def test_same_trials_at_every_lambda(make_model):
    model = load_model(make_model("Task_mante_N_30_x.mat", N=30, n_inputs=4))
    a = TrialSpec(model, scaling_factor=20, seed=5, index=3)
    b = a.replace(scaling_factor=60)
    c = a.replace(index=4)
    np.testing.assert_array_equal(a.stimulus().u, b.stimulus().u)
    assert a.noise_seed == b.noise_seed and not np.array_equal(a.stimulus().u, c.stimulus().u)


def test_a_sweep_scores_the_trials_its_specs_describe(make_model):
    """Each recorded outcome is run_trial of the base spec at that lambda and index."""
    model = load_model(make_model("Task_xor_N_30_x.mat", N=30, n_inputs=2))
    base = TrialSpec(model, seed=2, downsample=2)
    result = run_grid(base, [20, 45], 3, n_threads=2)
    for k_lambda, lam in enumerate([20.0, 45.0]):
        for k in range(3):
            trial = run_trial(base.replace(scaling_factor=lam, index=k))
            assert result.outcomes[k_lambda][k] == trial.outcome
    assert result.base is base and result.task == "xor" and result.seed == 2


def test_sweep_result_statistics(model_file):
    r = SweepResult(TrialSpec(load_model(model_file)), scaling_factors=[20, 30, 40], n_trials=2)
    for k, nogo_correct in enumerate([False, True, True]):
        r.record(k, 0, Outcome("Go", 1, True, 0.6), spikes=10)
        if k < 2:  # the last lambda has one trial still running
            r.record(k, 1, Outcome("NoGo", 0, nogo_correct, None), spikes=10)
    np.testing.assert_allclose(r.accuracy, [0.5, 1.0, 1.0])
    assert r.n_done.tolist() == [2, 2, 1] and r.n_correct.tolist() == [1, 2, 1]
    assert r.optimum == (30.0, 1.0)  # the first maximum among fully scored lambdas, as the reference
    assert np.isnan(r.group_accuracy()["NoGo"][2]) and r.group_accuracy()["NoGo"][:2].tolist() == [0.0, 1.0]
    text = r.to_csv()
    head = [line for line in text.splitlines() if line.startswith("#")]
    table = [line for line in text.splitlines() if not line.startswith("#")]
    assert table[0].startswith("scaling_factor,n_trials,n_correct,accuracy,ci95_low,ci95_high,balanced_accuracy")
    rows = list(csv.DictReader(table))
    assert len(rows) == 3 and rows[2]["status"] == "partial sweep (1 of 2 trials)"
    assert "# status: partial" in head and any(h.startswith("# warning: the sweep is partial (5 of 6 trials)")
                                               for h in head)
    r.record(2, 1, Outcome("NoGo", 0, True, None))
    assert r.optimum == (30.0, 1.0) and r.complete.all()
    with pytest.raises(ValueError, match="already recorded"):
        r.record(2, 1, Outcome("NoGo", 0, True, None))


def test_progress_and_result(model_file):
    model = load_model(model_file)
    seen = []
    result = run_sweep(model, None, [20, 30], 4, seed=1, progress=seen.append)
    done = [p.done for p in seen]  # after every finished block of trials
    assert done == sorted(done) and done[-1] == 8 and seen[-1].total == 8
    assert result.n_done.tolist() == [4, 4] and not result.cancelled
    assert result.mean_firing_rate[0] > 0 and result.optimum is not None
    b = result.breakdown(0)
    assert b["n_trials"] == 4 and "accuracy Go" in b


def test_cancel_stops_early(model_file):
    model = load_model(model_file)
    cancel = threading.Event()
    calls = []

    def progress(p):
        calls.append(p.done)
        if p.done >= 3:
            cancel.set()

    result = run_sweep(model, "go-nogo", [20, 30, 40, 50], 25, progress=progress, cancel=cancel, n_threads=2)
    assert result.cancelled
    assert 3 <= result.n_done.sum() <= calls[-1]  # nothing is recorded after the cancel
    assert result.n_done.sum() < 100


def test_bad_arguments(model_file):
    model = load_model(model_file)
    with pytest.raises(ValueError, match="input"):
        run_sweep(model, "xor", [20], 2)
    with pytest.raises(ValueError, match="positive"):
        run_sweep(model, "go-nogo", [0, 20], 2)
    with pytest.raises(ValueError, match="n_trials"):
        run_sweep(model, "go-nogo", [20], 0)
    with pytest.raises(ValueError, match="no option"):
        run_sweep(model, "go-nogo", [20], 2, task_options={"evidence_strength": 1.0})


def _result(model, factors, go_correct, nogo_correct, repeats: int = 1):
    """A finished sweep with given Go / NoGo verdicts per lambda (``repeats`` trials of each)."""
    r = SweepResult(TrialSpec(model), factors, 2 * repeats)
    for k, (go, nogo) in enumerate(zip(go_correct, nogo_correct)):
        for j in range(repeats):
            r.record(k, 2 * j, Outcome("Go", 1, go, None, extreme=0.9 if go else 0.2, level=0.7))
            r.record(k, 2 * j + 1, Outcome("NoGo", 0, nogo, None, extreme=0.1 if nogo else 0.6, level=0.3))
    return r


def test_a_curve_no_lambda_lifts_above_a_constant_answer_is_a_failed_conversion_not_an_edge_optimum(model_file):
    """The issue's example: Go fails at large lambda, NoGo at small, every lambda scores 0.5. The first
    maximum (20) is no result: the verdict says so, and no warning points at the edge or the ties."""
    model = load_model(model_file)
    r = _result(model, [20, 40, 65, 70], [True, True, False, False], [False, False, True, True], repeats=25)
    np.testing.assert_allclose(r.accuracy, 0.5) and np.testing.assert_allclose(r.balanced_accuracy(), 0.5)
    verdict = r.verdict()
    assert verdict.failed and "does significantly better than always giving the commonest answer (0.50)" in verdict.reason
    assert r.warnings() == []


def test_warnings_name_the_edge_and_the_ties(model_file):
    model = load_model(model_file)
    tied = _result(model, [20, 40, 65], [True, True, False], [True, True, True], repeats=20)
    assert tied.verdict().kind == "converted" and tied.optimum == (20.0, 1.0)
    notes = tied.warnings()
    assert "the optimum is at the grid's lower edge (20): try lower lambdas" in notes
    assert any(n.startswith("lambda 40 ties with the optimum 20") for n in notes)
    clean = _result(model, [20, 40, 65], [True, True, False], [False, True, True], repeats=20)
    assert clean.optimum == (40.0, 1.0) and clean.warnings() == []
    upper = _result(model, [20, 40], [False, True], [False, True], repeats=20)
    assert upper.warnings() == ["the optimum is at the grid's upper edge (40): try higher lambdas"]


def _xor_result(model, factors, swinging_per_factor, missed_per_factor=None, trials: int = 40):
    """A finished xor sweep: at each λ, the given number of trials also crossing the opposite threshold
    (answering both ways), the given number missed (the last ones), the others correct and clean."""
    r = SweepResult(TrialSpec(model, task="xor"), factors, trials)
    for k, swinging in enumerate(swinging_per_factor):
        missed = missed_per_factor[k] if missed_per_factor else 0
        for j in range(trials):
            label, correct = (1 if j % 2 else -1), j < trials - missed
            opposite = -label * (0.9 if j < swinging else 0.1)
            r.record(k, j, Outcome("++" if label == 1 else "+-", label, correct, None,
                                   extreme=(0.9 if correct else 0.2) * label, level=0.7 * label, opposite=opposite))
    return r


def test_the_verdict_says_the_reference_optimum_scores_higher_only_when_it_does(make_model):
    """xor shipped since issue 24 read "the reference's optimum, λ = 20, scores higher only by counting
    outputs that swing", beside a best clean λ scoring the same 1.000: the clause says what is true."""
    model = load_model(make_model(n_inputs=2))
    tie = _xor_result(model, [20, 45], [8, 0]).verdict()  # 1.000 by the rule at both; 45 is clean
    assert tie.kind == "converted" and "λ = 45 scores 1.000" in tie.reason
    assert "λ = 20, scores as high (1.000) only by counting outputs that swing" in tie.reason
    assert "20% of its correct trials answer both ways" in tie.reason
    higher = _xor_result(model, [20, 45], [8, 0], missed_per_factor=[0, 1]).verdict()  # 45 misses one
    assert "λ = 45 scores 0.975" in higher.reason and "λ = 20, scores higher (1.000) only by counting" in higher.reason
    same = _xor_result(model, [20, 45], [8, 30]).verdict()  # the optimum is also the best clean λ
    assert "the best λ, 20, scores 0.800" in same.reason and "it scores 1.000 by the reference's rule" in same.reason
    assert "higher" not in same.reason and "as high" not in same.reason


def test_margins_keep_every_trials_scored_value(model_file):
    r = _result(load_model(model_file), [20, 40], [True, False], [True, True])
    m = r.margins()
    assert m["scaling_factor"].tolist() == [20, 20, 40, 40] and list(m["group"]) == ["Go", "NoGo", "Go", "NoGo"]
    np.testing.assert_allclose(m["value"], [0.9, 0.1, 0.2, 0.1])
    assert m["level"].tolist() == [0.7, 0.3, 0.7, 0.3] and m["correct"].tolist() == [True, True, False, True]


def test_the_cli_sweep_names_a_condition_never_answered_as_a_failed_conversion(model_file, capsys):
    """At huge lambda the output stays near 0: every NoGo trial passes, no Go trial does. That is no
    conversion: the verdict says so first, exit code 3, and the file gets no optimum."""
    from rate2spike.cli import main
    assert main(["sweep", str(model_file), "--n-trials", "6", "--scaling-factors", "1000"]) == 3
    out = capsys.readouterr().out
    assert "lambda = 1000: accuracy" in out and "balanced 0.500; Go 0.000, NoGo 1.000" in out
    verdict = next(line for line in out.splitlines() if ": verdict: " in line)
    assert "verdict: failed: No λ converts this model: Go fails at every λ tried" in verdict
    stored = load_model(model_file)
    assert stored.opt_scaling_factor is None and stored.search_verdict.startswith("failed: No λ converts")


def test_the_cli_sweep_extends_past_the_shipped_go_nogo_edge_optimum_or_warns_without(tmp_path, capsys):
    import shutil

    from rate2spike.cli import main
    from rate2spike.paths import shipped_model_dir
    model = tmp_path / "go-nogo.mat"
    shutil.copy(next(shipped_model_dir("go-nogo").glob("*.mat")), model)
    grid = ["--scaling-factors", "20,60,75"]  # lambda 60 and 75 are far past this model's optimum (~20)
    assert main(["sweep", str(model), "--force", "--n-trials", "30", "--no-extend", *grid]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert "warning: the optimum is at the grid's lower edge (20): try lower lambdas" in lines
    assert main(["sweep", str(model), "--force", "--n-trials", "30", *grid]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert any(line.startswith("note: the lambda band reached the grid's lower edge (20); added lambda 5")
               for line in lines)
    assert not any("try lower lambdas" in line for line in lines if line.startswith("warning:")) or \
        min(load_model(model).scaling_factors) == 1.0  # only at the bound may the edge warning stay


def test_output_fidelity_compares_5ms_means_with_the_rate_output_and_batches_agree():
    """A LIF trace that holds the rate network's o_t over each 5 ms step matches it exactly (mse 0,
    correlation 1), at any downsampling; a flat trace has no correlation; the lambdas of one trial
    scored together get what each gets alone."""
    from rate2spike.fidelity import output_fidelities, output_fidelity

    rate = np.sin(np.linspace(0, 6, 201))  # o_0 .. o_200 on the 5 ms grid
    for downsample in (1, 2, 4):
        lif = np.repeat(rate[1:], 100 // downsample)  # 0.05 ms x downsample steps
        assert output_fidelity(lif, rate, downsample) == pytest.approx((0.0, 1.0))
    flat = output_fidelity(np.full(20000, 0.3), rate)
    assert np.isnan(flat.correlation) and flat.mse == pytest.approx(np.mean((0.3 - rate[1:]) ** 2))
    traces = np.random.default_rng(1).standard_normal((3, 20000)).cumsum(axis=1)
    together = output_fidelities(traces, rate)
    for trace, fidelity in zip(traces, together):
        assert fidelity == pytest.approx(output_fidelity(trace, rate))


@pytest.mark.parametrize("task, n_inputs, groups", [("go-nogo", 1, ("Go", "NoGo")), ("xor", 2, ("++", "+-", "-+", "--")),
                                                    ("mante", 4, ("context 1", "context 2"))])
def test_the_csv_opens_with_the_one_documented_pandas_call(make_model, tmp_path, task, n_inputs, groups):
    """`pandas.read_csv(path, comment="#")` (docs/usage.md, SweepResult.to_csv) gives one row per λ,
    every column of the header with its values: numbers as numbers, a λ no trial of a condition
    reached as NaN, the status text whole. pandas is in the test extra, so this runs in CI."""
    import pandas

    model = load_model(make_model(f"Task_{task}_N_20_x.mat", N=20, n_inputs=n_inputs))
    r = SweepResult(TrialSpec(model, task), scaling_factors=[20, 30], n_trials=2)
    label = {"go-nogo": 1, "xor": 1, "mante": 1}[task]
    r.record(0, 0, Outcome(groups[0], label, True, 0.6), spikes=10)
    r.record(0, 1, Outcome(groups[1], -1 if task != "go-nogo" else 0, False, 0.2), spikes=10)
    r.record(1, 0, Outcome(groups[0], label, False, 0.1), spikes=10)  # λ = 30: partial, no trial of groups[1]
    target = tmp_path / "curve.csv"
    r.to_csv(target)
    frame = pandas.read_csv(target, comment="#")
    rows = list(csv.DictReader(line for line in target.read_text().splitlines() if not line.startswith("#")))
    assert list(frame.columns) == list(rows[0]) and len(frame) == 2
    assert frame["scaling_factor"].tolist() == [20.0, 30.0] and frame["accuracy"].tolist() == [0.5, 0.0]
    assert frame[f"accuracy {groups[0]}"].tolist() == [1.0, 0.0]
    assert frame[f"accuracy {groups[1]}"].iloc[0] == 0.0 and np.isnan(frame[f"accuracy {groups[1]}"].iloc[1])
    assert frame["status"].tolist() == ["partial sweep (2 of 2 trials)", "partial sweep (1 of 2 trials)"]

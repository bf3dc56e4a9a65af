"""Task definitions: stimuli on both grids, conditions and factors, and both scoring rules."""

from __future__ import annotations

import numpy as np
import pytest

from rate2spike.model import load_model
from rate2spike.tasks import TASKS, Stimulus, get_task, infer_task
from rate2spike.timegrid import first_sample_from
from rate2spike.trial import TrialSpec

DT = 0.00005


def _stimulus(task, name, seed=0):
    return task.stimulus(np.random.default_rng(seed), name)


def test_go_nogo_stimulus():
    task = get_task("go-nogo")
    go, nogo = _stimulus(task, "Go"), _stimulus(task, "NoGo")
    assert go.u.shape == (1, 201) and go.u.sum() == 25 and go.u[0, 50:75].all()
    assert nogo.u.sum() == 0 and go.condition.label == 1 and nogo.condition.label == 0


def test_xor_stimulus_and_labels():
    task = get_task("xor")
    t = _stimulus(task, "+-")
    assert t.u.shape == (2, 301) and (t.u[0, 50:100] == 1).all() and (t.u[1, 110:160] == -1).all()
    assert t.u[:, :50].sum() == 0 and t.u[0, 100:].sum() == 0 and t.condition.label == -1
    assert _stimulus(task, "--").condition.label == 1


def test_mante_stimulus_context_and_evidence():
    task = get_task("mante")
    t = _stimulus(task, "context 2: input 1 +, input 2 -")
    assert t.u.shape == (4, 501) and (t.u[3] == 1).all() and (t.u[2] == 0).all()
    assert t.condition.label == -1 and t.u[:2, :50].sum() == 0 and t.u[:2, 250:].sum() == 0
    assert t.evidence == pytest.approx(t.u[1, 50:250].mean())
    # the noise is unit-variance around +-0.5, and the strength option moves the mean
    values = np.concatenate([_stimulus(task, "context 1: input 1 +, input 2 +", k).u[0, 50:250] for k in range(200)])
    assert abs(values.mean() - 0.5) < 0.02 and abs(values.std() - 1) < 0.02
    strong = task.stimulus(np.random.default_rng(0), "context 1: input 1 +, input 2 +", {"evidence_strength": 1.5})
    assert strong.u[0, 50:250].mean() == pytest.approx(_stimulus(task, "context 1: input 1 +, input 2 +").u[0, 50:250].mean() + 1.0)
    with pytest.raises(ValueError, match="within 0..2"):
        task.stimulus(np.random.default_rng(0), None, {"evidence_strength": 3.0})


def test_random_conditions_are_balanced():
    for task in TASKS.values():
        rng = np.random.default_rng(1)
        labels = [task.stimulus(rng).condition.label for _ in range(2000)]
        assert 0.45 < np.mean(np.array(labels) == labels[0]) < 0.55, task.name


def test_fixing_a_factor_keeps_the_rest_of_the_draw():
    """Choosing what the random draw gave changes nothing; fixing one factor keeps the others
    and the noise."""
    task = get_task("mante")
    drawn = task.stimulus(np.random.default_rng(11))
    context, first, second = drawn.condition.levels
    same = task.stimulus(np.random.default_rng(11), {"context": context})
    np.testing.assert_array_equal(same.u, drawn.u)
    other = "2" if context == "1" else "1"
    flipped = task.stimulus(np.random.default_rng(11), {"context": other})
    assert flipped.condition.levels == (other, first, second)
    np.testing.assert_array_equal(flipped.u[:2], drawn.u[:2])  # the same noisy inputs
    with pytest.raises(ValueError, match="no factor"):
        task.fixed_levels({"colour": "red"})
    with pytest.raises(ValueError, match="'x' is not one of"):
        task.fixed_levels({"context": "x"})


@pytest.mark.parametrize("name", sorted(TASKS))
def test_both_grids_lay_out_the_same_inputs(name):
    """The training trial is the conversion trial cut to the trainer's length, for every condition."""
    task = get_task(name)
    batch = task.training_batch(np.random.default_rng(3), 64)
    for u, label in zip(batch.u, batch.labels):
        matches = [c for c in task.conditions() if c.label == label]
        assert matches, label
        if name == "mante":  # noise differs: compare the cue and the sign of the offsets
            attended = u[0 if u[2, 0] == 1 else 1, 50:250].mean()
            assert np.sign(attended) == label or abs(attended) < 0.3
            continue
        lif_versions = [_stimulus(task, c.name).u[:, :task.training_steps] for c in matches]
        assert any(np.array_equal(u, v) for v in lif_versions)


@pytest.mark.parametrize("name,start", [("go-nogo", 9999), ("xor", 19999), ("mante", 25999)])
def test_windows_select_the_reference_samples(name, start):
    task = get_task(name)
    assert first_sample_from(task.decision_start, DT) == start
    label_pos = [c for c in task.conditions() if c.label == 1][0]
    n = {"go-nogo": 20000, "xor": 30000, "mante": 50000}[name]
    trial = Stimulus(np.zeros((task.n_inputs, task.n_columns)), label_pos)
    out = np.zeros(n)
    out[start - 1] = 1.0  # a response just before the window does not count
    assert not task.score(out, DT, trial).correct
    out[start] = 1.0  # the first sample of the window does
    outcome = task.score(out, DT, trial)
    assert outcome.correct and outcome.response_time == pytest.approx((start + 1) * DT)


def test_window_in_seconds_survives_downsampling():
    task = get_task("go-nogo")
    go = Stimulus(np.zeros((1, 201)), task.condition("Go"))
    out = np.zeros(10000)  # downsample 2: dt = 0.1 ms
    out[6000:7000] = 0.9  # a response at 0.6-0.7 s
    assert task.score(out, 2 * DT, go).correct
    assert first_sample_from(0.5, 2 * DT) == 4999
    out[:] = 0
    out[4000] = 0.9  # at 0.4 s, before the window
    assert not task.score(out, 2 * DT, go).correct


def test_nogo_and_negative_rules():
    gonogo, xor = get_task("go-nogo"), get_task("xor")
    nogo = Stimulus(np.zeros((1, 201)), gonogo.condition("NoGo"))
    out = np.zeros(20000)
    out[15000] = 0.29
    outcome = gonogo.score(out, DT, nogo)
    assert outcome.correct and outcome.extreme == pytest.approx(0.29) and outcome.level == 0.3
    out[15000] = 0.31
    assert not gonogo.score(out, DT, nogo).correct
    out[15000] = -5.0  # the LIF rule compares the maximum, not the absolute value (training does)
    assert gonogo.score(out, DT, nogo).correct
    minus = Stimulus(np.zeros((2, 301)), xor.condition("+-"))
    out = np.zeros(30000)
    out[25000] = -0.71
    outcome = xor.score(out, DT, minus)
    assert outcome.correct and outcome.extreme == pytest.approx(-0.71) and outcome.level == -0.7
    out[25000] = -0.69
    assert not xor.score(out, DT, minus).correct


def test_breakdowns():
    gonogo = get_task("go-nogo")
    outcomes = [gonogo.score(np.r_[np.zeros(10000), np.full(10000, v)], DT, _stimulus(gonogo, c))
                for c, v in [("Go", 1.0), ("Go", 0.0), ("NoGo", 0.0), ("NoGo", 0.0)]]
    b = gonogo.breakdown(outcomes)
    assert b["accuracy Go"] == 0.5 and b["accuracy NoGo"] == 1.0 and b["combined"] == 0.75
    xor = get_task("xor")
    outs = []
    for t0 in [1.2, 1.3, 1.4]:
        out = np.zeros(30000)
        out[int(t0 / DT):] = 1.0
        outs.append(xor.score(out, DT, _stimulus(xor, "++")))
    b = xor.breakdown(outs)
    assert b["accuracy ++"] == 1.0 and np.isnan(b["accuracy +-"])
    assert b["response time mean (s)"] == pytest.approx(1.3, abs=1e-3)
    assert b["response time sd (s)"] == pytest.approx(np.std([1.2, 1.3, 1.4]), abs=1e-3)
    mante = get_task("mante")
    rng = np.random.default_rng(2)
    outs = []
    for k in range(100):
        t = mante.stimulus(rng)
        out = np.zeros(50000)
        out[30000:] = 1.0 if t.evidence > 0 else -1.0  # an ideal integrator
        outs.append(mante.score(out, DT, t))
    b = mante.breakdown(outs)
    assert b["accuracy"] == 1.0 and b["accuracy context 1"] == 1.0
    curve = b["integration curve"]
    assert sum(row["n_trials"] for row in curve) == 100 and all(row["accuracy"] == 1.0 for row in curve)


def test_names_and_inference(make_model):
    assert get_task("GO_NOGO").name == "go-nogo"
    with pytest.raises(ValueError, match="unknown task 'foo'"):
        get_task("foo")
    with pytest.raises(ValueError, match="no condition"):
        get_task("xor").condition("Go")
    assert infer_task(load_model(make_model("plain.mat", n_inputs=4))).name == "mante"
    assert infer_task(load_model(make_model("Task_xor_N_60_Taus_4.0_20.0_Act_sigmoid_x.mat", n_inputs=2))).name == "xor"


class _SecondOneInputTask(type(TASKS["go-nogo"])):
    """A made-up task with go-nogo's single input: a model of one input is then ambiguous."""

    name = "detect"
    description = "Answer +1 to a pulse (a made-up second one-input task)."


def test_an_ambiguous_model_is_refused_with_the_candidates_and_the_option_that_chooses(make_model, monkeypatch):
    import rate2spike.tasks as tasks

    monkeypatch.setitem(tasks.TASKS, "detect", _SecondOneInputTask())
    plain = load_model(make_model("plain.mat", n_inputs=1))
    with pytest.raises(ValueError, match=r"ambiguous: 1 input\(s\) fit go-nogo and detect; choose one with --task"):
        infer_task(plain)
    with pytest.raises(ValueError, match="ambiguous") as refused:
        TrialSpec(plain)
    assert "task=" in str(refused.value)
    assert TrialSpec(plain, task="detect").task.name == "detect"  # naming the task resolves it
    named = load_model(make_model("Task_go-nogo_N_60_x.mat", n_inputs=1))
    assert infer_task(named).name == "go-nogo"  # the file name decides between tasks of the same inputs
    both = load_model(make_model("Task_go-nogo_Task_detect_x.mat", n_inputs=1))
    with pytest.raises(ValueError, match="its file name names go-nogo and detect"):
        infer_task(both)


def test_help_texts_are_read_from_the_tasks(monkeypatch):
    import rate2spike.tasks as tasks
    from rate2spike.cli import build_parser

    monkeypatch.setitem(tasks.TASKS, "detect", _SecondOneInputTask())
    assert tasks.task_names_text() == "go-nogo, xor, mante or detect"
    simulate = build_parser()._subparsers._group_actions[0].choices["simulate"]
    task_option, = (action for action in simulate._actions if "--task" in action.option_strings)
    assert task_option.help.startswith("go-nogo, xor, mante or detect (default: inferred")
    assert "'context 1: input 1 +, input 2 +' (mante)" in tasks.condition_examples()
    assert tasks.option_examples() == "evidence_strength=0.5 for mante"


def test_training_batches_match_the_reference_timing():
    rng = np.random.default_rng(0)
    go = get_task("go-nogo").training_batch(rng, 40)
    assert go.u.shape == (40, 1, 200)
    for u, z, label in zip(go.u, go.target, go.labels):
        assert (u[0, 50:75] == label).all() and u[0, :50].sum() == 0 and u[0, 75:].sum() == 0
        assert (z[75:] == label).all() and (z[:75] == 0).all()
    xor = get_task("xor").training_batch(rng, 40)
    np.testing.assert_array_equal(xor.labels, xor.u[:, 0, 50] * xor.u[:, 1, 110])
    assert (xor.target[:, 170:270] == xor.labels[:, None]).all() and not xor.target[:, 270:].any()
    assert not xor.u[:, :, 100:110].any() and not xor.target[:, :170].any()
    mante = get_task("mante").training_batch(rng, 200)
    attend_first = mante.u[:, 2, 0] == 1
    assert ((mante.u[:, 2] + mante.u[:, 3]) == 1).all()
    offsets = mante.u[:, :2, 50:250].mean(axis=2)
    attended = np.where(attend_first, offsets[:, 0], offsets[:, 1])
    assert (np.sign(attended) == mante.labels).mean() > 0.95  # offset 0.5 vs noise 1/sqrt(200)
    assert (mante.target[:, 250:] == mante.labels[:, None]).all() and not mante.target[:, :250].any()
    assert {t.name: t.training_min_trials for t in TASKS.values()} == {"go-nogo": 1500, "xor": 0, "mante": 0}


def test_training_evaluation_rules():
    go = get_task("go-nogo")
    o = np.zeros((4, 200))
    o[0, 150] = 0.8  # Go answered
    o[1, 150] = 0.6  # Go too weak
    o[2, 150] = -0.35  # NoGo too far from 0 (absolute value counts)
    o[3, 74] = 5.0  # NoGo, before the window: ignored
    np.testing.assert_array_equal(go.training_correct(o, np.array([1, 1, 0, 0])), [True, False, False, True])
    xor = get_task("xor")
    o = np.zeros((3, 300))
    o[0, 250] = 0.9
    o[1, 199] = -0.9  # before o[200:]
    o[2, 250] = -0.9
    np.testing.assert_array_equal(xor.training_correct(o, np.array([1, -1, -1])), [True, False, True])
    mante = get_task("mante")
    o = np.zeros((2, 500))
    o[0, 299] = 0.9  # outside the last 200 steps
    o[1, 300] = -0.9
    np.testing.assert_array_equal(mante.training_correct(o, np.array([1, -1])), [False, True])


def test_the_dashboard_and_the_report_describe_each_task_from_the_task():
    from rate2spike.explorer.views import VIEWS
    from rate2spike.report import task_line

    for task in TASKS.values():
        assert f"{task.name}: {task.threshold_help}" in VIEWS["output"].help_text()
        assert task_line(task.name).startswith(task.description) and f"{task.goal_accuracy:g}" in task_line(task.name)
    assert "0.3, which NoGo stays under" in TASKS["go-nogo"].threshold_help

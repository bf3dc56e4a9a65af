"""Task stimuli and the reference's scoring rules, windows included."""

from __future__ import annotations

import numpy as np
import pytest

from core.tasks import TASKS, TaskTrial, get_task, infer_task, window_start_index
from core.model import load_model

DT = 0.00005


def _trial(task, name):
    return task.make_trial(np.random.default_rng(0), name)


def test_go_nogo_stimulus():
    task = get_task("go-nogo")
    go, nogo = _trial(task, "Go"), _trial(task, "NoGo")
    assert go.u.shape == (1, 201) and go.u.sum() == 25 and go.u[0, 50:75].all()
    assert nogo.u.sum() == 0 and go.condition.label == 1 and nogo.condition.label == 0


def test_xor_stimulus_and_labels():
    task = get_task("xor")
    t = _trial(task, "+-")
    assert t.u.shape == (2, 301) and (t.u[0, 50:100] == 1).all() and (t.u[1, 110:160] == -1).all()
    assert t.u[:, :50].sum() == 0 and t.u[0, 100:].sum() == 0 and t.condition.label == -1
    assert _trial(task, "--").condition.label == 1


def test_mante_stimulus_context_and_evidence():
    task = get_task("mante")
    t = _trial(task, "context 2: input 1 +, input 2 -")
    assert t.u.shape == (4, 501) and (t.u[3] == 1).all() and (t.u[2] == 0).all()
    assert t.condition.label == -1 and t.u[:2, :50].sum() == 0 and t.u[:2, 250:].sum() == 0
    assert t.evidence == pytest.approx(t.u[1, 50:250].mean())
    # the noise is unit-variance around +-0.5
    many = [task.make_trial(np.random.default_rng(k), "context 1: input 1 +, input 2 +") for k in range(200)]
    values = np.concatenate([m.u[0, 50:250] for m in many])
    assert abs(values.mean() - 0.5) < 0.02 and abs(values.std() - 1) < 0.02


def test_random_conditions_are_balanced():
    for task in TASKS.values():
        rng = np.random.default_rng(1)
        labels = [task.make_trial(rng).condition.label for _ in range(2000)]
        assert 0.45 < np.mean(np.array(labels) == labels[0]) < 0.55, task.name


@pytest.mark.parametrize("name,start", [("go-nogo", 9999), ("xor", 19999), ("mante", 25999)])
def test_windows_select_the_reference_samples(name, start):
    task = get_task(name)
    assert window_start_index(task.decision_start, DT) == start
    label_pos = [c for c in task.conditions() if c.label == 1][0]
    n = {"go-nogo": 20000, "xor": 30000, "mante": 50000}[name]
    trial = TaskTrial(np.zeros((task.n_inputs, task.n_columns)), label_pos)
    out = np.zeros(n)
    out[start - 1] = 1.0  # a response just before the window does not count
    assert not task.score(out, DT, trial).correct
    out[start] = 1.0  # the first sample of the window does
    outcome = task.score(out, DT, trial)
    assert outcome.correct and outcome.response_time == pytest.approx((start + 1) * DT)


def test_window_in_seconds_survives_downsampling():
    task = get_task("go-nogo")
    go = TaskTrial(np.zeros((1, 201)), task.condition("Go"))
    out = np.zeros(10000)  # downsample 2: dt = 0.1 ms
    out[6000:7000] = 0.9  # a response at 0.6-0.7 s
    assert task.score(out, 2 * DT, go).correct
    assert window_start_index(0.5, 2 * DT) == 4999
    out[:] = 0
    out[4000] = 0.9  # at 0.4 s, before the window
    assert not task.score(out, 2 * DT, go).correct


def test_nogo_and_negative_rules():
    gonogo, xor = get_task("go-nogo"), get_task("xor")
    nogo = TaskTrial(np.zeros((1, 201)), gonogo.condition("NoGo"))
    out = np.zeros(20000)
    out[15000] = 0.29
    outcome = gonogo.score(out, DT, nogo)
    assert outcome.correct and outcome.extreme == pytest.approx(0.29) and outcome.level == 0.3
    out[15000] = 0.31
    assert not gonogo.score(out, DT, nogo).correct
    minus = TaskTrial(np.zeros((2, 301)), xor.condition("+-"))
    out = np.zeros(30000)
    out[25000] = -0.71
    outcome = xor.score(out, DT, minus)
    assert outcome.correct and outcome.extreme == pytest.approx(-0.71) and outcome.level == -0.7
    out[25000] = -0.69
    assert not xor.score(out, DT, minus).correct


def test_breakdowns():
    gonogo = get_task("go-nogo")
    outcomes = [gonogo.score(np.r_[np.zeros(10000), np.full(10000, v)], DT, _trial(gonogo, c))
                for c, v in [("Go", 1.0), ("Go", 0.0), ("NoGo", 0.0), ("NoGo", 0.0)]]
    b = gonogo.breakdown(outcomes)
    assert b["accuracy Go"] == 0.5 and b["accuracy NoGo"] == 1.0 and b["combined"] == 0.75
    xor = get_task("xor")
    outs = []
    for k, t0 in enumerate([1.2, 1.3, 1.4]):
        out = np.zeros(30000)
        out[int(t0 / DT):] = 1.0
        outs.append(xor.score(out, DT, _trial(xor, "++")))
    b = xor.breakdown(outs)
    assert b["accuracy ++"] == 1.0 and np.isnan(b["accuracy +-"])
    assert b["response time mean (s)"] == pytest.approx(1.3, abs=1e-3)
    assert b["response time sd (s)"] == pytest.approx(np.std([1.2, 1.3, 1.4]), abs=1e-3)
    mante = get_task("mante")
    rng = np.random.default_rng(2)
    outs = []
    for k in range(100):
        t = mante.make_trial(rng)
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

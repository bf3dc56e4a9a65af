"""The rate trainer (core.train): exact gradients, reproducibility, learning, the model file."""

import datetime
import re
import threading

import numpy as np
import pytest
import scipy.io

from rate2spike.model import load_model
from rate2spike.rate import ACTIVATIONS, draw_trial_randomness, get_activation, simulate_rate
from rate2spike.tasks import get_task
from rate2spike.train import (
    Adam, evaluate, initialise_network, loss_and_gradients, model_file_path, train_model, trial_losses,
)

# --- gradients ---------------------------------------------------------------------------------

def batch_loss(network, u, target, x0, noise) -> float:
    """Mean per-trial loss of a batch (what the gradients are of), for the finite differences."""
    traj = network.run(u, x0, noise)
    return float(trial_losses(traj.o.T, target).mean())


def gradient_check_network(activation, taus=(4, 20)):
    """A small float64 network that exercises every path of the gradient: Dale signs,
    rectified negative entries of w, absent connections (w == 0), a masked som_m, and rates
    on both sides of the clipped activations' kinks."""
    rng = np.random.default_rng(21)
    net = initialise_network(n_inputs=2, N=12, taus=taus, rng=rng, activation=activation, P_inh=0.3)
    connected = net.w > 0
    net.w[connected & (rng.random(net.w.shape) < 0.3)] *= -1.0  # raw parameter gone negative
    net.som_m[rng.random(net.som_m.shape) < 0.15] = 0.0
    net.w_out[:] = rng.standard_normal(12)
    net.b_out[...] = 0.2
    if activation != "sigmoid":
        net.w *= 4.0  # drive some units past 0 and 20
        net.w_in *= 4.0
    batch, n_steps = 3, 30
    u = rng.standard_normal((batch, 2, n_steps))
    target = rng.standard_normal((batch, n_steps))
    x0, noise = draw_trial_randomness(rng, batch, 12, n_steps)
    return net, (u, target, x0 * 100, noise)


def finite_difference(net, name, args, h=1e-6):
    param = net.parameters()[name]
    grad = np.zeros_like(param)
    for index in np.ndindex(param.shape):
        if name == "w" and param[index] == 0.0:
            continue  # relu's kink: the trainer uses relu'(0) = 0, checked separately
        kept = param[index].copy()
        param[index] = kept + h
        up = batch_loss(net, *args)
        param[index] = kept - h
        down = batch_loss(net, *args)
        param[index] = kept
        grad[index] = (up - down) / (2 * h)
    return grad


@pytest.mark.parametrize("activation", list(ACTIVATIONS))
def test_gradients_match_central_differences(activation):
    net, args = gradient_check_network(activation)
    _, traj, grads = loss_and_gradients(net, *args)
    assert set(grads) == {"w", "w_out", "b_out", "taus_gaus"}
    if activation != "sigmoid":
        slope = get_activation(activation).derivative(traj.x[1:])
        assert (slope == 0).any() and (slope > 0).any(), "the check should cover both sides of the kink"
    for name in grads:
        numeric = finite_difference(net, name, args)
        analytic = grads[name]
        assert np.linalg.norm(analytic) > 1e-6, name
        error = np.linalg.norm(analytic - numeric) / max(np.linalg.norm(analytic), np.linalg.norm(numeric))
        assert error < 1e-5, f"{activation} {name}: relative error {error:.2e}"


def test_weight_gradient_respects_relu_dale_and_mask():
    net, args = gradient_check_network("sigmoid")
    grads = loss_and_gradients(net, *args)[2]
    assert np.all(grads["w"][net.w <= 0] == 0)  # rectified entries and absent connections
    assert np.all(grads["w"][net.som_m == 0] == 0)  # masked connections
    assert np.count_nonzero(grads["w"][(net.w > 0) & (net.som_m == 1)]) > 10


def test_one_value_taus_are_fixed():
    net, args = gradient_check_network("sigmoid", taus=(10,))
    grads = loss_and_gradients(net, *args)[2]
    assert set(grads) == {"w", "w_out", "b_out"} == set(net.parameters())
    np.testing.assert_array_equal(net.decay_steps(), 10.0)


def test_adam_step_is_the_textbook_update():
    param = np.array([1.0, -2.0])
    opt = Adam({"p": param}, lr=0.01)
    opt.step({"p": np.array([0.5, -4.0])})
    np.testing.assert_allclose(param, [1.0 - 0.01, -2.0 + 0.01], rtol=1e-6)  # first step moves by lr * sign
    opt.step({"p": np.array([0.5, 0.0])})
    m = np.array([0.5 * 0.19, -4.0 * 0.09]) / (1 - 0.9**2)
    v = np.array([0.25 * (0.001 * 0.999 + 0.001), 16.0 * 0.001 * 0.999]) / (1 - 0.999**2)
    np.testing.assert_allclose(param, np.array([0.99, -1.99]) - 0.01 * m / (np.sqrt(v) + 1e-8), rtol=1e-9)


# --- initialisation and tasks ------------------------------------------------------------------


def test_initialisation_follows_the_reference():
    net = initialise_network(n_inputs=4, N=400, taus=(4, 20), rng=np.random.default_rng(0))
    inh = ~net.exc
    assert 0.16 < inh.mean() < 0.24
    np.testing.assert_array_equal(np.diag(net.m), np.where(inh, -1.0, 1.0))
    assert np.count_nonzero(net.m - np.diag(np.diag(net.m))) == 0
    assert 0.19 < (net.w > 0).mean() < 0.21 and (net.w >= 0).all()
    nonzero = net.w[net.w > 0]
    expected_mean_abs = np.sqrt(2 / np.pi) / np.sqrt(400 * 0.2) * 1.5
    assert abs(nonzero.mean() / expected_mean_abs - 1) < 0.05
    np.testing.assert_array_equal(net.som_m, 1.0)
    assert net.w_in.shape == (400, 4) and abs(net.w_in.std() - 1) < 0.05
    assert abs(net.w_out.std() - 0.01) < 0.002 and float(net.b_out) == 0.0
    assert abs(net.taus_gaus.std() - 1) < 0.15


# --- training ----------------------------------------------------------------------------------


def quick_run(tmp_path, seed, **kw):
    settings = dict(N=20, n_trials=60, batch_size=10, out_dir=tmp_path / f"seed{seed}", seed=seed)
    settings.update(kw)
    return train_model("go-nogo", **settings)


def test_same_seed_same_weights_and_different_seed_differs(tmp_path):
    a, b, c = quick_run(tmp_path, 3), quick_run(tmp_path / "again", 3), quick_run(tmp_path, 4)
    for name in ("w", "w_out", "b_out", "taus_gaus", "w_in", "m"):
        np.testing.assert_array_equal(getattr(a.network, name), getattr(b.network, name))
    assert not np.array_equal(a.network.w, c.network.w)
    np.testing.assert_array_equal(scipy.io.loadmat(a.path)["w"], scipy.io.loadmat(b.path)["w"])
    assert a.eval_loss == b.eval_loss and a.eval_loss != c.eval_loss


def test_progress_and_cancel(tmp_path):
    reports = []
    result = quick_run(tmp_path, 0, n_trials=250, batch_size=30, min_trials=10**6, progress=reports.append)
    assert [r.trials for r in reports] == [100, 200, 250]  # every 100 trials, and at the end
    assert all(0 <= r.eval_accuracy <= 1 and r.eval_loss > 0 and r.max_trials == 250 for r in reports)
    assert result.trials == 250 and not result.converged and len(scipy.io.loadmat(result.path)["losses"][0]) == 250

    stop = threading.Event()
    stop.set()
    cancelled = quick_run(tmp_path / "cancel", 0, cancel=stop)
    assert cancelled.cancelled and cancelled.path is None and cancelled.trials == 0
    calls = []
    after_two = quick_run(tmp_path / "cancel2", 0, cancel=lambda: calls.append(1) or len(calls) > 2)
    assert after_two.cancelled and after_two.trials == 20 and not (tmp_path / "cancel2").exists()


def test_stop_rule_uses_the_criteria(tmp_path):
    result = quick_run(tmp_path, 0, n_trials=300, min_trials=0, max_eval_loss=1e9, min_eval_accuracy=-1.0)
    assert result.converged and result.trials == 100 and len(result.history) == 1
    strict = quick_run(tmp_path / "strict", 0, n_trials=300, min_trials=0, max_eval_loss=0.0)
    assert not strict.converged and strict.trials == 300
    floor = quick_run(tmp_path / "floor", 0, n_trials=3000, batch_size=50, max_eval_loss=1e9, min_eval_accuracy=-1.0)
    assert floor.converged and floor.trials == 1600  # go-nogo needs more than 1500 trials


TRAINED_N = 100  # small enough for CI (~5 s), large enough to learn go-nogo reliably


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """A small go-nogo network trained to the reference's stop rule (the CI-sized version)."""
    out = tmp_path_factory.mktemp("trained")
    result = train_model("go-nogo", N=TRAINED_N, seed=1, out_dir=out, n_trials=2000, min_trials=0)
    return result, out


def test_small_go_nogo_network_learns(trained):
    result, _ = trained
    assert result.converged, result.history[-1]
    fresh = evaluate(result.network, get_task("go-nogo"), np.random.default_rng(2024), n_trials=200)
    assert fresh.accuracy > 0.9
    assert result.history[0].eval_accuracy < fresh.accuracy  # it learned; it did not start solved


N = TRAINED_N
REFERENCE_SHAPES = {
    "N": (1, 1), "w": (N, N), "w0": (N, N), "m": (N, N), "som_m": (N, N), "w_in": (N, 1),
    "w_in0": (N, 1), "w_out": (1, N), "b_out": (1, 1), "inh": (N, 1), "exc": (N, 1), "taus": (1, 2),
    "taus_gaus": (N, 1), "taus_gaus0": (N, 1), "x0": (N, 1), "r0": (N, 1), "u": (1, 200), "o": (1, 200),
    "x": (N, 200), "r": (N, 200), "target": (1, 200), "som_N": (1, 1), "eval_perf_mean": (1, 1),
    "eval_loss_mean": (1, 1), "eval_os": (100, 200), "eval_labels": (1, 100), "tr": (1, 1),
}


def test_model_file_has_every_reference_field(trained):
    result, _ = trained
    data = scipy.io.loadmat(result.path)
    assert set(REFERENCE_SHAPES) | {"activation", "losses"} <= set(data)
    for name, shape in REFERENCE_SHAPES.items():
        assert data[name].shape == shape, name
    assert data["losses"].shape == (1, result.trials) and int(data["tr"][0, 0]) == result.trials
    assert str(data["activation"][0]) == "sigmoid" and int(data["N"][0, 0]) == TRAINED_N
    assert data["inh"].dtype.kind in "bu" and (data["inh"].astype(bool) == ~data["exc"].astype(bool)).all()
    assert (data["w"] >= 0).all() and not np.array_equal(data["w"], data["w0"])
    np.testing.assert_array_equal(data["w_in"], data["w_in0"])  # w_in is not trained
    np.testing.assert_array_equal(data["taus"], [[4.0, 20.0]])
    assert not np.array_equal(data["taus_gaus"], data["taus_gaus0"])
    assert float(data["eval_perf_mean"][0, 0]) == result.eval_accuracy


def test_model_file_path_follows_the_naming_convention(trained):
    result, out = trained
    relative = result.path.relative_to(out).as_posix()
    assert re.fullmatch(
        rf"models/go-nogo/P_rec_0\.2_Taus_4\.0_20\.0/Task_go-nogo_N_{TRAINED_N}_Taus_4\.0_20\.0_Act_sigmoid_seed_1_"
        r"\d{4}_\d{2}_\d{2}_\d{6}\.mat", relative), relative


def test_one_value_tau_file_name():
    path = model_file_path("out", "xor", 50, (10,), "softplus", datetime.datetime(2024, 1, 2, 3, 4, 5))
    expected = "out/models/xor/P_rec_0.2_Tau_10.0/Task_xor_N_50_Tau_10.0_Act_softplus_2024_01_02_030405.mat"
    assert path.as_posix() == expected


def test_runs_finishing_in_the_same_second_do_not_overwrite_each_other(tmp_path):
    first = quick_run(tmp_path, 0, out_dir=tmp_path)
    second = quick_run(tmp_path, 1, out_dir=tmp_path)
    assert first.path != second.path and first.path.parent == second.path.parent
    assert first.path.exists() and second.path.exists()


def test_saved_model_reproduces_the_trained_network(trained):
    result, _ = trained
    model = load_model(result.path)
    assert model.notes == ()  # saved rectified, like the TensorFlow trainer
    net = result.network
    task = get_task("go-nogo")
    trials = task.training_batch(np.random.default_rng(5), 1)
    x0, noise = draw_trial_randomness(np.random.default_rng(77), 1, TRAINED_N, 200)
    trainer_o = net.run(trials.u, x0, noise).o[:, 0]
    loaded = simulate_rate(model, trials.u[0], seed=77)
    np.testing.assert_allclose(loaded.o, trainer_o, rtol=1e-10, atol=1e-12)
    np.testing.assert_array_equal(model.recurrent_weights(), net.recurrent_weights())
    np.testing.assert_allclose(model.decay_steps(), net.decay_steps(), rtol=1e-12)
    assert model.b_out == float(net.b_out) and model.activation == net.activation

"""The rate RNN forward pass (rate2spike.rate) against a literal reading of docs/method.md, "The rate network"."""

import numpy as np
import pytest
from scipy.special import expit

from rate2spike.model import model_from_dict
from rate2spike.rate import (
    ACTIVATIONS, clipped_relu, draw_trial_randomness, get_activation, run_time_major, simulate_rate, softplus,
)

ACTIVATION_NAMES = list(ACTIVATIONS)


def rate_forward(W_rate, w_in, w_out, b_out, tau_steps, u, x0, noise, activation="sigmoid"):
    """Run a batch of trials of the rate RNN from raw arrays (the package runs networks with ``run_network``).

    W_rate (N, N) effective recurrent matrix; w_in (N, n_in); w_out (N,); b_out scalar;
    tau_steps (N,) or scalar decay constants in 5 ms steps; u (B, n_in, T); x0 (B, N);
    noise (B, N, T) added at steps 1..T-1 (column 0 is ignored), or None.
    Returns x, r of shape (B, N, T) and o of shape (B, T).
    """
    u = np.asarray(u, dtype=np.float64)
    noise_tm = None if noise is None else np.moveaxis(np.asarray(noise, dtype=np.float64), 2, 0)
    traj = run_time_major(
        np.asarray(W_rate, dtype=np.float64), np.asarray(w_in, dtype=np.float64),
        np.asarray(w_out, dtype=np.float64).reshape(-1), float(b_out), tau_steps,
        np.moveaxis(u, 2, 0), np.asarray(x0, dtype=np.float64), noise_tm, activation,
    )
    return np.moveaxis(traj.x, 0, 2), np.moveaxis(traj.r, 0, 2), traj.o.T


def literal_activation(name, x):
    """spikeRNN's activations written out the obvious way."""
    if name == "sigmoid":
        return 1.0 / (1.0 + np.exp(-x))
    if name == "clipped_relu":
        return min(max(x, 0.0), 20.0)
    return min(max(np.log1p(np.exp(x)), 0.0), 20.0)


def literal_forward(W, w_in, w_out, b_out, tau, u, x0, noise, activation):
    """One trial, one unit and one step at a time, exactly as the reference states it."""
    n_units, n_steps = W.shape[0], u.shape[1]
    x = np.zeros((n_units, n_steps))
    r = np.zeros((n_units, n_steps))
    o = np.zeros(n_steps)
    for i in range(n_units):
        x[i, 0] = x0[i]
        r[i, 0] = literal_activation(activation, x0[i])
    o[0] = sum(w_out[i] * r[i, 0] for i in range(n_units)) + b_out
    for t in range(1, n_steps):
        for i in range(n_units):
            recurrent = sum(W[i, j] * r[j, t - 1] for j in range(n_units))
            external = sum(w_in[i, k] * u[k, t - 1] for k in range(u.shape[0]))
            x[i, t] = (1 - 1 / tau[i]) * x[i, t - 1] + (1 / tau[i]) * (recurrent + external) + noise[i, t]
        for i in range(n_units):
            r[i, t] = literal_activation(activation, x[i, t])
        o[t] = sum(w_out[i] * r[i, t] for i in range(n_units)) + b_out
    return x, r, o


def small_network(rng, n_units=6, n_inputs=2, scale=1.5):
    W = rng.standard_normal((n_units, n_units)) * scale
    return dict(
        W_rate=W, w_in=rng.standard_normal((n_units, n_inputs)), w_out=rng.standard_normal(n_units),
        b_out=0.3, tau_steps=rng.uniform(4, 20, n_units),
    )


@pytest.mark.parametrize("activation", ACTIVATION_NAMES)
def test_rate_forward_matches_literal_loop(activation):
    rng = np.random.default_rng(3)
    net = small_network(rng, scale=4.0 if activation != "sigmoid" else 1.5)
    batch, n_steps = 3, 25
    u = rng.standard_normal((batch, 2, n_steps))
    x0 = rng.standard_normal((batch, 6))
    noise = rng.standard_normal((batch, 6, n_steps))
    x, r, o = rate_forward(u=u, x0=x0, noise=noise, activation=activation, **net)
    assert x.shape == r.shape == (batch, 6, n_steps) and o.shape == (batch, n_steps)
    for b in range(batch):
        x_ref, r_ref, o_ref = literal_forward(
            net["W_rate"], net["w_in"], net["w_out"], net["b_out"], net["tau_steps"], u[b], x0[b], noise[b], activation
        )
        np.testing.assert_allclose(x[b], x_ref, rtol=1e-12, atol=1e-12)
        np.testing.assert_allclose(r[b], r_ref, rtol=1e-12, atol=1e-12)
        np.testing.assert_allclose(o[b], o_ref, rtol=1e-12, atol=1e-12)


def test_rate_forward_without_noise_is_the_noise_free_dynamics():
    rng = np.random.default_rng(4)
    net = small_network(rng)
    u = rng.standard_normal((2, 2, 15))
    x0 = rng.standard_normal((2, 6))
    quiet = rate_forward(u=u, x0=x0, noise=None, **net)
    zeros = rate_forward(u=u, x0=x0, noise=np.zeros((2, 6, 15)), **net)
    noisy = rate_forward(u=u, x0=x0, noise=np.ones((2, 6, 15)), **net)
    for a, b in zip(quiet, zeros):
        np.testing.assert_array_equal(a, b)
    assert not np.allclose(quiet[0], noisy[0])


def test_noise_column_zero_is_ignored_and_initial_state_is_x0():
    rng = np.random.default_rng(5)
    net = small_network(rng)
    u = rng.standard_normal((1, 2, 10))
    x0 = rng.standard_normal((1, 6))
    noise = rng.standard_normal((1, 6, 10))
    changed = noise.copy()
    changed[:, :, 0] += 100.0
    x, r, o = rate_forward(u=u, x0=x0, noise=noise, **net)
    x2, _, _ = rate_forward(u=u, x0=x0, noise=changed, **net)
    np.testing.assert_array_equal(x, x2)
    np.testing.assert_array_equal(x[:, :, 0], x0)
    np.testing.assert_allclose(o[:, 0], expit(x0) @ net["w_out"] + net["b_out"])


def test_activations_follow_spikernn_definitions():
    x = np.array([-800.0, -30.0, -1.0, 0.0, 0.5, 10.0, 19.9, 20.1, 25.0, 800.0])
    with np.errstate(over="ignore"):
        naive_softplus = np.clip(np.log1p(np.exp(x)), 0, 20)
    np.testing.assert_allclose(softplus(x), naive_softplus, rtol=1e-12, atol=1e-300)
    np.testing.assert_array_equal(clipped_relu(x), np.clip(np.maximum(x, 0), 0, 20))
    assert softplus(x).max() == 20.0 and clipped_relu(x).max() == 20.0
    np.testing.assert_allclose(get_activation("sigmoid").function(x), expit(x))


@pytest.mark.parametrize("activation", ACTIVATION_NAMES)
def test_activation_derivatives_match_finite_differences(activation):
    act = get_activation(activation)
    x = np.array([-25.0, -3.0, -0.7, 0.3, 1.2, 5.0, 19.0, 21.0, 30.0])
    h = 1e-6
    numeric = (act.function(x + h) - act.function(x - h)) / (2 * h)
    np.testing.assert_allclose(act.derivative(x), numeric, rtol=1e-6, atol=1e-9)
    np.testing.assert_allclose(act.derivative_from(x, act.function(x)), act.derivative(x), rtol=1e-12, atol=1e-15)


def test_unknown_activation_is_refused():
    with pytest.raises(ValueError, match="unknown activation"):
        get_activation("tanh")


def model_variables(rng, n_units=8, n_inputs=1, activation="sigmoid"):
    """A spikeRNN-style file content with raw (partly negative) w, as the PyTorch port saves."""
    inh = rng.random(n_units) < 0.3
    inh[0] = True
    return {
        "N": np.array([[n_units]]), "w": rng.standard_normal((n_units, n_units)),
        "m": np.diag(np.where(inh, -1.0, 1.0)), "som_m": np.ones((n_units, n_units)),
        "w_in": rng.standard_normal((n_units, n_inputs)), "w_out": rng.standard_normal((1, n_units)),
        "b_out": np.array([[0.1]]), "inh": inh[:, None], "exc": ~inh[:, None],
        "taus": np.array([[4.0, 20.0]]), "taus_gaus": rng.standard_normal((n_units, 1)),
        "activation": activation,
    }


def test_simulate_rate_runs_the_model_as_the_rate_network_did():
    rng = np.random.default_rng(6)
    data = model_variables(rng)
    model = model_from_dict(data)
    u = np.zeros((1, 40))
    u[0, 10:20] = 1.0
    trial = simulate_rate(model, u, seed=11)
    x0, noise = draw_trial_randomness(np.random.default_rng(11), 1, 8, 40)
    W = (np.maximum(data["w"], 0) @ data["m"]) * data["som_m"]
    tau = expit(data["taus_gaus"][:, 0]) * 16 + 4
    x_ref, r_ref, o_ref = literal_forward(W, data["w_in"], data["w_out"][0], 0.1, tau, u, x0[0], noise[0], "sigmoid")
    np.testing.assert_allclose(trial.x, x_ref, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(trial.o, o_ref, rtol=1e-10, atol=1e-12)
    assert trial.r.shape == (8, 40) and trial.u.shape == (1, 40)


def test_simulate_rate_noise_and_seed():
    model = model_from_dict(model_variables(np.random.default_rng(7), n_inputs=2))
    u = np.ones((2, 30))
    same = [simulate_rate(model, u, seed=1).o for _ in range(2)]
    np.testing.assert_array_equal(same[0], same[1])
    assert not np.allclose(simulate_rate(model, u, seed=2).o, same[0])
    quiet = simulate_rate(model, u, noise=False)
    np.testing.assert_array_equal(quiet.o, simulate_rate(model, u, seed=5, noise=False).o)
    np.testing.assert_array_equal(quiet.x[:, 0], 0.0)
    with pytest.raises(ValueError, match="n_inputs"):
        simulate_rate(model, np.ones((3, 30)))




ONE_BLAS_THREAD_SCRIPT = """
import threading
import numpy as np
from rate2spike import blas, rate
from rate2spike.train import initialise_network

before = blas.blas_threads()
seen = []

class Watching:  # an activation that records the BLAS setting in the middle of the forward pass
    @staticmethod
    def function(x, out=None):
        seen.append(blas.blas_threads())
        return np.tanh(x, out=out)

rate.get_activation = lambda name: Watching
rng = np.random.default_rng(0)
network = initialise_network(1, 20, (4, 20), rng)
forward = (network.recurrent_weights(), network.w_in, network.w_out, network.b_out, 5.0,
           rng.standard_normal((30, 2, 1)), np.zeros((2, 20)), None, "sigmoid")
runner = threading.Thread(target=rate.run_time_major, args=forward)  # as in a sweep's or a page's pool
runner.start()
runner.join()
print(before, seen[0], blas.blas_threads())
"""


def test_the_rate_network_runs_on_one_blas_thread():
    """The rate network's small products on BLAS's own threads, beside the simulator's and the
    sweep's, made a diagnosis 10x slower on two cores (rate2spike.blas). Run in a worker thread of a
    process whose BLAS had two threads, the forward pass runs on one, and the process keeps one."""
    import subprocess
    import sys

    import os

    env = {**os.environ, "OPENBLAS_NUM_THREADS": "2"}  # what a 2-core machine starts with
    out = subprocess.run([sys.executable, "-c", ONE_BLAS_THREAD_SCRIPT], capture_output=True, text=True,
                         timeout=120, env=env)
    assert out.returncode == 0, out.stderr
    before, during, after = (eval(part + "]") for part in out.stdout.strip().rstrip("]").split("] "))
    assert set(before) == {2} and set(during) == {1} and set(after) == {1}, out.stdout

"""The discrete rate RNN that spikeRNN trains (docs/method.md, "The rate network and its training"), in NumPy.

One step is 5 ms of the rate grid. For t = 1..T-1::

    x_t = (1 - 1/tau) x_{t-1} + (1/tau) (W_rate r_{t-1} + w_in u_{t-1}) + noise_t
    r_t = act(x_t)
    o_t = w_out . r_t + b_out

with x_0 = randn(N)/100, r_0 = act(x_0), o_0 = w_out . r_0 + b_out and noise_t = randn(N)/10.
Everything is batched over trials. The trainer (``rate2spike.train``) runs the very same forward
function, so a saved model simulated here reproduces the trainer's outputs exactly.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, NamedTuple

import numpy as np
from scipy.special import expit

from rate2spike.blas import one_blas_thread
from rate2spike.model import RateModel
from rate2spike.timegrid import RATE_STEP

RATE_CLIP = 20.0  # spikeRNN clips clipped_relu and softplus rates at 20
INITIAL_STATE_SCALE = 0.01  # x_0 = randn / 100
NOISE_SCALE = 0.1  # per-step noise = randn / 10


# --- activations (spikeRNN's definitions) -------------------------------------------------

def sigmoid(x: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
    """Logistic function; ``expit`` avoids overflow warnings for large negative x."""
    return expit(x, out=out)


def sigmoid_derivative(x: np.ndarray) -> np.ndarray:
    """s(x)(1 - s(x))."""
    s = expit(x)
    return s * (1.0 - s)


def clipped_relu(x: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
    """clip(relu(x), 0, 20): the clip keeps rates bounded like a saturating neuron."""
    return np.clip(x, 0.0, RATE_CLIP, out=out)


def clipped_relu_derivative(x: np.ndarray) -> np.ndarray:
    """1 inside (0, 20), 0 outside (0 at the kinks, as TensorFlow and PyTorch take it)."""
    return ((x > 0.0) & (x < RATE_CLIP)).astype(np.float64)


def softplus(x: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
    """clip(log(1 + exp(x)), 0, 20), computed without overflow as logaddexp(0, x)."""
    out = np.logaddexp(0.0, x, out=out)
    return np.minimum(out, RATE_CLIP, out=out)


def softplus_derivative(x: np.ndarray) -> np.ndarray:
    """sigmoid(x) below the clip, 0 where the rate is clipped at 20."""
    return expit(x) * (np.logaddexp(0.0, x) < RATE_CLIP)


class Activation(NamedTuple):
    """An activation with its derivative. ``derivative_from`` takes (x, r=act(x)) so the
    trainer can reuse the rates it already has (the sigmoid's derivative is r(1-r))."""

    name: str
    function: Callable[..., np.ndarray]  # function(x, out=None)
    derivative: Callable[[np.ndarray], np.ndarray]
    derivative_from: Callable[[np.ndarray, np.ndarray], np.ndarray]


ACTIVATIONS = {
    "sigmoid": Activation("sigmoid", sigmoid, sigmoid_derivative, lambda x, r: r * (1.0 - r)),
    "clipped_relu": Activation(
        "clipped_relu", clipped_relu, clipped_relu_derivative, lambda x, r: clipped_relu_derivative(x)
    ),
    "softplus": Activation("softplus", softplus, softplus_derivative, lambda x, r: softplus_derivative(x)),
}


def get_activation(activation: str | Activation) -> Activation:
    """Look an activation up by its spikeRNN name (or pass an Activation through)."""
    if isinstance(activation, Activation):
        return activation
    try:
        return ACTIVATIONS[activation]
    except KeyError:
        raise ValueError(f"unknown activation '{activation}'; use one of {', '.join(ACTIVATIONS)}") from None


# --- randomness ----------------------------------------------------------------------------

def draw_trial_randomness(rng: np.random.Generator, batch: int, n_units: int, n_steps: int):
    """Initial states and step noise of ``batch`` trials, in one fixed order.

    Returns ``x0`` (batch, N) = randn/100 and ``noise`` (batch, N, T) = randn/10 (column 0
    unused, since x_0 is given). Trainer and ``simulate_rate`` both draw through here, so the
    same generator state gives the same trial in both. The noise is drawn time-major and
    returned as a view, which the forward pass turns back into contiguous per-step slices.
    """
    x0 = rng.standard_normal((batch, n_units)) * INITIAL_STATE_SCALE
    noise_time_major = rng.standard_normal((n_steps, batch, n_units)) * NOISE_SCALE
    return x0, np.moveaxis(noise_time_major, 0, 2)


# --- forward pass --------------------------------------------------------------------------

class Trajectory(NamedTuple):
    """Time-major states of a batch: x, r (T, B, N) and o (T, B)."""

    x: np.ndarray
    r: np.ndarray
    o: np.ndarray


@one_blas_thread
def run_time_major(W_rate, w_in, w_out, b_out, tau_steps, u, x0, noise, activation) -> Trajectory:
    """The forward pass on time-major arrays (the layout that makes each step contiguous).

    u (T, B, n_in), x0 (B, N), noise (T, B, N) or None for a noise-free run.
    The update is regrouped as x_t = leak x_{t-1} + r_{t-1} (W_rate / tau)^T + external_t with
    external_t = w_in u_{t-1} / tau + noise_t computed for all steps at once, so each step
    costs one small matmul and four in-place operations (the loop is overhead-bound).
    """
    act = get_activation(activation)
    n_steps, batch, _ = u.shape
    n_units = W_rate.shape[0]
    tau_steps = np.broadcast_to(np.asarray(tau_steps, dtype=np.float64), (n_units,))
    gain = 1.0 / tau_steps
    leak = 1.0 - gain
    scaled_recurrent_T = np.ascontiguousarray((W_rate * gain[:, None]).T)
    external = (u[:-1] @ w_in.T) * gain  # (T-1, B, N) in one matmul
    if noise is not None:
        external += noise[1:]
    x = np.empty((n_steps, batch, n_units))
    r = np.empty_like(x)
    x[0] = x0
    act.function(x[0], out=r[0])
    x_steps, r_steps, external_steps = list(x), list(r), list(external)  # views made once
    leaked = np.empty((batch, n_units))
    for t in range(1, n_steps):
        x_t = x_steps[t]
        np.matmul(r_steps[t - 1], scaled_recurrent_T, out=x_t)
        np.multiply(x_steps[t - 1], leak, out=leaked)
        x_t += leaked
        x_t += external_steps[t - 1]
        act.function(x_t, out=r_steps[t])
    o = r @ w_out + b_out
    return Trajectory(x, r, o)


def run_network(network, u, x0, noise) -> Trajectory:
    """Forward pass of a batch of anything shaped like a rate network: a loaded ``RateModel``
    or the trainer's ``RateNetwork`` (both give recurrent_weights(), decay_steps(), w_in,
    w_out, b_out, activation). u (B, n_in, T), x0 (B, N), noise (B, N, T) or None; returns
    the time-major ``Trajectory``."""
    noise_tm = None if noise is None else np.moveaxis(np.asarray(noise, dtype=np.float64), 2, 0)
    return run_time_major(
        network.recurrent_weights(), network.w_in, np.asarray(network.w_out, dtype=np.float64).reshape(-1),
        float(network.b_out), network.decay_steps(), np.moveaxis(np.asarray(u, dtype=np.float64), 2, 0),
        np.asarray(x0, dtype=np.float64), noise_tm, network.activation,
    )


# --- one trial of a saved model ------------------------------------------------------------

@dataclass(frozen=True)
class RateResponse:
    """The rate network's response to one stimulus: x, r (N, T) with r in 0..1 for the
    sigmoid, o (T,) the output, u (n_in, T) the stimulus; one column per 5 ms step."""

    x: np.ndarray
    r: np.ndarray
    o: np.ndarray
    u: np.ndarray

    @property
    def times(self) -> np.ndarray:
        """Time (s) at the start of each column, 5 ms apart (the rate network's grid)."""
        return np.arange(self.o.shape[0]) * RATE_STEP


def simulate_rate(model: RateModel, u, seed=0, noise: bool = True) -> RateResponse:
    """Simulate one trial of a loaded model on the 5 ms grid, as the rate network ran.

    u is (n_in, T). With ``noise`` the initial state and step noise come from
    ``default_rng(seed)`` (an int or a list of ints) exactly as the trainer draws them; ``noise=False`` gives the
    deterministic response (x_0 = 0, no step noise), a function of u alone.
    """
    u = np.asarray(u, dtype=np.float64)
    if u.ndim == 1:
        u = u[None, :]
    if u.ndim != 2 or u.shape[0] != model.n_inputs or u.shape[1] == 0:
        raise ValueError(f"u must be n_inputs x T with n_inputs = {model.n_inputs} and T >= 1, got shape {u.shape}")
    n_steps = u.shape[1]
    if noise:
        x0, step_noise = draw_trial_randomness(np.random.default_rng(seed), 1, model.N, n_steps)
    else:
        x0, step_noise = np.zeros((1, model.N)), None
    trajectory = run_network(model, u[None], x0, step_noise)
    return RateResponse(x=trajectory.x[:, 0].T, r=trajectory.r[:, 0].T, o=trajectory.o[:, 0], u=u)

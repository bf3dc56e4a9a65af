"""Training the rate RNN as spikeRNN did (docs/method.md, "The rate network and its training"), by hand-derived BPTT.

Why by hand: no deep-learning framework is allowed, and the network is small enough that
exact gradients in NumPy are cheap. The forward pass is ``rate2spike.rate.run_network`` (the
one ``simulate_rate`` uses), so a saved model reproduces the trainer's outputs.

Gradients of J = mean_b L_b, L_b = sqrt(sum_t (o_bt - z_bt)^2) over all T steps (o_0 included),
with k = 1/tau and a = 1 - k::

    dJ/do_t  = (o_t - z_t) / (B L_b)
    dJ/dr_t  = dJ/do_t w_out + (k * dJ/dx_{t+1}) W_rate            (the second term for t < T-1)
    dJ/dx_t  = dJ/dr_t * act'(x_t) + a * dJ/dx_{t+1}                (t = T-1 .. 1)
    dJ/dW_rate = sum_t (k * dJ/dx_t)^T r_{t-1}
    dJ/dk    = sum_t dJ/dx_t * (W_rate r_{t-1} + w_in u_{t-1} - x_{t-1})
    dJ/dw    = ((dJ/dW_rate * som_m) m^T) * [w > 0]                 (W_rate = (relu(w) m) * som_m)
    dJ/dtaus_gaus = dJ/dk * (-1/tau^2) * sigmoid'(taus_gaus) * (taus_max - taus_min)

Entries of ``w`` at zero (absent connections) get zero gradient, as relu'(0) = 0 in
TensorFlow and PyTorch, so the sparsity pattern of the initial matrix is kept.

Reproducible: the same seed (and arguments) gives the same weights, bit for bit on the same
machine. The number of BLAS threads (Dask workers use one) changes the last bits of batched matrix
products: with ``batch_size`` 1 the weights and training losses are the same for any number, and
only the evaluation outputs (``eval_os``) may differ in the last bit; with larger batches the
weights are bit-identical only with the same number.
"""

from __future__ import annotations

import datetime
import json
import os
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterator

import numpy as np
from scipy.special import expit

from rate2spike.limits import check_gain, check_inhibitory_share, check_tau, check_units
from rate2spike.model import check_writable, written_temporary
from rate2spike.paths import package_version
from rate2spike.progress import is_cancelled
from rate2spike.rate import draw_trial_randomness, get_activation, run_network
from rate2spike.tasks import Task, get_task

CONNECTION_PROBABILITY = 0.2  # P_rec: initial recurrent connection probability
EVAL_EVERY = 100  # trials between evaluations
EVAL_TRIALS = 100  # fresh trials per evaluation
EVAL_CHUNK = 50  # evaluation trials simulated at once (bounds memory for long tasks)
# Trials per Adam step: 1, the reference's own schedule (one step per trial). Adam's step length does
# not grow with the batch, so what sets the pace is the number of steps. Measured on go-nogo (N = 200,
# one core of a slow machine): batch 1 first solves the task after about 500 trials (~9 s) and meets
# the reference's rule, with its 1500-trial floor, at 1600 trials in ~25 s; batch 5 needs ~1300
# trials, batch 10 ~2000 and batch 20 ~3200 before the task is solved, although a batched trial is
# 1.3 to 2.5 times cheaper. Larger batches are vectorised (one matrix-matrix product per step).
DEFAULT_BATCH_SIZE = 1
REFERENCE_MAX_EVAL_LOSS = 7.0
REFERENCE_MIN_EVAL_ACCURACY = 0.95
MAX_SEED = 2**63 - 1  # seeds are stored as int64 (train_seed)
NAME_ATTEMPTS = 1000  # later seconds tried when a model file name is taken (the same seed and options)


# --- the network ---------------------------------------------------------------------------

@dataclass
class RateNetwork:
    """The trainable rate RNN. ``w`` is the raw parameter (relu is applied when it is used);
    ``w_out`` is flat (N,), ``b_out`` a 0-d array so that the optimiser updates it in place."""

    w: np.ndarray
    m: np.ndarray
    som_m: np.ndarray
    w_in: np.ndarray
    w_out: np.ndarray
    b_out: np.ndarray
    taus_gaus: np.ndarray
    taus: tuple[float, ...]
    activation: str
    exc: np.ndarray

    @property
    def N(self) -> int:
        return self.w.shape[0]

    @property
    def trains_taus(self) -> bool:
        return len(self.taus) == 2

    def recurrent_weights(self) -> np.ndarray:
        """W_rate = (relu(w) @ m) * som_m, the matrix the network uses at every step."""
        return (np.maximum(self.w, 0.0) @ self.m) * self.som_m

    def decay_steps(self) -> np.ndarray:
        """Per-unit decay constants tau in 5 ms steps."""
        if not self.trains_taus:
            return np.full(self.N, float(self.taus[0]))
        low, high = self.taus
        return expit(self.taus_gaus) * (high - low) + low

    def parameters(self) -> dict[str, np.ndarray]:
        """The trained arrays by name (live references, not copies)."""
        params = {"w": self.w, "w_out": self.w_out, "b_out": self.b_out}
        if self.trains_taus:
            params["taus_gaus"] = self.taus_gaus
        return params

    def copy(self) -> "RateNetwork":
        """A deep copy: the trainer keeps the initial network for ``w0`` and ``taus_gaus0``."""
        return RateNetwork(**{k: (v.copy() if isinstance(v, np.ndarray) else v) for k, v in vars(self).items()})

    def run(self, u, x0, noise):
        """Forward pass of a batch: u (B, n_in, T), x0 (B, N), noise (B, N, T) or None.
        Returns the time-major ``rate2spike.rate.Trajectory``."""
        return run_network(self, u, x0, noise)


def _as_taus(taus) -> tuple[float, ...]:
    """One fixed decay constant or a trainable (min, max) range, as floats (for file names), each
    at least MIN_TAU_STEPS (``rate2spike.limits.check_tau``)."""
    values = np.atleast_1d(np.asarray(taus, dtype=object)).reshape(-1)
    taus = tuple(check_tau(t) for t in values)
    if len(taus) not in (1, 2) or (len(taus) == 2 and taus[1] < taus[0]):
        raise ValueError(f"taus must be one value or (min, max) with min <= max, got {taus}")
    return taus


def check_network_options(N=None, taus=None, P_inh=None, gain=None) -> None:
    """Refuse, before any work, options that would train a network the tool could not load or
    simulate (``rate2spike.limits``: N, taus, P_inh, gain); None skips an option."""
    if N is not None:
        check_units(N)
    if taus is not None:
        _as_taus(taus)
    if P_inh is not None:
        check_inhibitory_share(P_inh)
    if gain is not None:
        check_gain(gain)


def initialise_network(n_inputs: int, N: int, taus, rng: np.random.Generator, activation: str = "sigmoid",
                       P_inh: float = 0.2, gain: float = 1.5) -> RateNetwork:
    """spikeRNN's initial network: inhibitory units with probability P_inh; w sparse with
    probability 0.2 and entries |N(0,1)| / sqrt(0.2 N) * gain (gain 1.5 puts the network
    in the chaotic regime); w_in ~ N(0,1); w_out ~ N(0,1)/100; b_out = 0; taus_gaus ~ N(0,1)."""
    get_activation(activation)
    inh = rng.random(N) < P_inh
    connected = rng.random((N, N)) < CONNECTION_PROBABILITY
    w = np.zeros((N, N))
    w[connected] = rng.standard_normal(int(connected.sum())) / np.sqrt(N * CONNECTION_PROBABILITY) * gain
    w = np.abs(w)  # Dale's principle: magnitudes here, signs from m
    m = np.diag(np.where(inh, -1.0, 1.0))
    return RateNetwork(
        w=w, m=m, som_m=np.ones((N, N)),
        w_in=rng.standard_normal((N, n_inputs)),
        w_out=rng.standard_normal(N) / 100,
        b_out=np.zeros(()),
        taus_gaus=rng.standard_normal(N),
        taus=_as_taus(taus), activation=activation, exc=~inh,
    )


# --- loss and gradients --------------------------------------------------------------------

def trial_losses(o: np.ndarray, target: np.ndarray) -> np.ndarray:
    """Per-trial loss sqrt(sum_t (o_t - z_t)^2) for o, target (B, T)."""
    return np.sqrt(np.sum((o - target) ** 2, axis=-1))


def loss_and_gradients(network: RateNetwork, u, target, x0, noise):
    """Per-trial losses (B,), the trajectory, and the gradients of their mean.

    u (B, n_in, T), target (B, T), x0 (B, N), noise (B, N, T) or None.
    """
    traj = network.run(u, x0, noise)
    losses = trial_losses(traj.o.T, target)
    return losses, traj, _backward(network, traj, np.moveaxis(u, 2, 0), np.asarray(target, dtype=np.float64).T, losses)


def _backward(network: RateNetwork, traj, u_tm, target_tm, losses) -> dict[str, np.ndarray]:
    """BPTT through the stored trajectory (formulas in the module docstring).

    The loop runs on e_t = k * dJ/dx_t, which obeys
    e_t = k act'(x_t) (dJ/do_t w_out + e_{t+1} W_rate) + (1 - k) e_{t+1};
    everything that does not depend on e_{t+1} is computed for all steps beforehand.
    """
    n_steps, batch, n_units = traj.x.shape
    gain = 1.0 / network.decay_steps()
    leak = 1.0 - gain
    d_o = (traj.o - target_tm) / (np.maximum(losses, 1e-300) * batch)  # (T, B)
    grads = {
        "w_out": np.tensordot(d_o, traj.r, axes=([0, 1], [0, 1])),
        "b_out": np.asarray(d_o.sum()),
    }
    W = network.recurrent_weights()
    gained_slope = get_activation(network.activation).derivative_from(traj.x, traj.r) * gain  # k act'(x_t)
    direct = d_o[:, :, None] * network.w_out * gained_slope  # the output path, (T, B, N)
    e = np.zeros_like(traj.x)  # e[0] stays 0: x_0 is not a parameter
    e_steps, slope_steps, direct_steps = list(e), list(gained_slope), list(direct)
    e_steps[n_steps - 1][...] = direct_steps[n_steps - 1]
    through_w = np.empty((batch, n_units))
    for t in range(n_steps - 2, 0, -1):
        np.matmul(e_steps[t + 1], W, out=through_w)
        through_w *= slope_steps[t]
        through_w += direct_steps[t]
        np.multiply(e_steps[t + 1], leak, out=e_steps[t])
        e_steps[t] += through_w
    e_flat = e[1:].reshape(-1, n_units)
    r_before = traj.r[:-1].reshape(-1, n_units)
    grad_W = e_flat.T @ r_before
    grads["w"] = ((grad_W * network.som_m) @ network.m.T) * (network.w > 0)
    if network.trains_taus:
        # dJ/dk = sum_t dJ/dx_t * (W_rate r_{t-1} + w_in u_{t-1} - x_{t-1}), with dJ/dx_t = e_t / k
        drive = r_before @ W.T + (u_tm[:-1] @ network.w_in.T).reshape(-1, n_units)
        grad_gain = np.einsum("sn,sn->n", e_flat, drive - traj.x[:-1].reshape(-1, n_units)) / gain
        low, high = network.taus
        s = expit(network.taus_gaus)
        grads["taus_gaus"] = -grad_gain * gain**2 * s * (1.0 - s) * (high - low)
    return grads


# --- optimiser -----------------------------------------------------------------------------

class Adam:
    """Adam (Kingma & Ba) with bias correction, as PyTorch's: updates the arrays in place,
    so the network's parameters are the optimiser's parameters."""

    def __init__(self, params: dict[str, np.ndarray], lr=0.01, beta1=0.9, beta2=0.999, eps=1e-8):
        self.params = params
        self.lr, self.beta1, self.beta2, self.eps = lr, beta1, beta2, eps
        self.first = {k: np.zeros_like(v) for k, v in params.items()}
        self.second = {k: np.zeros_like(v) for k, v in params.items()}
        self.steps = 0

    def step(self, grads: dict[str, np.ndarray]) -> None:
        self.steps += 1
        correction1 = 1.0 - self.beta1**self.steps
        correction2 = 1.0 - self.beta2**self.steps
        for name, param in self.params.items():
            g = grads[name]
            m, v = self.first[name], self.second[name]
            m *= self.beta1
            m += (1.0 - self.beta1) * g
            v *= self.beta2
            v += (1.0 - self.beta2) * g * g
            param -= self.lr * (m / correction1) / (np.sqrt(v / correction2) + self.eps)


# --- evaluation ----------------------------------------------------------------------------

@dataclass(frozen=True)
class Evaluation:
    """One evaluation: what the stop rule reads and what the model file stores (eval_os...)."""

    accuracy: float
    loss: float
    outputs: np.ndarray  # (n_trials, T)
    labels: np.ndarray  # (n_trials,)


def evaluate(network, task: Task, rng: np.random.Generator, n_trials: int = EVAL_TRIALS) -> Evaluation:
    """Accuracy and mean loss on fresh noisy trials, by the task's training evaluation rule.

    ``network`` is a ``RateNetwork`` being trained or a loaded ``RateModel``."""
    outputs, labels, losses, correct = [], [], [], []
    for start in range(0, n_trials, EVAL_CHUNK):
        batch = min(EVAL_CHUNK, n_trials - start)
        trials = task.training_batch(rng, batch)
        x0, noise = draw_trial_randomness(rng, batch, network.N, task.training_steps)
        o = run_network(network, trials.u, x0, noise).o.T
        outputs.append(o)
        labels.append(trials.labels)
        losses.append(trial_losses(o, trials.target))
        correct.append(task.training_correct(o, trials.labels))
    return Evaluation(
        accuracy=float(np.concatenate(correct).mean()), loss=float(np.concatenate(losses).mean()),
        outputs=np.concatenate(outputs), labels=np.concatenate(labels),
    )


# --- the training loop ---------------------------------------------------------------------

@dataclass(frozen=True)
class TrainingProgress:
    """What ``progress`` receives after each evaluation."""

    trials: int  # training trials done
    max_trials: int
    train_loss: float  # mean loss of the training trials since the previous evaluation
    eval_loss: float
    eval_accuracy: float
    elapsed_seconds: float
    converged: bool


@dataclass(frozen=True)
class TrainingResult:
    """The outcome of ``train_model``; ``network`` is the trained network in memory."""

    path: Path | None  # the saved model file (None when cancelled)
    eval_accuracy: float
    eval_loss: float
    trials: int
    history: tuple[TrainingProgress, ...]
    elapsed_seconds: float
    converged: bool
    cancelled: bool
    network: RateNetwork


def train_model(task, N: int = 200, taus=(4, 20), seed: int = 0, out_dir=".", activation: str = "sigmoid",
                P_inh: float = 0.2, gain: float = 1.5, n_trials: int = 6000, batch_size: int = DEFAULT_BATCH_SIZE,
                progress: Callable[[TrainingProgress], None] | None = None,
                cancel: Callable[[], bool] | threading.Event | None = None, *,
                max_eval_loss: float = REFERENCE_MAX_EVAL_LOSS,
                min_eval_accuracy: float = REFERENCE_MIN_EVAL_ACCURACY,
                min_trials: int | None = None, learning_rate: float = 0.01) -> TrainingResult:
    """Train a rate RNN on ``task`` ('go-nogo', 'xor', 'mante') and save it as a spikeRNN file.

    Every 100 training trials the network is evaluated on 100 fresh trials; training stops
    when eval loss < ``max_eval_loss`` and eval accuracy > ``min_eval_accuracy`` (both strict,
    as in the reference: 0.95 and 7; so 0.98 asks for 99 of 100) after more than
    ``min_trials`` trials (the task's floor by default: 1500 for go-nogo), or after
    ``n_trials`` trials. The file goes to
    ``<out_dir>/models/<task>/P_rec_0.2_Taus_<min>_<max>/Task_<task>_N_<N>_Taus_<min>_<max>_Act_<act>_seed_<seed>_<time>.mat``
    (``..._Tau_<value>...`` with one fixed tau, as spikeRNN names it; the seed is rate2spike's
    addition), never over another file (``save_new_model``), with how it was trained beside
    spikeRNN's variables (``train_seed``, ``train_options``: ``_training_record``).

    Batch size: each Adam step follows the mean loss of ``batch_size`` trials (default 1, the
    reference's schedule; why, at ``DEFAULT_BATCH_SIZE``). Evaluations stay exactly every 100
    trials (a batch never straddles one) and simulate their 100 trials in two batches of 50.

    Reproducible: the same seed and arguments give the same weights (the module docstring says how).
    ``progress`` gets a ``TrainingProgress`` after each evaluation; ``cancel`` (a callable
    returning True, or a threading.Event) is checked between batches, and a cancelled run saves
    nothing. The seed, the network's options (``check_network_options``: N from 1 to 5000, taus
    finite and at least 1 step of 5 ms, gain finite and above 0, P_inh from 0 to 1) and the output
    folder are checked before training.
    """
    task = get_task(task)
    seed = _check_training(task, N, taus, P_inh, gain, batch_size, n_trials, seed, out_dir, activation)
    floor = task.training_min_trials if min_trials is None else min_trials
    init_rng, train_rng, eval_rng = (np.random.default_rng(s) for s in np.random.SeedSequence(seed).spawn(3))
    network = initialise_network(task.n_inputs, N, taus, init_rng, activation, P_inh, gain)
    initial = network.copy()
    optimiser = Adam(network.parameters(), lr=learning_rate)
    started = time.perf_counter()
    losses, history = [], []
    done, cancelled, converged = 0, False, False
    evaluation = last_batch = None
    while done < n_trials and not converged:
        if is_cancelled(cancel):
            cancelled = True
            break
        next_eval = (done // EVAL_EVERY + 1) * EVAL_EVERY
        batch = min(batch_size, next_eval - done, n_trials - done)
        trials = task.training_batch(train_rng, batch)
        x0, noise = draw_trial_randomness(train_rng, batch, N, task.training_steps)
        batch_losses, traj, grads = loss_and_gradients(network, trials.u, trials.target, x0, noise)
        optimiser.step(grads)
        losses.extend(batch_losses.tolist())
        done += batch
        last_batch = (trials, traj)
        if done % EVAL_EVERY == 0 or done == n_trials:
            evaluation = evaluate(network, task, eval_rng)
            converged = (evaluation.loss < max_eval_loss and evaluation.accuracy > min_eval_accuracy
                         and done > floor)
            since = losses[-(done - (history[-1].trials if history else 0)):]
            report = TrainingProgress(done, n_trials, float(np.mean(since)), evaluation.loss, evaluation.accuracy,
                                      time.perf_counter() - started, converged)
            history.append(report)
            if progress is not None:
                progress(report)
    elapsed = time.perf_counter() - started
    path = None if cancelled or evaluation is None else save_new_model(
        _model_paths(out_dir, task.name, network, seed),
        {**_model_file_variables(network, initial, last_batch, losses, evaluation, done),
         **_training_record(task.name, seed, N=N, taus=list(network.taus), activation=activation, P_inh=P_inh,
                            gain=gain, n_trials=n_trials, batch_size=batch_size, max_eval_loss=max_eval_loss,
                            min_eval_accuracy=min_eval_accuracy, min_trials=floor, learning_rate=learning_rate)})
    return TrainingResult(
        path=path,
        eval_accuracy=evaluation.accuracy if evaluation else float("nan"),
        eval_loss=evaluation.loss if evaluation else float("nan"),
        trials=done, history=tuple(history), elapsed_seconds=elapsed,
        converged=converged, cancelled=cancelled, network=network,
    )


# --- the model file ------------------------------------------------------------------------

def model_file_path(out_dir, task_name: str, N: int, taus, activation: str, when: datetime.datetime,
                    seed: int | None = None) -> Path:
    """spikeRNN's file layout, with taus written as floats (``P_rec_0.2_Taus_4.0_20.0``) and,
    when given, the seed before the time stamp (``..._Act_sigmoid_seed_3_2024_01_02_030405.mat``)."""
    taus = _as_taus(taus)
    if len(taus) == 2:
        tau_part = f"Taus_{taus[0]}_{taus[1]}"
    else:
        tau_part = f"Tau_{taus[0]}"
    folder = Path(out_dir) / "models" / task_name / f"P_rec_{CONNECTION_PROBABILITY}_{tau_part}"
    stamp = when.strftime("%Y_%m_%d_%H%M%S")
    seed_part = "" if seed is None else f"seed_{seed}_"
    return folder / f"Task_{task_name}_N_{N}_{tau_part}_Act_{activation}_{seed_part}{stamp}.mat"


def _now() -> datetime.datetime:
    return datetime.datetime.now()


def _model_paths(out_dir, task_name: str, network: RateNetwork, seed: int) -> Iterator[Path]:
    """Candidate file names: this second's, then the following seconds' (for a name already taken)."""
    when = _now().replace(microsecond=0)
    for _ in range(NAME_ATTEMPTS):
        yield model_file_path(out_dir, task_name, network.N, network.taus, network.activation, when, seed)
        when += datetime.timedelta(seconds=1)


def _check_training(task, N, taus, P_inh, gain, batch_size, n_trials, seed, out_dir, activation) -> int:
    """``train_model``'s arguments checked before any work (a ValueError or OSError naming the first
    problem); returns the seed as an int."""
    check_network_options(N, taus, P_inh, gain)
    if batch_size < 1 or n_trials < 1:
        raise ValueError("batch_size and n_trials must be positive")
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or not 0 <= seed <= MAX_SEED:
        raise ValueError(f"seed must be a whole number from 0 to 2**63 - 1, got {seed!r}")
    _check_folder_writable(model_file_path(out_dir, task.name, N, taus, activation, _now()).parent)
    return int(seed)


def _check_folder_writable(folder: Path) -> None:
    """Refuse before training, not after, an output folder that could not be made or written."""
    existing = folder
    while not existing.exists() and existing != existing.parent:
        existing = existing.parent
    if not existing.is_dir() or not os.access(existing, os.W_OK | os.X_OK):
        raise PermissionError(f"{folder}: cannot write there ({existing} is not a writable folder); "
                              "nothing was trained")


def save_new_model(candidates, variables: dict) -> Path:
    """Write a new model file under the first of the ``candidates`` (paths) that is free, and
    return its path. Never overwrites a file, even one another process creates meanwhile.

    The file is written completely first, to a temporary file beside the target (locked while
    written, the convention of ``rate2spike.model.write_mat_atomic``), flushed to disk, and only
    then published under its name with a hard link, which fails if the name exists: the name is
    claimed atomically and no reader ever sees a partial or empty file. Where the file system has
    no hard links the name is claimed with O_CREAT | O_EXCL and the complete file renamed over the
    claim at once. On any error, Ctrl-C or SIGTERM nothing is left behind.
    """
    candidates = iter(candidates)
    target = next(candidates)
    folder = target.parent
    folder.mkdir(parents=True, exist_ok=True)
    check_writable(target)
    with written_temporary(target, variables) as tmp:
        while target is not None:
            if _publish_without_overwriting(tmp, target):
                return target
            target = next(candidates, None)
    raise FileExistsError(f"{folder}: every candidate name for the new model file is taken; nothing was written")


def _publish_without_overwriting(tmp: str, target: Path) -> bool:
    """Give the complete file ``tmp`` the name ``target`` unless that name exists (False then)."""
    try:
        os.link(tmp, target)
        return True
    except FileExistsError:
        return False
    except OSError:  # no hard links here (some network and FAT file systems): claim, then rename
        pass
    try:
        os.close(os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
    except FileExistsError:
        return False
    try:
        os.replace(tmp, target)
    except BaseException:
        target.unlink(missing_ok=True)  # our empty claim
        raise
    return True


def _training_record(task_name: str, seed: int, **options) -> dict:
    """``train_seed`` (int64) and ``train_options`` (JSON text: the task, N, taus, activation, P_inh,
    gain, n_trials, batch_size, the stop rule, learning_rate, the seed and the versions of rate2spike
    and NumPy): how the file was made, rate2spike's additions, which loading ignores and saving a
    grid search keeps."""
    record = {"task": task_name, **options, "seed": seed,
              "rate2spike": package_version(), "numpy": np.__version__}
    return {"train_seed": np.array([[seed]], dtype=np.int64),
            "train_options": json.dumps(record, separators=(", ", ": "))}


def _column(values) -> np.ndarray:
    """An N x 1 float column, the shape MATLAB users expect for per-unit vectors."""
    return np.asarray(values, dtype=np.float64).reshape(-1, 1)


def _model_file_variables(network: RateNetwork, initial: RateNetwork, last_batch, losses, evaluation: Evaluation,
                          trials: int) -> dict:
    """Every variable of a spikeRNN model file (docs/method.md, "Model files"), with its shapes.

    ``w`` is saved rectified (relu of the parameter, what the network used), as the
    TensorFlow trainer did. ``u, o, x, r, target, x0, r0`` describe the last training trial
    (x, r as N x T); ``tr`` is the number of training trials.
    """
    last_trials, last_traj = last_batch
    index = -1  # the last trial of the last batch
    inh = ~network.exc
    return {
        "N": np.array([[network.N]]),
        "w": np.maximum(network.w, 0.0),
        "w0": np.maximum(initial.w, 0.0),
        "m": network.m.copy(),
        "som_m": network.som_m.copy(),
        "w_in": network.w_in.copy(),
        "w_in0": initial.w_in.copy(),
        "w_out": network.w_out.reshape(1, -1).copy(),
        "b_out": np.array([[float(network.b_out)]]),
        "inh": inh.reshape(-1, 1),
        "exc": network.exc.reshape(-1, 1),
        "taus": np.asarray(network.taus, dtype=np.float64).reshape(1, -1),
        "taus_gaus": _column(network.taus_gaus),
        "taus_gaus0": _column(initial.taus_gaus),
        "activation": network.activation,
        "x0": _column(last_traj.x[0, index]),
        "r0": _column(last_traj.r[0, index]),
        "u": last_trials.u[index].copy(),
        "o": last_traj.o[:, index].reshape(1, -1).copy(),
        "x": last_traj.x[:, index].T.copy(),
        "r": last_traj.r[:, index].T.copy(),
        "target": last_trials.target[index].reshape(1, -1).copy(),
        "som_N": np.array([[0.0]]),
        "losses": np.asarray(losses, dtype=np.float64).reshape(1, -1),
        "eval_perf_mean": np.array([[evaluation.accuracy]]),
        "eval_loss_mean": np.array([[evaluation.loss]]),
        "eval_os": evaluation.outputs.copy(),
        "eval_labels": evaluation.labels.reshape(1, -1).copy(),
        "tr": np.array([[float(trials)]]),
    }

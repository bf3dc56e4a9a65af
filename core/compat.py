"""The spikeRNN API: ``LIF_network_fnc``, ``lambda_grid_search``, ``evaluate_single_trial``.

Same arguments, defaults and results as the spikeRNN Python package (see the docs in
``shared/seeds``), on top of the Numba simulator. Differences, all documented in README:
``REC`` is steps x N and ``out`` a flat vector of nt values (the seed documents both so, and
its example indexes ``out[-1]`` as a number); ``spk`` and ``rs`` are N x steps.
"""

from __future__ import annotations

import numpy as np

from core.model import ModelFileError, as_model, load_model, save_grid_search
from core.paths import find_model_files, shipped_model_dir
from core.simulation import Stimulation, convert, make_drive, simulate_output, simulate_trial
from core.sweep import DEFAULT_SCALING_FACTORS, run_sweep, trial_inputs
from core.tasks import check_task_fits, get_task, infer_task


def _random_seed() -> int:
    return int(np.random.SeedSequence().entropy % (2**63))


def LIF_network_fnc(model_path, scaling_factor, u, stims=None, downsample=1, use_initial_weights=False, seed=None):
    """Convert a trained rate RNN to a LIF network and simulate one trial.

    ``model_path`` is a .mat file or an already loaded ``RateModel``. ``seed`` (not in
    spikeRNN) makes the trial reproducible; by default every call draws fresh noise, as
    the reference does. Returns ``(W, REC, spk, rs, all_fr, out, params)``: W (N x N,
    scaled), REC (nt x N, mV), spk (N x nt, 0/1), rs (N x nt), all_fr (N x 1, Hz),
    out (nt,), params (dt, T, nt, w_out, td, td0, IPSCs, scaling_factor, downsample).
    """
    model = as_model(model_path)
    for note in model.notes:
        print(note)
    network = convert(model, scaling_factor, use_initial_weights)
    drive = make_drive(network, u, downsample)
    stimulation = Stimulation.from_stims(stims, model.N)
    trial = simulate_trial(network, drive, _random_seed() if seed is None else seed, stimulation)
    params = {
        "dt": drive.dt, "T": drive.T, "nt": drive.nt, "w_out": network.w_out.reshape(1, -1),
        "td": network.td, "td0": network.td0, "IPSCs": trial.synaptic_currents.T,
        "scaling_factor": network.scaling_factor, "downsample": drive.downsample, "v0": trial.v0,
    }
    spk = trial.spikes.T.astype(np.float64)
    return (network.W, trial.voltages, spk, trial.rates.T, trial.firing_rates.reshape(-1, 1),
            trial.out, params)


def evaluate_single_trial(curr_full, scaling_factor, task_name=None, use_initial_weights=False, down_sample=1,
                          seed=None):
    """Run one random trial of the task at one scaling factor; 1 if correct, else 0."""
    model = as_model(curr_full)
    task = infer_task(model) if task_name is None else get_task(task_name)
    check_task_fits(task, model)
    seed = _random_seed() if seed is None else seed
    trial, sim_seed = trial_inputs(task, seed, 0)
    network = convert(model, scaling_factor, use_initial_weights)
    drive = make_drive(network, trial.u, down_sample)
    out, _ = simulate_output(network, drive, sim_seed)
    return int(task.score(out, drive.dt, trial).correct)


def lambda_grid_search(model_dir=None, task_name=None, n_trials=100, scaling_factors=None, *,
                       force=False, seed=0, downsample=1, use_initial_weights=False,
                       progress=None, cancel=None, verbose=True, n_threads=None):
    """Find the best scaling factor for every model file in ``model_dir`` and save it there.

    For each ``.mat`` file: score ``n_trials`` random trials at each scaling factor (the
    same trials at every lambda), print each lambda's accuracy, and store
    ``opt_scaling_factor``, ``all_perfs`` and ``scaling_factors`` in the file (atomically,
    keeping every other variable). Files that already hold ``opt_scaling_factor`` are
    skipped unless ``force``. ``task_name`` is inferred from each file when not given.
    Returns ``{path: SweepResult}`` for the files searched.
    """
    from core.progress import ProgressBar  # a text progress bar (tqdm)

    model_dir = shipped_model_dir("go-nogo") if model_dir is None else model_dir
    factors = DEFAULT_SCALING_FACTORS if scaling_factors is None else list(scaling_factors)
    paths = find_model_files(model_dir)
    if not paths:
        raise FileNotFoundError(f"{model_dir}: no .mat model files found")
    say = print if verbose else (lambda *a, **k: None)
    results = {}
    for path in paths:
        try:
            model = load_model(path)
        except ModelFileError as exc:
            say(f"skipping {exc}")
            continue
        if model.opt_scaling_factor is not None and not force:
            say(f"{path.name}: already has opt_scaling_factor = {model.opt_scaling_factor:g}; skipped (force=True redoes it)")
            continue
        task = infer_task(model) if task_name is None else get_task(task_name)
        check_task_fits(task, model)
        say(f"{path.name}: {task.name}, N = {model.N}, {len(factors)} scaling factors x {n_trials} trials")
        with ProgressBar(total=len(factors) * n_trials, desc=path.name[:40], enabled=verbose) as bar:
            printed = [0]

            def report(p, printed=printed):
                bar.update_to(p.done)
                if progress is not None:
                    progress(p)
                while printed[0] < len(factors) and p.result.complete[printed[0]]:
                    k = printed[0]
                    bar.write(f"  lambda = {factors[k]:g}: accuracy {p.result.accuracy[k]:.3f}")
                    printed[0] += 1

            result = run_sweep(model, task, factors, n_trials, seed=seed, downsample=downsample,
                               use_initial_weights=use_initial_weights, progress=report, cancel=cancel,
                               n_threads=n_threads)
        results[path] = result
        if result.cancelled:
            say(f"{path.name}: cancelled; nothing saved")
            break
        best_lambda, best_acc = result.optimum
        save_grid_search(path, result.scaling_factors, result.accuracy, best_lambda)
        say(f"{path.name}: optimal scaling factor {best_lambda:g} (accuracy {best_acc:.3f}); saved")
    return results

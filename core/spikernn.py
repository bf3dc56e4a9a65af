"""The spikeRNN API: ``LIF_network_fnc``, ``lambda_grid_search``, ``evaluate_single_trial``.

Same arguments, defaults and results as the spikeRNN Python package, on top of rate2spike.
The MATLAB code is the reference (docs/method.md, "The reference"). Differences ("Differences from
the reference"): ``REC`` is steps x N and ``out`` a flat vector of nt values (the spikeRNN docs give
both so, and their example indexes ``out[-1]`` as a number); ``spk`` and ``rs`` are N x steps; each
function takes an optional ``seed`` and ``initial_decay`` (with ``use_initial_weights``: the fully
untrained network, w0 with td0; the reference runs w0 with the trained td).
"""

from __future__ import annotations

import numpy as np

from rate2spike.folder_search import search_folder
from rate2spike.model import as_model
from rate2spike.network import Stimulation, check_initial_decay, convert, make_drive
from rate2spike.parameters import DEFAULT_PARAMETERS
from rate2spike.paths import shipped_model_dir
from rate2spike.search import DEFAULT_ALPHA, SearchOptions
from rate2spike.simulation import RECORDINGS, simulate
from rate2spike.sweep import DEFAULT_N_TRIALS
from rate2spike.text import printable
from rate2spike.trial import TrialSpec, run_trial


def _random_seed() -> int:
    return int(np.random.SeedSequence().entropy % (2**63))


def LIF_network_fnc(model_path, scaling_factor, u, stims=None, downsample=1, use_initial_weights=False, seed=None,
                    *, initial_decay=False, params=DEFAULT_PARAMETERS):
    """Convert a trained rate RNN to a LIF network and simulate it on the stimulus ``u``.

    ``model_path`` is a .mat file or a loaded ``RateModel``; ``u`` is n_inputs x columns (5 ms
    each); ``stims`` the artificial stimulation ({'mode': 'none' | 'exc' | 'inh', 'dur': [first,
    stop] in steps, 'units': [...]}). ``use_initial_weights`` runs w0 with the trained decay
    constants td, as the reference; ``initial_decay`` (not in spikeRNN, with it) also takes td0.
    ``seed`` (not in spikeRNN) makes the run reproducible; by
    default every call draws fresh noise, as the reference does. ``params`` (not in spikeRNN, a
    ``LIFParameters``) runs a variant of the method's constants; default the reference's. The
    stimulus is yours, not a task's, so this calls the simulator directly (the same ``simulate``
    that ``run_trial`` calls).
    Returns ``(W, REC, spk, rs, all_fr, out, params)``: W (N x N, W_rate / lambda), REC (nt x N,
    mV), spk (N x nt, 0/1), rs (N x nt, Hz), all_fr (N x 1, Hz), out (nt,), params (dt and T in s,
    nt, w_out as in the file (1 x N, not divided by lambda), td (s, the decay constants simulated) and
    td0 (s, the initial ones), IPSCs (N x nt, mV), scaling_factor, downsample, v0 in mV).
    """
    model = as_model(model_path)
    for note in model.notes:
        print(printable(note))
    network = convert(model, scaling_factor, use_initial_weights, initial_decay=initial_decay)
    drive = make_drive(network, u, downsample)
    run = simulate(network, drive, _random_seed() if seed is None else seed,
                   Stimulation.from_stims(stims, model.N), record=RECORDINGS, params=params)
    params = {
        "dt": drive.dt, "T": drive.T, "nt": drive.nt, "w_out": model.w_out.reshape(1, -1),
        "td": network.td, "td0": network.td0, "IPSCs": run.synaptic_current.T,
        "scaling_factor": network.scaling_factor, "downsample": drive.downsample, "v0": run.v0,
    }
    return (np.ascontiguousarray(network.W), run.voltage, run.spikes.T.astype(np.float64), run.rate.T,
            run.firing_rates.reshape(-1, 1), run.out, params)


def evaluate_single_trial(curr_full, scaling_factor, task_name=None, use_initial_weights=False, down_sample=1,
                          seed=None, *, initial_decay=False):
    """Run one random trial of the task at one scaling factor: 1 if correct, else 0.

    ``task_name`` defaults to the model's task; ``seed`` (not in spikeRNN) fixes the trial
    (trial 0 of that seed, as in a grid search); by default each call draws a new one;
    ``initial_decay`` as in ``LIF_network_fnc``.
    """
    spec = TrialSpec(as_model(curr_full), task_name, scaling_factor, seed=_random_seed() if seed is None else seed,
                     downsample=down_sample, use_initial_weights=use_initial_weights, initial_decay=initial_decay)
    return int(run_trial(spec).outcome.correct)


def lambda_grid_search(model_dir=None, task_name=None, n_trials=DEFAULT_N_TRIALS, scaling_factors=None, *,
                       force=False, seed=0, downsample=1, use_initial_weights=False, task_options=None,
                       progress=None, cancel=None, verbose=True, n_threads=None, extend=False, refine=False,
                       race=False, alpha=DEFAULT_ALPHA, client=None, resume=True,
                       block_trials=None, precision="float64", initial_decay=False):
    """Find the best scaling factor of every model file in ``model_dir`` (default: the shipped
    go-nogo models) and save it there, as the reference: ``opt_scaling_factor`` (the first maximum),
    ``all_perfs`` and ``scaling_factors``, written even for a failed conversion.

    Beyond spikeRNN, off by default so results are the reference's: ``seed``, ``task_options``,
    ``extend``, ``refine``, ``race`` and ``alpha``, ``precision``, ``client`` (Dask), ``n_threads``,
    ``block_trials``, ``resume``, ``progress``/``cancel``. ``rate2spike.folder_search.search_folder``
    runs the search and documents each argument and what is stored. Returns ``{path: SweepResult}``
    with ``failures`` ({path: message}) for the files that could not be searched or saved.
    """
    check_initial_decay(use_initial_weights, initial_decay)  # before any file is read
    model_dir = shipped_model_dir("go-nogo") if model_dir is None else model_dir
    return search_folder(model_dir, task_name, n_trials, scaling_factors, force=force, seed=seed,
                         downsample=downsample, use_initial_weights=use_initial_weights, task_options=task_options,
                         options=SearchOptions(extend=extend, refine=refine, race=race, alpha=alpha), save_failed=True,
                         progress=progress, cancel=cancel, verbose=verbose, n_threads=n_threads, client=client,
                         resume=resume, block_trials=block_trials, precision=precision, initial_decay=initial_decay)

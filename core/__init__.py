"""rate2spike: convert trained rate RNNs into LIF spiking networks, and see why it works.

The documented imports::

    from rate2spike import LIF_network_fnc, lambda_grid_search, evaluate_single_trial, load_model, run_sweep

Layers, each depending only on those above it: the time grid (``timegrid``), the LIF method's
constants (``parameters``: ``LIFParameters``) and model files (``model``); the tasks (``tasks``);
the conversion (``network``) and the Numba simulator (``lif``, ``simulation``); one trial
(``trial``: ``TrialSpec``, ``run_trial``; in lockstep,
``run_trials`` for trials of one network and ``run_trials_at`` for trials at several lambdas); the lambda
search (``search``: racing, extension, refinement, the band; ``fidelity``; ``sweep`` runs it on
LIF trials); the spikeRNN API (``spikernn``). The rate network (``rate``) and its
trainer (``train``) make model files. The method is described in docs/method.md.
"""

from rate2spike.model import ModelFileError, RateModel, load_model, save_grid_search
from rate2spike.network import SpikingNetwork, Stimulation, convert, make_drive
from rate2spike.parameters import DEFAULT_PARAMETERS, LIFParameters
from rate2spike.rate import simulate_rate
from rate2spike.search import SearchOptions
from rate2spike.simulation import simulate, simulate_batch
from rate2spike.spikernn import LIF_network_fnc, evaluate_single_trial, lambda_grid_search
from rate2spike.sweep import SweepResult, run_grid, run_sweep
from rate2spike.tasks import TASKS, get_task, infer_task
from rate2spike.train import train_model
from rate2spike.trial import ScoredTrial, TrialSpec, run_trial, run_trials

__all__ = [
    "LIF_network_fnc", "evaluate_single_trial", "lambda_grid_search",
    "ModelFileError", "RateModel", "load_model", "save_grid_search",
    "SpikingNetwork", "Stimulation", "convert", "make_drive", "simulate", "simulate_batch",
    "LIFParameters", "DEFAULT_PARAMETERS",
    "TrialSpec", "ScoredTrial", "run_trial", "run_trials", "SweepResult", "SearchOptions", "run_sweep", "run_grid",
    "TASKS", "get_task", "infer_task", "simulate_rate", "train_model",
]

"""rate2spike core: convert trained rate RNNs into LIF spiking networks and simulate them.

The spikeRNN API (``LIF_network_fnc``, ``lambda_grid_search``, ``evaluate_single_trial``)
sits on a model-file layer (``core.model``), a Numba simulator (``core.lif`` kernels,
``core.simulation`` wrappers), tasks (``core.tasks``) and the grid search (``core.sweep``);
the rate network (``core.rate``) and its trainer (``core.train``) make the model files.
"""

from core.compat import LIF_network_fnc, evaluate_single_trial, lambda_grid_search
from core.model import ModelFileError, RateModel, load_model, save_grid_search
from core.rate import simulate_rate
from core.simulation import Stimulation, convert, make_drive, simulate_output, simulate_trial
from core.sweep import SweepResult, run_sweep, trial_inputs
from core.tasks import TASKS, get_task, infer_task
from core.train import train_model

__all__ = [
    "LIF_network_fnc", "evaluate_single_trial", "lambda_grid_search",
    "ModelFileError", "RateModel", "load_model", "save_grid_search",
    "Stimulation", "convert", "make_drive", "simulate_output", "simulate_trial",
    "SweepResult", "run_sweep", "trial_inputs", "TASKS", "get_task", "infer_task",
    "simulate_rate", "train_model",
]

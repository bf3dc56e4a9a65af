"""rate2spike core: convert trained rate RNNs into LIF spiking networks and simulate them.

The spikeRNN API (``LIF_network_fnc``, ``lambda_grid_search``, ``evaluate_single_trial``)
sits on a model-file layer (``core.model``), a Numba simulator (``core.lif`` kernels,
``core.simulation`` wrappers), tasks (``core.tasks``) and the grid search (``core.sweep``).
"""

from core.compat import LIF_network_fnc, evaluate_single_trial, lambda_grid_search
from core.model import ModelFileError, RateModel, load_model, save_grid_search
from core.simulation import Stimulation, convert, make_drive, simulate_output, simulate_trial
from core.sweep import SweepResult, run_sweep, trial_inputs
from core.tasks import TASKS, get_task, infer_task

__all__ = [
    "LIF_network_fnc", "evaluate_single_trial", "lambda_grid_search",
    "ModelFileError", "RateModel", "load_model", "save_grid_search",
    "Stimulation", "convert", "make_drive", "simulate_output", "simulate_trial",
    "SweepResult", "run_sweep", "trial_inputs", "TASKS", "get_task", "infer_task",
]

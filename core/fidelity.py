"""Output fidelity: how closely a spiking network's output follows the rate network's on one trial.

Accuracy only asks whether the output crossed the task's thresholds; a class also wants to know at
which lambda the spiking network *reproduces* the rate network. The LIF output (one value per
0.05 ms step, times ``downsample``) is averaged over each 5 ms step of the rate network's grid and
compared with the rate network's output o_t on the same stimulus: the mean squared difference and
the Pearson correlation over the trial.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from rate2spike.timegrid import LIF_STEPS_PER_COLUMN


class Fidelity(NamedTuple):
    """mse: mean squared difference of the outputs (output units squared); correlation: Pearson r
    over the trial (NaN when either output is constant)."""

    mse: float
    correlation: float


def on_rate_grid(lif_out: np.ndarray, downsample: int = 1) -> np.ndarray:
    """The LIF output averaged over each 5 ms rate step: value t-1 is the mean over the LIF steps
    that end in ((t-1) * 5 ms, t * 5 ms], to set beside the rate network's o_t (t = 1, 2, ...)."""
    lif_out = np.asarray(lif_out, dtype=float)
    steps = np.arange(1, lif_out.size + 1) * int(downsample)  # end of each step in 0.05 ms units
    bins = (steps + LIF_STEPS_PER_COLUMN - 1) // LIF_STEPS_PER_COLUMN - 1  # ceil(step / 100) - 1
    counts = np.bincount(bins)
    with np.errstate(invalid="ignore"):
        return np.bincount(bins, weights=lif_out) / counts


def output_fidelity(lif_out: np.ndarray, rate_out: np.ndarray, downsample: int = 1) -> Fidelity:
    """Compare a LIF output trace with the rate network's output ``rate_out`` (o_0, o_1, ... at 5 ms
    steps) on the same stimulus."""
    binned = on_rate_grid(lif_out, downsample)
    rate = np.asarray(rate_out, dtype=float)[1:binned.size + 1]
    binned = binned[:rate.size]
    if rate.size == 0:
        return Fidelity(float("nan"), float("nan"))
    mse = float(np.mean((binned - rate) ** 2))
    if np.ptp(binned) == 0 or np.ptp(rate) == 0:
        return Fidelity(mse, float("nan"))
    return Fidelity(mse, float(np.corrcoef(binned, rate)[0, 1]))


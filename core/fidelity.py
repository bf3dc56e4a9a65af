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
    that end in ((t-1) * 5 ms, t * 5 ms], to set beside the rate network's o_t (t = 1, 2, ...).
    ``lif_out`` is one trace (nt,) or several of one trial (traces x nt); a rate step that no LIF
    step ends in (downsample > 100) is NaN."""
    lif_out = np.asarray(lif_out, dtype=float)
    nt = lif_out.shape[-1]
    steps = np.arange(1, nt + 1) * int(downsample)  # end of each step in 0.05 ms units
    bins = (steps + LIF_STEPS_PER_COLUMN - 1) // LIF_STEPS_PER_COLUMN - 1  # ceil(step / 100) - 1
    starts = np.flatnonzero(np.r_[True, bins[1:] != bins[:-1]])  # bins are non-decreasing
    counts = np.diff(np.r_[starts, nt])
    binned = np.full(lif_out.shape[:-1] + (bins[-1] + 1,), np.nan)
    binned[..., bins[starts]] = np.add.reduceat(lif_out, starts, axis=-1) / counts
    return binned


def output_fidelities(lif_outs: np.ndarray, rate_out: np.ndarray, downsample: int = 1) -> list[Fidelity]:
    """``output_fidelity`` of several LIF traces of one trial (its lambdas: traces x nt) at once."""
    binned = on_rate_grid(np.atleast_2d(lif_outs), downsample)
    rate = np.asarray(rate_out, dtype=float)[1:binned.shape[1] + 1]
    binned = binned[:, :rate.size]
    if rate.size == 0:
        return [Fidelity(float("nan"), float("nan"))] * binned.shape[0]
    mse = np.mean((binned - rate) ** 2, axis=1)
    lif_dev = binned - binned.mean(axis=1, keepdims=True)
    rate_dev = rate - rate.mean()
    with np.errstate(invalid="ignore", divide="ignore"):
        correlation = np.clip(lif_dev @ rate_dev / np.sqrt((lif_dev * lif_dev).sum(axis=1) * (rate_dev @ rate_dev)),
                              -1.0, 1.0)
    constant = (np.ptp(binned, axis=1) == 0) | (np.ptp(rate) == 0)  # no correlation to speak of
    correlation[constant] = np.nan
    return [Fidelity(float(m), float(c)) for m, c in zip(mse, correlation)]


def output_fidelity(lif_out: np.ndarray, rate_out: np.ndarray, downsample: int = 1) -> Fidelity:
    """Compare a LIF output trace with the rate network's output ``rate_out`` (o_0, o_1, ... at 5 ms
    steps) on the same stimulus."""
    return output_fidelities(np.asarray(lif_out, dtype=float)[None], rate_out, downsample)[0]

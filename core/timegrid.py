"""The two time grids and every conversion between them: the only place that knows them.

A stimulus ``u`` has one column per 5 ms step of the rate network. The LIF network runs on
a finer grid: 100 steps per column (0.05 ms), or ``downsample`` times coarser, after keeping
every ``downsample``-th column. LIF steps are numbered i = 1..nt as in the method
(docs/method.md, "Time grids"); step i ends at ``i * dt``, and recordings hold step i in row
i - 1. All times are in seconds.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit

RATE_STEP = 0.005  # s: one stimulus column, one step of the rate network
LIF_STEP = 0.00005  # s: one LIF step without downsampling
LIF_STEPS_PER_COLUMN = 100  # RATE_STEP / LIF_STEP: the LIF steps that one column lasts


def check_downsample(downsample) -> int:
    """The downsampling factor as an int, or a ValueError naming it."""
    if isinstance(downsample, bool) or int(downsample) != downsample or downsample < 1:
        raise ValueError(f"downsample must be a positive integer, got {downsample!r}")
    return int(downsample)


def lif_dt(downsample: int = 1) -> float:
    """LIF step (s) for a downsampling factor."""
    return LIF_STEP * downsample


def downsampled_columns(n_columns: int, downsample: int = 1) -> int:
    """Columns left after keeping every ``downsample``-th one (``u[:, ::downsample]``)."""
    return -(-n_columns // downsample)


def lif_steps(n_columns: int, downsample: int = 1) -> int:
    """Number of LIF steps nt for a stimulus of ``n_columns`` columns.

    The method computes T = (columns - 1) * dt * 100 and nt = round(T / dt), which is
    exactly (columns - 1) * 100 after downsampling.
    """
    return (downsampled_columns(n_columns, downsample) - 1) * LIF_STEPS_PER_COLUMN


def trial_duration(n_columns: int, downsample: int = 1) -> float:
    """Trial length T (s) of the LIF simulation, (columns - 1) * dt * 100 as the method computes
    it (equal to nt * dt up to rounding: for xor, 1.5000000000000002 s).

    With downsampling the last kept column may fall short of the stimulus end: 201 columns
    with downsample 3 keep 67 columns, so T = 0.99 s, not 1.0 s. This is the duration every
    view, window and firing rate uses.
    """
    return (downsampled_columns(n_columns, downsample) - 1) * lif_dt(downsample) * LIF_STEPS_PER_COLUMN


@njit(inline="always", nogil=True, cache=True)
def column_of_step(i):
    """Stimulus column (0-based) that drives LIF step i: MATLAB's round(i/100) + 1, which
    rounds halves up (Python's round would not)."""
    return (i + LIF_STEPS_PER_COLUMN // 2) // LIF_STEPS_PER_COLUMN


def step_end_times(nt: int, dt: float) -> np.ndarray:
    """Time (s) at the end of each step 1..nt: row k of a recording is at (k + 1) * dt."""
    return np.arange(1, nt + 1) * dt


def first_sample_from(start_seconds: float, dt: float) -> int:
    """Index of the first recorded sample at or after ``start_seconds``.

    Sample k holds step k + 1, which ends at (k + 1) * dt. For the default step this gives the
    method's fixed indices (0.5 s -> 9999, 1.0 s -> 19999, 1.3 s -> 25999), and it stays
    right under downsampling, where fixed indices would point at the wrong time.
    """
    return max(0, math.ceil(start_seconds / dt - 1e-9) - 1)


def steps_of_window(start_seconds: float, end_seconds: float, dt: float) -> tuple[int, int]:
    """The 1-based steps (first, stop) that end inside [start, end): first <= i < stop."""
    return int(round(start_seconds / dt)) + 1, int(round(end_seconds / dt)) + 1


def window_of_steps(first: int, stop: int, dt: float) -> tuple[float, float]:
    """The time span (s) covered by steps first <= i < stop (inverse of ``steps_of_window``)."""
    return (first - 1) * dt, (stop - 1) * dt

"""What a command or an API call may ask for: lambda, lambda grids and the trainer's options.

Each limit is checked by one function here, which the command line's parsers and the Python
API both call, so a value refused by one is refused by the other with the same words, before
any work and before anything is written. Every function raises a ``ValueError`` saying what is
allowed.

- lambda (a scaling factor) is a finite number of at least ``MIN_LAMBDA`` = 0.001. Lambda
  divides the recurrent and readout weights, so values far below 1 multiply them: at 0.001 every
  weight is 1000 times the rate network's, far past any network that works (the reference's grid
  is 20-75, the dashboard's slider starts at 1), and W / lambda stays finite for any weight below
  1e305 (float64 overflows at 1.8e308). A subnormal lambda such as 1e-320 made W / lambda infinite
  and the output NaN.
- a grid holds at most ``MAX_GRID_LAMBDAS`` = 1000 lambdas (100 trials each is already 100 000
  trials), counted from START:STOP:STEP before any value is made.
- ``train``: N from 1 to ``MAX_UNITS`` = 5000 units (each N x N matrix is 200 MB at 5000 and the
  trainer holds more than ten of them: weights, masks, gradients, Adam's moments, the initial copy;
  a model file variable may hold at most 512 MB, N = 8192);
  taus finite and at least ``MIN_TAU_STEPS`` = 1 step of 5 ms (below, see ``check_tau``); gain
  finite and above 0; P_inh from 0 to 1.
"""

from __future__ import annotations

import math

import numpy as np

MIN_LAMBDA = 1e-3
LAMBDA_RULE = f"positive number of at least {MIN_LAMBDA:g} (lambda divides the weights)"
MAX_GRID_LAMBDAS = 1000
MAX_UNITS = 5000
MIN_TAU_STEPS = 1.0  # 5 ms


def _shown(value) -> str:
    """A value in a message: whole numbers as they are, other numbers as Python writes floats
    (1e-320, nan; not np.float64(...)), anything else as repr."""
    if isinstance(value, (int, np.integer)) and not isinstance(value, bool):
        return str(int(value))
    if isinstance(value, (float, np.floating)):
        return repr(float(value))
    return repr(value)


def _number(value, name: str) -> float:
    try:
        if isinstance(value, (str, bytes)):
            raise TypeError
        number = float(value)
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be a number, got {value!r}") from None
    if not math.isfinite(number):
        raise ValueError(f"{name} must be a finite number, got {_shown(value)}")
    return number


def check_scaling_factor(value, name: str = "scaling_factor") -> float:
    """lambda as a float: a finite number of at least MIN_LAMBDA (the module docstring says why)."""
    try:
        number = _number(value, name)
    except ValueError as exc:
        if "finite" not in str(exc):
            raise
        number = math.nan
    if not number >= MIN_LAMBDA:
        raise ValueError(f"{name} must be a {LAMBDA_RULE}, got {_shown(value)}")
    return number


def grid_count(start: float, stop: float, step: float) -> int:
    """How many lambdas START:STOP:STEP holds (STOP included when on the grid), without making
    them; a ValueError if it runs backwards or holds more than MAX_GRID_LAMBDAS (its message
    follows the grid's text: "20:1e12:1 holds ... lambdas")."""
    for value in (start, stop, step):
        if not math.isfinite(value):
            raise ValueError(f"needs finite numbers, got {value!r}")
    if step <= 0:
        raise ValueError(f"needs a STEP above 0, got {step!r}")
    if stop < start:
        raise ValueError(f"runs backwards: STOP ({stop:g}) is below START ({start:g})")
    count = math.ceil((stop - start) / step + 0.5)
    if count > MAX_GRID_LAMBDAS:
        raise ValueError(f"holds {count:,} lambdas; a grid may hold at most {MAX_GRID_LAMBDAS} (use a larger STEP)")
    return count


def check_scaling_factors(values, name: str = "scaling_factors") -> np.ndarray:
    """A grid of lambdas as a float array: 1 to MAX_GRID_LAMBDAS values, each checked by
    ``check_scaling_factor``, none repeated; ``name`` is how messages call it (the API's argument,
    or what the command line calls it)."""
    if isinstance(values, np.ndarray):
        values = values.reshape(-1)
    if hasattr(values, "__len__") and len(values) > MAX_GRID_LAMBDAS:  # before a range of 10**12 is listed
        raise ValueError(f"{name} holds {len(values):,} lambdas; a grid may hold at most {MAX_GRID_LAMBDAS}")
    values = list(values)
    if not values:
        raise ValueError(f"{name} is empty")
    factors = np.array([check_scaling_factor(v, "every scaling factor") for v in values], dtype=float)
    repeated = sorted({float(v) for v in factors if np.count_nonzero(factors == v) > 1})
    if repeated:
        raise ValueError(f"{name} repeats {', '.join(f'{v:g}' for v in repeated)}")
    return factors


def check_units(N) -> int:
    """The trainer's number of units: a whole number from 1 to MAX_UNITS."""
    if isinstance(N, bool) or not isinstance(N, (int, np.integer)) or not 1 <= N <= MAX_UNITS:
        raise ValueError(f"N must be a whole number from 1 to {MAX_UNITS}, got {_shown(N)}")
    return int(N)


def check_tau(value, name: str = "taus") -> float:
    """One decay constant in 5 ms steps: finite and at least MIN_TAU_STEPS. The rate network's Euler
    step keeps (1 - 1/tau) of its state: below tau = 1 that is negative, so the state flips sign
    every step instead of decaying, and below 0.5 it grows without bound."""
    number = _number(value, name)
    if number < MIN_TAU_STEPS:
        raise ValueError(f"{name} must be at least {MIN_TAU_STEPS:g} step of 5 ms (the rate network's Euler step "
                         f"is unstable below), got {_shown(value)}")
    return number


def check_gain(value) -> float:
    """The initial weights' gain: a finite number above 0."""
    number = _number(value, "gain")
    if number <= 0:
        raise ValueError(f"gain must be above 0, got {_shown(value)}")
    return number


def check_inhibitory_share(value) -> float:
    """P_inh, the probability that a unit is inhibitory: from 0 to 1."""
    number = _number(value, "P_inh")
    if not 0 <= number <= 1:
        raise ValueError(f"P_inh must be from 0 to 1, got {_shown(value)}")
    return number

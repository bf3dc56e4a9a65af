"""Broken variants of a trained model, one planted cause each: what the verdict and the diagnosis
must recognise (tests/test_diagnose.py). Each variant starts from a shipped model's variables with
its stored search removed, so the tool sees a fresh file."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import scipy.io

from rate2spike.model import RESULT_FIELDS


def _fresh_variables(path: Path) -> dict:
    variables = {k: v for k, v in scipy.io.loadmat(path).items() if not k.startswith("__")}
    for name in RESULT_FIELDS:
        variables.pop(name, None)
    return variables


def _readout_x5(v):
    v["w_out"] = v["w_out"] * 5


def _recurrent_x3(v):
    v["w"] = v["w"] * 3


def _input_x005(v):
    v["w_in"] = v["w_in"] * 0.05


def _fast_decay(v):
    v["taus_gaus"] = np.full_like(v["taus_gaus"], -40.0)  # sigmoid(-40) = 0: every unit at taus_min


def _dale_flipped(v):
    m = np.array(v["m"], dtype=float)
    n = m.shape[0]
    flipped = np.random.default_rng(7).choice(n, n // 4, replace=False)
    m[flipped, flipped] *= -1  # a quarter of the units sign against their type (exc/inh stay as they were)
    v["m"] = m


def _untrained(v):
    v["w"] = v["w0"]


PLANTED = {  # name -> (what is done to the file, the cause the diagnosis must name first)
    "readout x5": (_readout_x5, "readout"),
    "recurrent x3": (_recurrent_x3, "recurrent"),
    "input x0.05": (_input_x005, "input"),
    "fast decay": (_fast_decay, "decay"),
    "dale flipped": (_dale_flipped, "dale"),
    "untrained w0": (_untrained, "untrained"),
}


def plant(source: Path, target: Path, name: str | None) -> Path:
    """Write ``source``'s variables with the planted fault ``name`` (None: unbroken) to ``target``."""
    variables = _fresh_variables(source)
    if name is not None:
        PLANTED[name][0](variables)
    target.parent.mkdir(parents=True, exist_ok=True)
    scipy.io.savemat(target, variables)
    return target

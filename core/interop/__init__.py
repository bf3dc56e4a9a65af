"""Exports of a converted network to where the field works (docs/interop.md): Brian2 and NEST
scripts, a NIR graph for neuromorphic hardware, NWB and Neo files of spiking trials.

``export(model, to, ...)`` is the one entry point (``rate2spike export`` and the dashboard's
Export menu call it). Each target is a module here (``to_<target>.py``) that reads the trial
pipeline (``TrialSpec``, ``convert``, ``make_drive``, ``run_trial``) and the LIF constants
(``LIFParameters``); none re-implements the method. Each target's package is an optional extra
(``pip install "rate2spike[nir]"``); a missing one is a one-line ``MissingExtra``.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

from rate2spike.interop.common import MissingExtra, exported, export_trials, require
from rate2spike.model import RateModel, as_model, write_atomic
from rate2spike.trial import TrialSpec

TARGETS = ("brian2", "nest", "nir", "nwb", "neo")
SUFFIXES = {"brian2": ".py", "nest": ".py", "nir": ".nir", "nwb": ".nwb", "neo": ".mat"}
NEEDS = {"brian2": (), "nest": (), "nir": ("nir",), "nwb": ("pynwb",), "neo": ("neo", "quantities")}  # to write (a
# script needs nothing: its reader installs Brian2 or NEST)
DEFAULT_TRIALS = {"brian2": 1, "nest": 1, "nir": 0, "nwb": 10, "neo": 10}  # trials a CLI export holds

__all__ = ["TARGETS", "check_extras", "ExportResult", "MissingExtra", "export", "export_spec", "export_bytes", "default_output",
           "lambda_source"]


@dataclass(frozen=True)
class ExportResult:
    """What an export wrote and what it says about it (the CLI prints ``lines``)."""

    path: Path
    target: str
    scaling_factor: float
    lines: tuple[str, ...] = field(default=())
    measured: dict = field(default_factory=dict)  # figures measured at export (NIR: its cost)


def lambda_source(model: RateModel, scaling_factor) -> str:
    """Where the exported λ comes from, in words: given, the file's recommended or optimal λ, or the default."""
    if scaling_factor is not None:
        return "given"
    if model.recommended_scaling_factor is not None:
        return "the file's recommended lambda (recommended_scaling_factor)"
    if model.opt_scaling_factor is not None:
        return "the file's optimal lambda (opt_scaling_factor)"
    return "the default: the file holds no searched lambda"


def default_output(model: RateModel, to: str, scaling_factor: float) -> Path:
    """<model stem>_lambda<L>_<target><suffix> in the current folder."""
    return Path(f"{model.path.stem if model.path else model.name}_lambda{scaling_factor:g}_{to}{SUFFIXES[to]}")


def check_extras(to: str) -> None:
    """Raise MissingExtra (one line naming the pip install) unless ``to``'s packages import: before any work."""
    for module in NEEDS.get(to, ()):
        require(module)


def _check_target(to: str, output, model: RateModel) -> None:
    if to not in TARGETS:
        raise ValueError(f"unknown export target '{to}'; choose one of {', '.join(TARGETS)}")
    if output is not None and model.path is not None and os.path.realpath(output) == os.path.realpath(model.path):
        raise ValueError(f"{output}: is the model file itself; export to another file (-o)")


def export(model, to: str, output=None, scaling_factor=None, task=None, seed: int = 0, n_trials: int | None = None,
           indices=None, cost_trials: int | None = None, progress=None) -> ExportResult:
    """Export ``model`` (a RateModel or a path) at ``scaling_factor`` (default: the file's
    recommended, else optimal, else 50) to ``to`` (one of TARGETS), written to ``output`` (default
    ``default_output``). NWB, Neo and the scripts hold trials ``indices`` of ``seed`` (default the
    first ``n_trials``, ``DEFAULT_TRIALS``); NIR measures its cost on ``cost_trials`` trials
    (``progress(done, total)`` hears them)."""
    model = as_model(model)
    _check_target(to, output, model)
    spec = TrialSpec(model, task, scaling_factor, seed=seed)
    path = Path(output) if output is not None else default_output(model, to, spec.scaling_factor)
    if indices is None:
        indices = range(DEFAULT_TRIALS[to] if n_trials is None else n_trials)
    return export_spec(spec, to, path, indices, cost_trials, lambda_source(model, scaling_factor), progress)


def export_spec(spec: TrialSpec, to: str, path, indices, cost_trials: int | None = None,
                source: str = "on screen", progress=None) -> ExportResult:
    """Export the network of ``spec`` (its model, λ, weights and LIF constants) to ``path``;
    trials are ``spec`` at ``indices`` (its condition, if fixed, kept). ``source`` says where λ
    came from. The dashboard's Export menu calls this with the trial on screen."""
    _check_target(to, path, spec.model)
    check_extras(to)
    indices = [int(k) for k in indices]
    if to in ("brian2", "nest", "nwb", "neo") and not indices:
        raise ValueError(f"a {to} export needs at least one trial")
    path = Path(path)
    measured, extra = _write(to, exported(spec), path, indices, cost_trials, progress)
    lines = (f"{to}: {spec.model.name} at lambda = {spec.scaling_factor:g} ({source}) -> {path}", *extra)
    return ExportResult(path, to, spec.scaling_factor, lines, measured)


def export_bytes(spec: TrialSpec, to: str, indices, cost_trials: int | None = None) -> tuple[str, bytes, ExportResult]:
    """``export_spec`` into a private temporary folder: (file name, its bytes, the result), for a
    download."""
    import tempfile

    name = default_output(spec.model, to, spec.scaling_factor).name
    with tempfile.TemporaryDirectory(prefix="rate2spike-export-") as folder:
        result = export_spec(spec, to, Path(folder) / name, indices, cost_trials)
        return name, (Path(folder) / name).read_bytes(), result


def _write(to, network, path: Path, indices, cost_trials, progress=None):
    """Write one target; returns (figures measured, lines to say)."""
    if to == "nir":
        from rate2spike.interop import to_nir

        cost = to_nir.nir_cost(network, cost_trials or to_nir.COST_TRIALS, progress=progress)
        to_nir.write_nir(network, path, cost)
        return cost, (to_nir.cost_line(cost), "dropped: " + "; ".join(to_nir.DROPPED))
    if to in ("nwb", "neo"):
        from rate2spike.interop import to_neo, to_nwb

        trials = export_trials(network.spec, indices)
        (to_nwb.write_nwb if to == "nwb" else to_neo.write_neo)(network, trials, path)
        conditions = ", ".join(f"{t.spec.index}: {t.stimulus.condition.name}" for t in trials)
        return {}, (f"{len(trials)} trial(s) of seed {network.spec.seed} ({conditions}), "
                    f"{sum(int(t.recording.spikes.sum()) for t in trials)} spikes",)
    if to == "brian2":
        from rate2spike.interop import to_brian2 as module
    else:
        from rate2spike.interop import to_nest as module
    text = module.script_for(network, indices, path.stem)
    write_atomic(path, lambda fh: fh.write(text.encode("utf-8")))
    return {}, (f"a script of {len(indices)} trial(s) of seed {network.spec.seed}: python {path.name}",)

"""What every export target shares: the converted network of one spec, the optional packages
(extras) with their one-line install hint, and writing a file atomically through a library that
wants a path (pynwb, Neo and NIR write by name, not into an open file)."""

from __future__ import annotations

import base64
import importlib
import io
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from rate2spike.model import check_writable
from rate2spike.network import SpikingNetwork, convert
from rate2spike.parameters import LIFParameters
from rate2spike.trial import TrialSpec

EXTRAS = {  # importable module -> the extra of pyproject.toml that installs it
    "brian2": "brian2", "nest": "nest", "nir": "nir", "pynwb": "nwb", "nwbinspector": "nwb",
    "neo": "neo", "quantities": "neo",
}


class MissingExtra(ImportError):
    """An export's optional package is not installed; the message is one line naming the install."""


def require(module: str):
    """Import ``module`` or raise MissingExtra with the ``pip install`` that adds it."""
    try:
        return importlib.import_module(module)
    except AttributeError as exc:  # Brian2 2.9.0 under NumPy 2.4: np.ndarray.ptp is gone
        raise MissingExtra(f"{module} does not import with NumPy {np.__version__} ({exc}): pip install "
                           f"\"rate2spike[{EXTRAS.get(module, 'interop')}]\" (it bounds NumPy)") from None
    except ImportError:
        extra = EXTRAS.get(module, "interop")
        raise MissingExtra(f"{module} is not installed: pip install \"rate2spike[{extra}]\" (or rate2spike[interop] "
                           "for every export)") from None


@dataclass(frozen=True, eq=False)
class Exported:
    """The network of one spec as every target needs it: weights, per-unit constants, the method's
    constants (``LIFParameters``), and where it came from."""

    spec: TrialSpec
    network: SpikingNetwork

    @property
    def params(self) -> LIFParameters:
        return self.spec.params

    @property
    def provenance(self) -> dict:
        """Text and numbers that say which model, at which λ, with which constants (for metadata)."""
        model = self.spec.model
        return {"model": model.name, "model_sha256": model.content_sha256 or "", "task": self.spec.task.name,
                "scaling_factor": float(self.spec.scaling_factor), "n_units": int(model.N),
                "dt_s": float(self.spec.dt), "lif_parameters": self.params.as_dict()}


@dataclass(frozen=True)
class ForeignRun:
    """What another simulator (Brian2, NEST) gave for K trials: every spike (trial, unit, step row:
    row i - 1 is step i) and the K x nt output, with the trials' specs and stimuli for scoring."""

    trial: np.ndarray
    unit: np.ndarray
    row: np.ndarray
    output: np.ndarray
    specs: tuple
    stimuli: tuple

    def outcomes(self):
        """Each trial scored by its task's rule (``Task.score``), as our trials are."""
        return [spec.task.score(self.output[k], spec.dt, stimulus)
                for k, (spec, stimulus) in enumerate(zip(self.specs, self.stimuli))]


def exported(spec: TrialSpec) -> Exported:
    """The converted network of ``spec`` (the same ``convert`` as ``run_trial``)."""
    return Exported(spec, convert(spec.model, spec.scaling_factor, spec.use_initial_weights, spec.rectify_weights,
                                  spec.initial_decay))


def write_by_name(path, write) -> None:
    """Write ``path`` atomically with ``write(temporary_path)``: the library writes a new file in a
    private folder beside the target, which then replaces the target by rename (a link at ``path``
    is replaced, never written through; on any error nothing is left and the target is untouched)."""
    path = Path(path)
    check_writable(path)
    folder = tempfile.mkdtemp(prefix=f".{path.name}.", suffix=".export", dir=path.parent)
    temporary = Path(folder) / path.name
    try:
        write(temporary)
        if path.exists():
            os.chmod(temporary, path.stat().st_mode & 0o777)
        os.replace(temporary, path)
    finally:
        if temporary.exists():
            temporary.unlink()
        os.rmdir(folder)


def docstring_text(text) -> str:
    """Text from a file or file name made safe inside a generated script's docstring: shown as
    text (control characters escaped, ``rate2spike.text.printable``), unable to close the string."""
    from rate2spike.text import printable

    return printable(str(text)).replace("\\", "\\\\").replace('"""', '\\"\\"\\"')


def as_list(values) -> list:
    """A NumPy array as plain Python numbers (for metadata and generated scripts)."""
    return np.asarray(values).tolist()


def export_trials(spec: TrialSpec, indices) -> list:
    """The trials ``indices`` of ``spec``'s seed, each run with its spikes recorded (``run_trial``)."""
    from rate2spike.trial import run_trial

    return [run_trial(spec.replace(index=int(k)), ("spikes",)) for k in indices]


def unit_spike_times(trial) -> list[np.ndarray]:
    """Per unit, its spike times (s) in the trial: the end of the step it fired at, as the
    recording's ``times``."""
    rows, units = trial.recording.spike_events()
    times = trial.recording.times[rows]
    return [times[units == n] for n in range(trial.recording.network.N)]


def trial_facts(trial) -> dict:
    """What identifies a trial: its condition, seed, index and score."""
    spec = trial.spec
    return {"condition": trial.stimulus.condition.name, "seed": int(spec.seed), "trial_index": int(spec.index),
            "correct": bool(trial.outcome.correct)}


def embedded_data(exported: Exported, specs) -> str:
    """The network and the stimuli of ``specs`` as compressed NumPy arrays in base64, in lines of 100
    characters: the data a generated script carries (W, td, w_out, exc, w_in, u)."""
    net = exported.network
    buffer = io.BytesIO()
    np.savez_compressed(buffer, W=net.W, td=net.td, w_out=net.w_out, exc=net.exc, w_in=net.w_in,
                        u=np.stack([spec.stimulus().u for spec in specs]))
    text = base64.b64encode(buffer.getvalue()).decode("ascii")
    return "\n".join(text[k:k + 100] for k in range(0, len(text), 100))


EMBEDDED_NETWORK = '''# ---- the LIF constants (rate2spike.LIFParameters; time s, voltage mV) ----
CONSTANTS = {constants}
DT = {dt!r}  # s, the LIF step
N_STEPS = {nt}  # steps per trial

# ---- the network (rate2spike.interop.{module}, verbatim) ----
{model_source}

# ---- the data: W (mV s), td (s), w_out (/ lambda), exc, w_in (mV per unit of stimulus), u (trials) ----
import base64, io

DATA = """
{data}
"""
'''


def script_fields(exported: Exported, specs, simulator: str, model_source: Path) -> dict:
    """What every generated script states and carries, as fields of its template: the title,
    provenance and trials of its docstring, and ``embedded`` (the constants, the simulator's model
    code ``model_source`` verbatim, and the data). Shared by the Brian2 and NEST scripts."""
    from rate2spike.network import make_drive

    spec, prov = exported.spec, exported.provenance
    model = docstring_text(prov["model"])
    embedded = EMBEDDED_NETWORK.format(
        constants=repr(exported.params.as_dict()), dt=spec.dt,
        nt=make_drive(exported.network, specs[0].stimulus().u, spec.downsample).nt,
        module=model_source.stem, model_source=model_source.read_text(encoding="utf-8"),
        data=embedded_data(exported, specs))
    return dict(title=f"{model} at lambda = {prov['scaling_factor']:g}: the converted LIF network in {simulator}",
                n_trials=len(specs), model=model, sha=prov["model_sha256"], task=prov["task"],
                scaling_factor=prov["scaling_factor"], seed=spec.seed, downsample=spec.downsample,
                conditions=", ".join(f"{s.index}: {s.stimulus().condition.name}" for s in specs), embedded=embedded)

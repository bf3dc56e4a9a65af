"""What one model may cost the server that shows the dashboard to many people.

A page simulates a trial on every change and keeps the trial on screen with every recording its
views draw. The cost grows as N x steps (the recordings: a voltage, a spike and a filtered spike
train per unit and step) and as N² (the weight matrices as read and converted). A 2 MB
compressed upload can declare N = 8000 units, whose one trial takes 41 s and 3.4 GB; so a model is
checked before it is loaded (its units, from the file's headers) and again once its task is known
(the trial's steps and estimated bytes), and refused with the figures in the message. The
defaults fit a 2-core, 8 GB machine serving a class; ``--max-units``, ``--max-trial-mb`` and
``--max-sweeps`` (after ``--args``) change them.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

from rate2spike.model import ModelFileError, declared_shapes
from rate2spike.tasks import Task
from rate2spike.timegrid import lif_steps

RECORDED_BYTES_PER_UNIT_STEP = 8 + 1 + 8  # float64 voltage, bool spike, float64 filtered spike train
MATRICES = 6  # N x N float64 arrays a trial holds: w, w0, m, som_m as read, the converted W and its transpose
MAX_UNITS_FLAG, MAX_TRIAL_MB_FLAG, MAX_SWEEPS_FLAG = "--max-units", "--max-trial-mb", "--max-sweeps"


@dataclass(frozen=True)
class ServerLimits:
    """The most one model may cost a served page, and the sweeps a server runs at once."""

    max_units: int = 1000  # units of a model's network
    max_trial_bytes: int = 512 * 2**20  # one trial with every recording the views draw
    max_sweeps: int = max(1, os.cpu_count() or 1)  # sweeps running at once on the server, all pages together

    def describe(self) -> str:
        return (f"at most {self.max_units} units and {self.max_trial_bytes / 2**20:,.0f} MB per trial, "
                f"{self.max_sweeps} sweep(s) at once")


def trial_bytes(n_units: int, n_steps: int) -> int:
    """Estimated memory (bytes) of one trial with every recording the views draw."""
    return n_steps * n_units * RECORDED_BYTES_PER_UNIT_STEP + MATRICES * 8 * n_units ** 2


def check_declared_units(path, shown: str, limits: ServerLimits) -> None:
    """Refuse a model file whose headers declare more units than the server allows, before any
    of its arrays is read. A file whose headers cannot be read is left to the loader's message."""
    try:
        shapes = declared_shapes(path)
    except ModelFileError:
        return
    units = max((max(shapes[name]) for name in ("w", "w_in", "w_out") if shapes.get(name)), default=0)
    if units > limits.max_units:
        raise ValueError(f"{shown}: its network has {units} units; this server simulates at most "
                         f"{limits.max_units} (start it with --args {MAX_UNITS_FLAG} {units} to allow it); "
                         "nothing was loaded")


def check_trial_cost(shown: str, n_units: int, task: Task, limits: ServerLimits) -> None:
    """Refuse a model whose trial (undownsampled, every view recorded) would take more memory than
    the server allows; the message gives the units, steps and bytes."""
    steps = lif_steps(task.n_columns)
    needed = trial_bytes(n_units, steps)
    if n_units > limits.max_units or needed > limits.max_trial_bytes:
        raise ValueError(f"{shown}: a {task.name} trial of its {n_units} units takes {steps} steps and about "
                         f"{needed / 2**20:,.0f} MB; this server allows {limits.describe()} (start it with "
                         f"--args {MAX_UNITS_FLAG} / {MAX_TRIAL_MB_FLAG} to change this)")


def server_processes() -> int:
    """How many processes serve the dashboard: ``panel serve --num-procs N`` forks N workers (Tornado's
    ``fork_processes``; ``task_id`` is set in each) from a parent whose command line says N; else 1."""
    from tornado.process import task_id

    if task_id() is None:
        return 1
    try:
        with open(f"/proc/{os.getppid()}/cmdline", "rb") as cmdline:
            argv = cmdline.read().decode(errors="replace").split("\0")
        for i, arg in enumerate(argv):
            if arg == "--num-procs" and i + 1 < len(argv):
                return max(1, int(argv[i + 1]))
            if arg.startswith("--num-procs="):
                return max(1, int(arg.split("=", 1)[1]))
    except (OSError, ValueError):
        pass
    return 1


def limits_from(argv: list[str]) -> ServerLimits:
    """The limits given after ``--args`` (``--max-units N``, ``--max-trial-mb M``, ``--max-sweeps K``),
    else the defaults; without ``--max-sweeps``, the server's processes share its cores' sweeps
    (``--num-procs 2`` on 2 cores: one sweep at once in each)."""
    values = {"max_sweeps": max(1, (os.cpu_count() or 1) // server_processes())}
    for flag, name, scale in ((MAX_UNITS_FLAG, "max_units", 1), (MAX_TRIAL_MB_FLAG, "max_trial_bytes", 2**20),
                              (MAX_SWEEPS_FLAG, "max_sweeps", 1)):
        for i, arg in enumerate(argv):
            text = argv[i + 1] if arg == flag and i + 1 < len(argv) else \
                arg.split("=", 1)[1] if arg.startswith(flag + "=") else None
            if text is not None:
                try:
                    value = int(text)
                    if value < 1:
                        raise ValueError
                except ValueError:
                    raise SystemExit(f"rate2spike explorer: {flag} needs a whole number of 1 or more, got {text!r}")
                values[name] = value * scale
    return ServerLimits(**values)

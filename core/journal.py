"""Resuming a search: a journal of finished trials next to each model file, and a folder lock.

While ``lambda_grid_search`` (``rate2spike sweep``) searches ``model.mat``, every finished block of
trials is appended to ``model.mat.journal`` (one JSON line, flushed to disk) before it counts as done.
Starting the same command again replays the journal: trials already there are recorded, not
simulated, and since every search procedure decides from the recorded verdicts alone, the search
takes the same path and ends with the same results as a run that was never interrupted. A line cut
short by a kill is dropped. The journal is removed once the model file holds the results.

The first line holds the journal's **key**: the model file's SHA-256 and everything the command
says about the search (lambdas, trials, seed, task, options). A journal with another key is
ignored with a message saying what differs, and replaced.

A folder being searched is locked (an exclusive ``flock`` on ``.rate2spike-sweep.lock``, which the
system releases when the process dies, however it dies), so a second driver on the same folder
stops with a message instead of doing the work twice. Others may write the folder, so neither the
lock nor the journal is opened through a link or when it is a folder, a FIFO or another special
file (``paths.open_regular``): such a path is refused, naming what it is.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
from dataclasses import asdict
from pathlib import Path
from typing import Callable

from rate2spike.engine import TrialScore
from rate2spike.fidelity import Fidelity
from rate2spike.paths import open_regular
from rate2spike.tasks import Outcome

JOURNAL_SUFFIX = ".journal"
LOCK_NAME = ".rate2spike-sweep.lock"
FORMAT = 1


class FolderBusy(OSError):
    """Another process is searching the models of this folder."""


def journal_path(model_path) -> Path:
    model_path = Path(model_path)
    return model_path.with_name(model_path.name + JOURNAL_SUFFIX)


def file_digest(path) -> str:
    """SHA-256 of a file's bytes (a journal belongs to one version of a model file)."""
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _score_record(scores: list[TrialScore]) -> dict:
    return {"scores": [[s.scaling_factor, s.trial, asdict(s.outcome), s.spikes, list(s.fidelity)] for s in scores]}


def _scores_from(record: dict) -> list[TrialScore]:
    return [TrialScore(float(lam), int(trial), Outcome(**outcome), int(spikes), Fidelity(*fidelity))
            for lam, trial, outcome, spikes, fidelity in record["scores"]]


def _differences(old: dict, new: dict) -> list[str]:
    names = {"file_sha256": "file contents"}
    return [names.get(k, k.replace("_", " ")) for k in new if old.get(k) != new[k]] + \
           [k.replace("_", " ") for k in old if k not in new]


class Journal:
    """The finished trials of one model's search, on disk. ``known`` maps (lambda, trial) to its
    ``TrialScore`` from earlier runs; ``append`` adds a finished block."""

    def __init__(self, path: Path, key: dict, known: dict):
        self.path = path
        self.key = key
        self.known: dict[tuple[float, int], TrialScore] = known
        self._fh = None

    @classmethod
    def open(cls, model_path, key: dict, say: Callable[[str], None] = print) -> "Journal":
        """The journal of ``model_path`` for a search described by ``key`` (JSON-able values):
        earlier trials are kept if the journal was written for the same key and file contents,
        otherwise it is ignored (with a message naming what differs) and started afresh."""
        model_path = Path(model_path)
        key = {"format": FORMAT, "file_sha256": file_digest(model_path), **key}
        path = journal_path(model_path)
        known: dict = {}
        lines: list[str] = []
        if path.exists():
            lines, known = cls._read(path, key, say)
        journal = cls(path, key, known)
        journal._rewrite(lines)
        if known:
            say(f"{model_path.name}: resuming from {path.name} ({len(known)} trials already scored)")
        return journal

    @staticmethod
    def _read(path: Path, key: dict, say) -> tuple[list[str], dict]:
        try:
            text = path.read_text()
        except (OSError, UnicodeDecodeError) as exc:
            say(f"{path.name}: cannot read this journal ({exc}); ignored, starting afresh")
            return [], {}
        lines = text.split("\n")
        try:
            head = json.loads(lines[0])
        except json.JSONDecodeError:
            say(f"{path.name}: not a rate2spike journal; ignored, starting afresh")
            return [], {}
        if head.get("key") != key:
            differs = _differences(head.get("key") or {}, key)
            say(f"{path.name}: written for another search (other {', '.join(differs)}); ignored, starting afresh")
            return [], {}
        kept, known = [], {}
        for line in lines[1:]:
            try:  # the last line may be cut short by a kill: it and anything after it are dropped
                scores = _scores_from(json.loads(line))
            except (json.JSONDecodeError, KeyError, TypeError, ValueError):
                break
            kept.append(line)
            for score in scores:
                known[(score.scaling_factor, score.trial)] = score
        return kept, known

    def _rewrite(self, lines: list[str]) -> None:
        """Write the head and the good lines to a temporary file and move it into place (a torn
        tail never stays under new appends), then keep it open for appending."""
        tmp = self.path.with_name(f".{self.path.name}.{os.getpid()}.tmp")
        with open(tmp, "w") as fh:
            fh.write(json.dumps({"key": self.key}) + "\n")
            for line in lines:
                fh.write(line + "\n")
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, self.path)
        self._fh = open(self.path, "a")

    def append(self, scores: list[TrialScore]) -> None:
        """Add a finished block, on disk before this returns."""
        if not scores or self._fh is None:
            return
        self._fh.write(json.dumps(_score_record(scores), allow_nan=True) + "\n")
        self._fh.flush()
        os.fsync(self._fh.fileno())

    def close(self) -> None:
        if self._fh is not None:
            self._fh.close()
            self._fh = None

    def remove(self) -> None:
        """The results are saved: the journal has served."""
        self.close()
        self.path.unlink(missing_ok=True)


def search_key(base, scaling_factors, n_trials: int, options) -> dict:
    """What a journal must match besides the file: the search's lambdas, trials and options."""
    stim = base.stimulation
    return {
        "task": base.task.name, "scaling_factors": [float(v) for v in scaling_factors], "n_trials": int(n_trials),
        "seed": int(base.seed), "downsample": int(base.downsample), "initial_weights": bool(base.use_initial_weights),
        "task_options": [[k, float(v)] for k, v in base.task_options],
        "stimulation": [stim.mode, [int(u) for u in stim.units], int(stim.first), int(stim.stop)],
        "search": {"extend": options.extend, "refine": options.refine, "race": options.race, "alpha": options.alpha,
                   "round_trials": options.round_trials, "extend_limit": options.extend_limit},
        # only when not the default, so that journals written before the float32 mode still resume
        **({"precision": base.precision} if base.precision != "float64" else {}),
    }


class FolderLock:
    """An exclusive lock on a folder's searches, held while a driver works on it."""

    def __init__(self, folder):
        self.path = Path(folder) / LOCK_NAME
        self._fh = None

    def __enter__(self) -> "FolderLock":
        fh = os.fdopen(open_regular(self.path, os.O_RDWR | os.O_CREAT), "r+", errors="replace")
        try:
            fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            fh.seek(0)
            holder = fh.read(32).strip()  # a process id; anything else is not worth printing
            holder = holder if holder.isdigit() else "unknown"
            fh.close()
            raise FolderBusy(f"{self.path.parent} is busy: another rate2spike sweep (process {holder}) is "
                             f"searching it; wait for it to finish or stop it ({self.path} is its lock)") from None
        fh.seek(0)
        fh.truncate()
        fh.write(str(os.getpid()))
        fh.flush()
        self._fh = fh
        return self

    def __exit__(self, *exc) -> bool:
        if self._fh is not None:  # the file stays: unlinking it could let two drivers lock two files
            fcntl.flock(self._fh, fcntl.LOCK_UN)
            self._fh.close()
            self._fh = None
        return False

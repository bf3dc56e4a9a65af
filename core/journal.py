"""Resuming a search: a journal of finished trials next to each model file, and a folder lock.

While ``lambda_grid_search`` (``rate2spike sweep``) searches ``model.mat``, every finished block of
trials is appended to ``model.mat.journal`` (one JSON line, flushed to disk) before it counts as done.
Starting the same command again replays the journal: trials already there are recorded, not
simulated, and since every search procedure decides from the recorded verdicts alone, the search
takes the same path and ends with the same results as a run that was never interrupted. A line cut
short by a kill is dropped. The journal is removed once the model file holds the results.

The first line holds the journal's **key**: the SHA-256 of the model as it was read for this search
and everything the command says about the search (lambdas, trials, seed, task, options). A journal
with another key is ignored with a message saying what differs, and replaced.

A journal is a file anyone with the folder may have edited, so it is checked before it is replayed:
read with bounded reads (a 64 kB head, lines of at most 1 MB), each entry must be a lambda the
search could reach, a trial in its range, scored once, with an outcome the task's rule could give;
the first line that is not ends what is replayed. Then a few entries, chosen at random, are
simulated again; if one differs the whole journal is ignored and the search starts afresh.

A folder being searched is locked (an exclusive ``flock`` on ``.rate2spike-sweep.lock``, which the
system releases when the process dies, however it dies; the file is removed when the search ends,
and a killed driver's file is reused by the next), so a second driver on the same folder
stops with a message instead of doing the work twice. Others may write the folder, so neither the
lock nor the journal is opened through a link or when it is a folder, a FIFO or another special
file (``paths.open_regular``): such a path is refused, naming what it is.
"""

from __future__ import annotations

import fcntl
import json
import math
import os
import random
import tempfile
import uuid
from dataclasses import asdict, fields
from pathlib import Path
from typing import Callable

from rate2spike.engine import Block, TrialScore, score_block
from rate2spike.fidelity import Fidelity
from rate2spike.model import file_sha256 as model_sha256
from rate2spike.parameters import DEFAULT_PARAMETERS
from rate2spike.paths import NotOurFile, open_regular
from rate2spike.search import SearchOptions, reachable_scaling_factors
from rate2spike.tasks import Outcome, get_task

JOURNAL_SUFFIX = ".journal"
LOCK_NAME = ".rate2spike-sweep.lock"
FORMAT = 1
HEAD_LIMIT = 64 * 1024  # bytes: a first line longer than this is not a journal's head
LINE_LIMIT = 1 << 20  # bytes: the longest line read (``append`` splits a longer block over lines)
CHECKED_TRIALS = 3  # journaled trials simulated again, at random, before a journal is replayed
_BAD = object()  # a line that is cut short, too long or not JSON


class FolderBusy(OSError):
    """Another process is searching the models of this folder."""


def journal_path(model_path) -> Path:
    model_path = Path(model_path)
    return model_path.with_name(model_path.name + JOURNAL_SUFFIX)


def _score_record(scores: list[TrialScore]) -> dict:
    return {"scores": [[s.scaling_factor, s.trial, asdict(s.outcome), s.spikes, list(s.fidelity)] for s in scores]}


def _differences(old: dict, new: dict) -> list[str]:
    """What differs, in our own words (the file's keys are not printed: they could be anything)."""
    names = {"file_sha256": "file contents"}
    return [names.get(k, k.replace("_", " ")) for k in new if old.get(k) != new[k]] + \
           (["fields"] if set(old) - set(new) else [])


def _json_line(fh, limit: int):
    """The next line of ``fh`` as JSON, or _BAD if it has no newline (cut by a kill, or the end),
    is longer than ``limit`` bytes or is not JSON. At most ``limit`` + 1 bytes are read."""
    raw = fh.readline(limit + 1)
    if len(raw) > limit or not raw.endswith(b"\n"):
        return _BAD
    try:
        return json.loads(raw)
    except (ValueError, RecursionError):  # not JSON, not UTF-8, a number too long to convert
        return _BAD


def _real(value) -> bool:
    """A JSON number that is not infinite (NaN passes: a constant output has no correlation)."""
    return isinstance(value, (int, float)) and not isinstance(value, bool) and not math.isinf(value)


def _whole(value) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


class _Plausible:
    """Which journal entries the search a journal key describes could have written: lambdas it can
    reach, trials in its range, each once, outcomes its task's rule gives, sane spike counts and
    fidelities. Anything else is not trusted (it and the rest of the journal are dropped)."""

    def __init__(self, key: dict):
        self.task = get_task(key["task"])
        self.lambdas = reachable_scaling_factors(key["scaling_factors"], SearchOptions(**key["search"]))
        self.n_trials = key["n_trials"]
        self.duration = self.task.duration(key["downsample"])  # s
        self.fields = {f.name for f in fields(Outcome)}

    def scores(self, record, known: dict) -> list[TrialScore] | None:
        """The scores of one line, or None if any entry is implausible or already known."""
        if not isinstance(record, dict) or set(record) != {"scores"} or not isinstance(record["scores"], list):
            return None
        scores = [self.score(item) for item in record["scores"]]
        if any(score is None for score in scores):
            return None
        pairs = [(score.scaling_factor, score.trial) for score in scores]
        if len(set(pairs)) != len(pairs) or any(pair in known for pair in pairs):
            return None
        return scores

    def score(self, item) -> TrialScore | None:
        if not isinstance(item, list) or len(item) != 5:
            return None
        lam, trial, outcome, spikes, fidelity = item
        if not (_real(lam) and lam in self.lambdas and _whole(trial) and 0 <= trial < self.n_trials
                and _whole(spikes) and spikes >= 0 and isinstance(fidelity, list) and len(fidelity) == 2
                and all(_real(v) for v in fidelity) and not fidelity[0] < 0 and not abs(fidelity[1]) > 1 + 1e-9):
            return None
        outcome = self.outcome(outcome)
        return None if outcome is None else TrialScore(float(lam), trial, outcome, spikes,
                                                       Fidelity(float(fidelity[0]), float(fidelity[1])))

    def outcome(self, values) -> Outcome | None:
        if not isinstance(values, dict) or set(values) not in (self.fields, self.fields - {"opposite"}):
            return None  # a journal written before outcomes kept their opposite extreme has none
        values = {"opposite": math.nan, **values}
        if not _real(values["opposite"]):
            return None
        time, evidence = values["response_time"], values["evidence"]
        if not (isinstance(values["group"], str) and _whole(values["label"]) and isinstance(values["correct"], bool)
                and _real(values["extreme"]) and not math.isnan(values["extreme"]) and _real(values["level"])
                and (time is None or (_real(time) and 0 <= time <= self.duration + 1e-9))
                and (evidence is None or _real(evidence))):
            return None
        outcome = Outcome(**values)
        return outcome if self.task.could_score(outcome) else None


def _same(a: TrialScore, b: TrialScore) -> bool:
    """The same outcome (every field, NaN equal to NaN) and spike count."""
    return a.spikes == b.spikes and json.dumps(asdict(a.outcome)) == json.dumps(asdict(b.outcome))


class Journal:
    """The finished trials of one model's search, on disk. ``known`` maps (lambda, trial) to its
    ``TrialScore`` from earlier runs; ``append`` adds a finished block."""

    def __init__(self, path: Path, key: dict, known: dict, say: Callable[[str], None] = print):
        self.path = path
        self.key = key
        self.known: dict[tuple[float, int], TrialScore] = known
        self.say = say
        self._fh = None

    @classmethod
    def open(cls, model_path, key: dict, say: Callable[[str], None] = print, *, file_sha256: str | None = None,
             base=None) -> "Journal":
        """The journal of ``model_path`` for a search described by ``key`` (``search_key``):
        earlier trials are kept if the journal was written for the same key and file contents,
        otherwise it is ignored (with a message naming what differs) and started afresh.

        ``file_sha256``: the digest of the model as it was loaded (``RateModel.content_sha256``; by
        default the file's now), so a journal of a file replaced since is not replayed. With the
        search's ``base`` spec, a few journaled trials are simulated again (``check_replay``). A
        journal path that is a link, a directory, a FIFO or another special file raises NotOurFile
        naming it (that model is not searched); nothing is written then."""
        model_path = Path(model_path)
        key = {"format": FORMAT, "file_sha256": file_sha256 or model_sha256(model_path), **key}
        path = journal_path(model_path)
        lines, known = cls._read(path, key, say) if os.path.lexists(path) else ([], {})
        journal = cls(path, key, known, say)
        if known and base is not None and not journal.check_replay(base):
            lines, journal.known = [], {}
        journal._rewrite(lines)
        if journal.known:
            say(f"{model_path.name}: resuming from {path.name} ({len(journal.known)} trials already scored)")
        return journal

    @staticmethod
    def _read(path: Path, key: dict, say) -> tuple[list[str], dict]:
        """The good lines (as written back) and their scores: the head is read with a bounded read,
        the rest line by line, and the first line cut short, malformed or implausible ends them."""
        try:
            fd = open_regular(path, os.O_RDONLY, one_name=False)
        except NotOurFile:
            raise
        except OSError as exc:
            say(f"{path.name}: cannot read this journal ({exc.strerror}); ignored, starting afresh")
            return [], {}
        with os.fdopen(fd, "rb") as fh:
            head = _json_line(fh, HEAD_LIMIT)
            if not isinstance(head, dict) or not isinstance(head.get("key"), dict):
                say(f"{path.name}: not a rate2spike journal; ignored, starting afresh")
                return [], {}
            if head["key"] != key:
                differs = _differences(head["key"], key)
                say(f"{path.name}: written for another search (other {', '.join(differs)}); ignored, starting afresh")
                return [], {}
            plausible = _Plausible(key)
            kept, known = [], {}
            while (scores := plausible.scores(_json_line(fh, LINE_LIMIT), known)) is not None:
                kept.append(json.dumps(_score_record(scores), allow_nan=True))
                known.update(((score.scaling_factor, score.trial), score) for score in scores)
        return kept, known

    def check_replay(self, base) -> bool:
        """Simulate up to CHECKED_TRIALS journaled trials again, chosen at random, at their lambda
        and trial index exactly as the search does (``engine.score_block``), and compare outcome and
        spike count: False, with a message, if any differs (the journal is then not replayed)."""
        picks = random.SystemRandom().sample(sorted(self.known), min(CHECKED_TRIALS, len(self.known)))
        cache_key = f"journal-check-{uuid.uuid4().hex}"
        for lam, trial in picks:
            [again] = score_block(base, cache_key, Block((lam,), (trial,)))
            if not _same(again, self.known[(lam, trial)]):
                self.say(f"{self.path.name}: does not match the search (trial {trial} at lambda {lam:g}, simulated "
                         "again, gives another result); ignored, starting afresh")
                return False
        return True

    def _rewrite(self, lines: list[str]) -> None:
        """Write the head and the good lines to a new temporary file (unpredictable name, locked
        while written) and rename it over the journal (a torn tail never stays under new appends;
        a link there is replaced, not followed), then keep that file open for appending."""
        fd, tmp = tempfile.mkstemp(prefix=f".{self.path.name}.", suffix=".tmp", dir=self.path.parent)
        fh = os.fdopen(fd, "w")
        try:
            fcntl.flock(fh, fcntl.LOCK_EX)
            fh.write(json.dumps({"key": self.key}) + "\n")
            for line in lines:
                fh.write(line + "\n")
            fh.flush()
            os.fsync(fh.fileno())
            os.replace(tmp, self.path)
        except BaseException:
            fh.close()
            Path(tmp).unlink(missing_ok=True)
            raise
        self._fh = fh

    def append(self, scores: list[TrialScore]) -> None:
        """Add a finished block, on disk before this returns (split over lines of at most LINE_LIMIT)."""
        if not scores or self._fh is None:
            return
        line = json.dumps(_score_record(scores), allow_nan=True)
        if len(line) >= LINE_LIMIT and len(scores) > 1:
            half = len(scores) // 2
            self.append(scores[:half])
            self.append(scores[half:])
            return
        self._fh.write(line + "\n")
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
        # whenever w0 is used: journals from before initial_weights kept the trained td (they ran td0) never resume
        **({"initial_decay": bool(base.initial_decay)} if base.use_initial_weights else {}),
        # only for a variant of the method's constants, so that journals of the reference's still resume
        **({"lif_parameters": base.params.as_dict()} if base.params != DEFAULT_PARAMETERS else {}),
    }


class FolderLock:
    """An exclusive lock on a folder's searches, held while a driver works on it. The lock file is
    removed when the search ends, so a finished search leaves the folder as it found it; a driver
    that locked a file another driver has just removed sees so (its file is no longer the one at
    the lock's path) and locks the new one, so two drivers never hold two locks at once."""

    ATTEMPTS = 20  # lock files removed under us in a row before giving up (only a flood of drivers does it)

    def __init__(self, folder):
        self.path = Path(folder) / LOCK_NAME
        self._fh = None

    def __enter__(self) -> "FolderLock":
        for _ in range(self.ATTEMPTS):
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
            if self._still_at_path(fh):
                fh.seek(0)
                fh.truncate()
                fh.write(str(os.getpid()))
                fh.flush()
                self._fh = fh
                return self
            fh.close()  # the previous holder removed this file after we opened it: lock the new one
        raise FolderBusy(f"{self.path.parent} is busy: its lock {self.path} keeps being replaced; try again")

    def _still_at_path(self, fh) -> bool:
        """Whether the open lock file is the one at the lock's path (not removed or replaced)."""
        try:
            at_path = os.stat(self.path, follow_symlinks=False)
        except FileNotFoundError:
            return False
        mine = os.fstat(fh.fileno())
        return (at_path.st_dev, at_path.st_ino) == (mine.st_dev, mine.st_ino)

    def __exit__(self, *exc) -> bool:
        if self._fh is not None:
            if self._still_at_path(self._fh):  # removed while locked: a waiting driver then retries
                self.path.unlink(missing_ok=True)
            fcntl.flock(self._fh, fcntl.LOCK_UN)
            self._fh.close()
            self._fh = None
        return False

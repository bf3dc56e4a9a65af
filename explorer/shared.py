"""Trials shared by every session of one server process.

Forty students on one shipped model ask the server for the same trials: the page's default trial
when it opens, the λ values a lecturer names. A trial is fixed by the model file's bytes
(``RateModel.content_sha256``) and the rest of its ``TrialSpec``, so a trial several sessions ask
for is simulated once (``SharedTrials.get``): a session asking while another computes it waits for
that computation instead of starting its own. Finished trials are kept in a cache bounded by
memory (least recently used first out).

A trial of an uploaded model is keyed by its session too (``owner``): what concerns an upload stays
private to the session that uploaded it, even when another session uploads the same bytes.
"""

from __future__ import annotations

import dataclasses
import threading
from collections import OrderedDict
from concurrent.futures import Future
from typing import Callable, Hashable

import numpy as np

from rate2spike.trial import ScoredTrial, TrialSpec

DEFAULT_CACHE_BYTES = 64 * 2**20  # trials kept for all sessions of a server process: about 9 go-nogo trials as a λ change records them


def spec_identity(spec: TrialSpec, owner: Hashable | None = None) -> tuple:
    """What fixes a trial's numbers, independent of which session loaded the model: the file's
    content hash and every other field of the spec (``owner`` keeps an upload's trials private)."""
    fields = tuple((f.name, getattr(spec, f.name)) for f in dataclasses.fields(spec) if f.name not in ("model", "task"))
    return owner, spec.model.content_sha256, spec.model.N, spec.task.name, fields


def nbytes(value, seen: set | None = None) -> int:
    """Bytes of the NumPy arrays inside ``value`` (dataclasses, tuples, lists and dicts followed;
    an array reached twice counted once)."""
    seen = set() if seen is None else seen
    if id(value) in seen:
        return 0
    seen.add(id(value))
    if isinstance(value, np.ndarray):
        return value.nbytes
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return sum(nbytes(getattr(value, f.name), seen) for f in dataclasses.fields(value))
    if isinstance(value, (tuple, list)):
        return sum(nbytes(item, seen) for item in value)
    if isinstance(value, dict):
        return sum(nbytes(item, seen) for item in value.values())
    return 0


class SharedTrials:
    """Scored trials by identity and recordings, computed once however many sessions ask.

    An entry computed with more recordings serves a request for fewer (the trial's numbers do not
    depend on what is recorded). ``capacity_bytes`` bounds the arrays kept; a trial larger than it
    is served but not kept. Thread-safe: sessions ask from the server's worker threads."""

    def __init__(self, capacity_bytes: int = DEFAULT_CACHE_BYTES):
        self.capacity_bytes = capacity_bytes
        self._entries: OrderedDict = OrderedDict()  # (identity, recordings) -> (trial, bytes)
        self._running: dict = {}  # (identity, recordings) -> Future of the trial being computed
        self._lock = threading.Lock()
        self.bytes = 0
        self.computed = 0  # trials simulated (misses)
        self.served = 0  # requests answered from the cache or from another session's computation

    def _find(self, identity, record: frozenset):
        """A kept or running entry that holds at least ``record`` (under the lock)."""
        for key in [(identity, record)] + [k for k in list(self._entries) + list(self._running)
                                           if k[0] == identity and k[1] > record]:
            if key in self._entries:
                self._entries.move_to_end(key)
                return self._entries[key][0]
            if key in self._running:
                return self._running[key]
        return None

    def get(self, spec: TrialSpec, record, compute: Callable[[], ScoredTrial],
            owner: Hashable | None = None) -> ScoredTrial:
        """The trial ``spec`` describes with ``record``: kept, being computed for another session
        (waited for), or computed now by ``compute()``. Returned with ``spec`` as its spec, so the
        asking session sees its own model and settings."""
        identity, record = spec_identity(spec, owner), frozenset(record)
        with self._lock:
            found = self._find(identity, record)
            if found is None:
                future = self._running[(identity, record)] = Future()
            else:
                self.served += 1
        if found is not None:
            trial = found.result() if isinstance(found, Future) else found
            return trial if trial.spec is spec else dataclasses.replace(trial, spec=spec)
        try:
            trial = compute()
            self._keep((identity, record), trial)
        except BaseException as exc:  # whoever waits gets the same error, and the next request computes again
            with self._lock:
                self._running.pop((identity, record), None)
            future.set_exception(exc)
            raise
        future.set_result(trial)
        return trial

    def _keep(self, key, trial: ScoredTrial) -> None:
        size = nbytes(trial)
        with self._lock:
            self._running.pop(key, None)
            self.computed += 1
            if size > self.capacity_bytes:
                return
            self._entries[key] = (trial, size)
            self.bytes += size
            while self.bytes > self.capacity_bytes:
                _, (_, dropped) = self._entries.popitem(last=False)
                self.bytes -= dropped

    def forget(self, owner: Hashable) -> None:
        """Drop every trial private to ``owner`` (a closed session's uploads)."""
        with self._lock:
            for key in [k for k in self._entries if k[0][0] == owner]:
                self.bytes -= self._entries.pop(key)[1]

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()
            self.bytes = 0

    def __len__(self) -> int:
        return len(self._entries)


SHARED_TRIALS = SharedTrials()  # the server process's, every served session's

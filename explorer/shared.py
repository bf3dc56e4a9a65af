"""Trials and teaching presets shared by every session of one server process.

Forty students on one shipped model ask the server for the same trials: the page's default trial
when it opens, the λ values a lecturer names. A trial is fixed by the model file's bytes
(``RateModel.content_sha256``) and the rest of its ``TrialSpec``, so a trial several sessions ask
for is simulated once (``SharedTrials.get``): a session asking while another computes it waits for
that computation instead of starting its own. Finished trials are kept in a cache bounded by
memory (least recently used first out).

A trial of an uploaded model is keyed by its session too (``owner``): what concerns an upload stays
private to the session that uploaded it, even when another session uploads the same bytes.

The teaching presets of a model (a few seconds of trials each time: ``SHARED_PRESETS``) are shared
the same way: forty pages opening on one model, or following one sweep to its end, find them once.
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


class SharedResults:
    """Results by key, each computed once however many sessions ask for it at once.

    A session asking while another computes the same key waits for that computation; finished
    results are kept least recently used first out, within ``capacity_bytes`` of NumPy arrays
    (``nbytes``) and ``capacity_items`` entries. A key's first element is the session that owns the
    result (None: any session may be served it), which ``forget`` drops. Thread-safe: sessions ask
    from the server's worker threads."""

    def __init__(self, capacity_bytes: int = DEFAULT_CACHE_BYTES, capacity_items: int | None = None):
        self.capacity_bytes, self.capacity_items = capacity_bytes, capacity_items
        self._entries: OrderedDict = OrderedDict()  # key -> (result, bytes)
        self._running: dict = {}  # key -> Future of the result being computed
        self._lock = threading.Lock()
        self.bytes = 0
        self.computed = 0  # results computed (misses)
        self.served = 0  # requests answered from the cache or from another session's computation

    def _find(self, key):
        """The kept result or the running Future that answers ``key`` (under the lock)."""
        if key in self._entries:
            self._entries.move_to_end(key)
            return self._entries[key][0]
        return self._running.get(key)

    def get(self, key: Hashable, compute: Callable[[], object]):
        """The result for ``key``: kept, being computed for another session (waited for), or
        computed now by ``compute()``."""
        with self._lock:
            found = self._find(key)
            if found is None:
                future = self._running[key] = Future()
            else:
                self.served += 1
        if found is not None:
            return found.result() if isinstance(found, Future) else found
        try:
            result = compute()
        except BaseException as exc:  # whoever waits gets the same error, and the next request computes again
            with self._lock:
                self._running.pop(key, None)
            future.set_exception(exc)
            raise
        self._keep(key, result)
        future.set_result(result)
        return result

    def _keep(self, key, result) -> None:
        size = nbytes(result)
        with self._lock:
            self._running.pop(key, None)
            self.computed += 1
            if size > self.capacity_bytes:
                return
            self._entries[key] = (result, size)
            self.bytes += size
            while self.bytes > self.capacity_bytes or (self.capacity_items is not None
                                                       and len(self._entries) > self.capacity_items):
                _, (_, dropped) = self._entries.popitem(last=False)
                self.bytes -= dropped

    def forget(self, owner: Hashable) -> None:
        """Drop every result private to ``owner`` (a closed session's uploads)."""
        with self._lock:
            for key in [k for k in self._entries if k[0] == owner]:
                self.bytes -= self._entries.pop(key)[1]

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()
            self.bytes = 0

    def __len__(self) -> int:
        return len(self._entries)


class SharedTrials(SharedResults):
    """Scored trials by identity and recordings, computed once however many sessions ask.

    An entry computed with more recordings serves a request for fewer (the trial's numbers do not
    depend on what is recorded). ``capacity_bytes`` bounds the arrays kept; a trial larger than it
    is served but not kept."""

    def _find(self, key):
        owner_and_identity, record = key[:-1], key[-1]
        wider = [k for k in list(self._entries) + list(self._running) if k[:-1] == owner_and_identity and k[-1] > record]
        for candidate in [key] + wider:
            found = super()._find(candidate)
            if found is not None:
                return found
        return None

    def get(self, spec: TrialSpec, record, compute: Callable[[], ScoredTrial],
            owner: Hashable | None = None) -> ScoredTrial:
        """The trial ``spec`` describes with ``record``: kept, being computed for another session
        (waited for), or computed now by ``compute()``. Returned with ``spec`` as its spec, so the
        asking session sees its own model and settings."""
        trial = super().get((*spec_identity(spec, owner), frozenset(record)), compute)
        return trial if trial.spec is spec else dataclasses.replace(trial, spec=spec)


SHARED_TRIALS = SharedTrials()  # the server process's, every served session's
# the teaching presets of a model, its finished sweep and task options: found once (a few seconds of
# trials) for the whole class, not once per page; a preset list holds no arrays, so entries are counted
SHARED_PRESETS = SharedResults(capacity_items=32)

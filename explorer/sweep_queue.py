"""The server's sweeps: at most as many at once as it has cores, the rest in a fair queue, and
identical sweeps computed once.

A default sweep keeps both cores of a laptop busy for about 10 s; forty students pressing "Run
sweep" would queue minutes of work. So a served page asks ``SHARED_SWEEPS`` (a ``SweepQueue``) for
its sweep and gets a ``SweepTicket``:

- a sweep identical to one waiting, running or finished (same model file content, settings, grid,
  trials and seed: ``SweepTicket.key``) is not computed again: the ticket follows that one, its
  progress and its result. A sweep of an upload is keyed by its session too, so it stays private.
- at most ``capacity`` sweeps run at once; the others wait in the order they were asked for, and a
  session's sweep never starts while an earlier sweep that session asked for is still stopping (one
  running sweep per session). ``SweepTicket.place`` says where a waiting sweep stands and about
  when it starts.
- a ticket's session can leave (cancel, close the page): a sweep no session follows any more is
  taken out of the queue, or cancelled if it runs.

Without a server (a notebook, the tests), a session has a private queue with no capacity limit
and no sharing: its sweep starts at once, as before.
"""

from __future__ import annotations

import math
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Callable, Hashable

from rate2spike.explorer.sweeps import BackgroundSweep

PROGRESS_DRAWS_PER_S = 4.0  # redraws of one sweep's progress per second, all the pages that follow it together
KEPT_FINISHED = 16  # finished sweeps kept to answer the same request again (each a few MB at most)

WAITING, RUNNING, ENDED = "waiting", "running", "ended"


@dataclass(eq=False)
class SweepJob:
    """One sweep's computation and the sessions that follow it."""

    key: Hashable
    sweep: BackgroundSweep
    asker: Hashable  # the session that asked first (the queue's fairness is per session)
    followers: set = field(default_factory=set)
    state: str = WAITING
    asked_at: float = field(default_factory=time.monotonic)
    started_at: float | None = None
    ended_at: float | None = None


def ordinal(n: int) -> str:
    """1st, 2nd, 3rd, 4th, ..., 11th, 12th, 13th, 21st."""
    suffix = "th" if 10 <= n % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(n % 10, "th")
    return f"{n}{suffix}"


class SweepTicket:
    """One session's hold on a sweep: where it stands, its progress and result, and leaving it."""

    def __init__(self, queue: "SweepQueue", job: SweepJob, follower: Hashable, shared_with: int):
        self.queue, self.job, self.follower = queue, job, follower
        self.shared_with = shared_with  # other sessions following the sweep when this one asked
        self.left = False
        self._drawn_at = -math.inf

    def progress_due(self) -> bool:
        """Whether this page may draw the sweep's progress now. Every page that follows a sweep redraws
        its curve on the server's one event loop, so forty pages following one sweep each redraw it
        a tenth as often as one page alone: PROGRESS_DRAWS_PER_S between them."""
        now = time.monotonic()
        if now - self._drawn_at < len(self.job.followers) / PROGRESS_DRAWS_PER_S:
            return False
        self._drawn_at = now
        return True

    @property
    def sweep(self) -> BackgroundSweep:
        return self.job.sweep

    @property
    def state(self) -> str:
        return self.job.state

    def place(self) -> tuple[int, float]:
        """(position among the waiting sweeps, 1 = next; estimated seconds until it starts, nan when
        not yet known); (0, 0.0) once it runs."""
        return self.queue.place(self.job)

    def describe_place(self) -> str:
        """The page's line for a waiting sweep: '2nd in line, about 20 s'."""
        position, wait = self.place()
        when = "its start time is estimated once a sweep has run" if math.isnan(wait) else \
            f"about {max(1.0, wait):.0f} s"
        return (f"Sweep waiting: {ordinal(position)} in line, {when} (this server runs {self.queue.capacity} "
                f"sweep{'s' if self.queue.capacity != 1 else ''} at once); Cancel takes it out of the queue.")

    def leave(self) -> bool:
        """This session no longer wants the sweep. True when that cancelled the computation (no other
        session follows it and it was running): its partial result arrives as the thread stops."""
        if self.left:
            return False
        self.left = True
        return self.queue.leave(self.job, self.follower)


class SweepQueue:
    """Sweeps of a server process: ``capacity`` at once (None: no limit), waiting ones in order,
    identical ones shared when ``share``."""

    def __init__(self, capacity: int | None = None, share: bool = True, kept_finished: int = KEPT_FINISHED):
        self.capacity = capacity
        self.share = share
        self.kept_finished = kept_finished
        self._lock = threading.RLock()
        self._live: dict = {}  # key -> job waiting or running
        self._waiting: list[SweepJob] = []
        self._running: list[SweepJob] = []
        self._finished: OrderedDict = OrderedDict()  # key -> job, complete results only
        self.seconds_per_trial = math.nan  # measured on finished sweeps, for the waiting time
        self.computed = 0  # sweeps started

    def request(self, key: Hashable, make: Callable[..., BackgroundSweep], follower: Hashable) -> SweepTicket:
        """A ticket for the sweep ``key``: the one already waiting, running or finished when sharing,
        else a new one made by ``make(on_done=...)`` and queued."""
        with self._lock:
            job = None
            if self.share:
                job = self._live.get(key) or self._finished.get(key)
                if job is not None and job.state == ENDED:
                    self._finished.move_to_end(key)
            if job is None:
                job = SweepJob(key, None, follower)
                job.sweep = make(on_done=lambda _sweep, job=job: self._ended(job))
                if self.share:
                    self._live[key] = job
                self._waiting.append(job)
            shared_with = len(job.followers - {follower})
            job.followers.add(follower)
            self._admit()
            return SweepTicket(self, job, follower, shared_with)

    def leave(self, job: SweepJob, follower: Hashable) -> bool:
        with self._lock:
            job.followers.discard(follower)
            if job.followers or job.state == ENDED:
                return False
            if job.state == WAITING:
                self._waiting.remove(job)
                self._drop_live(job)
                job.state = ENDED
                job.ended_at = time.monotonic()
                return False
            self._drop_live(job)  # a cancelled sweep is no result for the next who asks
            job.sweep.cancel()
            return True

    def forget(self, follower: Hashable) -> None:
        """Drop the finished sweeps private to ``follower`` (a closed session's upload sweeps)."""
        with self._lock:
            for key in [k for k in self._finished if isinstance(k, tuple) and k and k[0] == follower]:
                del self._finished[key]

    def _drop_live(self, job: SweepJob) -> None:
        if self._live.get(job.key) is job:
            del self._live[job.key]

    def _admit(self) -> None:
        """Start waiting sweeps while there is room, oldest first, skipping one whose session
        already has a sweep running (it starts once that one has stopped)."""
        while self.capacity is None or len(self._running) < self.capacity:
            busy = {job.asker for job in self._running}
            job = next((job for job in self._waiting if job.asker not in busy), None)
            if job is None:
                return
            self._waiting.remove(job)
            job.state, job.started_at = RUNNING, time.monotonic()
            self._running.append(job)
            self.computed += 1
            job.sweep.start()

    def _ended(self, job: SweepJob) -> None:
        """On the sweep's thread, once it stopped: keep a complete result, start the next sweep."""
        with self._lock:
            job.state, job.ended_at = ENDED, time.monotonic()
            if job in self._running:
                self._running.remove(job)
            self._drop_live(job)
            result = job.sweep.result
            if result is not None and not result.cancelled:
                done = int(result.n_done.sum())
                if done:
                    measured = (job.ended_at - job.started_at) / done
                    self.seconds_per_trial = measured if math.isnan(self.seconds_per_trial) else \
                        0.5 * (self.seconds_per_trial + measured)
                if self.share and job.followers:
                    self._finished[job.key] = job
                    while len(self._finished) > self.kept_finished:
                        self._finished.popitem(last=False)
            self._admit()

    def _duration(self, job: SweepJob) -> float:
        """Estimated seconds the job still needs (all of it if waiting)."""
        snapshot = job.sweep.snapshot
        if job.state == RUNNING and snapshot is not None and not math.isnan(snapshot.remaining):
            return snapshot.remaining
        per_trial = self.seconds_per_trial
        if math.isnan(per_trial):
            timed = [j.sweep.snapshot for j in self._running if j.sweep.snapshot is not None and j.sweep.snapshot.done]
            per_trial = min((s.elapsed / s.done for s in timed), default=math.nan)
        elapsed = time.monotonic() - job.started_at if job.state == RUNNING else 0.0
        return max(0.0, job.sweep.total * per_trial - elapsed)

    def place(self, job: SweepJob) -> tuple[int, float]:
        with self._lock:
            if job.state != WAITING:
                return 0, 0.0
            slots = sorted(self._duration(j) for j in self._running)
            if self.capacity is not None:
                slots += [0.0] * max(0, self.capacity - len(slots))
            slots = slots or [0.0]
            for position, waiting in enumerate(self._waiting, start=1):
                start = min(slots)
                if waiting is job:
                    return position, start
                slots[slots.index(start)] = start + self._duration(waiting)
            return 0, 0.0

    @property
    def waiting(self) -> int:
        with self._lock:
            return len(self._waiting)

    @property
    def running(self) -> int:
        with self._lock:
            return len(self._running)


SHARED_SWEEPS = SweepQueue()  # the server process's; its capacity is set from ServerLimits.max_sweeps

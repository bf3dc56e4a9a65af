"""A served page's simulations run off the server's event loop.

Bokeh serves every page of a server from one event loop: a trial computed inside a callback holds
up every other visitor's page for as long as it runs. A served session hands its simulations to
the server's pool of worker threads instead (the LIF kernel releases the GIL, so they run beside
the loop) and applies each result on its own page's loop when it is done. Each ``Offloader`` runs
one job at a time: a newer request replaces one still waiting, so a dragged slider costs at most
one trial behind the one running, and one page cannot fill the pool. Without a page (a notebook,
the tests) jobs run at once, in the caller's thread.
"""

from __future__ import annotations

import os
import threading
from concurrent.futures import Future, ThreadPoolExecutor
from functools import partial
from typing import Any, Callable

from panel.io.document import hold
from panel.io.state import set_curdoc

# one pool for the whole server: as many simulations at once as the machine has cores
SERVER_POOL = ThreadPoolExecutor(max_workers=max(1, os.cpu_count() or 1), thread_name_prefix="rate2spike-page")

Deliver = Callable[[Any, BaseException | None], None]


class Offloader:
    """Runs ``compute`` on the pool and hands its result (or exception) to ``deliver`` on the
    page's event loop, one job at a time, the newest waiting job replacing an older one."""

    def __init__(self, doc=None, pool: ThreadPoolExecutor = SERVER_POOL):
        self.doc = doc  # the page's Bokeh document; None runs every job at once
        self.pool = pool
        self._lock = threading.Lock()
        self._busy = False
        self._waiting: tuple[Callable, Deliver] | None = None

    def run(self, compute: Callable[[], Any], deliver: Deliver) -> None:
        if self.doc is None:
            try:
                result = compute()
            except Exception as exc:  # delivered, as on the pool: the caller decides what it means
                deliver(None, exc)
                return
            deliver(result, None)
            return
        with self._lock:
            if self._busy:
                self._waiting = (compute, deliver)
                return
            self._busy = True
        self._submit(compute, deliver)

    @property
    def busy(self) -> bool:
        """Whether a job is running or waiting."""
        return self._busy

    def _submit(self, compute: Callable, deliver: Deliver) -> None:
        self.pool.submit(compute).add_done_callback(partial(self._done, deliver))

    def _done(self, deliver: Deliver, future: Future) -> None:
        """On the pool's thread: hand this job's result to the page, then start the waiting job
        (so results reach the page in the order they were asked for)."""
        try:
            self.doc.add_next_tick_callback(partial(self._deliver, deliver, future))
        except Exception:  # the page was closed meanwhile: nobody to show it to
            pass
        with self._lock:
            waiting, self._waiting = self._waiting, None
            self._busy = waiting is not None
        if waiting is not None:
            self._submit(*waiting)

    def _deliver(self, deliver: Deliver, future: Future) -> None:
        """On the page's loop: everything the result changes goes to the browser in one message."""
        with set_curdoc(self.doc), hold(self.doc):
            error = future.exception()
            deliver(None if error is not None else future.result(), error)

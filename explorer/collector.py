"""Garbage collection for a server of many pages: no long pauses while a class works.

CPython's full collection visits every object it tracks, and a page of the dashboard is about
50,000 of them (its Bokeh models, widgets and parameters). With forty pages open the server held
2.3 million, and each full collection stopped the server's one event loop, every page's, for
1-2 s, every 10-15 s while pages opened or moved λ: most of the slow λ releases of the classroom
benchmark (issue 28). A page's objects live as long as the page, so collecting them again and
again finds nothing.

So, on a server (``explorer/main.py``):

- a few seconds after a page is built (once its first trial and presets have replaced what it
  showed while loading), what is not frozen yet (the new pages, what they left behind, what the
  other pages did since) is collected, and every object then alive is moved to the permanent
  generation, which collections skip (``gc.freeze``, ``page_built``): that collection visits the
  new pages' objects, not forty's; what the pages do afterwards (a trial, a sweep) is collected as
  usual, among few objects;
- a closed page's objects are frozen too, so once pages have closed, the permanent generation is
  given back to the collector and collected once, then frozen again (``session_closed``): one
  pause, a few seconds after pages close, and such pauses take at most a twentieth of the
  server's time (``MAX_PAUSE_SHARE``: after a collection that paused 1.5 s with forty pages open
  the next waits 30 s; with ten pages open, a few seconds; a minute at most). Collected at most
  once a minute, students coming and going left up to two batches of closed pages waiting, and
  the server's memory stayed higher than a class's by that much (issue 28's churn figure);
- after that collection the C allocator returns the freed memory to the system (glibc's
  ``malloc_trim``, as Dask's workers do), so the server's resident memory falls once a class has
  left instead of staying at its peak.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import gc
import os
import sys
import time
from typing import Callable

FREEZE_AFTER_BUILD_S = 5.0  # a page has loaded its first trial and presets by then (frozen earlier, what they replace stays)
COLLECT_AFTER_CLOSE_S = 5.0  # a page closing is usually one of several: collect once for all of them
MAX_PAUSE_SHARE = 0.05  # such collections pause the server at most this share of its time (1-2 s for 40 pages)
MAX_DELAY_S = 60.0  # and what closed pages leave is collected within a minute all the same


def return_memory_to_system() -> bool:
    """Ask the C allocator to give freed memory back (glibc's ``malloc_trim``); False where there is
    none (macOS, Windows, musl)."""
    if not sys.platform.startswith("linux"):
        return False
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        libc.malloc_trim(0)
    except (OSError, AttributeError):
        return False
    return True


def allocator_note(environ=None) -> str | None:
    """A line for the server's terminal when it allocates with CPython's own small-object allocator
    (pymalloc, the default of a plain ``panel serve``), which keeps what closed pages used: a few of
    their objects outlive them in nearly every 1 MB arena they filled (docs/performance.md). None
    when it allocates with the C allocator (``PYTHONMALLOC=malloc``, as ``rate2spike explore`` serves)."""
    from rate2spike.explorer.launch import MEMORY_RELEASING_ALLOCATOR

    environ = os.environ if environ is None else environ
    if environ.get("PYTHONMALLOC", "").startswith(MEMORY_RELEASING_ALLOCATOR):  # malloc or malloc_debug
        return None
    return ("rate2spike explorer: serving with Python's own allocator, which keeps what closed pages used "
            "(about 0.8-1.3 GB after a class of 40): for a class, start it with `rate2spike explore` or "
            "`PYTHONMALLOC=malloc panel serve explorer` (docs/performance.md)")


class ServerCollector:
    """The collection policy above for one server process. ``call_later(delay_s, callback)`` runs a
    callback later on the server's event loop (Tornado's ``IOLoop.call_later`` by default)."""

    def __init__(self, call_later: Callable[[float, Callable[[], None]], object] | None = None,
                 clock: Callable[[], float] = time.monotonic):
        self._call_later = call_later or _tornado_call_later
        self._clock = clock
        self._pending = False
        self._freeze_pending = False
        self._last_collection_end = -float("inf")
        self.last_pause_s = 0.0  # how long the last collection of closed pages paused the server
        self.collections = 0  # full collections run for closed pages
        self._allocator_noted = False

    def note_allocator(self, say: Callable[[str], None] | None = None, environ=None) -> None:
        """Say ``allocator_note`` once per server process (the first page built), if there is one."""
        if self._allocator_noted:
            return
        self._allocator_noted = True
        note = allocator_note(environ)
        if note is None:
            return
        if say is None:
            print(note, file=sys.stderr, flush=True)
        else:
            say(note)

    def page_built(self) -> None:
        """A page is built: soon, its objects (and every other one then alive) leave the collections."""
        if not self._freeze_pending:
            self._freeze_pending = True
            self._call_later(FREEZE_AFTER_BUILD_S, self.freeze)

    def freeze(self) -> None:
        """Collect what is not frozen (the frozen pages are skipped), then freeze what lives."""
        self._freeze_pending = False
        gc.collect()
        gc.freeze()

    def session_closed(self) -> None:
        """A page closed: collect what it leaves, soon, once for every page that closes meanwhile."""
        if self._pending:
            return
        self._pending = True
        next_allowed = self._last_collection_end + self.last_pause_s / MAX_PAUSE_SHARE
        delay = min(MAX_DELAY_S, max(COLLECT_AFTER_CLOSE_S, next_allowed - self._clock()))
        self._call_later(delay, self.collect_closed)

    def collect_closed(self) -> int:
        """Collect everything, the frozen pages too, freeze what is still alive, give the memory back;
        the number of objects found unreachable."""
        self._pending = False
        started = self._clock()
        gc.unfreeze()
        found = gc.collect()
        gc.freeze()
        return_memory_to_system()
        self._last_collection_end = self._clock()
        self.last_pause_s = self._last_collection_end - started
        self.collections += 1
        return found


def _tornado_call_later(delay: float, callback: Callable[[], None]) -> None:
    from tornado.ioloop import IOLoop

    IOLoop.current().call_later(delay, callback)


SERVER_COLLECTOR = ServerCollector()  # the server process's

"""The private Panel and Bokeh hooks the dashboard relies on, in one place.

Each is used because no public API does the job, and each has a test
(tests/test_internals.py) that fails loudly, naming the hook, when an upgrade removes it:

- ``FileDropper._process_event`` (Panel): the dropper's chunks arrive here; overriding it lets the
  server refuse an oversized upload at its first chunk instead of buffering the whole file.
- ``BokehSessionContext._session.connection_count`` (Bokeh): how many browser connections a
  page's session has; Bokeh destroys a closed page's session only after its unused-session
  lifetime, and until then a sweep it started would keep two cores busy for nobody.
"""

from __future__ import annotations

import math
from typing import Callable

import panel as pn


class GuardedFileDropper(pn.widgets.FileDropper):
    """A FileDropper whose server side refuses a file larger than ``limit_bytes`` as soon as its
    first chunk says how many chunks follow, and never buffers more than that. The browser's own
    check (``max_file_size``) stops honest pages first; this stops a page that skips it.
    ``refused(name, at_least_bytes)`` is called once per refused file."""

    def __init__(self, limit_bytes: int, refused: Callable[[str, int], None], **params):
        super().__init__(**params)
        self._limit_bytes = limit_bytes
        self._refused_callback = refused
        self._refusing: set[str] = set()
        self._received: dict[str, int] = {}

    def _process_event(self, event) -> None:
        data = event.data
        if event.event_name != "upload_event":
            return super()._process_event(event)
        name, chunk, total = data["name"], int(data["chunk"]), int(data["total_chunks"])
        if chunk != 1 and name not in self._refusing and name not in self._file_buffer:
            return None  # a chunk of no upload under way (a page that does not follow the protocol)
        if chunk == 1:
            self._refusing.discard(name)
            self._received[name] = 0
            # the page splits a file of S bytes into ceil((S + 1) / chunk_size) chunks
            if total > math.ceil((self._limit_bytes + 1) / self.chunk_size):
                self._refuse(name, (total - 1) * self.chunk_size)
        if name not in self._refusing:
            self._received[name] = self._received.get(name, 0) + len(data["data"])
            if self._received[name] > self._limit_bytes:
                self._refuse(name, self._received[name])
        if name in self._refusing:
            if chunk == total:
                self._refusing.discard(name)
            return None
        if chunk == total:
            self._received.pop(name, None)
        return super()._process_event(event)

    def _refuse(self, name: str, at_least: int) -> None:
        self._refusing.add(name)
        self._received.pop(name, None)
        self._file_buffer.pop(name, None)
        self._refused_callback(name, at_least)


def page_connections(doc) -> int | None:
    """How many browser connections the served page of ``doc`` has now (None outside a server,
    or when Bokeh no longer offers the count)."""
    context = getattr(doc, "session_context", None)
    session = getattr(context, "_session", None)
    count = getattr(session, "connection_count", None)
    return count if isinstance(count, int) else None

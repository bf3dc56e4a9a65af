"""Progress and cancellation for long work (sweeps, training): a terminal bar and a cancel check."""

from __future__ import annotations

import sys
import threading

from tqdm import tqdm


class ProgressBar:
    """tqdm with an ``update_to(done)`` method and an off switch (``enabled=False``)."""

    def __init__(self, total: int, desc: str = "", enabled: bool = True, unit: str = "trial"):
        self._bar = tqdm(total=total, desc=desc, unit=unit, disable=not enabled, file=sys.stderr,
                         dynamic_ncols=True, mininterval=0.5)
        self._enabled = enabled

    def update_to(self, done: int, total: int | None = None) -> None:
        """Move to ``done``; ``total`` changes the expected total (a race lowers it as it drops work)."""
        if total is not None and total != self._bar.total:
            self._bar.total = total
            self._bar.refresh()
        self._bar.update(done - self._bar.n)

    def write(self, text: str) -> None:
        if self._enabled:
            tqdm.write(text)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self._bar.close()
        return False


def is_cancelled(cancel) -> bool:
    """True when ``cancel`` (None, a threading.Event, or a callable) asks to stop."""
    if cancel is None:
        return False
    if isinstance(cancel, threading.Event):
        return cancel.is_set()
    return bool(cancel())

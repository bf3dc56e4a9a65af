"""A text progress bar for long work in the terminal (tqdm when it is a terminal)."""

from __future__ import annotations

import sys

from tqdm import tqdm


class ProgressBar:
    """tqdm with an ``update_to(done)`` method and an off switch (``enabled=False``)."""

    def __init__(self, total: int, desc: str = "", enabled: bool = True, unit: str = "trial"):
        self._bar = tqdm(total=total, desc=desc, unit=unit, disable=not enabled, file=sys.stderr,
                         dynamic_ncols=True, mininterval=0.5)
        self._enabled = enabled

    def update_to(self, done: int) -> None:
        self._bar.update(done - self._bar.n)

    def write(self, text: str) -> None:
        if self._enabled:
            tqdm.write(text)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self._bar.close()
        return False

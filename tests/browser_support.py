"""Support for the dashboard tests: synthetic model folders, a `panel serve explorer`
subprocess, and headless Chromium.

The browser is Debian's chromium (Playwright's own download is not used): its path comes from
$RATE2SPIKE_CHROMIUM, default /usr/bin/chromium.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path



REPO = Path(__file__).resolve().parent.parent
CHROMIUM_ENV = "RATE2SPIKE_CHROMIUM"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync",
                 "--disable-dev-shm-usage"]


def chromium_path() -> str | None:
    """The Chromium executable to drive, or None if it is not installed."""
    path = os.environ.get(CHROMIUM_ENV, "/usr/bin/chromium")
    if os.path.isfile(path) and os.access(path, os.X_OK):
        return path
    return shutil.which(path)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


CLIENT_GONE = ("WebSocketClosedError", "StreamClosedError")  # Tornado: a tab closed while being written to


def server_problems(log: str) -> list[str]:
    """Tracebacks and ERROR records in a server log, leaving out those that only say a browser
    tab went away while the server was writing to it (Tornado logs those; nothing is wrong)."""
    records = re.split(r"\n(?=\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2},\d{3} )", log)
    return [record for record in records if ("Traceback" in record or "ERROR" in record)
            and not any(gone in record for gone in CLIENT_GONE)]


class PanelServer:
    """`panel serve explorer` on 127.0.0.1 and a free port, stopped by ``stop``."""

    def __init__(self, env: dict | None = None, args: list[str] | None = None, log_path: Path | None = None):
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}/explorer"
        command = [sys.executable, "-m", "panel", "serve", str(REPO / "explorer"), "--address", "127.0.0.1",
                   "--port", str(self.port), "--allow-websocket-origin", f"127.0.0.1:{self.port}"]
        if args:
            command += ["--args", *args]
        self.log_path = log_path
        self._log = open(log_path, "wb") if log_path else subprocess.DEVNULL
        self.process = subprocess.Popen(command, cwd=REPO, env={**os.environ, **(env or {})}, stdout=self._log,
                                        stderr=subprocess.STDOUT, start_new_session=True)

    def wait(self, timeout: float = 60.0) -> None:
        """Wait until the server answers HTTP. Polls a static file: asking for the page itself
        would build a whole dashboard session per poll."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"panel serve exited with code {self.process.returncode}: {self.log(4000)}")
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{self.port}/static/js/bokeh.min.js", timeout=2):
                    return
            except OSError:
                time.sleep(0.3)
        raise TimeoutError(f"panel serve did not answer within {timeout} s: {self.log(4000)}")

    def log(self, tail: int | None = None) -> str:
        """What the server printed (its last ``tail`` characters if given)."""
        if self.log_path and self.log_path.exists():
            text = self.log_path.read_text(errors="replace")
            return text[-tail:] if tail else text
        return ""

    def stop(self) -> None:
        """Stop the server and its children (its own process group, started by us)."""
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(timeout=10)
        if hasattr(self._log, "close"):
            self._log.close()


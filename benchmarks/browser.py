"""The browser side of the developer tooling: a `panel serve` of the dashboard and headless Chromium.

What the dashboard benchmark (``benchmarks.latency``) and the browser tests (tests/browser_support.py)
both drive: ``DashboardServer`` serves the dashboard as users run it, ``chromium_path`` finds
Debian's Chromium (or $RATE2SPIKE_CHROMIUM; Playwright's own download is not used), and
``RECORDER_JS`` records in the page when websocket frames arrive and when the mouse is released.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import time
import urllib.request
from pathlib import Path

CHROMIUM_ENV = "RATE2SPIKE_CHROMIUM"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync",
                 "--disable-dev-shm-usage"]

# Before the page loads: record when every websocket frame arrives, how big it is and, for the
# frame that opens a Bokeh message (its header), the message's type; and when the mouse is released.
RECORDER_JS = """
(() => {
  window.__messages = [];
  window.__released = null;
  const Native = window.WebSocket;
  window.WebSocket = class extends Native {
    constructor(...args) {
      super(...args);
      this.addEventListener('message', (event) => {
        const data = event.data;
        const size = typeof data === 'string' ? data.length : (data.byteLength ?? data.size ?? 0);
        const type = typeof data === 'string' && data.startsWith('{"msgid"') ? JSON.parse(data).msgtype : null;
        window.__messages.push([performance.now(), size, type]);
      });
    }
  };
  document.addEventListener('mouseup', () => { window.__released = performance.now(); }, true);
})();
"""

def chromium_path() -> str | None:
    """The Chromium executable to drive ($RATE2SPIKE_CHROMIUM, default Debian's), or None."""
    path = os.environ.get(CHROMIUM_ENV, "/usr/bin/chromium")
    return path if os.path.isfile(path) and os.access(path, os.X_OK) else shutil.which(path)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class DashboardServer:
    """`panel serve` of the dashboard on 127.0.0.1 and a free port (the benchmark's and the
    browser tests'); ``args`` go to the page (``--models DIR``), ``serve_args`` to ``panel serve``
    (``--num-procs 2``), ``env`` to the server process.
    Use it in a ``with`` block, or call ``wait`` and ``stop``."""

    def __init__(self, env: dict | None = None, args: list[str] | None = None, log_path: Path | None = None,
                 serve_args: list[str] | None = None):
        from rate2spike.explorer.launch import serve_command

        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}/explorer"
        command = serve_command(port=self.port, show=False) + [
            "--address", "127.0.0.1", "--allow-websocket-origin", f"127.0.0.1:{self.port}"] + list(serve_args or [])
        if args:
            command += ["--args", *args]
        self.log_path = log_path
        self._log = open(log_path, "wb") if log_path else subprocess.DEVNULL
        self.process = subprocess.Popen(command, env={**os.environ, **(env or {})}, stdout=self._log,
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

    def __enter__(self):
        self.wait()
        return self

    def __exit__(self, *exc):
        self.stop()

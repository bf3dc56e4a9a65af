"""`rate2spike explore`: serve the dashboard with `panel serve` and open it in a browser.

The server runs as a child process serving this package's folder (exactly what `panel serve
explorer` runs from a checkout), so the command behaves like the documented one, installed or
not, and Ctrl-C stops both.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from rate2spike.explorer.catalog import ALLOW_SAVE_FLAG

APP_DIR = Path(__file__).resolve().parent


def serve_command(models=None, port: int = 5006, show: bool = True, allow_save: bool = False) -> list[str]:
    """The `panel serve` command line for the dashboard."""
    command = [sys.executable, "-m", "panel", "serve", str(APP_DIR), "--port", str(int(port))]
    if show:
        command.append("--show")
    if models is not None:
        command += ["--args", "--models", str(Path(models).expanduser().resolve())]
        if allow_save:
            command.append(ALLOW_SAVE_FLAG)
    return command


def launch(models=None, port: int = 5006, show: bool = True, allow_save: bool = False) -> int:
    """Serve the dashboard until interrupted; returns the server's exit code (2 for a bad folder)."""
    if models is not None and not Path(models).expanduser().is_dir():
        print(f"rate2spike explore: error: {models}: no such directory", file=sys.stderr)
        return 2
    if allow_save and models is None:
        print("rate2spike explore: error: --allow-save needs --models DIR (shipped models are never written)",
              file=sys.stderr)
        return 2
    print(f"rate2spike explorer on http://localhost:{port}/explorer (Ctrl-C stops it)")
    process = subprocess.Popen(serve_command(models, port, show, allow_save))
    try:
        return process.wait()
    except KeyboardInterrupt:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
        return 130

"""`rate2spike explore`: serve the dashboard with `panel serve` and open it in a browser.

The server runs as a child process serving this package's folder (exactly what `panel serve
explorer` runs from a checkout), so the command behaves like the documented one, installed or
not. It listens on 127.0.0.1 only, by default: the dashboard has no log-in, and anyone who can
reach its port can run simulations on this machine (and, with ``--allow-save``, write the model
files of ``--models DIR``). ``host`` opens it to a network on purpose.

``release_memory`` (the default) serves with the C allocator (``PYTHONMALLOC=malloc``,
``server_environment``): with CPython's own, a page's 50,000 objects leave 1 MB arenas that a few
longer-lived objects keep, so a server stays near its peak once a class has left (1.3 GB after 40
pages against 0.4 GB) and grows as students come and go; glibc gives freed pages back. It costs
a little CPU (40 pages opened in 154 s, against 132-146 s), and it is the one setting that meets all
of issue 28's targets (docs/performance.md).

Ctrl-C, SIGTERM and SIGHUP sent to this command are passed on to the server (Ctrl-C as SIGTERM),
which is waited for (and killed if it has not stopped within SHUTDOWN_GRACE seconds): no server
outlives it.
"""

from __future__ import annotations

import ipaddress
import os
import signal
import subprocess
import sys
import threading
from pathlib import Path

from rate2spike.explorer.catalog import ALLOW_SAVE_FLAG
from rate2spike.text import printable

APP_DIR = Path(__file__).resolve().parent
LOOPBACK = "127.0.0.1"
EVERY_INTERFACE = ("0.0.0.0", "::", "")
SHUTDOWN_GRACE = 10.0  # s the server gets to stop after a signal before it is killed
FORWARDED_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)
MEMORY_RELEASING_ALLOCATOR = "malloc"  # PYTHONMALLOC that gives a closed page's memory back (see above)


def server_environment(release_memory: bool = False, environ=None) -> dict[str, str]:
    """The environment the dashboard's server runs in: ``environ`` (this process's by default), with
    PYTHONMALLOC=malloc if ``release_memory``."""
    environ = dict(os.environ if environ is None else environ)
    if release_memory:
        environ["PYTHONMALLOC"] = MEMORY_RELEASING_ALLOCATOR
    return environ


def is_loopback(host: str) -> bool:
    """Whether ``host`` is this machine's own loopback address (only local programs reach it)."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _host_port(host: str, port: int) -> str:
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


def allowed_origins(host: str, port: int, origins=()) -> list[str]:
    """The HOST:PORT names under which browser pages may open the dashboard's websocket: the
    loopback names on the loopback address (and any ``origins`` given, e.g. a reverse proxy's);
    elsewhere the ``origins`` given, else ``host`` itself. Listening on every interface needs them
    named: which name browsers will use cannot be guessed."""
    origins = list(origins)
    if is_loopback(host):
        return [f"{LOOPBACK}:{port}", f"localhost:{port}"] + origins
    if origins:
        return origins
    if host in EVERY_INTERFACE:
        shown = host or "''"
        raise ValueError(f"--host {shown} listens on every interface: name the address browsers will use, "
                         f"e.g. --allow-websocket-origin myhost.example.org:{port}")
    return [_host_port(host, port)]


def serve_command(models=None, port: int = 5006, show: bool = True, allow_save: bool = False,
                  host: str = LOOPBACK, origins=(), procs: int = 1) -> list[str]:
    """The `panel serve` command line for the dashboard (on 127.0.0.1 unless ``host`` says otherwise;
    ``procs`` > 1 forks that many server processes, ``--num-procs``)."""
    command = [sys.executable, "-m", "panel", "serve", str(APP_DIR), "--port", str(int(port)), "--address", host]
    if procs > 1:
        command += ["--num-procs", str(int(procs))]
    for origin in allowed_origins(host, port, origins):
        command += ["--allow-websocket-origin", origin]
    if show:
        command.append("--show")
    if models is not None:
        command += ["--args", "--models", str(Path(models).expanduser().resolve())]
        if allow_save:
            command.append(ALLOW_SAVE_FLAG)
    return command


def launch(models=None, port: int = 5006, show: bool = True, allow_save: bool = False, host: str = LOOPBACK,
           origins=(), procs: int = 1, release_memory: bool = True) -> int:
    """Serve the dashboard until interrupted; returns the server's exit code (2 for a bad folder
    or address, 128 + the signal's number when a signal stopped it)."""
    def error(message: str) -> int:
        print(f"rate2spike explore: error: {printable(message)}", file=sys.stderr)
        return 2

    if models is not None and not Path(models).expanduser().is_dir():
        return error(f"{models}: no such folder" if not Path(models).expanduser().exists()
                     else f"{models}: not a folder; --models takes the folder that holds the .mat files")
    if allow_save and models is None:
        return error("--allow-save needs --models DIR (shipped models are never written)")
    try:
        command = serve_command(models, port, show, allow_save, host, origins, procs)
    except ValueError as exc:
        return error(str(exc))
    shown = LOOPBACK if host == "localhost" else host
    print(f"rate2spike explorer on http://{printable(_host_port(shown, port))}/explorer (Ctrl-C stops it)")
    if not is_loopback(host):
        saving = f" and write the model files under {printable(models)} (--allow-save)" if allow_save else ""
        print(f"rate2spike explore: warning: listening on {printable(_host_port(host, port))} with no log-in: anyone "
              f"who can reach this port can run simulations on this machine{saving}", file=sys.stderr)
    # its own session: a Ctrl-C in the terminal reaches this process only, which passes it on once
    return wait_forwarding_signals(subprocess.Popen(command, env=server_environment(release_memory),
                                                    start_new_session=True))


def wait_forwarding_signals(process: subprocess.Popen) -> int:
    """Wait for ``process``, passing SIGINT, SIGTERM and SIGHUP on to it; if it has not ended
    SHUTDOWN_GRACE seconds after the first, it is killed. Returns its exit code, or 128 + the
    number of the signal that stopped it (130 for Ctrl-C, 143 for SIGTERM).

    Ctrl-C (SIGINT) reaches the server as SIGTERM, on which it shuts down the same way: a command
    started as a script's background job inherits SIGINT ignored (shells start such jobs so), and
    so does the server it starts, which then sat out the grace period and was killed."""
    received: list[int] = []

    def forward(signum, _frame) -> None:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM if signum == signal.SIGINT else signum)
        if not received:
            timer = threading.Timer(SHUTDOWN_GRACE, lambda: process.poll() is None and process.kill())
            timer.daemon = True
            timer.start()
        received.append(signum)

    in_main_thread = threading.current_thread() is threading.main_thread()
    previous = {sig: signal.signal(sig, forward) for sig in FORWARDED_SIGNALS} if in_main_thread else {}
    try:
        code = process.wait()
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        if process.poll() is None:  # an error here, not a signal: the server does not outlive us
            process.kill()
            process.wait()
    return 128 + received[0] if received else code

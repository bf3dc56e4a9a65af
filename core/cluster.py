"""Where the work runs: this process's threads, a local Dask cluster, or a running Dask scheduler.

``rate2spike sweep`` and ``rate2spike train`` take ``--workers N`` (start a
``distributed.LocalCluster`` of N single-threaded worker processes on this machine) or
``--scheduler ADDRESS`` (use a cluster started elsewhere with ``dask scheduler`` and ``dask
worker``); without either they run on this process's threads. Dask is the engine, not ours:
it places tasks, retries the tasks of a worker that dies and serves its own dashboard.
"""

from __future__ import annotations

import logging
import os
import socket
import struct
import time
from contextlib import contextmanager
from typing import Callable, Iterator

from rate2spike.text import printable

CONNECT_TIMEOUT = 10  # s: an unreachable scheduler, or a service that is not one, is reported within this
DEFAULT_SCHEDULER_PORT = 8786  # Dask's, for an address without a port
HTTP_QUESTION_AFTER = 2.0  # s of silence before the probe asks in HTTP whether it is a web server
MAX_GREETING_BYTES = 2**20  # a Dask server's first message (its handshake) is about 60 bytes


class SchedulerUnreachable(ConnectionError):
    """The Dask scheduler given by address did not answer in time, or something else answered."""


def check_local_workers(workers) -> int:
    """A number of local worker processes: 1 to the number of cores (each worker keeps a core busy,
    so more only share the cores and multiply the memory; ``--scheduler`` is for bigger clusters)."""
    cores = os.cpu_count() or 1
    if isinstance(workers, bool) or not isinstance(workers, int) or workers < 1:
        raise ValueError(f"the number of workers must be a whole number of 1 or more, got {workers!r}")
    if workers > cores:
        raise ValueError(f"{workers} local workers on a machine with {cores} core(s): at most {cores} (each worker "
                         "keeps a core busy); to use more machines, start a Dask cluster and pass --scheduler ADDRESS")
    return workers


def _worker_environment() -> dict:
    """Dask's environment for new worker processes without MALLOC_TRIM_THRESHOLD_=65536.

    Dask sets it so that workers hand freed memory back to the system at once; but setting it
    also turns off glibc's adaptive mmap threshold, so every NumPy temporary over 128 kB is
    mapped and unmapped again: training go-nogo (N = 200) ran 1.6 times slower on a worker than
    in this process (5.9 s against 3.7 s for 400 trials), and as fast without it."""
    import dask

    environ = dict(dask.config.get("distributed.nanny.pre-spawn-environ", default={}) or {})
    environ.pop("MALLOC_TRIM_THRESHOLD_", None)
    return environ


@contextmanager
def dask_client(workers: int | None = None, scheduler: str | None = None,
                say: Callable[[str], None] = print) -> Iterator[object | None]:
    """A ``distributed.Client`` for ``workers`` local worker processes or for the scheduler at
    ``scheduler`` (closed on exit; a local cluster is shut down), or None for neither (threads).

    Prints the address of Dask's dashboard through ``say``.
    """
    if workers and scheduler:
        raise ValueError("give either a number of local workers or a scheduler address, not both")
    if not workers and not scheduler:
        yield None
        return
    import dask
    from distributed import Client, LocalCluster

    local = None
    if scheduler:
        client = _scheduler_client(Client, scheduler)
    else:
        check_local_workers(workers)
        # one thread per worker process: the kernels use one core each, and processes share nothing;
        # glibc's own malloc settings, as in this process (see _worker_environment)
        with dask.config.set({"distributed.nanny.pre-spawn-environ": _worker_environment()}):
            local = LocalCluster(n_workers=workers, threads_per_worker=1, processes=True,
                                 silence_logs=logging.ERROR, dashboard_address=":0")
        client = Client(local)
    try:
        say(f"Dask: {len(client.scheduler_info().get('workers', {}))} worker(s), dashboard {client.dashboard_link}")
        yield client
    finally:
        client.close()
        if local is not None:
            local.close()


def _scheduler_client(Client, address: str):
    """A Client of the scheduler at ``address``, or a SchedulerUnreachable saying what is there instead.

    Dask's own connect waits for the other side's handshake without a time limit, so a service
    that accepts connections and never answers in Dask's protocol (a web server, a silent
    listener) would hang the command; ``probe_scheduler`` first checks, within CONNECT_TIMEOUT,
    that a Dask server greets us."""
    probe_scheduler(address, CONNECT_TIMEOUT)
    try:
        return Client(address, timeout=f"{CONNECT_TIMEOUT}s")
    except (OSError, TimeoutError) as exc:
        raise SchedulerUnreachable(f"cannot reach the Dask scheduler at {address} within "
                                   f"{CONNECT_TIMEOUT} s ({type(exc).__name__}: {exc})") from None
    except Exception as exc:  # a Dask server that is not a scheduler (a worker) breaks Dask's asserts
        raise SchedulerUnreachable(f"{address} speaks Dask's protocol but did not accept us as a scheduler "
                                   f"would ({type(exc).__name__}: {exc}); is it a worker's address?") from None


def probe_scheduler(address: str, timeout: float) -> None:
    """Within ``timeout`` seconds, check that a Dask server listens at ``address`` (tcp://HOST:PORT):
    it must accept a connection and send Dask's handshake, which Dask servers send unasked. Raise
    SchedulerUnreachable naming the address and what happened: nobody listening, a web server
    (asked in HTTP after HTTP_QUESTION_AFTER s of silence), other bytes, or silence. Other
    schemes (tls://, ucx://) are left to Dask's own timeout."""
    from distributed.comm.addressing import parse_address, parse_host_port

    shown = printable(address)
    try:
        scheme, location = parse_address(address)
        host, port = parse_host_port(location, DEFAULT_SCHEDULER_PORT) if scheme == "tcp" else (None, None)
    except (ValueError, TypeError) as exc:
        raise ValueError(f"{shown} is not a scheduler address like tcp://HOST:8786 ({exc})") from None
    if scheme != "tcp":
        return
    deadline = time.monotonic() + timeout
    with _connect(host, port, deadline, shown, timeout) as sock:
        greeting = _read_some(sock, min(deadline, time.monotonic() + HTTP_QUESTION_AFTER))
        asked = False
        if greeting is None and time.monotonic() < deadline:  # silent so far: a web server waits for a request
            asked = True
            try:
                sock.sendall(f"GET / HTTP/1.0\r\nHost: {host}\r\n\r\n".encode("ascii", "replace"))
            except OSError:
                pass
            greeting = _read_some(sock, deadline)
    if greeting is not None and len(greeting) >= 8 and 0 < struct.unpack("<Q", greeting[:8])[0] <= MAX_GREETING_BYTES:
        return  # Dask's handshake: the length of the message, then its frames
    if greeting is None:
        raise SchedulerUnreachable(f"{shown} accepted the connection but sent nothing within {timeout:g} s: not a Dask "
                                   "scheduler, or one too busy to answer")
    if greeting.startswith(b"HTTP/"):
        raise SchedulerUnreachable(f"{shown} is a web server (it answers HTTP), not a Dask scheduler; the scheduler "
                                   f"listens on port {DEFAULT_SCHEDULER_PORT} unless told otherwise (8787 is its dashboard)")
    what = "closed the connection without a word" if not greeting else \
        f"answered {'our HTTP question ' if asked else ''}in another protocol ({printable(repr(greeting[:16]))})"
    raise SchedulerUnreachable(f"{shown} {what}: not a Dask scheduler")


def _connect(host: str, port: int, deadline: float, shown: str, timeout: float) -> socket.socket:
    """A TCP connection to host:port, tried again until ``deadline`` while refused (a scheduler
    still starting), as Dask does."""
    while True:
        try:
            return socket.create_connection((host, port), timeout=max(0.01, deadline - time.monotonic()))
        except OSError as exc:
            if isinstance(exc, ConnectionRefusedError) and time.monotonic() + 0.2 < deadline:
                time.sleep(0.2)
                continue
            reason = f"no such host: {exc}" if isinstance(exc, socket.gaierror) else f"{type(exc).__name__}: {exc}"
            raise SchedulerUnreachable(f"cannot reach the Dask scheduler at {shown} within {timeout:g} s "
                                       f"({printable(reason)})") from None


def _read_some(sock: socket.socket, until: float) -> bytes | None:
    """The first bytes the other side sends (8 or more, or what came before it closed: b''), or
    None if nothing came before ``until``."""
    received = b""
    while len(received) < 8:
        left = until - time.monotonic()
        if left <= 0:
            break
        sock.settimeout(left)
        try:
            chunk = sock.recv(64)
        except socket.timeout:
            break
        except OSError:
            chunk = b""
        if not chunk:
            return received
        received += chunk
    return received or None

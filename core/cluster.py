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
from contextlib import contextmanager
from typing import Callable, Iterator

CONNECT_TIMEOUT = 10  # s: an unreachable scheduler is reported within this


class SchedulerUnreachable(ConnectionError):
    """The Dask scheduler given by address did not answer in time."""


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
        try:
            client = Client(scheduler, timeout=f"{CONNECT_TIMEOUT}s")
        except (OSError, TimeoutError) as exc:
            raise SchedulerUnreachable(f"cannot reach the Dask scheduler at {scheduler} within "
                                       f"{CONNECT_TIMEOUT} s ({type(exc).__name__}: {exc})") from None
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

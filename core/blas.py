"""One BLAS thread for the rate network's small matrix products.

The rate network's step is a (trials x N) by (N x N) product, N about 200: too small for BLAS's own
threads to pay, and rate2spike already runs trials in parallel (the sweep's thread pool, Dask
workers, the dashboard's sessions). Left to OpenBLAS's default of one thread per core, every such
product wakes threads that compete with the simulator's and each other's for the same cores. On a
2-core machine with one other busy process, a diagnosis took 23 s with the default and 2.2 s with
one BLAS thread; two diagnoses at once 59 s against 4.4 s; training xor for 600 trials 39 s
against 20 s.

So the first time rate2spike runs a rate network, it sets BLAS to one thread for the whole process
(threadpoolctl, the library scikit-learn uses for this) and leaves it so: a limit set and then
restored in one thread does not reliably take in another with OpenBLAS 0.3.30, and a per-call
limit would lose to that. Code of your own that wants BLAS threads in the same process can raise
the count again with ``threadpoolctl.threadpool_limits``.
"""

from __future__ import annotations

import functools
import threading

from threadpoolctl import ThreadpoolController

_lock = threading.Lock()
_limited = False


def use_one_blas_thread() -> None:
    """Set every loaded BLAS library to one thread, once per process (see the module docstring)."""
    global _limited
    if _limited:
        return
    with _lock:
        if not _limited:
            ThreadpoolController().limit(limits=1, user_api="blas")  # kept: never restored
            _limited = True


def one_blas_thread(function):
    """Decorate a function whose matrix products should run on one BLAS thread."""

    @functools.wraps(function)
    def limited(*args, **kwargs):
        use_one_blas_thread()
        return function(*args, **kwargs)

    return limited


def blas_threads() -> list[int]:
    """The thread count of every BLAS library loaded in this process, now (for tests and reports)."""
    return [info["num_threads"] for info in ThreadpoolController().select(user_api="blas").info()]

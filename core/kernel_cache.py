"""Keep Numba's on-disk kernel cache honest about code a kernel inlines from other modules.

Numba checks a cached kernel against the source file that defines it, and nothing else. The LIF
kernel inlines the noise generator (``fastrng``) and the time grid (``timegrid``): after either
changes (a pull into an editable checkout) the cached kernel would go on running the old code,
silently. ``forget_if_changed`` empties the cache of such kernels when a digest of the modules they
inline differs from the one recorded beside the cache, so they are compiled afresh. It reaches the
cache through Numba's private ``Dispatcher._cache`` (``rate2spike.internals``).
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

from rate2spike.internals import kernel_disk_cache


def sources_digest(modules) -> str:
    """SHA-256 of the source files of ``modules``, in order."""
    digest = hashlib.sha256()
    for module in modules:
        digest.update(Path(module.__file__).read_bytes())
    return digest.hexdigest()


def forget_if_changed(kernels, inlined_modules) -> bool:
    """Empty the on-disk cache of ``kernels`` (Numba dispatchers of one module, ``cache=True``) when
    the sources of ``inlined_modules`` changed since the last check; True if it did. Any I/O error
    leaves the cache as it is (Numba then behaves as without this check)."""
    caches = [cache for cache in map(kernel_disk_cache, kernels) if cache is not None]
    if not caches:
        return False
    module = kernels[0].py_func.__module__.rsplit(".", 1)[-1]
    stamp = Path(caches[0].cache_path) / f"{module}.inlined-sources"
    try:
        digest = sources_digest(inlined_modules)
        if stamp.is_file() and stamp.read_text() == digest:
            return False
        for cache in caches:
            cache.flush()
        partial = stamp.with_name(f"{stamp.name}.{os.getpid()}")
        partial.write_text(digest)
        os.replace(partial, stamp)
    except OSError:
        return False
    return True

"""Numba's on-disk cache must not run old code after a module the LIF kernel inlines changes
(``rate2spike.kernel_cache``): the situation of an editable checkout after a pull."""

from __future__ import annotations

import json
import os
import subprocess
import sys

PROBE = """
import json, numpy as np
from rate2spike import lif
from rate2spike.internals import kernel_disk_cache
lif.initial_voltages(np.arange(1, 5, dtype=np.uint64), 3, -65.0, 30.0)  # a kernel of lif.py, compiled or loaded
stats = lif.initial_voltages.stats
print(json.dumps({"hits": sum(stats.cache_hits.values()), "misses": sum(stats.cache_misses.values()),
                  "cache": str(kernel_disk_cache(lif.initial_voltages).cache_path)}))
"""


def _probe(cache_dir) -> dict:
    env = {**os.environ, "NUMBA_CACHE_DIR": str(cache_dir)}
    done = subprocess.run([sys.executable, "-c", PROBE], env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_a_change_in_an_inlined_module_makes_the_cached_kernels_compile_afresh(tmp_path):
    from pathlib import Path

    first = _probe(tmp_path)
    assert first["misses"] == 1  # an empty cache: compiled and saved
    assert _probe(tmp_path)["hits"] == 1  # loaded from the cache, as Numba does
    stamp = Path(first["cache"]) / "lif.inlined-sources"
    assert stamp.is_file()
    stamp.write_text("the digest of an older fastrng.py")  # as if fastrng or timegrid had changed
    again = _probe(tmp_path)
    assert again["misses"] == 1 and again["hits"] == 0  # the stale kernel was not used
    assert _probe(tmp_path)["hits"] == 1  # and the fresh one is cached again

"""The private and undocumented Numba and Panel internals the package's core relies on, in one place.

Each is used because no public API does the job, and each has a test (tests/test_core_internals.py)
that fails loudly, naming the hook, when an upgrade removes it; pyproject.toml bounds Numba and
Panel to the versions tested. The dashboard's own hooks are in ``rate2spike.explorer.internals``.

- ``Dispatcher._cache`` (Numba): the on-disk cache of a ``cache=True`` kernel, with its folder
  (``cache_path``) and ``flush()``. ``rate2spike.kernel_cache`` empties it when a module the kernel
  inlines changes, which Numba does not check. Without it, the check is skipped (as plain Numba).
- ``panel.io.resources.CDN_DIST`` and ``DIST_DIR`` (Panel): the URL under which a saved page refers
  to Panel's stylesheets and icons, and the package folder that holds them. Even with inline
  resources (``hv.save(..., resources=INLINE)``, ``panel.save(..., resources='inline')``,
  ``pn.config.inline``) Panel 1.9 leaves them on its CDN (holoviz/panel#6759, #7073), so the
  population report embeds them itself to open offline.
"""

from __future__ import annotations

from pathlib import Path

NUMBA_CACHE_HOOK = "numba Dispatcher._cache (cache_path, flush)"
PANEL_ASSETS_HOOK = "panel.io.resources.CDN_DIST and DIST_DIR"


def kernel_disk_cache(kernel):
    """The on-disk cache of a Numba ``cache=True`` kernel (``cache_path``: its folder; ``flush()``:
    empty it), or None when this Numba no longer offers it (``NUMBA_CACHE_HOOK``)."""
    cache = getattr(kernel, "_cache", None)
    return cache if hasattr(cache, "cache_path") and hasattr(cache, "flush") else None


def panel_assets() -> tuple[str, Path]:
    """(URL prefix, folder) of Panel's stylesheets and icons: a saved page names ``<prefix><path>``
    and the file is ``<folder>/<path>`` (``PANEL_ASSETS_HOOK``). An ImportError names the hook when
    this Panel no longer has them."""
    try:
        from panel.io.resources import CDN_DIST, DIST_DIR
    except ImportError as exc:
        raise ImportError(f"this Panel has no {PANEL_ASSETS_HOOK} (rate2spike.internals): {exc}") from None
    return str(CDN_DIST), Path(DIST_DIR)

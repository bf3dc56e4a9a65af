"""The private Numba and Panel hooks of the package's core (``rate2spike.internals``): each test fails
loudly, naming the hook, when an upgrade removes it."""

from __future__ import annotations

import re

import pytest

from rate2spike import internals, lif


def test_numba_still_offers_a_kernels_disk_cache():
    cache = internals.kernel_disk_cache(lif.initial_voltages)
    assert cache is not None, (f"this Numba no longer offers {internals.NUMBA_CACHE_HOOK}: "
                               "rate2spike.kernel_cache cannot keep the LIF kernels' disk cache honest")
    assert callable(cache.flush) and isinstance(str(cache.cache_path), str), internals.NUMBA_CACHE_HOOK
    assert internals.kernel_disk_cache(lambda: None) is None  # anything else: no cache, no error


def test_panel_still_names_its_assets_on_a_cdn_and_ships_them():
    cdn, folder = internals.panel_assets()
    assert re.match(r"https://\S+/$", cdn), f"{internals.PANEL_ASSETS_HOOK}: CDN_DIST is now {cdn!r}"
    for asset in ("css/loading.css", "bundled/theme/default.css", "images/favicon.ico"):
        assert (folder / asset).is_file(), (f"{internals.PANEL_ASSETS_HOOK}: Panel no longer ships {asset} in "
                                            f"{folder}; the report would load it from the CDN")


def test_a_saved_panel_page_still_needs_the_embedding(tmp_path):
    """If a Panel upgrade inlines its own stylesheets, the report's embedding (and this hook) can go."""
    import holoviews as hv
    from bokeh.resources import INLINE

    from rate2spike.report import _embed_panel_assets

    hv.extension("bokeh")
    page = tmp_path / "page.html"
    hv.save(hv.Layout([hv.Curve([1, 2]), hv.Div("<p>x</p>")]).cols(1), page, fmt="html", backend="bokeh",
            resources=INLINE)
    cdn, _ = internals.panel_assets()
    text = page.read_text(encoding="utf-8")
    assert cdn in text, "Panel now inlines its assets itself: drop rate2spike.report._embed_panel_assets"
    assert cdn not in _embed_panel_assets(text)


def test_the_dependencies_with_private_hooks_are_bounded_by_the_versions_tested():
    """An upgrade past the versions tested must be a decision, taken with these tests, not a surprise."""
    tomllib = pytest.importorskip("tomllib")  # Python 3.11+
    from importlib.metadata import version
    from pathlib import Path

    from packaging.requirements import Requirement

    project = tomllib.loads((Path(__file__).resolve().parent.parent / "pyproject.toml").read_text())
    requirements = {r.name: r for r in map(Requirement, project["project"]["dependencies"])}
    for name in ("numba", "panel", "bokeh"):
        bounds = [spec for spec in requirements[name].specifier if spec.operator == "<"]
        assert bounds, f"{name} needs an upper bound (the newest minor version tested)"
        assert requirements[name].specifier.contains(version(name)), f"the installed {name} is outside {requirements[name]}"

"""JavaScript the dashboard installs in the browser, each piece for a cost we measured there.

Bokeh (3.9) rewrites the text of every renderer's position stylesheet on every paint, also when
the text is the same. Each rewrite invalidates the styles of the plot's shadow tree, and Bokeh
then reads CSS variables (``getComputedStyle``) for the colour of every text it draws, so a
plot of ours recomputed its styles tens of times per paint (see bokeh/bokeh#15286 on those
reads). Skipping a rewrite whose text is unchanged keeps exactly what is drawn and takes a
paint of the output plot from 6-9 ms to 3-4 ms in headless Chromium (``python -m benchmarks
--dashboard`` gives the end-to-end figure). The fix finds Bokeh's stylesheet class through a
live renderer and wraps its one writing method; if a later Bokeh has no such method the page
simply runs without it, and the browser test that checks the flag fails.
"""

from __future__ import annotations

from bokeh.models import CustomJS

INSTALLED_FLAG = "__rate2spike_unchanged_styles_kept"

SKIP_UNCHANGED_STYLESHEETS_JS = f"""
if (window.{INSTALLED_FLAG}) return;
const stack = Object.values(Bokeh.index);
const seen = new Set();
let sheet_class = null;
while (stack.length && sheet_class === null) {{
  const view = stack.pop();
  if (view == null || seen.has(view)) continue;
  seen.add(view);
  const sheet = view.position;
  const candidate = sheet == null ? null : Object.getPrototypeOf(sheet);
  if (candidate != null && sheet.el instanceof HTMLStyleElement && typeof candidate._update === "function") {{
    sheet_class = candidate;
  }}
  for (const child of (view.child_views ?? [])) stack.push(child);
  for (const child of (view.computed_renderer_views ?? [])) stack.push(child);
}}
if (sheet_class === null) return;
const write = sheet_class._update;
sheet_class._update = function (css) {{
  if (this.el.textContent !== css) write.call(this, css);
}};
window.{INSTALLED_FLAG} = true;
"""


def install(document) -> None:
    """Install the fixes in a served page once its views are built (Bokeh's document_ready)."""
    if document is not None:
        document.js_on_event("document_ready", CustomJS(code=SKIP_UNCHANGED_STYLESHEETS_JS))

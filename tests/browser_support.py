"""Support for the dashboard tests: synthetic model folders, a `panel serve explorer`
subprocess, and headless Chromium.

The browser is Debian's chromium (Playwright's own download is not used): its path comes from
$RATE2SPIKE_CHROMIUM, default /usr/bin/chromium.
"""

from __future__ import annotations

import os
import re
import time
from pathlib import Path

import pytest

from benchmarks.browser import (CHROMIUM_ARGS, CHROMIUM_ENV, RECORDER_JS, DashboardServer,  # noqa: F401
                                chromium_path, free_port)

REPO = Path(__file__).resolve().parent.parent
CLIENT_GONE = ("WebSocketClosedError", "StreamClosedError")  # Tornado: a tab closed while being written to


SERVER_PROBLEMS = ("Traceback", "ERROR", "failed with following error")


def server_problems(log: str) -> list[str]:
    """Tracebacks, ERROR records and failed session callbacks (Panel logs a failed
    ``on_session_destroyed`` callback as a WARNING) in a server log, leaving out those that only say
    a browser tab went away while the server was writing to it (Tornado logs those; nothing is wrong)."""
    records = re.split(r"\n(?=\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2},\d{3} )", log)
    return [record for record in records if any(problem in record for problem in SERVER_PROBLEMS)
            and not any(gone in record for gone in CLIENT_GONE)]


PanelServer = DashboardServer  # `panel serve explorer` of the installed package (editable: this checkout)


# Reads one column of a named Bokeh data source in the page (null until it exists).
COLUMN_JS = """([name, column]) => {
  if (!window.Bokeh) return null;
  for (const doc of window.Bokeh.documents) for (const model of doc.all_models) {
    if (model.name !== name || !model.data) continue;
    const values = model.data instanceof Map ? model.data.get(column) : model.data[column];
    return values === undefined ? null : Array.from(values, (v) => (typeof v === "number" ? v : v.length));
  }
  return null;
}"""

VALUES_JS = """([name, column]) => {
  if (!window.Bokeh) return null;
  for (const doc of window.Bokeh.documents) for (const model of doc.all_models) {
    if (model.name !== name || !model.data) continue;
    const values = model.data instanceof Map ? model.data.get(column) : model.data[column];
    return values === undefined ? null : Array.from(values);
  }
  return null;
}"""

FIGURE_X_RANGE_JS = """(css) => {
  for (const doc of window.Bokeh.documents) for (const model of doc.all_models) {
    if (model.css_classes && model.css_classes.includes(css) && model.x_range) {
      return [model.x_range.start, model.x_range.end];
    }
  }
  return null;
}"""

SCROLLED_JS = """() => window.scrollY + Array.from(document.querySelectorAll('#main, #sidebar, .main, body, html'))
  .reduce((sum, el) => sum + el.scrollTop, 0)"""

TITLES_JS = """() => {
  const titles = [];
  for (const doc of window.Bokeh.documents) for (const model of doc.all_models)
    if (model.type === "Title") titles.push(model.text);
  return titles;
}"""


# A cheap signature of a column (length and sum), so waiting for a change runs inside the page.
CHANGED_JS = """([name, column, before]) => {
  for (const doc of window.Bokeh.documents) for (const model of doc.all_models) {
    if (model.name !== name || !model.data) continue;
    const values = model.data instanceof Map ? model.data.get(column) : model.data[column];
    let sum = 0;
    for (const v of values) sum += v;
    return JSON.stringify([values.length, sum]) !== JSON.stringify(before);
  }
  return false;
}"""
SIGNATURE_JS = CHANGED_JS.replace("return JSON.stringify([values.length, sum]) !== JSON.stringify(before);",
                                  "return [values.length, sum];")


# The text a pane shows: the rendered elements in its shadow root (not its style sheets).
SHOWN_TEXT_JS = """(host) => {
  const root = host.shadowRoot || host;
  return Array.from(root.children).filter((e) => !["STYLE", "LINK"].includes(e.tagName))
    .map((e) => e.innerText).join(" ");
}"""


def unavailable(reason: str):
    if os.environ.get("CI"):
        pytest.fail(f"{reason}; CI must run the browser tests (.ci/run installs Debian's chromium)")
    pytest.skip(reason)


@pytest.fixture(scope="module")
def browser():
    path = chromium_path()
    if path is None:
        unavailable("Chromium not found (set RATE2SPIKE_CHROMIUM or install Debian's chromium)")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        unavailable("the playwright package is not installed (pip install -e '.[test]')")
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=path, args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


class Session:
    """One browser tab on the dashboard, recording console errors."""

    def __init__(self, browser, server, viewport=(1280, 800), url=None, ready="output-lif"):
        """``ready``: the data source whose output shows the page is up (Present mode's own)."""
        self.context = browser.new_context(viewport={"width": viewport[0], "height": viewport[1]})
        self.context.add_init_script(RECORDER_JS)  # window.__messages: [time, size, type] of every server frame
        self.page = self.context.new_page()
        self.errors: list[str] = []
        self.dialogs: list[str] = []  # alerts, confirms and prompts the page opened (dismissed)
        self.page.on("dialog", lambda dialog: (self.dialogs.append(dialog.message), dialog.dismiss()))
        self.page.on("console", lambda msg: self.errors.append(msg.text) if msg.type == "error" else None)
        self.page.on("pageerror", lambda exc: self.errors.append(f"page error: {exc}"))
        self.page.goto(url or server.url, timeout=60_000)
        self.wait_for(lambda: (self.column(ready, "output") or []) != [], timeout=60, what=f"{ready} drawn")

    def column(self, source: str, column: str):
        return self.page.evaluate(COLUMN_JS, [source, column])

    def wait_for(self, condition, timeout=30.0, what="condition"):
        """Poll ``condition`` until true; ``what`` names it in the timeout's error (a callable: read
        then, to say what the page showed instead)."""
        deadline = time.monotonic() + timeout
        while not condition():
            if time.monotonic() > deadline:
                raise AssertionError(f"timed out waiting for {what() if callable(what) else what}")
            time.sleep(0.1)

    def wait_for_change(self, source: str, column: str, before, timeout: float = 15.0) -> None:
        """Wait, polling inside the page on every animation frame, until a column changes."""
        self.page.wait_for_function(CHANGED_JS, arg=[source, column, before], polling="raf", timeout=timeout * 1000)

    def values(self, source: str, column: str):
        """A column of a data source as the page holds it (strings as strings)."""
        return self.page.evaluate(VALUES_JS, [source, column])

    def signature(self, source: str, column: str):
        return self.page.evaluate(SIGNATURE_JS, [source, column, None])

    def drag_lambda(self, pixels: float) -> float:
        """Drag the λ slider's handle sideways and release; returns the release time."""
        handle = self.page.locator(".lambda-slider .noUi-handle")
        handle.scroll_into_view_if_needed()  # an earlier step may have scrolled the sidebar
        box = handle.bounding_box()
        x, y = box["x"] + box["width"] / 2, box["y"] + box["height"] / 2
        self.page.mouse.move(x, y)
        self.page.mouse.down()
        self.page.mouse.move(x + pixels, y, steps=6)
        released = time.monotonic()
        self.page.mouse.up()
        return released

    def drag_lambda_inward(self, pixels: float) -> float:
        """Drag the λ handle ``pixels`` towards the middle of its slider (a move that always
        changes λ, wherever earlier tests left it); returns the release time."""
        self.page.locator(".lambda-slider .noUi-handle").scroll_into_view_if_needed()
        handle = self.page.locator(".lambda-slider .noUi-handle").bounding_box()
        track = self.page.locator(".lambda-slider .noUi-base").bounding_box()
        middle = track["x"] + track["width"] / 2
        return self.drag_lambda(pixels if handle["x"] + handle["width"] / 2 < middle else -pixels)

    def lambda_shown(self) -> str:
        return self.page.locator(".lambda-slider .bk-slider-title").inner_text()

    def set_number(self, css_class: str, value: int) -> None:
        field = self.page.locator(f".{css_class} input")
        field.fill(str(value))
        field.press("Enter")

    def status(self) -> str:
        return self.page.locator(".sweep-status div").first.inner_text()

    def close(self):
        self.context.close()


def pick_file(session: Session, path: Path) -> None:
    """Choose a file in the upload's file dialog, as a person does (Chromium sets its MIME type
    from the file itself: none for .mat on Linux)."""
    session.page.locator(".model-upload input[type=file]").set_input_files(str(path))


def shown_text(session: Session, css_class: str) -> str:
    """The visible text of a pane (empty while it is hidden); its content sits in its shadow root,
    which Playwright's CSS selectors enter."""
    host = session.page.locator(f".{css_class}").first
    return host.evaluate(SHOWN_TEXT_JS) if host.is_visible() else ""


# Every element on screen that shows text of its own (shadow roots included), with its computed font
# size in px: [tag, text, size].
SHOWN_TEXT_SIZES_JS = """() => {
  const found = [];
  const visit = (root) => {
    for (const el of root.querySelectorAll('*')) {
      if (el.shadowRoot) visit(el.shadowRoot);
      if (['STYLE', 'SCRIPT', 'OPTION', 'TITLE'].includes(el.tagName)) continue;
      const own = Array.from(el.childNodes).some((n) => n.nodeType === 3 && n.textContent.trim());
      if (!own || !el.checkVisibility({visibilityProperty: true, opacityProperty: true})) continue;
      const box = el.getBoundingClientRect();
      if (box.width === 0 || box.height === 0 || box.bottom <= 0 || box.top >= innerHeight || box.right <= 0
          || box.left >= innerWidth) continue;
      found.push([el.tagName, el.textContent.trim().slice(0, 60), parseFloat(getComputedStyle(el).fontSize)]);
    }
  };
  visit(document);
  return found;
}"""

# The tooltips on screen (Bokeh's, in shadow roots): [x, y, width, height, font size px].
TOOLTIPS_JS = """() => {
  const found = [];
  const visit = (root) => {
    for (const el of root.querySelectorAll('*')) {
      if (el.shadowRoot) visit(el.shadowRoot);
      if (!String(el.className).includes('bk-Tooltip') || !el.checkVisibility()) continue;
      const box = el.getBoundingClientRect();
      if (box.width > 0) found.push([box.x, box.y, box.width, box.height, parseFloat(getComputedStyle(el).fontSize)]);
    }
  };
  visit(document);
  return found;
}"""

# How a figure (by css class) is laid out on its canvas, from BokehJS's views: its size, its
# legend's box, and the widest line of its title against the width the title has (from where it
# starts to the canvas's right edge), measured in the title's own font.
FIGURE_LAYOUT_JS = """(css) => {
  const stack = Object.values(Bokeh.index);
  const seen = new Set();
  while (stack.length) {
    const view = stack.pop();
    if (view == null || seen.has(view)) continue;
    seen.add(view);
    if (view.model.type === 'Figure' && (view.model.css_classes || []).includes(css)) {
      const box = (b) => b == null ? null : [b.x, b.y, b.width, b.height];
      const legends = view.computed_renderer_views.filter((v) => v.model.type === 'Legend' && v.model.visible);
      const title = view.computed_renderer_views.find((v) => v.model.type === 'Title');
      const context = document.createElement('canvas').getContext('2d');
      const t = title.model;
      context.font = `${t.text_font_style} ${t.text_font_size} ${t.text_font}`;
      const widest = Math.max(...t.text.split('\\n').map((line) => context.measureText(line).width));
      return {figure: box(view.bbox), legends: legends.map((v) => box(v.bbox)), title_text: t.text,
              title_widest: widest, title_room: view.bbox.width - title.bbox.x};
    }
    for (const child of (view.child_views ?? [])) stack.push(child);
  }
  return null;
}"""


def overlaps(a, b) -> bool:
    """Whether two boxes (x, y, width, height) overlap."""
    return a[0] < b[0] + b[2] and b[0] < a[0] + a[2] and a[1] < b[1] + b[3] and b[1] < a[1] + a[3]


def inside(box, width: float, height: float) -> bool:
    """Whether a box (x, y, width, height) lies within a width x height area at the origin."""
    return box[0] >= -0.5 and box[1] >= -0.5 and box[0] + box[2] <= width + 0.5 and box[1] + box[3] <= height + 0.5

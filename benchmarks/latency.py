"""``python -m benchmarks --dashboard``: how long a λ change takes to reach the screen.

Serves the dashboard on the shipped models (``panel serve``, as users run it), opens it in
headless Chromium through Playwright, drags the λ slider and times, in the page's own clock:

- **server**: from the slider's release to the first message of the new trial's data (over
  1 kB) handled by the page (the value travels to the server, the trial is simulated, frames
  are built and serialised, and the page's main thread is free to take the message);
- **browser**: from that message to the frame after the output plot holds the new trial
  (the patch is decoded and applied, the figures are laid out and redrawn);
- **total**: release to redrawn, the figure the user feels; and the bytes the server sent.

An in-process breakdown of the server's part (simulation, the rate model the cache saves,
frames and views) follows, timed on the same model and the same λ values. Needs Playwright and a
Chromium (Debian's ``/usr/bin/chromium``, or $RATE2SPIKE_CHROMIUM); the test extra has both.
"""

from __future__ import annotations

import os
import statistics
import time
import urllib.parse
from dataclasses import dataclass, field

from benchmarks.browser import CHROMIUM_ARGS, CHROMIUM_ENV, RECORDER_JS, DashboardServer, chromium_path

TARGETS_MS = {"go-nogo": 120.0, "mante": 200.0}  # median release -> redrawn, this 2-core machine
SLIDER_HANDLE = ".lambda-slider .noUi-handle"

# Resolves, in the page, once the output plot's data differ from `before`, one frame later (drawn).
REDRAWN_JS = """([name, before]) => new Promise((resolve, reject) => {
  const started = performance.now();
  const signature = () => {
    for (const doc of window.Bokeh.documents) for (const model of doc.all_models) {
      if (model.name !== name || !model.data) continue;
      const values = model.data instanceof Map ? model.data.get('output') : model.data['output'];
      let sum = 0;
      for (const v of values) sum += v;
      return JSON.stringify([values.length, sum]);
    }
    return null;
  };
  if (before === null) { resolve(signature()); return; }
  const poll = () => {
    const now = signature();
    if (now !== null && now !== before) requestAnimationFrame(() => resolve([now, performance.now()]));
    else if (performance.now() - started > 20000) reject(new Error('the output plot did not change'));
    else requestAnimationFrame(poll);
  };
  poll();
})"""


@dataclass
class Latency:
    """Release-to-redrawn timings of one model (ms) and the bytes sent per change."""

    task: str
    total_ms: list[float] = field(default_factory=list)
    server_ms: list[float] = field(default_factory=list)
    browser_ms: list[float] = field(default_factory=list)
    sent_bytes: list[int] = field(default_factory=list)

    def median(self, name: str) -> float:
        return statistics.median(getattr(self, name))


def _drag(page, pixels: float) -> None:
    handle = page.locator(SLIDER_HANDLE)
    handle.scroll_into_view_if_needed()
    box = handle.bounding_box()
    x, y = box["x"] + box["width"] / 2, box["y"] + box["height"] / 2
    page.mouse.move(x, y)
    page.mouse.down()
    page.mouse.move(x + pixels, y, steps=4)
    page.mouse.up()


def measure_model(browser, url: str, task: str, label: str, changes: int = 15, settle_s: float = 0.4) -> Latency:
    """Open the page on one model and time ``changes`` slider releases (alternately right and left)."""
    context = browser.new_context(viewport={"width": 1400, "height": 900})
    context.add_init_script(RECORDER_JS)
    page = context.new_page()
    try:
        page.goto(f"{url}?{urllib.parse.urlencode({'model': label})}", timeout=120_000)
        deadline = time.monotonic() + 120
        before = None
        while before in (None, '[0,0]'):
            if time.monotonic() > deadline:
                raise TimeoutError(f"the dashboard did not show a trial of {label}")
            time.sleep(0.2)
            before = page.evaluate(REDRAWN_JS, ["output-lif", None]) if page.evaluate("!!window.Bokeh") else None
        result = Latency(task)
        for k in range(changes + 2):  # the first two warm up (compilation, caches)
            time.sleep(settle_s)
            page.evaluate("window.__messages = []")
            _drag(page, 25 if k % 2 == 0 else -25)
            before, redrawn = page.evaluate(REDRAWN_JS, ["output-lif", before])
            released = page.evaluate("window.__released")
            messages = page.evaluate("window.__messages")
            if k < 2:
                continue
            first = min((t for t, size, _ in messages if t >= released and size > 1000), default=redrawn)
            result.total_ms.append(redrawn - released)
            result.server_ms.append(first - released)
            result.browser_ms.append(redrawn - first)
            time.sleep(0.2)  # let the rest of the update arrive before counting its bytes
            result.sent_bytes.append(sum(size for t, size, _ in page.evaluate("window.__messages") if t >= released))
        return result
    finally:
        context.close()


def shipped_labels() -> dict[str, str]:
    """The catalogue label of the first shipped model of each task."""
    from rate2spike.explorer.catalog import ModelCatalog

    labels = {}
    for label in ModelCatalog().labels:
        task = label.split("/", 1)[0]
        labels.setdefault(task, label)
    return labels


def server_breakdown(label: str, lambdas, say=print) -> None:
    """Time the server's part in this process: simulation, rate model, frames, patch."""
    from rate2spike.explorer.app import ExplorerPage
    from rate2spike.explorer.session import ON_CHANGE_RECORDINGS, ExplorerSession
    from rate2spike.rate import simulate_rate
    from rate2spike.trial import run_trial

    session = ExplorerSession()
    session.model_label = label
    page = ExplorerPage(session)
    timings = {"simulation (output, spikes)": [], "rate model (the cache saves)": [], "frames and views on screen": []}
    for k, lam in enumerate(lambdas):
        spec = session.spec.replace(scaling_factor=float(lam))
        start = time.perf_counter()
        trial = run_trial(spec, ON_CHANGE_RECORDINGS, session._rate_cache)  # what a λ change simulates
        simulated = time.perf_counter()
        simulate_rate(spec.model, trial.stimulus.u, seed=list(spec.rate_noise_seed))  # what the cache saves
        rated = time.perf_counter()
        page.redraw({"trial"})  # what a new trial costs the page: its views on screen
        shown = time.perf_counter()
        if k:
            timings["simulation (output, spikes)"].append(simulated - start)
            timings["rate model (the cache saves)"].append(rated - simulated)
            timings["frames and views on screen"].append(shown - rated)
    for name, values in timings.items():
        say(f"    {name:<30}{statistics.median(values) * 1e3:>8.1f} ms")
    session.close()


def run_dashboard_bench(changes: int = 15, say=print) -> dict[str, Latency]:
    """Measure and print release-to-redrawn latency for the shipped go-nogo and mante models."""
    path = chromium_path()
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        raise RuntimeError("the dashboard benchmark needs Playwright: pip install -e '.[test]'") from None
    if path is None:
        raise RuntimeError("the dashboard benchmark needs Chromium (apt-get install chromium, or set "
                           f"${CHROMIUM_ENV})")
    labels = shipped_labels()
    results = {}
    say(f"dashboard latency: λ slider release -> trial redrawn, headless Chromium, {changes} changes per model, "
        f"{os.cpu_count()} cores")
    with DashboardServer() as server, sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=path, args=CHROMIUM_ARGS)
        try:
            for task in TARGETS_MS:
                results[task] = measure_model(browser, server.url, task, labels[task], changes)
        finally:
            browser.close()
    say("")
    say(f"{'model':<10}{'total':>10}{'server':>10}{'browser':>10}{'sent':>10}{'target':>10}")
    for task, latency in results.items():
        ok = latency.median("total_ms") <= TARGETS_MS[task]
        say(f"{task:<10}{latency.median('total_ms'):>8.0f}ms{latency.median('server_ms'):>8.0f}ms"
            f"{latency.median('browser_ms'):>8.0f}ms{latency.median('sent_bytes') / 1e3:>8.0f}kB"
            f"{TARGETS_MS[task]:>8.0f}ms  {'met' if ok else 'MISSED'}")
    say("(medians; server = release to the first data message handled by the page, browser = from there to the "
        "redrawn frame)")
    for task in TARGETS_MS:
        say(f"\nserver side in one process, {task} ({labels[task]}):")
        server_breakdown(labels[task], [20 + k for k in range(8)], say)
    return results


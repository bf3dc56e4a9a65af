"""End to end: `panel serve explorer` driven by headless Chromium (Debian's, through Playwright).

The server gets a temporary assets folder with a small synthetic go-nogo model, so the suite is
quick. Without Chromium the tests fail when $CI is set and are skipped otherwise.
Set RATE2SPIKE_SCREENSHOT=docs/dashboard.png to also write the README's screenshot; that run
serves the shipped (trained) models instead of the synthetic one.
"""

from __future__ import annotations

import os
import re
import shutil
import sys
import time
from pathlib import Path

import pytest

from browser_support import (FIGURE_LAYOUT_JS, FIGURE_X_RANGE_JS, SCROLLED_JS, SHOWN_TEXT_SIZES_JS, TITLES_JS,  # noqa: F401
                             TOOLTIPS_JS, REPO, PanelServer, Session, browser, inside, overlaps, pick_file,
                             server_problems, shown_text)
from rate2spike.explorer.internals import INSTALLED_FLAG
from rate2spike.explorer.views import VIEWS
from conftest import synthetic_assets
from rate2spike.paths import shipped_model_dir

pytestmark = pytest.mark.browser

SCREENSHOT_ENV = "RATE2SPIKE_SCREENSHOT"
TRAINED = "Task_go-nogo_N_200_trained.mat"  # the shipped go-nogo model, under --models DIR/trained/


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    log = tmp_path_factory.mktemp("server") / "panel.log"
    env = {}
    if not os.environ.get(SCREENSHOT_ENV):
        env["RATE2SPIKE_ASSETS"] = str(synthetic_assets(tmp_path_factory.mktemp("assets"), N=60))
    extra = synthetic_assets(tmp_path_factory.mktemp("extra"), tasks=("xor",), N=30) / "models"
    (extra / "trained").mkdir()  # a model that converts, for the sweeps that must find a best λ
    shutil.copy(next(shipped_model_dir("go-nogo").glob("*.mat")), extra / "trained" / TRAINED)
    process = PanelServer(env=env, log_path=log, args=["--models", str(extra)])
    try:
        process.wait()
        yield process
    finally:
        process.stop()


@pytest.fixture(scope="module")
def session(browser, server):
    tab = Session(browser, server)
    yield tab
    tab.close()


def test_page_loads_without_errors_and_shows_every_view(session, server):
    page = session.page
    for name, view in VIEWS.items():
        if view.tab is not None:  # the trial views below the output are in tabs, drawn when shown
            page.get_by_text(view.tab, exact=True).click()
        session.wait_for(lambda: page.locator(f".view-{name} canvas").first.is_visible(), timeout=10,
                         what=f"view {name} drawn")
    page.get_by_text(VIEWS["voltage"].tab, exact=True).click()
    session.wait_for(lambda: len(session.column("voltage-lines", "xs") or []) == 2, timeout=10, what="voltages")
    page.get_by_text(VIEWS["raster"].tab, exact=True).click()
    for key in (key for key, view in VIEWS.items() if view.help is not None):  # the rates' covers decay too
        assert len(page.locator(f".help-{key} p").first.inner_text().strip()) > 80, f"no help line under {key}"
    options = page.locator(".model-select select option").all_inner_texts()
    assert any(o.startswith("models/xor/") for o in options), options  # from `--args --models DIR`
    # the diagnostic gets its data with the trial that carries the rate network's response, which may
    # still have been on its way when its tab was shown above; a tab's figures are drawn while it is open
    page.get_by_text(VIEWS["diagnostic"].tab, exact=True).click()
    session.wait_for(lambda: len(session.column("diagnostic-exc", "rate") or []) > 0, timeout=30,
                     what="the diagnostic's data")
    page.get_by_text(VIEWS["raster"].tab, exact=True).click()
    session.wait_for(lambda: len(session.column("raster-exc", "time") or []) > 0, timeout=30, what="the raster")
    assert len(session.column("voltage-lines", "xs")) == 2
    assert sum(session.column("rates-exc", "top")) + sum(session.column("rates-inh", "top")) > 0
    titles = page.evaluate(TITLES_JS)
    # every trial figure says what it shows: model, condition, lambda and seed
    output = r"Output, (Go|NoGo) trial, λ = [\d.]+, seed 0\n(correct|incorrect) .*\nTask_go-nogo_N_\d+_\S+\.mat$"
    assert any(re.match(output, t) for t in titles), titles
    assert any(re.match(r"Spike raster, (Go|NoGo) trial, λ = [\d.]+, seed 0\n.*\nTask_go-nogo_N_", t) for t in titles)
    # the fix for Bokeh's stylesheet rewrites is in place (explorer/internals.py; fails if Bokeh changed)
    assert page.evaluate(f"window.{INSTALLED_FLAG}") is True
    time.sleep(0.5)  # late console messages
    assert session.errors == []
    assert server_problems(server.log()) == []


def test_moving_the_lambda_slider_changes_the_output_plot(session):
    before_output = session.signature("output-lif", "output")
    before_label = session.lambda_shown()
    released = session.drag_lambda(35)
    session.wait_for_change("output-lif", "output", before_output)
    latency = time.monotonic() - released
    print(f"\nslider release -> new output in the browser: {latency * 1e3:.0f} ms", file=sys.stderr)
    assert session.lambda_shown() != before_label
    assert latency < 5.0  # not frozen; the report quotes the measured figure for the 200-unit model
    assert session.errors == []


def test_on_a_1280x720_screen_the_page_scrolls_over_a_figure_and_lambda_reads_the_same_everywhere(browser, server):
    """A wheel over a figure scrolls the page (no figure takes it until its wheel zoom is chosen); the
    slider spans the model's search (no search stored: the reference's 20-75 and half its span each
    side); after a drag the number box shows the slider's λ; a λ typed past the slider widens it."""
    tab = Session(browser, server, viewport=(1280, 720))
    try:
        handle = tab.page.locator(".lambda-slider .noUi-handle")
        assert (float(handle.get_attribute("aria-valuemin")), float(handle.get_attribute("aria-valuemax"))) == \
            (0.5, 102.5)
        before = tab.signature("output-lif", "output")
        tab.drag_lambda_inward(37)
        tab.wait_for_change("output-lif", "output", before)
        slider = tab.lambda_shown().rsplit(":", 1)[-1].strip()
        tab.wait_for(lambda: tab.page.locator(".lambda-number input").input_value() != "", timeout=5, what="the box")
        number = tab.page.locator(".lambda-number input").input_value()
        assert float(number) == float(slider) and float(number) * 2 == round(float(number) * 2), (number, slider)
        time_axis = tab.page.evaluate(FIGURE_X_RANGE_JS, "view-output")
        figure = tab.page.locator(".view-output canvas").first
        figure.scroll_into_view_if_needed()
        box = figure.bounding_box()
        tab.page.mouse.move(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)  # over the data
        scrolled = tab.page.evaluate(SCROLLED_JS)
        tab.page.mouse.wheel(0, 400)
        tab.wait_for(lambda: tab.page.evaluate(SCROLLED_JS) > scrolled, timeout=5, what="the page to scroll")
        assert tab.page.evaluate(FIGURE_X_RANGE_JS, "view-output") == time_axis  # not zoomed
        before = tab.signature("output-lif", "output")
        tab.set_number("lambda-number", 400)
        tab.wait_for_change("output-lif", "output", before)
        tab.wait_for(lambda: float(handle.get_attribute("aria-valuemax")) >= 400, timeout=5, what="a wider slider")
        assert tab.errors == []
    finally:
        tab.close()


def choose_model(session: Session, ending: str) -> None:
    """Pick a model in the sidebar's selector by the end of its label, and wait for its first trial."""
    select = session.page.locator(".model-select select")
    label = next(o for o in select.locator("option").all_inner_texts() if o.endswith(ending))
    select.select_option(label)
    session.wait_for(lambda: any(ending in t.replace("\u200b", "") for t in session.page.evaluate(TITLES_JS)),
                     timeout=30, what=f"the model {ending}")


def test_a_short_sweep_completes_and_draws_the_curve(session):
    choose_model(session, TRAINED)  # a model that converts: the sweep has a best λ to draw
    session.set_number("sweep-step", 20)  # lambda 20, 40, 60
    session.set_number("sweep-trials", 20)
    time.sleep(0.3)
    session.page.locator(".sweep-race input").check()  # race, and (by default) extend while the band reaches an edge
    session.page.locator(".sweep-run button").click()
    session.wait_for(lambda: "Sweep finished" in session.status(), timeout=90, what="the sweep to finish")
    # the finished curve: its best lambda is drawn with the last update (the status may arrive first)
    session.wait_for(lambda: len(session.column("performance-best", "accuracy") or []) == 1, timeout=10,
                     what="the finished curve")
    lambdas = session.column("performance-sweep", "scaling_factor")
    assert {20, 40, 60} <= set(lambdas)
    best = session.column("performance-best", "scaling_factor")[0]
    extended = "added lambda" in session.status()
    assert extended == (len(lambdas) > 3)  # a band reaching an edge grows the grid, and the page says so
    assert best in session.column("performance-lambda_band", "scaling_factor")  # the band drawn around it
    verdict = shown_text(session, "page-verdict")  # the verdict, first line of the results
    assert verdict.startswith(("Converted: λ = ", "Below goal: the best λ")), verdict
    assert len(session.column("performance-fidelity", "correlation")) == len(lambdas)
    assert re.search(r"(\d+) / \1 trials", session.status())
    # each condition has one colour: on the accuracy curve and in the margins beside it
    session.wait_for(lambda: len(session.values("margins-points", "color") or []) > 0, timeout=10, what="margins")
    curve = dict(zip(session.values("performance-groups", "label"), session.values("performance-groups", "color")))
    margins = dict(zip(session.values("margins-points", "group"), session.values("margins-points", "color")))
    assert curve == margins and len(set(curve.values())) == 2, (curve, margins)
    # another model, then this one again: its sweep is still there
    choose_model(session, "Task_xor_N_30_Taus_4.0_20.0_Act_sigmoid_2019_01_01_000000.mat")
    session.wait_for(lambda: (session.column("performance-sweep", "scaling_factor") or []) == [], timeout=10,
                     what="the other model's empty curve")
    choose_model(session, TRAINED)
    session.wait_for(lambda: session.column("performance-sweep", "scaling_factor") == lambdas, timeout=10,
                     what="the sweep kept for its model")
    assert "Sweep finished" in session.status()
    assert session.errors == []
    target = os.environ.get(SCREENSHOT_ENV)
    if target:
        write_screenshot(session, Path(target) if Path(target).is_absolute() else REPO / target)


def write_screenshot(session: Session, target: Path) -> None:
    """The README's picture: a Go trial of the first model, after one sweep."""
    target.parent.mkdir(parents=True, exist_ok=True)
    before = session.signature("output-lif", "output")
    session.page.locator(".factor-trial select").select_option("Go")
    session.wait_for_change("output-lif", "output", before)
    session.page.evaluate("() => { for (const id of ['sidebar', 'main']) { const el = document.getElementById(id); "
                          "if (el) el.scrollTop = 0; } }")
    session.page.set_viewport_size({"width": 1280, "height": 720})  # the projector's screen, as Present mode's
    time.sleep(1.0)
    session.page.screenshot(path=str(target), type="png")
    session.page.set_viewport_size({"width": 1280, "height": 800})
    assert target.stat().st_size < 400_000


def test_two_sessions_are_separate_and_a_sweep_does_not_freeze_the_other(browser, server):
    first, second = Session(browser, server), Session(browser, server)
    try:
        first.set_number("sweep-step", 1)  # 56 values of lambda x 40 trials: long enough to overlap
        first.set_number("sweep-trials", 40)
        time.sleep(0.3)
        first.page.locator(".sweep-run button").click()
        first.wait_for(lambda: "Sweep running" in first.status(), timeout=20, what="the sweep to start")
        label_first = first.lambda_shown()
        before = second.signature("output-lif", "output")
        released = second.drag_lambda(-30)
        second.wait_for_change("output-lif", "output", before)
        print(f"\nnew trial while another session sweeps: {(time.monotonic() - released) * 1e3:.0f} ms",
              file=sys.stderr)
        assert first.lambda_shown() == label_first  # the other session's slider did not move
        assert "No sweep yet" in second.status()
        first.page.locator(".sweep-cancel button").click()
        first.wait_for(lambda: "Sweep cancelled" in first.status(), timeout=20, what="the cancel")
        assert first.errors == [] and second.errors == []
    finally:
        first.close()
        second.close()


def test_one_users_slider_sends_nothing_to_another_users_page(browser, server):
    """A lecture: many pages on one server. Moving lambda in one page must not touch the others
    (Panel's busy indicator follows one server-wide busy state; it used to spin and cost a message
    in every open page on every move)."""
    first, second = Session(browser, server), Session(browser, server)
    try:
        def quiet(page) -> bool:  # no message for a second (a page's own start-up messages are over)
            page.evaluate("window.__messages = []")
            time.sleep(1.0)
            return page.evaluate("window.__messages") == []

        second.wait_for(lambda: quiet(second.page) and quiet(first.page), timeout=30, what="both pages to settle")
        second.page.evaluate("window.__messages = []")
        for pixels in (30, -30, 30):
            before = first.signature("output-lif", "output")
            first.drag_lambda(pixels)
            first.wait_for_change("output-lif", "output", before)
        time.sleep(0.5)
        assert second.page.evaluate("window.__messages") == []
        assert first.errors == [] and second.errors == []
    finally:
        first.close()
        second.close()


def test_a_lambda_release_reaches_the_page_in_two_updates(session):
    """Releasing the λ slider (or choosing a condition): what the release changes at once (the λ number
    box) in one message, and the new trial, simulated off the server's event loop, with the page's link in
    a second (Panel would send each widget and figure on its own, after waiting 50 ms for more changes;
    the browser then lays out and paints once per message)."""
    session.wait_for(lambda: session.page.evaluate("window.__messages = []; true") and time.sleep(1.0) is None
                     and session.page.evaluate("window.__messages") == [], timeout=30, what="the page to settle")
    before = session.signature("output-lif", "output")
    session.page.evaluate("window.__messages = []; window.__released = null")
    session.drag_lambda_inward(40)
    session.wait_for_change("output-lif", "output", before)
    time.sleep(1.0)  # anything the change sends after the trial has arrived by now
    released = session.page.evaluate("window.__released")
    patches = [t for t, _size, kind in session.page.evaluate("window.__messages") if kind == "PATCH-DOC" and t >= released]
    shown = session.lambda_shown().split(":")[-1].strip()
    assert len(patches) <= 2, f"{len(patches)} PATCH-DOC messages for one λ release"
    assert session.page.locator(".lambda-number input").input_value() == shown
    assert f"lambda={shown}" in session.page.url
    # so does choosing a condition
    select = session.page.locator(".factor-trial select")
    choice = "NoGo" if select.input_value() == "Go" else "Go"
    session.page.evaluate("window.__messages = []")
    before = session.signature("output-lif", "output")
    started = session.page.evaluate("performance.now()")
    select.select_option(choice)
    session.wait_for_change("output-lif", "output", before)
    time.sleep(1.0)
    patches = [t for t, _size, kind in session.page.evaluate("window.__messages") if kind == "PATCH-DOC" and t >= started]
    assert len(patches) <= 2, f"{len(patches)} PATCH-DOC messages for one choice of condition"
    assert f"{choice} trial, λ = {shown}" in " ".join(session.page.evaluate(TITLES_JS))
    assert session.errors == []


def test_models_picked_from_disk_load_and_a_corrupt_one_is_refused(browser, server, tmp_path):
    import scipy.io

    from conftest import model_variables
    from rate2spike.model import load_model

    files = {}
    for style, n in (("tf", 30), ("torch", 35)):
        files[style] = tmp_path / f"Task_go-nogo_N_{n}_{style}_style.mat"
        scipy.io.savemat(files[style], model_variables(N=n, style=style, seed=4))
    corrupt = tmp_path / "Task_go-nogo_N_20_corrupt.mat"
    corrupt.write_bytes(files["tf"].read_bytes()[:300])
    tab = Session(browser, server)
    try:
        assert not tab.page.locator(".sweep-save").first.is_visible()  # shipped models are never written
        for style, n in (("tf", 30), ("torch", 35)):
            pick_file(tab, files[style])
            tab.wait_for(lambda: f"N = {n} units" in shown_text(tab, "model-summary"), timeout=60,
                         what=f"the {style}-style upload")
        # the PyTorch-style file's note says how it was read (its own update: it may follow the summary's)
        tab.wait_for(lambda: "relu" in shown_text(tab, "page-notes"), timeout=10, what="the note on relu")
        pick_file(tab, corrupt)
        tab.wait_for(lambda: "Upload rejected; the previous model stays." in shown_text(tab, "page-error"), timeout=30,
                     what="the corrupt upload's error")
        assert "corrupt.mat" in shown_text(tab, "page-error") and "N = 35 units" in shown_text(tab, "model-summary")
        # the refused file is not also marked "Upload complete": the box is empty again
        # (the box's item leaves with an animation: its entry may outlast its text for a moment)
        tab.wait_for(lambda: tab.page.locator(".model-upload").get_by_text("Upload complete").count() == 0
                     and tab.page.locator(".model-upload .filepond--item").count() == 0,
                     timeout=10, what="the refused file to leave the upload box")
        # a short sweep on the upload (on the grid as given), then the model file goes home with its results
        tab.set_number("sweep-step", 20)
        tab.set_number("sweep-trials", 2)
        tab.page.locator(".sweep-extend input").uncheck()
        time.sleep(0.3)
        tab.page.locator(".sweep-run button").click()
        tab.wait_for(lambda: "Sweep finished" in tab.status(), timeout=60, what="the sweep to finish")
        with tab.page.expect_download() as download:
            tab.page.locator(".download-model button, .download-model a").first.click()
        target = tmp_path / "home" / download.value.suggested_filename
        target.parent.mkdir()
        download.value.save_as(str(target))
        assert target.name == files["torch"].name
        home = load_model(target)
        assert home.N == 35 and list(home.scaling_factors) == [20.0, 40.0, 60.0]
        # an untrained model on 2 trials: no λ converts it, so the file carries the verdict, not an optimum
        assert home.all_perfs.shape == (3,) and home.opt_scaling_factor is None
        assert home.search_verdict.startswith("failed: No λ converts this model")
        # the margin view shows every trial of the finished sweep; the file card says how the file was read
        tab.wait_for(lambda: len(tab.column("margins-points", "value") or []) == 6, timeout=10, what="the margins")
        tab.page.locator(".file-card").first.click()
        tab.wait_for(lambda: "PyTorch-era" in shown_text(tab, "file-facts") or "PyTorch-era" in
                     " ".join(tab.page.locator(".file-facts td").all_inner_texts()), timeout=10, what="the file card")
        assert tab.errors == []
    finally:
        tab.close()


PRESENT_FONTS_JS = """() => {
  const sizes = [];
  for (const doc of window.Bokeh.documents) for (const model of doc.all_models) {
    const inside = (fig) => fig && (fig.css_classes || []).some((c) => c.startsWith("view-present-"));
    if (model.type === "Figure" && inside(model)) {
      sizes.push(["title", model.title.text_font_size]);
      for (const axis of [...model.below, ...model.left]) if (axis.axis_label_text_font_size)
        sizes.push(["axis", axis.axis_label_text_font_size], ["ticks", axis.major_label_text_font_size]);
      for (const item of [...model.below, ...model.center, ...model.above])
        if (item.type === "Legend") sizes.push(["legend", item.label_text_font_size]);
    }
  }
  return sizes;
}"""


def test_present_mode_fits_lambda_output_and_accuracy_on_a_projector(browser, server):
    """At 1280 x 720 the λ control, the output and the accuracy curve are on screen at once, with
    text of at least 14 px; toggling back shows every view again."""
    tab = Session(browser, server, viewport=(1280, 720))
    try:
        tab.page.locator(".present-toggle button").click()
        tab.wait_for(lambda: tab.page.locator(".view-present-output canvas").first.is_visible(), what="Present mode")
        time.sleep(0.5)  # layout settles
        for css in (".present-lambda", ".present-lambda-number input", ".view-present-output canvas",
                    ".view-present-performance canvas"):
            box = tab.page.locator(css).first.bounding_box()
            assert box is not None, css
            assert box["x"] >= 0 and box["y"] >= 0 and box["x"] + box["width"] <= 1280, (css, box)
            assert box["y"] + box["height"] <= 720, (css, box)
        assert not tab.page.locator(".help-output").first.is_visible()  # help lines hidden
        sizes = tab.page.evaluate(PRESENT_FONTS_JS)
        assert {kind for kind, _ in sizes} == {"title", "axis", "ticks", "legend"}, sizes
        assert all(float(size.rstrip("px")) >= 14 for _, size in sizes), sizes
        before = tab.signature("present-output-lif", "output")
        number = tab.page.locator(".present-lambda-number input")
        number.fill("33")
        number.press("Enter")
        tab.wait_for_change("present-output-lif", "output", before)
        assert "λ = 33" in " ".join(tab.page.evaluate(TITLES_JS))
        # a preset is one click: a model that converts, searched with a short sweep
        tab.page.locator(".present-toggle button").click()
        tab.wait_for(lambda: tab.page.locator(".view-raster canvas").first.is_visible(), what="all views again")
        choose_model(tab, TRAINED)
        tab.set_number("sweep-step", 20)
        tab.set_number("sweep-trials", 20)
        time.sleep(0.3)
        tab.page.locator(".sweep-run button").click()
        tab.wait_for(lambda: "Sweep finished" in tab.status(), timeout=60, what="the sweep to finish")
        tab.page.locator(".present-toggle button").click()
        preset = tab.page.locator(".preset-recommended button, .preset-at button")  # recommended, else the optimum
        tab.wait_for(lambda: preset.count() == 1 and preset.is_visible(), what="the presets")
        preset.click()
        tab.wait_for(lambda: "λ = " in shown_text(tab, "preset-note"), what="the preset's note")
        good = re.search(r"λ = ([\d.]+)", shown_text(tab, "preset-note")).group(1)
        tab.wait_for(lambda: f"λ = {good}, seed" in " ".join(tab.page.evaluate(TITLES_JS)), what="the preset's λ")
        tab.page.locator(".present-toggle button").click()
        tab.wait_for(lambda: tab.page.locator(".view-raster canvas").first.is_visible(), what="all views again")
        # λ side by side: three columns of output and raster, the same trial at three λ
        tab.page.locator(".side-toggle button").click()  # opens Present mode: the columns need the width
        field = tab.page.locator(".side-lambdas input")
        field.fill("10, 30, 90")
        field.press("Enter")
        tab.page.locator(".side-show button").click()
        tab.wait_for(lambda: all(len(tab.column(f"side{k}-output-lif", "output") or []) > 0 for k in range(3)),
                     what="three side-by-side outputs")
        titles = " ".join(tab.page.evaluate(TITLES_JS))
        seed = re.search(r"λ = 10, seed (\d+)", titles).group(1)  # the preset's seed: the trial on screen
        for lam in (10, 30, 90):
            assert f"λ = {lam}, seed {seed}" in titles
        assert tab.errors == []
    finally:
        tab.close()


def trial_titles(tab: Session, prefix: str = "") -> list[str]:
    """The titles of the figures that show the trial on screen (with a λ and a seed)."""
    return [t for t in tab.page.evaluate(TITLES_JS) if re.search(r"trial, λ = [\d.]+, seed", t)]


def test_a_lecture_in_present_mode_at_1280x720(browser, server):
    """Present mode as a lecturer uses it at 1280 x 720, from a link a colleague sent: the sidebar
    collapsed and every control of the lecture in Present mode, all text at least 14 px, tooltips on
    screen and off the buttons, "Copy link" confirming; stimulation from a preset seen in the output's
    band, every title and a status that follows λ, and off in one click; λ side by side with progress,
    three whole columns on screen."""
    first = Session(browser, server, viewport=(1280, 720))
    try:
        choose_model(first, TRAINED)  # its file holds a grid search: the presets need no sweep
        first.page.locator(".present-toggle button").click()
        href = lambda: first.page.evaluate("() => window.location.href")  # noqa: E731 (page.url lags pushState)
        first.wait_for(lambda: "present=1" in href(), timeout=15, what="the link to say Present mode")
        link = href()
    finally:
        first.close()
    tab = Session(browser, server, viewport=(1280, 720), url=link, ready="present-output-lif")
    page = tab.page
    try:
        tab.wait_for(lambda: page.locator(".view-present-output canvas").first.is_visible(), what="Present mode")
        preset_buttons = page.locator(".presets button")
        tab.wait_for(lambda: preset_buttons.count() >= 3, timeout=60, what="the presets")
        time.sleep(0.5)  # layout settles
        assert not page.locator("#sidebar").is_visible()  # collapsed: no second λ slider beside Present mode's
        assert not page.locator(".lambda-slider").first.is_visible()
        for css in (".present-lambda", ".present-lambda-number input", ".present-factor-trial select",
                    ".present-fix-range input", ".side-toggle button", ".presets button",
                    ".view-present-output canvas", ".view-present-performance canvas"):
            box = page.locator(css).first.bounding_box()
            assert box is not None and inside((box["x"], box["y"], box["width"], box["height"]), 1280, 720), (css, box)
        sizes = page.evaluate(SHOWN_TEXT_SIZES_JS)
        shown = " ".join(text for _tag, text, _size in sizes)
        for text in ("Present", "Copy link", "Trial type", "Fix the y-range", "Side by side", "λ too small"):
            assert text in shown, text
        assert [entry for entry in sizes if entry[2] < 14] == []
        canvas = page.evaluate(PRESENT_FONTS_JS)
        assert canvas and all(float(size.rstrip("px")) >= 14 for _, size in canvas), canvas

        # each preset's tooltip: on screen, at least 14 px, over no other button
        boxes = [(b["x"], b["y"], b["width"], b["height"]) for b in
                 (button.bounding_box() for button in preset_buttons.all())]
        for k, button in enumerate(preset_buttons.all()):
            button.hover()
            tab.wait_for(lambda: page.evaluate(TOOLTIPS_JS) != [], timeout=5, what=f"tooltip {k}")
            for *box, size in page.evaluate(TOOLTIPS_JS):
                assert inside(box, 1280, 720) and size >= 14, (k, box, size)
                assert not any(overlaps(box, other) for j, other in enumerate(boxes) if j != k), (k, box)
            page.mouse.move(1270, 700)
            tab.wait_for(lambda: page.evaluate(TOOLTIPS_JS) == [], timeout=5, what="the tooltip to go")

        # Copy link: the link (with Present mode) is on the clipboard, and the page says so
        tab.context.grant_permissions(["clipboard-read", "clipboard-write"])
        page.locator(".copy-link button").click()
        tab.wait_for(lambda: "Link copied" in shown_text(tab, "copy-note"), timeout=5, what="Link copied")
        copied = page.evaluate("() => navigator.clipboard.readText()")
        assert "present=1" in copied and "model=" in copied, copied

        # stimulation from a preset: the band, every trial title, and the status at the current λ
        page.locator(".preset-inhibit button").click()
        tab.wait_for(lambda: "Stimulation on:" in shown_text(tab, "present-stimulation-status"), timeout=30,
                     what="the stimulation status")
        status = shown_text(tab, "present-stimulation-status")
        lam = re.search(r"at λ = ([\d.]+)", status).group(1)
        assert f"λ = {lam}, seed" in " ".join(trial_titles(tab))
        assert tab.column("present-output-stimulation", "start") != []
        assert all("Stimulat" in title for title in trial_titles(tab)), trial_titles(tab)
        before = tab.signature("present-output-lif", "output")
        number = page.locator(".present-lambda-number input")
        number.fill("35")
        number.press("Enter")
        tab.wait_for_change("present-output-lif", "output", before)
        tab.wait_for(lambda: "at λ = 35" in shown_text(tab, "present-stimulation-status"), timeout=10,
                     what="the status to follow λ")
        assert f"λ = {lam}" not in shown_text(tab, "preset-note")  # the preset's note no longer claims its λ
        assert all("Stimulat" in title for title in trial_titles(tab)) and "λ = 35, seed" in " ".join(trial_titles(tab))
        page.locator(".present-stimulation-off button").click()  # one click turns it off
        tab.wait_for(lambda: tab.column("present-output-stimulation", "start") == [], timeout=30,
                     what="the stimulation to stop")
        tab.wait_for(lambda: not page.locator(".present-stimulation").first.is_visible(), timeout=10,
                     what="the status to go")
        assert not any("Stimulat" in title for title in trial_titles(tab)), trial_titles(tab)
        write_present_screenshot(tab)

        # λ side by side: progress while it computes, then three whole columns on the screen
        page.locator(".side-toggle button").click()
        field = page.locator(".side-lambdas input")
        field.fill("10, 30, 90")
        field.press("Enter")
        page.locator(".side-show button").click()
        tab.wait_for(lambda: "Simulating the trial at λ = 10, 30, 90" in shown_text(tab, "side-busy")
                     and page.locator(".side-progress").first.is_visible(), timeout=5, what="the progress")
        tab.wait_for(lambda: all(len(tab.column(f"side{k}-output-lif", "output") or []) > 0 for k in range(3)),
                     timeout=60, what="three side-by-side outputs")
        tab.wait_for(lambda: shown_text(tab, "side-busy") == "", timeout=10, what="the progress to end")
        time.sleep(0.5)
        for k, lam in enumerate((10, 30, 90)):
            box = page.locator(f".view-side{k}-output").first.bounding_box()
            assert inside((box["x"], box["y"], box["width"], box["height"]), 1280, 720), (k, box)
            assert box["width"] > 350, box  # a third of the screen, not a sliver
            layout = page.evaluate(FIGURE_LAYOUT_JS, f"view-side{k}-output")
            assert f"λ = {lam}, seed" in layout["title_text"]
            assert layout["title_widest"] <= layout["title_room"], layout  # the whole title is drawn
            assert layout["legends"] and all(inside(legend, *layout["figure"][2:]) for legend in layout["legends"]), layout
        sizes = page.evaluate(SHOWN_TEXT_SIZES_JS)
        assert [entry for entry in sizes if entry[2] < 14] == []
        assert tab.errors == []
    finally:
        tab.close()


def write_present_screenshot(tab: Session) -> None:
    """docs/present.png (beside the README's picture) when the screenshots are asked for."""
    target = os.environ.get(SCREENSHOT_ENV)
    if target:
        path = (Path(target) if Path(target).is_absolute() else REPO / target).with_name("present.png")
        time.sleep(1.0)
        tab.page.screenshot(path=str(path), type="png")
        assert path.stat().st_size < 400_000


def test_a_link_restores_the_view_and_the_url_follows_the_page(browser, server):
    tab = Session(browser, server)
    try:
        href = lambda: tab.page.evaluate("() => window.location.href")  # noqa: E731
        tab.wait_for(lambda: "lambda=50" in href(), timeout=15, what="the URL to link the page once loaded")
        released = tab.drag_lambda(40)
        tab.wait_for(lambda: "lambda=" in href() and "lambda=50" not in href(), timeout=15,
                     what="the URL to follow λ")
        url = href()
        lam = re.search(r"lambda=([\d.]+)", url).group(1)
        assert released and "model=go-nogo" in url
    finally:
        tab.close()
    restored = Session(browser, server, url=url.replace("seed=0", "seed=3") + "&c_trial=Go")
    try:
        titles = " ".join(restored.page.evaluate(TITLES_JS))
        assert f"Go trial, λ = {lam}, seed 3" in titles, titles
        assert restored.errors == []
    finally:
        restored.close()
    bad = Session(browser, server, url=server.url + "?lambda=-4&model=nope")
    try:
        assert "lambda='-4' (must be 0.001 or more)" in shown_text(bad, "page-error")
    finally:
        bad.close()


def test_the_dashboard_latency_benchmark_times_slider_releases(browser, server):
    """`python -m benchmarks --dashboard` measures what it says: each change's total is its server part
    plus its browser part, in milliseconds of this run's clock, and the new trial reached the page
    (its figures are not asserted: speed is reported by the benchmark, not tested)."""
    from benchmarks.latency import measure_model

    probe = Session(browser, server)
    label = probe.page.locator(".model-select select option").first.inner_text()
    probe.close()
    started = time.monotonic()
    latency = measure_model(browser, server.url, "go-nogo", label, changes=2, settle_s=0.2)
    wall_ms = (time.monotonic() - started) * 1e3
    assert len(latency.total_ms) == len(latency.server_ms) == len(latency.browser_ms) == 2
    for total, server_part, browser_part in zip(latency.total_ms, latency.server_ms, latency.browser_ms):
        assert server_part + browser_part == pytest.approx(total)  # the table's two columns add up to the total
        assert 0 < server_part <= total and browser_part >= 0  # the data arrive after the release, before the redraw
    assert sum(latency.total_ms) < wall_ms  # milliseconds of this run, not another unit or clock
    assert all(n > 1000 for n in latency.sent_bytes)  # the new trial's data reached the page


def test_a_model_no_lambda_converts_reads_as_a_failed_conversion_first_and_is_diagnosed(browser, server, tmp_path):
    """A model with Dale's signs flipped for a quarter of its units: picked from disk, swept, the page says
    first that no λ converts it and why, and its Diagnosis names the cause. (The readout x5 variant of the
    go-nogo model shipped since issue 24 is below goal, not failed: tests/test_diagnose.py.)"""
    from planted import plant

    path = plant(next(shipped_model_dir("go-nogo").glob("*.mat")), tmp_path / "Task_go-nogo_dale_flipped.mat",
                 "dale flipped")
    tab = Session(browser, server)
    try:
        pick_file(tab, path)
        tab.wait_for(lambda: path.name in shown_text(tab, "model-summary"), timeout=60, what="the upload")
        tab.set_number("sweep-step", 20)
        tab.set_number("sweep-trials", 40)
        time.sleep(0.3)
        tab.page.locator(".sweep-run button").click()
        tab.wait_for(lambda: "Sweep finished" in tab.status(), timeout=90, what="the sweep to finish")
        tab.wait_for(lambda: shown_text(tab, "page-verdict") != "", timeout=10, what="the verdict")
        verdict = shown_text(tab, "page-verdict")
        assert verdict.startswith("No λ converts this model: none does significantly better than always giving "
                                  "the commonest answer"), verdict
        assert any("no λ converts this model" in t for t in tab.page.evaluate(TITLES_JS))
        assert tab.column("performance-best", "accuracy") == []  # no "best λ" star on a failed conversion
        # the Diagnosis card runs by itself after a failed sweep; its first finding names the cause
        tab.wait_for(lambda: shown_text(tab, "finding-1").startswith("1. Dale's principle is broken"), timeout=90,
                     what="the diagnosis")
        link = tab.page.locator(".finding-link-file button")
        assert link.count() >= 1 and link.first.is_visible()
        assert tab.errors == []
    finally:
        tab.close()


def test_the_export_menu_downloads_the_network_on_screen(browser, server, tmp_path):
    """The Export card as a user works it: pick a target, Prepare export, download. The file is the
    model and λ on screen; another target withdraws the download (it would no longer be what the
    menu says)."""
    tab = Session(browser, server)
    try:
        page = tab.page
        title = next(t for t in page.evaluate(TITLES_JS) if t.startswith("Output, "))
        lam = re.search(r"λ = ([\d.]+),", title).group(1)
        model_file = title.splitlines()[-1]
        page.get_by_text("Export", exact=True).first.click()  # the card's header: it opens
        page.locator(".export-target select").select_option(label="Brian2 script")
        page.locator(".export-prepare button").click()
        tab.wait_for(lambda: "python " in shown_text(tab, "export-status"), timeout=120, what="the export")
        with page.expect_download() as download:
            page.locator(".export-download button, .export-download a").first.click()
        target = tmp_path / download.value.suggested_filename
        download.value.save_as(str(target))
        assert target.name == f"{Path(model_file).stem}_lambda{lam}_brian2.py"
        script = target.read_text()
        assert f"{model_file} at lambda = {lam}" in script
        compile(script, target.name, "exec")  # a Python script, whole
        page.locator(".export-target select").select_option(label="NEST script")
        tab.wait_for(lambda: page.locator(".export-download button").first.is_disabled()
                     and shown_text(tab, "export-status") == "", timeout=10, what="the download to be withdrawn")
        assert tab.errors == [] and tab.dialogs == []
    finally:
        tab.close()

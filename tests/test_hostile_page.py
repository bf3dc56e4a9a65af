"""The served page under hostile input, in headless Chromium: links, files, file and folder names
that carry script or Markdown; uploads that would freeze every session; sweeps that outlive their
page. Each payload below sets ``window.__pwned`` or opens a dialog if it ever runs.
"""

from __future__ import annotations

import io
import sys
import time
import urllib.parse
from pathlib import Path

import pytest
import scipy.io

from browser_support import (SHOWN_TEXT_JS, TITLES_JS, PanelServer, Session, browser, pick_file, server_problems,  # noqa: F401
                             shown_text)
from conftest import model_variables, synthetic_assets, write_model
from rate2spike.model import save_grid_search

pytestmark = [pytest.mark.browser, pytest.mark.faults]

SCRIPT = "<script>window.__pwned=1;alert(document.domain)//</script>"
IMAGE = '<img src=x onerror="window.__pwned=2;alert(2)">'
MARKDOWN = "[text](https://example.invalid)"
FOLDER_NAME = "<img src=x onerror=window.__pwned=4>"
FILE_NAME = f"{IMAGE} $$x^2$$.mat"
BAD_ACTIVATION = "<script>window.__pwned=3</script>"

# Elements that only markup from outside could have put into a pane.
MARKUP_JS = """(host) => (host.shadowRoot || host).querySelectorAll("script, img, a, iframe, svg").length"""


class Watched(Session):
    """A tab that can say whether a payload's script ran (dialogs are recorded by every Session)."""

    def assert_no_script_ran(self) -> None:
        assert self.dialogs == [], self.dialogs
        assert self.page.evaluate("window.__pwned") is None
        assert self.page.locator("img[src='x']").count() == 0  # no element made from a payload, in any pane

    def markup_in(self, css_class: str) -> int:
        return self.page.locator(f".{css_class}").first.evaluate(MARKUP_JS)


@pytest.fixture(scope="module")
def hostile_server(tmp_path_factory):
    """A server whose model folder, file names and file fields carry payloads."""
    root = tmp_path_factory.mktemp("hostile")
    folder = root / FOLDER_NAME
    for name in (FILE_NAME, "second.mat"):
        path = write_model(folder / name, N=30, seed=len(name))
        save_grid_search(path, [20, 30, 40], [0.5, 0.8, 0.6], 30)
    variables = model_variables(N=30)
    variables["activation"] = BAD_ACTIVATION
    scipy.io.savemat(folder / "bad_activation.mat", variables)
    server = PanelServer(env={"RATE2SPIKE_ASSETS": str(synthetic_assets(root / "assets", N=40))},
                         log_path=root / "panel.log", args=["--models", str(folder)])
    server.folder = folder
    try:
        server.wait()
        yield server
    finally:
        server.stop()
    assert server_problems(server.log()) == []


def test_values_of_a_link_are_shown_as_text_and_never_run(browser, hostile_server):
    links = [  # (the link's values, what its error must show literally)
        ({"lambda": SCRIPT, "seed": IMAGE, "model": IMAGE, f"c_{SCRIPT}": "x"}, [SCRIPT, IMAGE, f"c_{SCRIPT}"]),
        ({"stim": "exc", "stim_units": IMAGE, "stim_window": "0.1:0.2"}, ["cannot read '<img'"]),
        ({"lambda": MARKDOWN}, [MARKDOWN]),
    ]
    for query, shown in links:
        tab = Watched(browser, hostile_server, url=hostile_server.url + "?" + urllib.parse.urlencode(query))
        try:
            # literally, as typed into the link (the error may be drawn before the page has read all of it)
            tab.wait_for(lambda: all(value in shown_text(tab, "page-error") for value in shown), timeout=30,
                         what=lambda: f"the link's error to show {shown}; it shows {shown_text(tab, 'page-error')!r}")
            assert tab.markup_in("page-error") == 0
            tab.assert_no_script_ran()
        finally:
            tab.close()


def test_file_names_fields_and_folder_names_are_shown_as_text(browser, hostile_server, tmp_path):
    tab = Watched(browser, hostile_server)
    try:
        select = tab.page.locator(".model-select select")
        labels = select.locator("option").all_inner_texts()
        hostile = next(label for label in labels if label.endswith(FILE_NAME))
        assert hostile == f"{FOLDER_NAME}/{FILE_NAME}"  # the option shows the names as they are
        before = tab.signature("output-lif", "output")
        select.select_option(hostile)
        tab.wait_for_change("output-lif", "output", before, timeout=30)
        tab.wait_for(lambda: FILE_NAME in shown_text(tab, "model-summary"), timeout=20, what="the model's name")
        titles = [title for title in tab.page.evaluate(TITLES_JS) if FILE_NAME in title.replace("\u200b", "")]
        assert titles and not any("$$" in title for title in titles)  # drawn as text, not as TeX
        # a field that carries script: refused, and the refusal quotes it as text
        select.select_option(next(label for label in labels if label.endswith("bad_activation.mat")))
        tab.wait_for(lambda: BAD_ACTIVATION in shown_text(tab, "page-error"), timeout=20, what="the field's error")
        assert tab.markup_in("page-error") == 0
        # the same file and a hostile file name picked from disk and uploaded
        upload = tmp_path / f"{IMAGE}.mat"
        upload.write_bytes((hostile_server.folder / "bad_activation.mat").read_bytes())
        pick_file(tab, upload)
        tab.wait_for(lambda: "Upload rejected" in shown_text(tab, "page-error"), timeout=20, what="the upload's error")
        assert BAD_ACTIVATION in shown_text(tab, "page-error") and tab.markup_in("page-error") == 0
        # the Population card's title holds the folder's name
        title = tab.page.locator(".population-card .card-title").first
        title.scroll_into_view_if_needed()
        assert f"in {FOLDER_NAME}" in title.evaluate(SHOWN_TEXT_JS) and title.evaluate(MARKUP_JS) == 0
        tab.assert_no_script_ran()
        assert tab.errors == []
    finally:
        tab.close()


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def test_an_upload_declaring_eight_thousand_units_is_refused_at_once(browser, hostile_server, tmp_path):
    from test_server_bounds import huge_model_bytes

    path = tmp_path / "Task_go-nogo_N_8000.mat"
    path.write_bytes(huge_model_bytes(8000))
    tab = Watched(browser, hostile_server)
    try:
        baseline = rss_mb(hostile_server.process.pid)
        started = time.monotonic()
        pick_file(tab, path)
        tab.wait_for(lambda: "8000 units" in shown_text(tab, "page-error"), timeout=30, what="the refusal")
        elapsed = time.monotonic() - started
        growth = rss_mb(hostile_server.process.pid) - baseline
        print(f"\nN = 8000 upload refused after {elapsed:.1f} s; server memory +{growth:.0f} MB", file=sys.stderr)
        assert "this server simulates at most 1000" in shown_text(tab, "page-error")
        assert elapsed < 10 and growth < 300  # reading its w alone would take 512 MB
        assert "N = 40 units" in shown_text(tab, "model-summary")  # the previous model stays
    finally:
        tab.close()


@pytest.fixture(scope="module")
def roomy_server(tmp_path_factory):
    """A server that allows networks of 2000 units (whose trials take seconds) and one sweep at once."""
    root = tmp_path_factory.mktemp("roomy")
    server = PanelServer(env={"RATE2SPIKE_ASSETS": str(synthetic_assets(root / "assets", N=40))},
                         log_path=root / "panel.log",
                         args=["--max-units", "2000", "--max-trial-mb", "2500", "--max-sweeps", "1"])
    try:
        server.wait()
        yield server
    finally:
        server.stop()
    assert server_problems(server.log()) == []


def test_one_pages_long_trial_does_not_hold_up_another_page(browser, roomy_server, tmp_path):
    variables = model_variables(N=2000, n_inputs=4)  # a mante-shaped network: 2.5 s trials of 2000 units
    for optional in ("w0", "taus_gaus0"):
        variables.pop(optional)
    big = tmp_path / "Task_mante_N_2000.mat"
    buffer = io.BytesIO()
    scipy.io.savemat(buffer, variables, do_compression=True)
    big.write_bytes(buffer.getvalue())
    heavy, light = Watched(browser, roomy_server), Watched(browser, roomy_server)
    try:
        pick_file(heavy, big)
        heavy.wait_for(lambda: "N = 2000 units" in shown_text(heavy, "model-summary"), timeout=60, what="the upload")
        heavy.wait_for(lambda: any(big.name in title for title in heavy.page.evaluate(TITLES_JS)), timeout=60,
                       what="the first trial of 2000 units")
        heavy_before, light_before = heavy.signature("output-lif", "output"), light.signature("output-lif", "output")
        heavy.drag_lambda_inward(40)
        time.sleep(0.3)  # the heavy trial is being simulated now
        light.drag_lambda_inward(40)
        order = []
        deadline = time.monotonic() + 60
        while len(order) < 2 and time.monotonic() < deadline:
            for name, tab, before in (("heavy", heavy, heavy_before), ("light", light, light_before)):
                if name not in order and tab.signature("output-lif", "output") != before:
                    order.append(name)
            time.sleep(0.05)
        assert order == ["light", "heavy"], order  # the light page did not wait for the heavy trial
        heavy.assert_no_script_ran()
        assert heavy.errors == [] and light.errors == []
    finally:
        heavy.close()
        light.close()


def test_a_closed_pages_sweep_stops_and_gives_back_the_servers_sweep(browser, roomy_server):
    first, second = Watched(browser, roomy_server), Watched(browser, roomy_server)
    try:
        first.set_number("sweep-trials", 5000)
        time.sleep(0.3)
        first.page.locator(".sweep-run button").click()
        first.wait_for(lambda: "Sweep running" in first.status(), timeout=30, what="the long sweep to run")
        second.set_number("sweep-trials", 2)
        time.sleep(0.3)
        second.page.locator(".sweep-run button").click()
        second.wait_for(lambda: "Sweep waiting: 1st in line" in second.status(), timeout=10,
                        what="the second sweep waiting for the server's only sweep")
        first.close()
        closed = time.monotonic()
        # the closed page's sweep is dropped, so the waiting one starts (and, with 2 trials, soon ends)
        second.wait_for(lambda: "Sweep waiting" not in second.status(), timeout=30,
                        what="the closed page's sweep giving back the server's only sweep")
        print(f"\na closed page's sweep ended {time.monotonic() - closed:.1f} s after its page closed", file=sys.stderr)
        second.wait_for(lambda: "Sweep finished" in second.status(), timeout=60, what="the second sweep")
        assert second.errors == []
    finally:
        second.close()


# --- a decompression bomb and many sessions on one server -----------------------------------

def _rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def test_a_server_under_hostile_uploads_and_many_sessions(browser, tmp_path_factory):
    """A decompression bomb uploaded while another session moves λ; eight sessions moving λ;
    then SIGTERM: the server stays responsive, bounded in memory, quiet in its log, and leaves no
    upload folder behind."""
    from faults import bomb_file

    folder = tmp_path_factory.mktemp("faults")
    log = folder / "panel.log"
    server = PanelServer(env={"RATE2SPIKE_ASSETS": str(synthetic_assets(folder / "assets", N=60))}, log_path=log)
    uploads_before = set(Path("/tmp").glob("rate2spike-upload-*"))
    tabs = []
    try:
        server.wait()
        tabs = [Session(browser, server), Session(browser, server)]
        baseline = _rss_mb(server.process.pid)
        bomb = bomb_file(folder / "Task_go-nogo_N_30_bomb.mat", N=30)
        pick_file(tabs[0], bomb)
        before = tabs[1].signature("output-lif", "output")
        released = tabs[1].drag_lambda(30)
        tabs[1].wait_for_change("output-lif", "output", before, timeout=30)
        latency = time.monotonic() - released
        tabs[0].wait_for(lambda: "nothing was loaded" in shown_text(tabs[0], "page-error"), timeout=60,
                         what="the bomb's refusal")
        print(f"\nλ move in one session while another uploads a bomb: {latency * 1e3:.0f} ms", file=sys.stderr)
        assert latency < 5.0
        good = folder / "Task_go-nogo_N_25_good.mat"
        scipy.io.savemat(good, model_variables(N=25))
        pick_file(tabs[0], good)  # leaves a private upload folder on the server
        tabs[0].wait_for(lambda: "N = 25 units" in shown_text(tabs[0], "model-summary"), timeout=60,
                         what=lambda: f"the upload; the page shows {shown_text(tabs[0], 'page-error')!r} and "
                                      f"{shown_text(tabs[0], 'model-summary')!r}; the server's log ends "
                                      f"{server.log(tail=3000)!r}")
        tabs += [Session(browser, server) for _ in range(6)]
        for k, tab in enumerate(tabs):
            before = tab.signature("output-lif", "output")
            tab.drag_lambda(-20 if k % 2 else 25)
            tab.wait_for_change("output-lif", "output", before, timeout=30)
        growth = _rss_mb(server.process.pid) - baseline
        print(f"server memory growth with 8 sessions: {growth:.0f} MB", file=sys.stderr)
        assert growth < 600
        assert all(tab.errors == [] for tab in tabs)
        created = set(Path("/tmp").glob("rate2spike-upload-*")) - uploads_before
        assert created, "the upload was stored in a private folder"
        time.sleep(1.0)  # let the last updates reach the tabs before they close
    finally:
        for tab in tabs:
            tab.close()
        server.stop()  # SIGTERM
    assert server_problems(server.log()) == []
    assert not (set(Path("/tmp").glob("rate2spike-upload-*")) - uploads_before)  # removed at shutdown

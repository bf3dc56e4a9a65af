"""The teaching notebook in JupyterLab, in Chromium, with every request that leaves the machine
blocked (a lecture hall without internet): Run All renders the explorer and the figures, and a λ
set from code reaches the explorer in the cell."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time

import pytest

from browser_support import REPO, TITLES_JS, browser, free_port  # noqa: F401 - browser is the module's Chromium

pytestmark = pytest.mark.browser
NOTEBOOK = REPO / "examples" / "why_lambda.ipynb"


@pytest.fixture(scope="module")
def lab(tmp_path_factory):
    """JupyterLab on 127.0.0.1 (no token: the port is this machine's only), serving a copy of the lesson."""
    pytest.importorskip("jupyterlab", reason="JupyterLab is a test extra (pip install -e '.[test]')")
    folder = tmp_path_factory.mktemp("lab")
    shutil.copy(NOTEBOOK, folder / NOTEBOOK.name)
    port = free_port()
    log = open(folder / "lab.log", "wb")
    server = subprocess.Popen(
        [sys.executable, "-m", "jupyterlab", "--no-browser", "--ip=127.0.0.1", f"--port={port}", "--allow-root",
         "--IdentityProvider.token=", "--ServerApp.password=", f"--ServerApp.root_dir={folder}",
         f"--LabApp.workspaces_dir={folder / 'workspaces'}", "--LabApp.news_url=",
         "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate"],
        stdout=log, stderr=subprocess.STDOUT, start_new_session=True, cwd=folder,
        env={**os.environ, "JUPYTER_CONFIG_DIR": str(folder / "config")})
    try:
        deadline = time.monotonic() + 90
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                assert time.monotonic() < deadline and server.poll() is None, (folder / "lab.log").read_text()
                time.sleep(0.5)
        yield f"http://127.0.0.1:{port}", port
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(timeout=30)
        log.close()


def test_the_lesson_renders_offline_in_jupyterlab_and_follows_lambda_set_from_code(browser, lab):
    url, port = lab
    context = browser.new_context(viewport={"width": 1400, "height": 900})
    page = context.new_page()
    left = []  # requests for anything not on this machine: all refused, as without internet

    def offline(route):
        target = route.request.url
        if target.startswith((f"http://127.0.0.1:{port}", f"ws://127.0.0.1:{port}")):
            route.continue_()
        else:
            left.append(target)
            route.abort()

    page.route("**/*", offline)
    errors = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    try:
        page.goto(f"{url}/lab/tree/{NOTEBOOK.name}?reset", timeout=90_000)
        page.wait_for_function("() => document.body.innerText.includes('| Idle')", timeout=90_000)
        page.locator("li.lm-MenuBar-item", has_text="Run").click()
        page.locator(".lm-Menu-item[data-command='runmenu:run-all']").click()
        page.wait_for_function("() => document.querySelectorAll('.jp-InputPrompt').length > 0 && "
                               "![...document.querySelectorAll('.jp-InputPrompt')].some(p => p.innerText.includes('*'))"
                               " && document.body.innerText.includes('| Idle')", timeout=300_000)
        assert not page.locator(".jp-OutputArea-output[data-mime-type='application/vnd.jupyter.stderr']",
                                has_text="Traceback").count()
        page.wait_for_function("() => window.Bokeh && window.Bokeh.documents.length > 0", timeout=60_000)
        canvas = page.locator(".view-output canvas").first
        canvas.scroll_into_view_if_needed()
        assert canvas.is_visible()  # the explorer's output figure rendered, from scripts in the notebook
        # every script comes from the notebook; Panel still asks its CDN for a few stylesheets (widget
        # frills), which fail offline without stopping the page (docs/architecture.md, offline notebooks)
        # (and es-module-shims, which only browsers without import maps need: Chromium has them)
        scripts = [target for target in left if target.split("?")[0].endswith(".js") and "es-module-shims" not in target]
        assert not scripts, scripts
        if os.environ.get("RATE2SPIKE_LAB_SCREENSHOT"):
            page.screenshot(path=os.environ["RATE2SPIKE_LAB_SCREENSHOT"], full_page=False)
        # a λ set from code reaches the explorer in its cell
        page.locator(".jp-Cell").last.click()
        page.keyboard.press("Escape")
        page.keyboard.press("b")
        page.keyboard.type("ex.scaling_factor = 31")
        page.keyboard.press("Shift+Enter")
        page.wait_for_function(f"() => ({TITLES_JS})().some(t => t.includes('λ = 31,'))", timeout=60_000)
        assert errors == []
    finally:
        context.close()

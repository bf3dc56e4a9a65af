"""What a served dashboard bounds: the cost of a model, simulations off the event loop, uploads
refused at their first chunk, sweeps at once, and text from outside shown as text.

Without a server or a browser; tests/test_hostile_page.py drives the same through Chromium.
"""

from __future__ import annotations

import html
import io
import queue
import threading
import time
from types import SimpleNamespace

import pytest
import scipy.io
from bokeh.document import Document

from conftest import model_variables
from faults import compressed_zeros_variable
from rate2spike.explorer.catalog import MAX_UPLOAD_BYTES, UPLOAD_CHUNK_BYTES
from rate2spike.explorer.controls import Controls
from rate2spike.explorer.internals import GuardedFileDropper
from rate2spike.explorer.limits import ServerLimits, limits_from, trial_bytes
from rate2spike.explorer.offload import Offloader
from rate2spike.explorer.session import ExplorerSession
from rate2spike.explorer import session as session_module
from rate2spike.explorer.sweep_queue import SweepQueue
from rate2spike.explorer.sweeps import running_sweeps
from rate2spike.explorer.text import as_html, canvas_text, card_title, static_text, table_html
from rate2spike.tasks import get_task

pytestmark = pytest.mark.faults


def huge_model_bytes(units: int = 8000) -> bytes:
    """A valid-looking go-nogo model whose w declares units x units doubles: about 1 MB on disk,
    gigabytes once read (the probe's 'small upload that freezes every session')."""
    variables = {k: v for k, v in model_variables(N=30).items() if k not in ("w", "w0", "m", "som_m")}
    variables.update(N=units, w_in=variables["w_in"][:1].repeat(units, 0), w_out=variables["w_out"][:, :1].repeat(units, 1))
    buffer = io.BytesIO()
    scipy.io.savemat(buffer, variables, do_compression=True)
    return buffer.getvalue() + compressed_zeros_variable("w", (units, units))


def test_an_upload_declaring_too_many_units_is_refused_before_it_is_read(assets):
    session = ExplorerSession(limits=ServerLimits())
    try:
        data = huge_model_bytes()
        assert len(data) < 3e6  # well under the 12 MB upload limit
        started = time.perf_counter()
        assert not session.upload("big.mat", data)
        assert time.perf_counter() - started < 5  # reading its 512 MB w would take far longer
        assert "big.mat: its network has 8000 units; this server simulates at most 1000" in session.error
        assert "--max-units" in session.error and "nothing was loaded" in session.error
        assert session.model.N == 40  # the previous model stays
    finally:
        session.close()


def test_a_model_whose_trial_would_take_too_much_memory_is_refused_with_its_figures(assets, tmp_path):
    limits = ServerLimits(max_units=1000, max_trial_bytes=256 * 2**20)
    steps = 50000  # a mante trial: 2.5 s of 0.05 ms steps
    assert trial_bytes(400, steps) > limits.max_trial_bytes > trial_bytes(200, steps)
    session = ExplorerSession(limits=limits)
    try:
        buffer = io.BytesIO()
        scipy.io.savemat(buffer, model_variables(N=400, n_inputs=4))
        assert not session.upload("wide_mante.mat", buffer.getvalue())
        assert f"a mante trial of its 400 units takes {steps} steps and about" in session.error
        assert "this server allows at most 1000 units and 256 MB per trial" in session.error
        buffer = io.BytesIO()
        scipy.io.savemat(buffer, model_variables(N=200, n_inputs=4))
        assert session.upload("narrow_mante.mat", buffer.getvalue()) and session.model.N == 200
    finally:
        session.close()


def test_without_limits_a_session_opens_any_model(assets):
    buffer = io.BytesIO()
    scipy.io.savemat(buffer, model_variables(N=400, n_inputs=4))
    session = ExplorerSession(limits=None)  # a notebook on one's own machine
    try:
        assert session.upload("wide_mante.mat", buffer.getvalue()) and session.model.N == 400
    finally:
        session.close()


def test_server_limits_are_read_from_the_served_scripts_arguments():
    limits = limits_from(["--models", "x", "--max-units", "3000", "--max-trial-mb=2048", "--max-sweeps", "1"])
    assert (limits.max_units, limits.max_trial_bytes, limits.max_sweeps) == (3000, 2048 * 2**20, 1)
    assert limits_from([]) == ServerLimits()
    with pytest.raises(SystemExit, match="--max-units needs a whole number of 1 or more, got 'lots'"):
        limits_from(["--max-units", "lots"])


class FakeDocument(Document):
    """A page's document whose next-tick callbacks run on its own thread, one at a time, like a
    server's event loop."""

    def __init__(self):
        super().__init__()
        self.calls: queue.Queue = queue.Queue()
        self.threads: list[str] = []
        self.thread = threading.Thread(target=self._loop, name="page-loop", daemon=True)
        self.thread.start()

    def add_next_tick_callback(self, callback):
        self.calls.put(callback)

    def _loop(self):
        while True:
            callback = self.calls.get()
            if callback is None:
                return
            self.threads.append(threading.current_thread().name)
            callback()


def test_offloaded_jobs_run_off_the_page_loop_and_the_newest_waiting_one_wins():
    doc = FakeDocument()
    release = threading.Event()
    computed, delivered = [], []
    offloader = Offloader(doc)

    def job(k):
        def compute():
            computed.append((k, threading.current_thread().name))
            if k == 0:
                release.wait(10)
            return k * 10
        return compute

    caller = threading.current_thread().name
    for k in range(4):  # 0 runs; 1 and 2 are replaced while waiting; 3 runs after 0
        offloader.run(job(k), lambda result, error: delivered.append((result, error)))
    assert offloader.busy
    release.set()
    deadline = time.monotonic() + 10
    while len(delivered) < 2 and time.monotonic() < deadline:
        time.sleep(0.01)
    doc.calls.put(None)
    assert [k for k, _thread in computed] == [0, 3] and delivered == [(0, None), (30, None)]
    assert all(thread != caller and thread.startswith("rate2spike-page") for _k, thread in computed)
    assert doc.threads == ["page-loop", "page-loop"] and not offloader.busy


def test_an_offloaded_error_is_delivered_to_the_page_not_raised_on_the_pool():
    doc = FakeDocument()
    delivered = []
    Offloader(doc).run(lambda: 1 / 0, lambda result, error: delivered.append((result, type(error))))
    deadline = time.monotonic() + 10
    while not delivered and time.monotonic() < deadline:
        time.sleep(0.01)
    doc.calls.put(None)
    assert delivered == [(None, ZeroDivisionError)]


def test_a_served_session_shows_the_trial_when_it_arrives_and_skips_a_superseded_one(assets):
    doc = FakeDocument()
    session = ExplorerSession(limits=ServerLimits(), doc=doc)
    try:
        deadline = time.monotonic() + 30
        while session.trial is None and time.monotonic() < deadline:
            time.sleep(0.02)
        assert session.trial is not None and session.offloaded
        for lam in (21.0, 22.0, 23.0, 24.0):
            session.scaling_factor = lam
        while session.trial.spec.scaling_factor != 24.0 and time.monotonic() < deadline:
            time.sleep(0.02)
        time.sleep(0.3)  # nothing older arrives after the newest
        assert session.trial.spec is session.spec and session.trial.spec.scaling_factor == 24.0
    finally:
        doc.calls.put(None)
        session.close()


def upload_event(name: str, chunk: int, total: int, data: bytes):
    return SimpleNamespace(event_name="upload_event",
                           data={"name": name, "chunk": chunk, "total_chunks": total, "data": data, "type": ""})


def test_an_oversized_upload_is_refused_at_its_first_chunk_and_never_buffered():
    refused = []
    dropper = GuardedFileDropper(MAX_UPLOAD_BYTES, lambda name, size: refused.append((name, size)),
                                 chunk_size=UPLOAD_CHUNK_BYTES)
    chunk = bytes(UPLOAD_CHUNK_BYTES)
    total = 57  # a 57 MB file, sent by a page that skipped the browser's check
    dropper._process_event(upload_event("big.mat", 1, total, chunk))
    assert refused == [("big.mat", 56 * UPLOAD_CHUNK_BYTES)]
    for k in range(2, total + 1):
        dropper._process_event(upload_event("big.mat", k, total, chunk))
    assert dropper.value == {} and len(refused) == 1 and "big.mat" not in dropper._file_buffer
    # a page that sends bigger chunks than it should is stopped once the bytes pass the limit
    for k in range(1, 4):
        dropper._process_event(upload_event("liar.mat", k, 3, bytes(5 * UPLOAD_CHUNK_BYTES)))
    assert refused[-1] == ("liar.mat", 15 * UPLOAD_CHUNK_BYTES) and dropper.value == {}
    dropper._process_event(upload_event("stray.mat", 2, 3, chunk))  # no upload under way: ignored
    assert dropper.value == {} and "stray.mat" not in dropper._file_buffer
    # a file within the limit arrives whole
    dropper._process_event(upload_event("ok.mat", 1, 2, b"a" * UPLOAD_CHUNK_BYTES))
    dropper._process_event(upload_event("ok.mat", 2, 2, b"b" * 10))
    assert dropper.value == {"ok.mat": b"a" * UPLOAD_CHUNK_BYTES + b"b" * 10} and len(refused) == 2


def test_the_browser_and_the_server_agree_on_the_upload_limit(assets):
    session = ExplorerSession()
    try:
        dropper = Controls(session).upload
        value, unit = dropper.max_file_size[:-2], dropper.max_file_size[-2:]
        assert unit == "KB" and int(value) * 1000 == MAX_UPLOAD_BYTES  # FilePond counts 1 KB as 1000 bytes
        assert not session.upload("big.mat", bytes(MAX_UPLOAD_BYTES + 1))
        assert "uploads are limited to 12 MB" in session.error
    finally:
        session.close()


def test_a_server_runs_at_most_its_limit_of_sweeps_at_once(assets, monkeypatch):
    """A sweep past the server's limit waits in line (and says so) and starts when one finishes."""
    monkeypatch.setattr(session_module, "SHARED_SWEEPS", SweepQueue())
    limits = ServerLimits(max_sweeps=1)
    first, second = ExplorerSession(limits=limits), ExplorerSession(limits=limits)
    try:
        assert first.start_sweep(20, 60, 10, 2000)
        assert running_sweeps() == 1
        assert second.start_sweep(20, 60, 10, 5) and second.poll_sweep()
        assert second.sweep_status.startswith("Sweep waiting: 1st in line") and running_sweeps() == 1
        first.cancel_sweep()
        deadline = time.monotonic() + 30
        while first.poll_sweep() and time.monotonic() < deadline:
            time.sleep(0.05)
        while second.poll_sweep() and time.monotonic() < deadline:
            time.sleep(0.05)
        assert second.sweep_result is not None and second.sweep_result.n_done.sum() == 25
    finally:
        first.close()
        second.close()


@pytest.mark.parametrize("payload", ["<script>alert(1)//", "<img src=x onerror=alert(1)>", "[text](https://x.invalid)",
                                     "a & b \"q\" 'q'\nsecond line"])
def test_text_from_outside_becomes_html_that_shows_it_literally(payload):
    shown = as_html(payload)
    assert "<script" not in shown and "<img" not in shown and "<a" not in shown.replace("<div", "")
    assert html.unescape(shown.replace("<br>", "\n").removeprefix('<div class="plain-text">').removesuffix("</div>")) \
        == payload
    assert html.unescape(static_text(payload)) == payload and "<" not in static_text(payload)
    assert "<img" not in card_title(payload) and "<img" not in table_html([(payload, payload)])


def test_the_page_never_shows_the_servers_path_to_a_model(tmp_path, assets):
    folder = tmp_path / "secret_place" / "models"
    bad = folder / "bad.mat"
    bad.parent.mkdir(parents=True)
    bad.write_bytes(b"not a mat file at all" * 10)
    session = ExplorerSession(models_dir=folder)
    try:
        session.model_label = "models/bad.mat"
        assert "Could not open models/bad.mat" in session.error and "secret_place" not in session.error
    finally:
        session.close()


def test_a_mante_task_runs_within_the_default_limits():
    """The shipped models' tasks fit: the default limits refuse none of them."""
    limits = ServerLimits()
    for name in ("go-nogo", "xor", "mante"):
        task = get_task(name)
        from rate2spike.explorer.limits import check_trial_cost
        check_trial_cost("shipped", 200, task, limits)


def test_a_figure_title_never_becomes_tex():
    """Bokeh draws $$...$$, \\[...\\] and \\(...\\) in titles as TeX; a file name may hold them."""
    for name in ("a $$x^2$$ b.mat", r"\[x\].mat", r"\(y\).mat"):
        shown = canvas_text(f"Output\n{name}")
        assert shown.replace("\u200b", "") == f"Output\n{name}"
        assert "$$" not in shown and r"\[" not in shown and r"\(" not in shown

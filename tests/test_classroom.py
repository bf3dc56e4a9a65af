"""A class on one server: trials and sweeps computed once for every session that asks, the sweep
queue's order, places and cancel, a closed session's work dropped and its memory let go, and
``panel serve --num-procs 2`` serving two sessions.

The sessions here are served sessions as ``explorer/main.py`` makes them (with ``ServerLimits``)
but without a server; the last test drives a real server over Bokeh's websocket protocol.
"""

from __future__ import annotations

import asyncio
import gc
import threading
import time
import urllib.parse
import weakref

import numpy as np
import psutil
import pytest

from browser_support import server_problems
from rate2spike.explorer import session as session_module
from rate2spike.explorer.limits import ServerLimits
from rate2spike.explorer.session import ExplorerSession
from rate2spike.explorer.shared import SharedResults, SharedTrials, nbytes
from rate2spike.explorer.sweep_queue import ENDED, RUNNING, WAITING, SweepQueue, ordinal
from rate2spike.paths import shipped_models
from rate2spike.trial import run_trial


@pytest.fixture
def server(monkeypatch):
    """Fresh server-wide caches (as a newly started server has), shared by the sessions made with
    ``served()``; every such session is closed at the end."""
    trials, sweeps = SharedTrials(), SweepQueue()
    monkeypatch.setattr(session_module, "SHARED_TRIALS", trials)
    monkeypatch.setattr(session_module, "SHARED_PRESETS", SharedResults(capacity_items=32))
    monkeypatch.setattr(session_module, "SHARED_SWEEPS", sweeps)
    made = []

    def served(max_sweeps: int = 2) -> ExplorerSession:
        session = ExplorerSession(limits=ServerLimits(max_sweeps=max_sweeps))
        made.append(session)
        return session

    yield served, trials, sweeps
    for session in made:
        session.close()


def finish(*sessions, timeout: float = 120.0) -> None:
    deadline = time.monotonic() + timeout
    while any([s.poll_sweep() for s in sessions]):
        assert time.monotonic() < deadline, "the sweeps did not finish in time"
        time.sleep(0.05)


# --- shared trials --------------------------------------------------------------------------

def test_two_sessions_on_one_model_simulate_its_trial_once(assets, server):
    served, trials, _ = server
    first, second = served(), served()
    assert trials.computed == 1 and trials.served == 1  # the page's first trial: simulated for the first only
    first.scaling_factor = second.scaling_factor = 33.0
    assert trials.computed == 2 and trials.served == 2
    assert second.trial.spec is second.spec and second.trial.spec.model is second.model  # its own model and settings
    np.testing.assert_array_equal(first.trial.recording.out, second.trial.recording.out)
    assert second.trial.outcome == run_trial(second.spec).outcome  # what it would have simulated itself
    second.seed = 5
    assert trials.computed == 3  # another seed is another trial


def test_a_session_asking_while_another_computes_waits_for_that_computation(assets):
    trials = SharedTrials()
    spec = ExplorerSession().spec
    started, release, calls = threading.Event(), threading.Event(), []

    def slow():
        calls.append(1)
        started.set()
        release.wait(10)
        return run_trial(spec)

    results = []
    first = threading.Thread(target=lambda: results.append(trials.get(spec, (), slow)))
    first.start()
    started.wait(10)
    second = threading.Thread(target=lambda: results.append(trials.get(spec.replace(), (), slow)))
    second.start()
    time.sleep(0.2)
    release.set()
    first.join(10)
    second.join(10)
    assert len(calls) == 1 and len(results) == 2
    np.testing.assert_array_equal(results[0].recording.out, results[1].recording.out)


def test_a_trial_with_more_recordings_serves_one_asking_for_fewer(assets):
    trials = SharedTrials()
    spec = ExplorerSession().spec
    trials.get(spec, ("voltage", "spikes"), lambda: run_trial(spec, ("voltage", "spikes")))
    served = trials.get(spec, ("spikes",), lambda: pytest.fail("simulated again"))
    assert served.recording.spikes is not None and trials.computed == 1


def test_the_shared_trials_stay_within_their_memory(assets):
    spec = ExplorerSession().spec
    one = nbytes(run_trial(spec, ("spikes",)))
    trials = SharedTrials(capacity_bytes=int(2.5 * one))
    for lam in (20.0, 30.0, 40.0, 50.0):
        trials.get(spec.replace(scaling_factor=lam), ("spikes",), lambda lam=lam: run_trial(
            spec.replace(scaling_factor=lam), ("spikes",)))
    assert len(trials) == 2 and trials.bytes <= trials.capacity_bytes
    trials.get(spec.replace(scaling_factor=50.0), ("spikes",), lambda: pytest.fail("the newest was dropped"))


def test_an_uploaded_models_trials_stay_private_to_its_session(assets, server):
    served, trials, _ = server
    shipped, uploader = served(), served()
    data = shipped.model.path.read_bytes()  # the same bytes as the shipped model
    computed = trials.computed
    assert uploader.upload("mine.mat", data)  # opened at the same λ and seed as the shipped model's trial
    assert uploader.model.content_sha256 == shipped.model.content_sha256
    assert uploader.spec.scaling_factor == shipped.spec.scaling_factor and uploader.spec.seed == shipped.spec.seed
    assert trials.computed == computed + 1  # simulated for the upload, not served from the other page
    shipped.scaling_factor = uploader.scaling_factor = 44.0
    assert trials.computed == computed + 3  # and the other way round
    uploader.close()
    assert not [key for key in trials._entries if key[0] == uploader.owner]  # and forgotten when it closes


# --- shared sweeps --------------------------------------------------------------------------

def test_two_sessions_asking_for_one_sweep_share_one_computation(assets, server):
    served, _, sweeps = server
    first, second = served(), served()
    second.scaling_factor = 61.5  # the λ on screen is not part of a sweep
    assert first.start_sweep(20, 40, 10, 4, n_threads=1)
    assert second.start_sweep(20, 40, 10, 4, n_threads=1)
    assert "Shared with 1 other page" in second.sweep_status
    finish(first, second)
    assert sweeps.computed == 1
    assert second.sweep_result is first.sweep_result and first.sweep_result.n_done.sum() == 12
    assert second.sweep_status.startswith("Sweep finished: 12 / 12 trials")
    later = served()  # asks once it has finished: the result at once
    assert later.start_sweep(20, 40, 10, 4, n_threads=1)
    finish(later, timeout=5)
    assert sweeps.computed == 1 and later.sweep_result is first.sweep_result and later.finished_sweep() is not None


def test_the_pages_of_one_model_and_one_sweep_find_its_presets_once(assets, server):
    """Presets cost seconds of trials: forty pages opening on one model, or following one sweep to its
    end, find them once; another seed's sweep is another curve, so other presets."""
    served, _, _ = server
    first, second, third = served(), served(), served()
    shared = session_module.SHARED_PRESETS
    assert first.presets() == second.presets() and shared.computed == 1  # the search stored in the file
    third.seed = 3
    for session in (first, second, third):
        assert session.start_sweep(20, 40, 10, 4, n_threads=1)
    finish(first, second, third)
    found = [session.presets() for session in (first, second, third)]
    assert shared.computed == 3  # the file's, the shared sweep's, the third page's own sweep's
    assert found[0] is found[1] and found[0] != [] and found[2] is not found[0]
    chosen = next(p for p in found[0] if isinstance(p.settings.get("condition"), dict))
    first.apply_preset(chosen.name)  # the page gets its own copy of a shared preset's settings
    assert first.condition == chosen.settings["condition"] and first.condition is not chosen.settings["condition"]


def test_a_different_seed_or_grid_is_another_sweep(assets, server):
    served, _, sweeps = server
    first, second, third = served(), served(), served()
    second.seed = 3
    for session, high in ((first, 40), (second, 40), (third, 50)):
        assert session.start_sweep(20, high, 10, 2, n_threads=1)
    finish(first, second, third)
    assert sweeps.computed == 3


def test_cancelling_a_shared_sweep_leaves_it_running_for_the_others(assets, server):
    served, _, sweeps = server
    first, second = served(), served()
    assert first.start_sweep(10, 100, 2, 50, n_threads=1) and second.start_sweep(10, 100, 2, 50, n_threads=1)
    running = first._ticket.sweep
    first.cancel_sweep()
    assert not first.sweep_running and "goes on for the 1 other page" in first.sweep_status
    assert running.running and second.poll_sweep()
    second.cancel_sweep()  # the last follower: now it stops
    finish(second, timeout=30)
    assert second.sweep_result.cancelled and second.sweep_status.startswith("Sweep cancelled after")
    assert sweeps.running == 0


# --- the queue ------------------------------------------------------------------------------

class FakeSweep:
    """Stands for a BackgroundSweep in the queue's own tests: it runs until ``end()``."""

    def __init__(self, total: int, on_done):
        self.total, self.on_done = total, on_done
        self.snapshot, self.result, self.started, self.cancelled = None, None, False, False

    def start(self):
        self.started = True
        return self

    def cancel(self):
        self.cancelled = True

    def end(self):
        self.on_done(self)


def test_the_queue_runs_its_capacity_and_the_rest_in_order_with_places_and_times():
    queue = SweepQueue(capacity=1)
    queue.seconds_per_trial = 0.1
    tickets = {name: queue.request(name, lambda on_done: FakeSweep(100, on_done), f"session {name}")
               for name in "ABCD"}
    assert [tickets[n].state for n in "ABCD"] == [RUNNING, WAITING, WAITING, WAITING]
    assert tickets["A"].sweep.started and not tickets["B"].sweep.started
    assert [tickets[n].place()[0] for n in "BCD"] == [1, 2, 3]
    assert tickets["C"].place()[1] == pytest.approx(2 * 10.0, abs=0.5)  # A's 10 s, then B's 10 s
    assert tickets["C"].describe_place().startswith("Sweep waiting: 2nd in line, about 20 s")
    tickets["B"].leave()  # cancelled while waiting: out of the queue, never started
    assert tickets["B"].state == ENDED and not tickets["B"].sweep.started
    assert [tickets[n].place()[0] for n in "CD"] == [1, 2]
    tickets["A"].sweep.end()
    assert tickets["C"].state == RUNNING and tickets["D"].place()[0] == 1 and queue.running == 1


def test_a_session_gets_one_running_sweep_at_a_time():
    """A session that cancels its running sweep and starts another waits for the first to stop; a
    sweep of another session that asked later may go first."""
    queue = SweepQueue(capacity=2)
    first = queue.request("a1", lambda on_done: FakeSweep(10, on_done), "A")
    assert first.leave() and first.sweep.cancelled  # stopping, not yet stopped
    again = queue.request("a2", lambda on_done: FakeSweep(10, on_done), "A")
    other = queue.request("b1", lambda on_done: FakeSweep(10, on_done), "B")
    assert again.state == WAITING and other.state == RUNNING
    first.sweep.end()
    assert again.state == RUNNING


def test_a_queued_sweep_says_where_it_stands_and_cancel_takes_it_out(assets, server):
    served, _, sweeps = server
    running, waiting = served(max_sweeps=1), served(max_sweeps=1)
    waiting.seed = 1
    assert running.start_sweep(10, 100, 2, 50, n_threads=1)
    assert waiting.start_sweep(20, 40, 10, 4, n_threads=1)
    assert waiting.sweep_status.startswith("Sweep waiting: 1st in line") and waiting.sweep_running
    waiting.cancel_sweep()
    assert waiting.sweep_status == "Sweep cancelled before it started." and not waiting.sweep_running
    assert sweeps.waiting == 0 and not waiting.poll_sweep()
    assert ordinal(1) == "1st" and ordinal(2) == "2nd" and ordinal(3) == "3rd" and ordinal(11) == "11th" \
        and ordinal(22) == "22nd"


# --- closed sessions ------------------------------------------------------------------------

def test_a_closed_sessions_queued_and_running_sweeps_are_dropped(assets, server):
    served, _, sweeps = server
    first, second = served(max_sweeps=1), served(max_sweeps=1)
    second.seed = 2
    assert first.start_sweep(10, 100, 2, 50, n_threads=1) and second.start_sweep(10, 100, 2, 50, n_threads=1)
    assert sweeps.waiting == 1
    second.close()
    assert sweeps.waiting == 0
    background = first._ticket.sweep
    first.close()
    background.join(timeout=30)
    assert not background.running and background.result.cancelled and sweeps.running == 0


def test_a_closed_session_is_let_go(assets, server):
    """Nothing server-wide keeps a closed session (its trials, sweep, uploads) alive."""
    _, trials, sweeps = server
    session = ExplorerSession(limits=ServerLimits())
    assert session.upload("mine.mat", session.model.path.read_bytes())
    upload_dir = session.catalog.upload_dir
    assert session.start_sweep(20, 30, 10, 2, n_threads=1)
    finish(session)
    session.close()
    gone = weakref.ref(session)
    del session
    gc.collect()
    assert gone() is None
    assert not upload_dir.exists()
    assert all(key[0] is None for key in trials._entries) and not sweeps._finished


def test_a_built_page_leaves_the_collections_and_what_closed_pages_leave_is_collected_once():
    """explorer/collector.py: a page's objects are skipped by garbage collections while it lives
    (the 1-2 s pauses of 40 open pages), what closed pages leave is collected once, a few seconds
    after the first closes, and such collections pause the server a twentieth of its time at most,
    and wait a minute at most."""
    from rate2spike.explorer.collector import (COLLECT_AFTER_CLOSE_S, FREEZE_AFTER_BUILD_S, MAX_DELAY_S,
                                               MAX_PAUSE_SHARE, ServerCollector)

    scheduled, now = [], [1000.0]

    def clock():  # a collection takes the time a test gives it
        return now[0]

    collector = ServerCollector(call_later=lambda delay, callback: scheduled.append((delay, callback)), clock=clock)

    class PageObject:  # a page's objects refer to each other, as Bokeh models and widgets do
        def __init__(self):
            self.me = self

    page = PageObject()
    gone = weakref.ref(page)
    try:
        collector.page_built()
        collector.page_built()  # pages opening together are frozen together, once they have loaded
        assert [delay for delay, _ in scheduled] == [FREEZE_AFTER_BUILD_S]
        scheduled.pop()[1]()
        assert gc.get_freeze_count() > 0
        del page  # the page closed
        gc.collect()
        assert gone() is not None  # frozen: collections skip it, as they skip every living page
        collector.session_closed()
        collector.session_closed()  # a second page closing meanwhile is collected in the same round
        assert [delay for delay, _ in scheduled] == [COLLECT_AFTER_CLOSE_S]
        gc.callbacks.append(pause := lambda phase, info: now.__setitem__(0, now[0] + 0.5 * (phase == "stop")))
        try:  # this collection pauses the server 0.5 s
            scheduled[0][1]()
        finally:
            gc.callbacks.remove(pause)
        assert gone() is None and collector.collections == 1
        assert gc.get_freeze_count() > 0  # what still lives is frozen again
        assert collector.last_pause_s == pytest.approx(0.5)
        now[0] += 2.0
        collector.session_closed()  # the next waits until the pauses are a twentieth of the time
        assert scheduled[1][0] == pytest.approx(0.5 / MAX_PAUSE_SHARE - 2.0)
        scheduled[1][1]()  # this one took no time: the next is a few seconds after a page closes
        collector.session_closed()
        assert scheduled[2][0] == pytest.approx(COLLECT_AFTER_CLOSE_S)
        collector.last_pause_s = 10.0  # a pause of 10 s (a huge server): the next waits a minute, not 200 s
        collector._pending = False
        collector.session_closed()
        assert scheduled[3][0] == pytest.approx(MAX_DELAY_S)
    finally:
        gc.unfreeze()


# --- several processes ----------------------------------------------------------------------

# the dashboard's label of the shipped xor model (<task>/<file name>), as a link someone sent names it
XOR_LABEL = next(f"xor/{p.name}" for p in shipped_models() if p.parent.parent.name == "xor")


@pytest.mark.server
def test_a_server_that_will_keep_a_class_memory_says_so_once():
    """A plain `panel serve explorer` (Python's own allocator) keeps what closed pages used; its
    terminal says so once, with the commands that give it back. Served as `rate2spike explore`
    serves (PYTHONMALLOC=malloc), nothing is said."""
    from rate2spike.explorer.collector import ServerCollector, allocator_note
    from rate2spike.explorer.launch import server_environment

    assert allocator_note(server_environment(True, environ={})) is None
    note = allocator_note({})
    assert "rate2spike explore" in note and "PYTHONMALLOC=malloc panel serve explorer" in note
    said: list[str] = []
    collector = ServerCollector(call_later=lambda *_: None)
    collector.note_allocator(said.append, environ={"PYTHONMALLOC": "pymalloc"})
    collector.note_allocator(said.append, environ={"PYTHONMALLOC": "pymalloc"})
    assert said == [note]


def test_two_server_processes_serve_two_sessions(tmp_path):
    """``panel serve --num-procs 2``: two pages open, each moves λ and gets its trial, a link opens
    its view; once they close, the server ends their sessions without an error."""
    from benchmarks.browser import DashboardServer
    from benchmarks.classroom import FAST_SESSION_EXPIRY, ClassroomSession, server_memory_mb

    async def two_pages(port):
        pages = [ClassroomSession(port, k) for k in range(2)]
        await pages[0].open()
        await pages[1].open(urllib.parse.urlencode({"model": XOR_LABEL, "lambda": "33"}))  # a link someone sent
        shown = pages[1].lambda_shown
        latencies = [await page.release_lambda(30.0 + k) for k, page in enumerate(pages)]
        for page in pages:
            await page.close()
        return shown, latencies

    with DashboardServer(serve_args=["--num-procs", "2", *FAST_SESSION_EXPIRY], log_path=tmp_path / "server.log") \
            as server:
        assert len(psutil.Process(server.process.pid).children()) == 2  # two worker processes
        shown, latencies = asyncio.run(two_pages(server.port))
        assert shown == 33.0  # the link's view, built by whichever process took the websocket
        assert len(latencies) == 2 and all(0 < ms < 120_000 for ms in latencies)
        assert server_memory_mb(server) > 0
        time.sleep(5)  # Bokeh ends a closed page's session (and runs its callbacks) within 2 s here
    assert server_problems(server.log()) == []  # the closed sessions' callbacks included


def test_explore_procs_becomes_num_procs_and_each_process_runs_its_share_of_sweeps(monkeypatch):
    from rate2spike.cli import build_parser
    from rate2spike.explorer import limits
    from rate2spike.explorer.launch import serve_command

    command = serve_command(port=5100, show=False, procs=2)
    assert command[command.index("--num-procs") + 1] == "2"
    assert "--num-procs" not in serve_command(port=5100, show=False)
    assert build_parser().parse_args(["explore", "--procs", "3"]).procs == 3
    with pytest.raises(SystemExit):
        build_parser().parse_args(["explore", "--procs", "0"])
    assert limits.server_processes() == 1  # not forked by panel serve
    monkeypatch.setattr(limits, "server_processes", lambda: 2)
    monkeypatch.setattr(limits.os, "cpu_count", lambda: 4)
    assert limits.limits_from([]).max_sweeps == 2 and limits.limits_from(["--max-sweeps", "3"]).max_sweeps == 3


def test_the_pages_following_one_sweep_share_a_budget_of_progress_redraws():
    queue = SweepQueue(capacity=1)
    tickets = [queue.request("same", lambda on_done: FakeSweep(10, on_done), f"page {k}") for k in range(8)]
    assert tickets[0].progress_due() and not tickets[0].progress_due()  # 8 followers: every 2 s each
    tickets[0]._drawn_at -= 8 / 4.0
    assert tickets[0].progress_due()
    alone = queue.request("other", lambda on_done: FakeSweep(10, on_done), "page 9")
    assert alone.progress_due() and not alone.progress_due()
    alone._drawn_at -= 0.25
    assert alone.progress_due()

"""``python -m benchmarks --classroom N``: a class of N students on one served dashboard.

Serves the dashboard (``panel serve``, as a lecturer runs it) and opens N sessions over Bokeh's own
websocket protocol, as a browser does, without drawing anything: each session fetches the page
(which builds its document on the server), connects, pulls its document and says it is ready.
Once the server is idle (the pages opened last have loaded: their first recorded trial and
presets), in phases:

1. **λ**: every session releases the λ slider every ``interval`` s (random phase, random λ on the
   slider's 0.5 grid) for ``duration`` s; release-to-update is the time from sending the released
   value to receiving the first message that carries the new trial's output data.
2. **one sweep alone**: one session (its own seed, so nothing is shared) runs the default sweep.
3. **everyone sweeps**: every session presses "Run sweep" on the same default sweep at once;
   waiting = press to the page saying the sweep runs, finishing = press to its result.
4. **a sweep while the class works**: one session runs a sweep of its own while every other
   session moves λ: their release-to-update latency meanwhile, and the sweep's time.
5. **distinct sweeps**: ``distinct`` sessions, each on its own seed, press "Run sweep" at once: more
   sweeps than the server runs at once, so some wait in line.
6. **closing**: every session closes; the server's memory once it has let them go.
7. **churn** (``--churn M``): M more sessions open and close, ten at a time; the server's memory
   after the first ten and after all.

The server allocates with the C allocator (``PYTHONMALLOC=malloc``), as ``rate2spike explore``
serves it, or with ``--allocator pymalloc`` (Python's own) as a plain ``panel serve explorer`` does.
The server's memory is the resident set of its processes (psutil). The machine's load average is
printed: other programs share the cores. Opening and closing sessions uses Bokeh's unused-session
check every second (``--check-unused-sessions 1000 --unused-session-lifetime 1000``) so the
benchmark does not wait Bokeh's default 15 s per closed page; a lecturer's server uses the default.
"""

from __future__ import annotations

import asyncio
import json
import math
import os
import random
import re
import signal
import sys
import tempfile
import time
import uuid

from pathlib import Path

from benchmarks.browser import DashboardServer

LAMBDA_TARGET_P95_MS = 500.0
SWEEP_TARGET_RATIO = 1.5
CHURN_TARGET_MB = 100.0
OPEN_TIMEOUT_S = 900.0  # for all sessions of one batch to open (a loaded 2-core machine builds about one page a second)
MAX_PAGES_AT_ONCE = 100  # page requests under way at once (a class opening the page together)
FAST_SESSION_EXPIRY = ["--check-unused-sessions", "1000", "--unused-session-lifetime", "1000",
                       # a page's token is refused 300 s after the page was built; a loaded server building
                       # forty pages reaches the websockets of the first ones later than that
                       "--session-token-expiration", "3600"]


def _header(msgtype: str, **extra) -> str:
    return json.dumps({"msgid": uuid.uuid4().hex, "msgtype": msgtype, **extra})


def _models(node, found: dict) -> None:
    """Every serialized Bokeh model in a document's JSON, by id."""
    if isinstance(node, dict):
        if "id" in node and "attributes" in node:
            found[node["id"]] = node
        for value in node.values():
            _models(value, found)
    elif isinstance(node, list):
        for value in node:
            _models(value, found)


class ClassroomSession:
    """One student's page over the raw Bokeh websocket protocol (no browser, no drawing)."""

    def __init__(self, port: int, name: int):
        self.port, self.name = port, name
        self.ws = None
        self.ids: dict[str, str] = {}
        self.lambda_shown = None
        self.stage = "not opened"
        self.waiting_trial: asyncio.Future | None = None
        self.status_seen: list[tuple[float, str]] = []
        self.latencies_ms: list[float] = []
        self.reader: asyncio.Task | None = None

    async def open(self, query: str = "") -> None:
        """Fetch the page (the server builds the session's document), connect, pull the document.
        ``query`` is a link's (``model=...&lambda=33``); ``lambda_shown`` is then the slider's value."""
        from tornado.httpclient import AsyncHTTPClient, HTTPRequest
        from tornado.websocket import websocket_connect

        self.stage = "fetching the page"
        AsyncHTTPClient.configure(None, max_clients=MAX_PAGES_AT_ONCE)  # Tornado queues more than 10 by default
        page = await AsyncHTTPClient().fetch(f"http://127.0.0.1:{self.port}/explorer" + (f"?{query}" if query else ""),
                                             connect_timeout=OPEN_TIMEOUT_S, request_timeout=OPEN_TIMEOUT_S)
        token = re.search(r'"token":\s*"([^"]+)"', page.body.decode()).group(1)
        request = HTTPRequest(f"ws://127.0.0.1:{self.port}/explorer/ws", headers={"Origin": f"http://127.0.0.1:{self.port}"},
                              connect_timeout=OPEN_TIMEOUT_S, request_timeout=OPEN_TIMEOUT_S)
        self.stage = "connecting"
        self.ws = await websocket_connect(request, subprotocols=["bokeh", token], max_message_size=512 * 2**20)
        self.stage = "waiting for ACK"
        await self._read()  # ACK
        self.stage = "pulling the document"
        await self._send("PULL-DOC-REQ", {})
        while True:
            header, content = await self._read()
            if header["msgtype"] == "PULL-DOC-REPLY":
                break
        found: dict = {}
        _models(json.loads(content), found)
        for model_id, model in found.items():
            attributes = model["attributes"]
            classes = attributes.get("css_classes") or []
            if "lambda-slider" in classes and model["name"].endswith("Slider"):
                self.ids["lambda"] = model_id
                self.lambda_shown = attributes.get("value")
            elif "sweep-run" in classes:
                self.ids["run"] = model_id
            elif attributes.get("name") == "output-lif":
                self.ids["output"] = model_id
            elif attributes.get("title") == "Seed (trial and noise)":
                self.ids["seed"] = model_id
        missing = {"lambda", "run", "seed"} - set(self.ids)  # the output's source comes with the first trial
        if missing:
            raise RuntimeError(f"the page has no {', '.join(sorted(missing))} model: has the dashboard changed?")
        await self._event("document_ready", {})
        self.stage = "open"
        self.reader = asyncio.ensure_future(self._listen())

    async def _send(self, msgtype: str, content: dict) -> None:
        await self.ws.write_message(_header(msgtype))
        await self.ws.write_message("{}")
        await self.ws.write_message(json.dumps(content))

    async def _read(self):
        """One whole message: (header, content text); its buffers are read and dropped."""
        header_text = await self.ws.read_message()
        if header_text is None:
            raise ConnectionError("the server closed the connection")
        header = json.loads(header_text)
        await self.ws.read_message()  # metadata
        content = await self.ws.read_message()
        for _ in range(2 * header.get("num_buffers", 0)):
            await self.ws.read_message()
        return header, content

    async def _event(self, name: str, values: dict) -> None:
        entries = [[key, value] for key, value in values.items()]
        await self._send("PATCH-DOC", {"events": [{"kind": "MessageSent", "msg_type": "bokeh_event", "msg_data": {
            "type": "event", "name": name, "values": {"type": "map", "entries": entries}}}]})

    async def _change(self, model: str, **attributes) -> None:
        await self._send("PATCH-DOC", {"events": [{"kind": "ModelChanged", "model": {"id": self.ids[model]},
                                                   "attr": attr, "new": new} for attr, new in attributes.items()]})

    def _output_source(self, content: str) -> str | None:
        """The id of the output plot's data source, which a page built before its first trial
        arrived gets with that trial (a new source, sent whole with its name)."""
        if '"output-lif"' in content:
            found: dict = {}
            _models(json.loads(content), found)
            for model_id, model in found.items():
                if model["attributes"].get("name") == "output-lif":
                    self.ids["output"] = model_id
        return f'"{self.ids["output"]}"' if "output" in self.ids else None

    async def _listen(self) -> None:
        try:
            while True:
                header, content = await self._read()
                if header["msgtype"] != "PATCH-DOC":
                    continue
                now = time.perf_counter()
                output = self._output_source(content)
                if output is not None and output in content and self.waiting_trial is not None \
                        and not self.waiting_trial.done():
                    self.waiting_trial.set_result(now)
                # one state per message, the latest first: a queued sweep's message may hold both the
                # "starting" its request set and the "waiting" that replaced it
                for phrase in ("Sweep failed", "Sweep cancelled", "Sweep finished", "Sweep waiting", "Sweep running",
                               "Sweep starting"):
                    if phrase in content:
                        self.status_seen.append((now, phrase))
                        break
        except (ConnectionError, asyncio.CancelledError):
            pass

    async def release_lambda(self, value: float, timeout: float = 120.0) -> float:
        """Release the slider at ``value`` (another λ than the one shown: the same one is no change);
        the ms until the new trial's output arrives."""
        if value == self.lambda_shown:
            value += 0.5
        self.waiting_trial = asyncio.get_running_loop().create_future()
        sent = time.perf_counter()
        await self._change("lambda", value=value, value_throttled=value)
        try:
            arrived = await asyncio.wait_for(self.waiting_trial, timeout)
        except asyncio.TimeoutError:
            raise TimeoutError(f"session {self.name}: no new trial {timeout:.0f} s after releasing λ at {value:g}") \
                from None
        self.lambda_shown = value
        return (arrived - sent) * 1e3

    async def set_seed(self, seed: int) -> None:
        self.waiting_trial = asyncio.get_running_loop().create_future()
        await self._change("seed", value=seed)
        await asyncio.wait_for(self.waiting_trial, 120)

    async def sweep(self, timeout: float = 1800.0) -> tuple[float, float]:
        """Press "Run sweep": (seconds until it runs, seconds until its result)."""
        start = len(self.status_seen)
        pressed = time.perf_counter()
        await self._event("button_click", {"model": {"id": self.ids["run"]}})
        running = None
        while time.perf_counter() - pressed < timeout:
            for seen, phrase in self.status_seen[start:]:
                if phrase in ("Sweep starting", "Sweep running", "Sweep finished") and running is None:
                    running = seen - pressed
                if phrase == "Sweep finished":
                    return running, seen - pressed
                if phrase in ("Sweep failed", "Sweep cancelled"):
                    raise RuntimeError(f"session {self.name}: {phrase}")
            await asyncio.sleep(0.05)
        raise TimeoutError(f"session {self.name}: the sweep did not finish within {timeout:.0f} s")

    async def close(self) -> None:
        if self.reader is not None:
            self.reader.cancel()
        if self.ws is not None:
            self.ws.close()


def server_memory_mb(server: DashboardServer) -> float:
    """Resident memory (MB) of the server's processes (with --num-procs, every worker)."""
    import psutil

    root = psutil.Process(server.process.pid)
    total = 0
    for process in [root] + root.children(recursive=True):
        try:
            total += process.memory_info().rss
        except psutil.Error:
            pass
    return total / 2**20


def server_cpu_s(server: DashboardServer) -> float:
    """CPU seconds (user + system) the server's processes have used so far."""
    import psutil

    root = psutil.Process(server.process.pid)
    total = 0.0
    for process in [root] + root.children(recursive=True):
        try:
            times = process.cpu_times()
            total += times.user + times.system
        except psutil.Error:
            pass
    return total


def percentile(values, q: float) -> float:
    ordered = sorted(values)
    if not ordered:
        return math.nan
    return ordered[min(len(ordered) - 1, max(0, math.ceil(q / 100 * len(ordered)) - 1))]


async def _open_all(port: int, n: int, first: int = 0, spacing: float = 0.25) -> list[ClassroomSession]:
    """Open n sessions, one every ``spacing`` s (students do not all click in the same 10 ms)."""
    sessions = [ClassroomSession(port, first + k) for k in range(n)]

    async def open_one(k, session):
        await asyncio.sleep(k * spacing)
        await session.open()
    try:
        await asyncio.wait_for(asyncio.gather(*(open_one(k, s) for k, s in enumerate(sessions))), OPEN_TIMEOUT_S)
    except asyncio.TimeoutError:
        stuck = {s.name: s.stage for s in sessions if s.stage != "open"}
        raise TimeoutError(f"{len(stuck)} of {n} sessions did not open within {OPEN_TIMEOUT_S:.0f} s: {stuck}") from None
    return sessions


async def _move_lambda(sessions, duration: float, interval: float, rng: random.Random) -> list[float]:
    latencies: list[float] = []

    async def student(session):
        await asyncio.sleep(rng.uniform(0, interval))
        deadline = time.perf_counter() + duration
        while time.perf_counter() < deadline:
            started = time.perf_counter()
            latencies.append(await session.release_lambda(rng.randrange(40, 150) / 2))
            await asyncio.sleep(max(0.0, interval - (time.perf_counter() - started)))
    await asyncio.gather(*(student(s) for s in sessions))
    return latencies


async def _wait_until_idle(server, most_s: float = 120.0, busy_below: float = 0.1) -> float:
    """Wait until the server uses less than ``busy_below`` of one core over a second (the pages
    opened last have finished loading: their recorded trial, presets, first draws); the seconds waited."""
    started = time.perf_counter()
    while time.perf_counter() - started < most_s:
        cpu = server_cpu_s(server)
        await asyncio.sleep(1.0)
        if server_cpu_s(server) - cpu < busy_below:
            break
    return time.perf_counter() - started


def _collected_within_s() -> float:
    """Seconds after pages close by which the server has collected what they left
    (explorer/collector.py: a few seconds after the first closes, a minute at most)."""
    from rate2spike.explorer.collector import MAX_DELAY_S

    return MAX_DELAY_S + 3.0


async def _wait_memory_settles(server, seconds: float) -> float:
    await asyncio.sleep(seconds)
    return server_memory_mb(server)


def _say_latency(say, label: str, latencies) -> float:
    p95 = percentile(latencies, 95)
    say(f"  {label}: {len(latencies)} releases, p50 {percentile(latencies, 50):.0f} ms, p95 {p95:.0f} ms, "
        f"max {max(latencies):.0f} ms")
    return p95


async def _classroom(server, n, duration, interval, distinct, churn, say) -> dict:
    rng = random.Random(0)
    figures: dict = {}
    base = server_memory_mb(server)
    say(f"server memory before any session: {base:.0f} MB")
    opened = time.perf_counter()
    sessions = await _open_all(server.port, n)
    opened = time.perf_counter() - opened
    memory = await _wait_memory_settles(server, 2)
    figures["mb_per_session"] = (memory - base) / n
    say(f"opened {n} sessions in {opened:.1f} s; server memory {memory:.0f} MB, "
        f"{figures['mb_per_session']:.1f} MB per session")
    say(f"the last pages finished loading {await _wait_until_idle(server):.0f} s later (server idle)")

    say("")
    say(f"1. every session releases λ every {interval:g} s for {duration:g} s")
    cpu, wall = server_cpu_s(server), time.perf_counter()
    latencies = await _move_lambda(sessions, duration, interval, rng)
    cpu, wall = server_cpu_s(server) - cpu, time.perf_counter() - wall
    figures["lambda_p95_ms"] = _say_latency(say, "release -> new trial", latencies)
    figures["cpu_per_release_ms"] = cpu / len(latencies) * 1e3
    say(f"  server CPU {figures['cpu_per_release_ms']:.0f} ms per release (both cores: {cpu / wall / 2:.0%} of the "
        f"machine over the phase, whatever other programs left it)")
    figures["lambda_p50_ms"] = percentile(latencies, 50)

    say("")
    say("2. one default sweep alone (one session, its own seed)")
    await sessions[0].set_seed(9999)
    _, alone = await sessions[0].sweep()
    figures["sweep_alone_s"] = alone
    say(f"  finished in {alone:.1f} s")

    say("")
    say(f"3. all {n} sessions press Run sweep on the same default sweep at once")
    await sessions[0].set_seed(0)  # back to the seed every other session has
    times = await asyncio.gather(*(s.sweep() for s in sessions[1:] + sessions[:1]))
    waits, finishes = [t[0] for t in times], [t[1] for t in times]
    figures["sweep_all_last_s"] = max(finishes)
    say(f"  waiting: p50 {percentile(waits, 50):.1f} s, max {max(waits):.1f} s; finished: p50 "
        f"{percentile(finishes, 50):.1f} s, last {max(finishes):.1f} s = {max(finishes) / alone:.2f}x one sweep alone")

    say("")
    say("4. one session runs a sweep of its own (another seed) while every other session moves λ")
    await sessions[0].set_seed(9998)
    moving = asyncio.ensure_future(_move_lambda(sessions[1:], duration / 2, interval, rng))
    _, during = await sessions[0].sweep()
    figures["lambda_during_sweep_p95_ms"] = _say_latency(say, "λ meanwhile", await moving)
    say(f"  the sweep finished in {during:.1f} s ({during / alone:.2f}x alone: the λ trials share the cores)")

    if distinct:
        say("")
        say(f"5. {distinct} sessions, each on its own seed, press Run sweep at once")
        chosen = sessions[1:1 + distinct]
        for k, session in enumerate(chosen):
            await session.set_seed(1000 + k)
        times = await asyncio.gather(*(s.sweep() for s in chosen))
        for k, (wait, finish) in enumerate(sorted(times)):
            say(f"  sweep {k + 1}: waited {wait:.1f} s, finished after {finish:.1f} s")

    say("")
    say("6. every session closes")
    for session in sessions:
        await session.close()
    del sessions
    after = await _wait_memory_settles(server, _collected_within_s())
    figures["closed_mb"] = after
    say(f"  server memory {after:.0f} MB ({after - base:+.0f} MB against before any session)")

    if churn:
        say("")
        say(f"7. {churn} more sessions open and close, ten at a time")
        first = None
        for start in range(0, churn, 10):
            batch = await _open_all(server.port, min(10, churn - start), first=n + start, spacing=0.1)
            for session in batch:
                await session.release_lambda(rng.randrange(40, 150) / 2)
                await session.close()
            if first is None:
                first = await _wait_memory_settles(server, _collected_within_s())
                say(f"  after the first 10: {first:.0f} MB")
            elif (start + 10) % 50 == 0:
                say(f"  after {start + 10}: {server_memory_mb(server):.0f} MB")
        last = await _wait_memory_settles(server, _collected_within_s())
        figures["churn_growth_mb"] = last - first
        say(f"  after all {churn}: {last:.0f} MB ({last - first:+.0f} MB against after the first 10; "
            f"target within {CHURN_TARGET_MB:.0f} MB: {'met' if last - first <= CHURN_TARGET_MB else 'MISSED'})")
    return figures


def run_classroom_bench(n: int, duration: float = 60.0, interval: float = 5.0, distinct: int = 4, churn: int = 0,
                        procs: int = 1, allocator: str = "malloc", say=print) -> dict:
    """Serve the dashboard, run the phases above with ``n`` sessions and print the figures.
    ``allocator``: the server's PYTHONMALLOC (malloc, as ``rate2spike explore`` serves; pymalloc, Python's own)."""
    env = {"PYTHONMALLOC": allocator}
    load = os.getloadavg()
    say(f"classroom: {n} sessions, λ every {interval:g} s, {os.cpu_count()} cores, "
        f"load average {load[0]:.2f} {load[1]:.2f} {load[2]:.2f} before starting, {procs} server process(es), "
        f"PYTHONMALLOC={env['PYTHONMALLOC']}")
    extra = FAST_SESSION_EXPIRY + (["--num-procs", str(procs)] if procs > 1 else [])
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # a stopped benchmark stops its server too
    log = Path(tempfile.mkdtemp(prefix="rate2spike-classroom-")) / "server.log"
    with DashboardServer(serve_args=extra, log_path=log, env=env) as server:
        try:
            figures = asyncio.run(_classroom(server, n, duration, interval, distinct, churn, say))
        except (RuntimeError, TimeoutError, OSError):
            say(f"the server's log ends (all of it in {log}):\n{server.log(3000)}")
            raise
    say("")
    say("targets:")
    say(f"  λ release -> new trial p95 {figures['lambda_p95_ms']:.0f} ms (target under {LAMBDA_TARGET_P95_MS:.0f} ms): "
        f"{'met' if figures['lambda_p95_ms'] < LAMBDA_TARGET_P95_MS else 'MISSED'}")
    ratio = figures["sweep_all_last_s"] / figures["sweep_alone_s"]
    say(f"  {n} identical sweeps: last result {ratio:.2f}x one sweep alone (target under {SWEEP_TARGET_RATIO:g}x): "
        f"{'met' if ratio <= SWEEP_TARGET_RATIO else 'MISSED'}")
    say(f"  load average now {os.getloadavg()[0]:.2f} (other programs on this machine count in it)")
    return figures

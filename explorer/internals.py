"""The private Panel and Bokeh hooks the dashboard relies on: every one of them, in this module.

Each is used because no public API does the job, and each has a test (tests/test_internals.py)
that fails, naming the hook, when an upgrade removes or changes it:

- ``Syncable._priority_changes`` and ``Syncable._change_event(doc)`` (Panel), in ``Immediate``: a
  change from the page handled at once, and everything it causes sent in one message.
- ``Syncable._process_property_change(msg)`` (Panel), in ``OptionsOnlySelect`` and ``OnStep``: a
  value from the page, before it reaches the widget's parameters; there a value the page was never
  offered is refused, and a slider's value is put back on its step (the slider sends 49.99999999),
  in the message dict itself, which Panel keeps (``_in_process__events``) to send nothing back that
  the page sent.
- ``FileDropper._process_event`` and ``FileDropper._file_buffer`` (Panel), in
  ``GuardedFileDropper``: the dropper's chunks arrive there; overriding it lets the server refuse
  an oversized upload at its first chunk instead of buffering the whole file.
- ``BokehSessionContext._session.connection_count`` (Bokeh), in ``page_connections``: how many
  browser connections a page's session has; Bokeh destroys a closed page's session only after its
  unused-session lifetime, and until then a sweep it started would keep two cores busy for nobody.
- ``Reactive._update_model(events, msg, root, model, doc, comm)`` (Panel), with
  ``_process_property_change``, in ``NoStaleEcho``: the values sent to a notebook's page, to drop
  the page's late echoes of them.
- ``InlineStyleSheet._update`` (BokehJS), reached through a renderer view's ``position``
  stylesheet, in ``install_browser_fixes``: see ``SKIP_UNCHANGED_STYLESHEETS_JS``.
- ``pyviz_comms.JupyterComm._comm`` and ``init`` (pyviz_comms), and Panel's notebook ``push``
  reading ``comm._comm`` to tell whether the cell's comm is open, in ``OrderedJupyterComm``: see
  there. Installed by ``keep_notebook_updates_in_order`` (``rate2spike.explorer.notebook``).
- ``HTMLBasePane._update(ref, model)`` (Panel), in ``TextPane``: a text pane's new text, sent
  without the stylesheets Panel re-creates on every update (see there).
- ``panel.io.document._dispatch_msgs``, ``_WRITE_MSGS`` and ``_WRITE_BLOCK`` (Panel), in
  ``keep_server_writes_flowing``: a served page's messages waiting for its websocket; see there.
- ``PeriodicCallback(background=True)`` (Panel), in ``background_periodic_callback``: a periodic
  callback that does not count as the page being busy (see there).
- The Bootstrap template's sidebar element (``id="sidebar"``, shown while it has the class
  ``show``) and its toggle button (``id="sidebar-toggle"``), in ``collapse_sidebar_with``: the
  template offers only ``collapsed_sidebar``, read once when the page is built.
"""

from __future__ import annotations

import collections
import math
import time
from typing import Callable

import panel as pn
import pyviz_comms
from bokeh.models import CustomJS
from panel.io import document as panel_document
from panel.io.document import hold
from panel.io.notebook import JupyterCommManagerBinary


class NoStaleEcho:
    """For the widgets code sets in a notebook (λ, seed, the condition): an echo from the page of a
    value the kernel has since replaced is dropped.

    In a notebook cell, Panel's comm manager in the page applies the kernel's changes without
    marking them as the kernel's, so the page sends every value back (Panel issues 7324 and 7325).
    After quick changes from code (λ 12, 50, 31, then 27) the echo of 12 reached the kernel after
    27 and set λ back to 12 for a moment, with the condition of 27's trial: the explorer drew a trial
    nobody asked for. The values sent to the page (``_update_model``, Panel's, with a comm: only in
    a notebook) are kept for ``ECHO_WINDOW_S``; a value from the page that is one of them
    (``_process_property_change``) ends its echoes, and if a newer value was sent after it, it is
    stale and dropped. A served page (no comm) is not affected: Bokeh's server marks its own changes.

    The window is long because it runs from when the kernel made the change, and during Run All the
    page gets those changes only when the cell's comm opens, after the queued cells have run
    (``OrderedJupyterComm``): on a loaded machine their echoes came back over 30 s later (the window
    was 30 s), counted as the student's own, and set λ back to the lesson's earlier values. Every
    echo clears the values sent before it, so only values still on their way wait for their echo."""

    ECHO_WINDOW_S = 600.0

    def _update_model(self, events, msg, root, model, doc, comm):
        if comm is not None:
            sent = self.__dict__.setdefault("_sent_to_page", {})
            now = time.monotonic()
            for attr, value in msg.items():
                sent.setdefault(attr, collections.deque(maxlen=256)).append((value, now))
        super()._update_model(events, msg, root, model, doc, comm)

    def _process_property_change(self, msg):
        sent = self.__dict__.get("_sent_to_page", {})
        for attr in [attr for attr in msg if sent.get(attr)]:
            pending, now = sent[attr], time.monotonic()
            while pending and now - pending[0][1] > self.ECHO_WINDOW_S:
                pending.popleft()
            if not any(_same(value, msg[attr]) for value, _at in pending):
                continue  # the page's own change
            while not _same(pending.popleft()[0], msg[attr]):
                pass
            if pending:  # sent after the echoed value: the echo is stale
                del msg[attr]
        return super()._process_property_change(msg)


def _same(a, b) -> bool:
    try:
        return bool(a == b)
    except Exception:  # values that do not compare (arrays): not an echo of each other
        return a is b


class Immediate(NoStaleEcho):
    """For the widgets that start a new trial (λ, seed, the condition): handle a change from the
    page at once and send everything it causes in one message. Panel by default waits 50 ms
    after a widget's change (to batch further ones), then sends each updated widget and figure
    as its own message; here the new trial's data, the other λ widgets and the page's link leave
    together: the trial is on screen about 40 ms sooner and the browser applies one update, not
    five (``python -m benchmarks --dashboard``). Uses Panel's own hooks: ``_priority_changes`` (as its
    Tabulator does) and the document hold it puts around a change in a notebook. Mix it in before
    the widget's class: ``class ImmediateSelect(Immediate, pn.widgets.Select)``."""

    _priority_changes = ["value", "value_throttled"]

    def _change_event(self, doc) -> None:
        with hold(doc):
            super()._change_event(doc)


class OnStep:
    """For a slider: a value from the page is put on the slider's step before it reaches the
    widget's parameters. A dragged slider's position becomes a value in floating point, and
    49.99999999 for 50 showed as such in the number box beside it while the slider said 50.0.
    Mix it in before the widget's class."""

    def _process_property_change(self, msg):
        # in place, before Panel maps it: Panel keeps this very dict as what the page holds, and sends
        # back only values that are not the page's own (an identity check), so the snapped value is
        # not sent back (the page shows it with the slider's format already)
        step = getattr(self, "step", None)
        for key in ("value", "value_throttled"):
            if step and isinstance(msg.get(key), (int, float)) and not isinstance(msg[key], bool):
                msg[key] = float(round(round(msg[key] / step) * step, 10))
        return super()._process_property_change(msg)


class OptionsOnlySelect(pn.widgets.Select):
    """A selector that refuses a value from the page that is not among its options (sent by a
    tampered page): ``refused(value)`` is called and the page is shown the real value again,
    instead of an exception in the server's log."""

    def refused(self, value) -> None:
        """A value the selector never offered came from the page (subclasses say so)."""

    def _process_property_change(self, msg):
        if "value" in msg and msg["value"] not in self.labels:
            self.refused(msg.pop("value"))
            pn.state.execute(lambda: self.param.trigger("value"))  # resend the real value to the page
        return super()._process_property_change(msg)


class GuardedFileDropper(pn.widgets.FileDropper):
    """A FileDropper whose server side refuses a file larger than ``limit_bytes`` as soon as its
    first chunk says how many chunks follow, and never buffers more than that. The browser's own
    check (``max_file_size``) stops honest pages first; this stops a page that skips it.
    ``refused(name, at_least_bytes)`` is called once per refused file."""

    def __init__(self, limit_bytes: int, refused: Callable[[str, int], None], **params):
        super().__init__(**params)
        self._limit_bytes = limit_bytes
        self._refused_callback = refused
        self._refusing: set[str] = set()
        self._received: dict[str, int] = {}

    def _process_event(self, event) -> None:
        data = event.data
        if event.event_name != "upload_event":
            return super()._process_event(event)
        name, chunk, total = data["name"], int(data["chunk"]), int(data["total_chunks"])
        if chunk != 1 and name not in self._refusing and name not in self._file_buffer:
            return None  # a chunk of no upload under way (a page that does not follow the protocol)
        if chunk == 1:
            self._refusing.discard(name)
            self._received[name] = 0
            # the page splits a file of S bytes into ceil((S + 1) / chunk_size) chunks
            if total > math.ceil((self._limit_bytes + 1) / self.chunk_size):
                self._refuse(name, (total - 1) * self.chunk_size)
        if name not in self._refusing:
            self._received[name] = self._received.get(name, 0) + len(data["data"])
            if self._received[name] > self._limit_bytes:
                self._refuse(name, self._received[name])
        if name in self._refusing:
            if chunk == total:
                self._refusing.discard(name)
            return None
        if chunk == total:
            self._received.pop(name, None)
        return super()._process_event(event)

    def _refuse(self, name: str, at_least: int) -> None:
        self._refusing.add(name)
        self._received.pop(name, None)
        self._file_buffer.pop(name, None)
        self._refused_callback(name, at_least)


class TextPane(pn.pane.HTML):
    """An HTML pane whose new text is sent without new stylesheets.

    On every change of its text, Panel (1.9) gives the pane's Bokeh model new stylesheet models,
    and Bokeh, seeing models in a changed property, walks the page's whole document again (its
    1,000 models: about 50 ms of the server's event loop, 200 ms under a profiler). The page's
    text panes change with every trial (the export's status) and sweep (the verdict), so with forty
    pages that walk was the largest cost of a sweep's end (issue 28). A text change leaves the
    stylesheets as they are (a change of the ``stylesheets`` parameter itself is still sent, by
    Panel's own path)."""

    def _update(self, ref: str, model) -> None:
        props = self._get_properties(model.document)
        props.pop("stylesheets", None)
        model.update(**props)


def background_periodic_callback(callback: Callable[[], object], period_ms: int):
    """Run ``callback`` every ``period_ms`` on the page's event loop, as ``pn.state.add_periodic_callback``
    does, without marking the page busy at each run. Panel counts every run of a periodic callback
    in ``pn.state.busy`` (which every page's busy indicator watches) unless the callback is made with
    its private ``background`` flag; a sweep's progress poll runs four times a second on every page
    that follows a sweep, and with forty pages that bookkeeping alone took a second of the event
    loop per sweep (issue 28). Stopped, like Panel's own, when the page's session ends."""
    from panel.io.callbacks import PeriodicCallback

    poller = PeriodicCallback(callback=callback, period=period_ms, background=True)
    poller.start()
    doc = pn.state.curdoc
    if doc is not None:
        pn.state._periodic.setdefault(doc, []).append(poller)
    return poller


def page_connections(doc) -> int | None:
    """How many browser connections the served page of ``doc`` has now (None outside a server,
    or when Bokeh no longer offers the count)."""
    context = getattr(doc, "session_context", None)
    session = getattr(context, "_session", None)
    count = getattr(session, "connection_count", None)
    return count if isinstance(count, int) else None


INSTALLED_FLAG = "__rate2spike_unchanged_styles_kept"

# Bokeh (3.9) rewrites the text of every renderer's position stylesheet on every paint, also when
# the text is the same. Each rewrite invalidates the styles of the plot's shadow tree, and Bokeh
# then reads CSS variables (``getComputedStyle``) for the colour of every text it draws, so a
# plot of ours recomputed its styles tens of times per paint (see bokeh/bokeh#15286 on those
# reads). Skipping a rewrite whose text is unchanged keeps exactly what is drawn and takes a
# paint of the output plot from 6-9 ms to 3-4 ms in headless Chromium (``python -m benchmarks
# --dashboard`` gives the end-to-end figure). The fix finds Bokeh's stylesheet class through a
# live renderer (``Bokeh.index``, ``child_views``, ``computed_renderer_views``, ``position``) and
# wraps its one writing method, ``_update``; if a later Bokeh has no such method the page simply
# runs without it (and tests/test_internals.py and the browser test that checks the flag fail).
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


def install_browser_fixes(document) -> None:
    """Install the JavaScript fixes in a served page once its views are built (Bokeh's document_ready)."""
    if document is not None:
        document.js_on_event("document_ready", CustomJS(code=SKIP_UNCHANGED_STYLESHEETS_JS))


# Panel's BootstrapTemplate collapses its sidebar only when the page is built (collapsed_sidebar);
# Present mode collapses and restores it as it is switched, through the template's own markup.
SIDEBAR_ID, SIDEBAR_TOGGLE_ID, SIDEBAR_SHOWN_CLASS = "sidebar", "sidebar-toggle", "show"
COLLAPSE_SIDEBAR_JS = f"""
const sidebar = document.getElementById("{SIDEBAR_ID}");
const toggle = document.getElementById("{SIDEBAR_TOGGLE_ID}");
if (sidebar) sidebar.classList.toggle("{SIDEBAR_SHOWN_CLASS}", !cb_obj.active);
if (toggle) toggle.setAttribute("aria-expanded", String(!cb_obj.active));
"""


def collapse_sidebar_with(toggle: pn.widgets.Toggle) -> None:
    """Collapse the served page's sidebar while ``toggle`` is on, show it while it is off (in the
    browser: also when the server switches the toggle)."""
    toggle.jscallback(value=COLLAPSE_SIDEBAR_JS)


class _Waiting:
    """Stands in for the kernel's comm until the notebook opens it: keeps what is sent, in order."""

    def __init__(self):
        self.messages: list[tuple] = []

    def send(self, data=None, metadata=None, buffers=None):
        self.messages.append((data, metadata, buffers or []))

    def on_msg(self, callback):  # nothing arrives before the notebook opens the comm
        pass

    def close(self):
        self.messages.clear()


class OrderedJupyterComm(pyviz_comms.JupyterComm):
    """The comm a notebook cell's Panel output is updated through, keeping the updates in order.

    A cell's comm opens only once the notebook has rendered the output and the kernel has read
    the notebook's reply, which during Run All comes after the cells still queued. Until then
    Panel's ``push`` finds ``comm._comm`` unset and sends each update again on a 0.1 s timer,
    and those timers fire in no fixed order: in JupyterLab the explorer's output figure received
    the lesson's updates shuffled, the first one last, and kept showing an earlier trial than the
    kernel's (issue 24; tests/test_notebook_lab.py). Here the updates sent before the comm opens
    are kept, in order, and sent first when it opens (``init``, which Panel calls on the
    notebook's reply); Panel's ``push`` sees a comm that takes them at once."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._comm = _Waiting()

    def init(self):
        waiting = self._comm if isinstance(self._comm, _Waiting) else None
        super().init()  # the kernel's comm, opened towards the notebook's registered target
        if waiting is not None:
            for data, metadata, buffers in waiting.messages:
                self._comm.send(data, metadata=metadata, buffers=buffers)
            waiting.close()


def keep_notebook_updates_in_order() -> None:
    """Make every Panel output of this kernel (the explorer's and others') use ``OrderedJupyterComm``."""
    JupyterCommManagerBinary.server_comm = OrderedJupyterComm


async def _dispatch_waiting_messages(doc, _dispatch=panel_document._dispatch_msgs):
    """Panel's ``_dispatch_msgs``, which also writes messages another write task left waiting."""
    if doc not in panel_document._WRITE_BLOCK and panel_document._WRITE_MSGS.get(doc):
        panel_document._WRITE_BLOCK[doc] = True  # what arrives meanwhile queues behind them, in order
    await _dispatch(doc)


def keep_server_writes_flowing() -> None:
    """Make sure no update of a served page waits for its websocket forever.

    Panel (1.9) writes a page's updates to its websocket at once, or, while Bokeh is writing
    a message there, keeps them in ``_WRITE_MSGS`` for a task (``_dispatch_msgs``) that retries
    every 10 ms while ``_WRITE_BLOCK`` marks the page. When one such task finished writing while
    another had just put its messages back to retry, the first lifted the mark and the second's
    retry returned at once on seeing it lifted: those messages stayed in ``_WRITE_MSGS`` until the
    page's next update. Under a class of 40 a page then showed the trial of the λ before the one
    released, and the classroom benchmark waited 120 s for a trial the server had long computed
    (issue 28). The retry now goes on while messages wait, with the mark set again."""
    panel_document._dispatch_msgs = _dispatch_waiting_messages

"""The private Panel and Bokeh hooks of explorer/internals.py, one test each: an upgrade that removes
or changes a hook fails here, with a message naming it, before the page silently loses what the
hook gave it. A last test checks that no other explorer module overrides a private hook."""

from __future__ import annotations

import importlib
import inspect
import re
from pathlib import Path
from types import SimpleNamespace

import bokeh
import panel as pn
import pytest
from bokeh.document import Document
from bokeh.server.contexts import BokehSessionContext
from bokeh.server.session import ServerSession
from panel.reactive import Syncable

from rate2spike.explorer import internals

BOKEHJS = Path(bokeh.__file__).parent / "server" / "static" / "js"


def gone(hook: str, user: str) -> str:
    return (f"{hook} is gone or has changed in this Panel/Bokeh: explorer/internals.py ({user}) relies on it; "
            "find the new hook, or drop what it gave the page")


def parameters(function) -> list[str]:
    return list(inspect.signature(function).parameters)


def test_hook_syncable_priority_changes():
    """Immediate: a change of a property named in ``_priority_changes`` is handled at once."""
    hook = "panel.reactive.Syncable._priority_changes"
    assert isinstance(getattr(Syncable, "_priority_changes", None), list), gone(hook, "Immediate")
    assert "self._priority_changes" in inspect.getsource(Syncable._server_change), gone(hook, "Immediate")


def test_hook_syncable_change_event():
    """Immediate: a served page's change is applied by ``_change_event(doc)``, which it holds."""
    hook = "panel.reactive.Syncable._change_event(doc)"
    assert parameters(Syncable._change_event) == ["self", "doc"], gone(hook, "Immediate")
    assert "self._change_event(doc)" in inspect.getsource(Syncable._change_coroutine), gone(hook, "Immediate")


def test_hook_syncable_process_property_change():
    """OptionsOnlySelect: a value from the page passes ``_process_property_change(msg)`` first."""
    hook = "panel.reactive.Syncable._process_property_change(msg)"
    assert len(parameters(Syncable._process_property_change)) == 2, gone(hook, "OptionsOnlySelect")
    assert "self._process_property_change(" in inspect.getsource(Syncable._process_events), \
        gone(hook, "OptionsOnlySelect")

    class Probe(internals.OptionsOnlySelect):
        def refused(self, value):
            self.seen = value

    probe = Probe(options=["a", "b"])
    probe._process_events({"value": "<tampered>"})  # what Panel does with a change from the page
    assert getattr(probe, "seen", None) == "<tampered>" and probe.value == "a", gone(hook, "OptionsOnlySelect")


def test_hook_syncable_process_property_change_for_on_step():
    """OnStep: a slider's value from the page passes ``_process_property_change(msg)`` (with the
    page's property names: value, value_throttled), where it is put on the slider's step."""
    hook = "panel.reactive.Syncable._process_property_change(msg)"

    class Slider(internals.OnStep, pn.widgets.FloatSlider):
        pass

    slider = Slider(start=0.5, end=100, step=0.5, value=20)
    sent = {"value": 49.99999999, "value_throttled": 49.99999999}  # as a drag sends it
    slider._process_events(sent)
    assert slider.value == slider.value_throttled == 50.0, gone(hook, "OnStep")
    # the dict Panel keeps as what the page holds now holds the snapped value, so it is not sent back
    assert sent["value"] is slider.value, gone(hook, "OnStep")
    source = inspect.getsource(Syncable._update_model)
    assert "value is curdoc_events[attr]" in source, gone("panel.reactive.Syncable._update_model's echo check",
                                                         "OnStep")
    assert "self._in_process__events[state.curdoc] = events" in inspect.getsource(Syncable._process_events), \
        gone("panel.reactive.Syncable._in_process__events", "OnStep")


def test_hook_file_dropper_process_event_and_file_buffer():
    """GuardedFileDropper: the dropper's chunks arrive at ``_process_event(event)``, gathered in
    ``_file_buffer`` by file name."""
    hook = "panel.widgets.FileDropper._process_event(event) / _file_buffer"
    assert parameters(pn.widgets.FileDropper._process_event) == ["self", "event"], gone(hook, "GuardedFileDropper")
    assert "self._process_event(event)" in inspect.getsource(Syncable._process_bokeh_event), \
        gone(hook, "GuardedFileDropper")
    assert "'upload_event'" in inspect.getsource(pn.widgets.FileDropper._get_model), gone(hook, "GuardedFileDropper")
    dropper = pn.widgets.FileDropper()
    assert dropper._file_buffer == {}, gone(hook, "GuardedFileDropper")
    for chunk in (1, 2):  # the page's protocol: numbered chunks of one file
        dropper._process_event(SimpleNamespace(event_name="upload_event", data={
            "name": "a.mat", "chunk": chunk, "total_chunks": 2, "data": b"ab"[chunk - 1:chunk], "type": ""}))
        assert ("a.mat" in dropper._file_buffer) == (chunk == 1), gone(hook, "GuardedFileDropper")
    assert dropper.value == {"a.mat": b"ab"}, gone(hook, "GuardedFileDropper")


def test_hook_bokeh_session_context_session_connection_count():
    """page_connections: a served page's session context holds its ServerSession in ``_session``,
    which counts the page's browser connections."""
    hook = "bokeh.server.contexts.BokehSessionContext._session.connection_count"
    assert isinstance(inspect.getattr_static(ServerSession, "connection_count", None), property), \
        gone(hook, "page_connections")
    context = BokehSessionContext("a-session", SimpleNamespace(), Document())
    page = SimpleNamespace(session_context=context)
    assert internals.page_connections(page) is None  # no ServerSession yet (on_session_created)
    context._set_session(SimpleNamespace(connection_count=2))  # what the server does with the page's session
    assert internals.page_connections(page) == 2, gone(hook, "page_connections")


def declaration(path: Path, cls: str) -> str:
    """The body of one class declaration in a BokehJS type declaration file."""
    text = path.read_text(encoding="utf-8")
    match = re.search(rf"export declare (abstract )?class {cls}\b[^{{]*{{(.*?)\n}}", text, re.S)
    return "" if match is None else match.group(2)


@pytest.mark.parametrize("where, cls, member", [
    ("lib/core/dom.d.ts", "InlineStyleSheet", "protected _update(css: string): void;"),
    ("lib/models/renderers/renderer.d.ts", "RendererView", "readonly position: InlineStyleSheet;"),
    ("lib/models/layouts/layout_dom.d.ts", "LayoutDOMView", "get child_views(): UIElementView[];"),
    ("lib/models/plots/plot_canvas.d.ts", "PlotView", "get computed_renderer_views(): RendererView[];"),
])
def test_hook_bokehjs_inline_stylesheet_update(where, cls, member):
    """install_browser_fixes: the page's JavaScript walks the views (``child_views``,
    ``computed_renderer_views``) to a renderer's ``position`` stylesheet and wraps its class's
    ``_update``, in the BokehJS this Bokeh serves."""
    hook = f"BokehJS {cls}.{member.split('(')[0].split(':')[0].split()[-1]}"
    assert member in declaration(BOKEHJS / where, cls), gone(hook, "install_browser_fixes")
    served = (BOKEHJS / "bokeh.min.js").read_text(encoding="utf-8")
    assert "_update(" in served and "computed_renderer_views" in served, gone(hook, "install_browser_fixes")


def test_hook_bootstrap_template_sidebar_markup():
    """collapse_sidebar_with: the Bootstrap template's sidebar is the element id="sidebar", shown while
    it has the class "show", with its toggle button id="sidebar-toggle"; and the Toggle's Bokeh model
    has the ``active`` property the JavaScript reads."""
    hook = "the BootstrapTemplate's #sidebar / #sidebar-toggle markup"
    markup = (Path(pn.template.BootstrapTemplate._template)).read_text(encoding="utf-8")
    shown = ("{{ '' if collapsed_sidebar else '" + internals.SIDEBAR_SHOWN_CLASS + "' }}\" id=\""
             + internals.SIDEBAR_ID + '"')
    assert shown in markup, gone(hook, "collapse_sidebar_with")
    assert f'id="{internals.SIDEBAR_TOGGLE_ID}"' in markup, gone(hook, "collapse_sidebar_with")
    toggle = pn.widgets.Toggle()
    internals.collapse_sidebar_with(toggle)
    model = toggle.get_root()
    assert "active" in model.properties(), gone(hook, "collapse_sidebar_with")
    callbacks = [cb for cbs in model.js_property_callbacks.values() for cb in cbs]
    assert list(model.js_property_callbacks) == ["change:active"] and "cb_obj.active" in callbacks[0].code


def test_hook_pyviz_jupyter_comm_and_panel_notebook_push(monkeypatch):
    """Panel's notebook ``push`` sends at once through a comm whose ``_comm`` is set (no timer), and
    pyviz_comms' ``JupyterComm.init`` makes ``_comm`` the kernel's comm: ``OrderedJupyterComm``
    relies on both to deliver a cell's updates in order. Two updates pushed before the notebook
    opens the comm leave, in order, when it opens; one pushed after goes straight out."""
    import json

    import ipykernel.comm
    from bokeh.models import Div
    from panel.io.notebook import push

    contents = []

    class KernelComm:  # what ipykernel gives pyviz_comms' JupyterComm.init
        def __init__(self, target_name=None, data=None, **_):
            self.target_name = target_name

        def on_msg(self, callback):
            pass

        def send(self, data=None, metadata=None, buffers=None):
            if isinstance(data, str) and '"events"' in data:
                contents.append([event["new"] for event in json.loads(data)["events"]])

    monkeypatch.setattr(ipykernel.comm, "Comm", KernelComm)
    comm = internals.OrderedJupyterComm()
    doc = Document()
    div = Div(text="drawn")
    doc.add_root(div)
    doc.hold("combine")  # as a cell's document is held while the explorer changes it
    for text in ("first", "second"):
        div.text = text
        push(doc, comm)
    assert contents == [], gone("panel.io.notebook.push reading comm._comm", "OrderedJupyterComm")
    comm.init()
    assert isinstance(comm._comm, KernelComm), gone("pyviz_comms.JupyterComm.init setting _comm", "OrderedJupyterComm")
    div.text = "third"
    push(doc, comm)
    assert contents == [["first"], ["second"], ["third"]], contents


def test_hook_reactive_update_model_for_no_stale_echo():
    """Panel's ``_update_model`` gets the values sent to a notebook's page with the cell's comm:
    ``NoStaleEcho`` keeps them, so that the page's late echo of an earlier value is dropped, the
    echo of the current one changes nothing, and the student's own change goes through."""
    from rate2spike.explorer.controls import ImmediateFloatInput

    box = ImmediateFloatInput(value=1.0)
    model = box.get_root(Document(), internals.OrderedJupyterComm())
    for value in (12.0, 50.0, 27.0):  # set from code in the notebook
        box.value = value
    assert model.value == 27.0
    assert [v for v, _at in box._sent_to_page.get("value", [])] == [12.0, 50.0, 27.0], gone(
        "panel.reactive.Reactive._update_model(events, msg, root, model, doc, comm)", "NoStaleEcho")
    sent = box._sent_to_page["value"]  # made during Run All: the page gets them when the comm opens,
    for k, (value, at) in enumerate(list(sent)):  # and echoes them a minute later
        sent[k] = (value, at - 60.0)
    box._process_events({"value": 12})  # the page's late echo of 12
    assert box.value == 27.0
    box._process_events({"value": 27})  # the echo of the current value
    assert box.value == 27.0
    box._process_events({"value": 12})  # now the student's own choice
    assert box.value == 12.0


def test_hook_html_pane_update_for_text_pane(monkeypatch):
    """A text pane's new text reaches its Bokeh model without new stylesheets, which Panel's HTML pane
    sends on every update (in a served page Bokeh then walks the page's whole document again: the
    first λ change of a page took 270 ms instead of 50)."""
    from bokeh.core.has_props import HasProps
    from panel.pane.markup import HTMLBasePane

    hook = "panel.pane.markup.HTMLBasePane._update(ref, model)"
    assert parameters(HTMLBasePane._update) == ["self", "ref", "model"], gone(hook, "TextPane")
    doc, sent = Document(), []
    text_only, panel_own = internals.TextPane("<div>first</div>"), pn.pane.HTML("<div>first</div>")
    pn.Column(text_only, panel_own).server_doc(doc)
    update = HasProps.update
    monkeypatch.setattr(HasProps, "update", lambda self, **kw: (sent.append((type(self).__name__, set(kw))),
                                                                 update(self, **kw))[1])
    text_only.object = "<div>second</div>"
    model = next(iter(text_only._models.values()))[0]
    assert "second" in model.text
    assert sent and all("stylesheets" not in names for _kind, names in sent), gone(hook, "TextPane")
    sent.clear()
    panel_own.object = "<div>second</div>"
    assert any("stylesheets" in names for _kind, names in sent), \
        "Panel's HTML pane no longer sends its stylesheets with a new text: TextPane may go"


def test_hook_panel_dispatch_msgs_leaves_no_update_waiting(monkeypatch):
    """A served page's update that waits while Bokeh writes to its websocket is written once Bokeh is
    done, even when another write task lifted the page's write mark in between (issue 28: the page
    kept the trial of the λ before the one released). Panel's own retry, unpatched, leaves it waiting."""
    import asyncio

    from panel.io import document as panel_document

    hook = "panel.io.document._dispatch_msgs / _WRITE_MSGS / _WRITE_BLOCK / extra_socket_handlers"
    for name in ("_dispatch_msgs", "_WRITE_MSGS", "_WRITE_BLOCK", "extra_socket_handlers", "_dispatch_write_task"):
        assert hasattr(panel_document, name), gone(hook, "keep_server_writes_flowing")
    monkeypatch.setattr(panel_document, "_dispatch_msgs", panel_document._dispatch_msgs)  # restored afterwards
    internals.keep_server_writes_flowing()

    class Socket:  # a page's websocket; Bokeh holds its write lock while it writes a message of its own
        def __init__(self):
            self.write_lock = SimpleNamespace(_block=SimpleNamespace(_value=1))  # 0: held

    async def two_updates() -> list[str]:
        doc, socket, written = Document(), Socket(), []
        connection = type("Connection", (), {"_socket": socket})()
        first_written = asyncio.get_running_loop().create_future()

        def write(_connection, msg=None, events=None):
            written.append(msg)
            return [first_written] if msg == "first" else []
        monkeypatch.setitem(panel_document.extra_socket_handlers, Socket, write)
        try:
            # the first update is being written ...
            panel_document._WRITE_BLOCK[doc] = True
            panel_document._WRITE_MSGS[doc] = {connection: ["first"]}
            first = asyncio.ensure_future(panel_document._dispatch_msgs(doc))
            await asyncio.sleep(0)
            # ... when Bokeh starts a message of its own and the second update has to wait for it
            socket.write_lock._block._value = 0
            panel_document._WRITE_MSGS[doc] = {connection: ["second"]}
            panel_document._dispatch_write_task(doc, panel_document._dispatch_msgs, doc)
            await asyncio.sleep(0)
            first_written.set_result(None)  # the first write ends: its task lifts the page's write mark
            await first
            socket.write_lock._block._value = 1  # Bokeh is done
            await asyncio.sleep(0.2)
            return written
        finally:
            panel_document._WRITE_MSGS.pop(doc, None)
            panel_document._WRITE_BLOCK.pop(doc, None)

    assert asyncio.run(two_updates()) == ["first", "second"]


PRIVATE_OWNERS = ("panel", "bokeh", "param")  # whose private names only internals.py may override
MANGLED = re.compile(r"_[A-Za-z]\w*?__\w")


def test_hook_periodic_callback_background_flag():
    """A sweep's progress poll runs without marking the page busy (issue 28: with forty pages following
    a sweep, Panel's busy bookkeeping of four polls a second per page took a second of the event
    loop); Panel's own periodic callback, unflagged, marks it busy at every run."""
    import asyncio

    hook = "panel.io.callbacks.PeriodicCallback(background=True)"

    async def busy_during_runs(start) -> list[bool]:
        seen: list[bool] = []
        poller = start(lambda: seen.append(bool(pn.state._busy_counter)))
        for _ in range(200):
            await asyncio.sleep(0.01)
            if len(seen) >= 3:
                break
        poller.stop()
        return seen

    background = asyncio.run(busy_during_runs(lambda callback: internals.background_periodic_callback(callback, 5)))
    assert len(background) >= 3, gone(hook, "background_periodic_callback")
    assert not any(background), gone(hook, "background_periodic_callback")
    own = asyncio.run(busy_during_runs(lambda callback: pn.state.add_periodic_callback(callback, period=5)))
    assert own and all(own), "Panel's periodic callbacks no longer mark the page busy: background_periodic_callback may go"


def test_no_other_explorer_module_overrides_a_private_hook():
    """Every class of explorer/ that overrides a private name of a Panel, Bokeh or param base class
    is in internals.py."""
    modules = sorted(path.stem for path in Path(internals.__file__).parent.glob("*.py")
                     if path.stem not in ("__init__", "main", "internals"))  # main serves a page when imported
    overriding = []
    for name in modules:
        module = importlib.import_module(f"rate2spike.explorer.{name}")
        for cls in vars(module).values():
            if not inspect.isclass(cls) or cls.__module__ != module.__name__:
                continue
            for attribute in vars(cls):
                if not attribute.startswith("_") or attribute.startswith("__") or MANGLED.match(attribute):
                    continue  # public, special, or set by a metaclass (param's _param__parameters)
                owners = [base for base in cls.__mro__[1:] if attribute in vars(base)
                          and base.__module__.split(".")[0] in PRIVATE_OWNERS]
                if owners:
                    overriding.append(f"{name}.{cls.__name__}.{attribute} (of {owners[0].__qualname__})")
    assert overriding == [], f"private Panel/Bokeh hooks used outside explorer/internals.py: {overriding}"

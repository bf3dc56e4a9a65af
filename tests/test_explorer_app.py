"""The dashboard page built without a server: layout, callbacks, latency, sweeps, sessions."""

from __future__ import annotations

import re

import time

import numpy as np
import panel as pn
import param
import pytest

from rate2spike.explorer.app import FILE_HELP, ExplorerPage, load_extensions
from rate2spike.explorer.launch import serve_command
from rate2spike.explorer.session import ExplorerSession
from rate2spike.explorer.teaching import SIDE_BY_SIDE_HELP
from rate2spike.explorer.views import PRESENT_PREFIX, VIEWS
from conftest import write_model
from test_explorer_session import mat_bytes, wait_for_sweep


@pytest.fixture(scope="module", autouse=True)
def extensions():
    load_extensions()


def Dashboard():
    return ExplorerPage(ExplorerSession())


@pytest.fixture
def dashboard(assets):
    page = Dashboard()
    yield page
    page.close()


def lif_output(page: Dashboard) -> np.ndarray:
    return np.asarray(page.views["output"].sources["lif"].data["output"])


def test_page_has_every_view_with_a_help_line_and_the_controls(dashboard):
    template = dashboard.template()
    assert isinstance(template, pn.template.BootstrapTemplate)
    main, sidebar = pn.Column(*template.main), pn.Column(*template.sidebar)
    panes = {obj.name for obj in main.select(pn.pane.Bokeh)}
    assert panes == set(VIEWS)  # Present mode's and the side-by-side figures are built when first shown
    dashboard.present.side_toggle.value = True  # λ side by side opens Present mode
    assert dashboard.session.present
    dashboard.present.side_by_side.show()
    panes = {obj.name for obj in main.select(pn.pane.Bokeh)}
    present = {PRESENT_PREFIX + key for key, spec in VIEWS.items() if spec.present is not None}
    assert present == {"present-output", "present-performance"}
    assert panes == set(VIEWS) | present | {f"side{k}-{view}" for k in range(3) for view in ("output", "raster")}
    dashboard.present.toggle.value = False
    assert not dashboard.present.side_toggle.value  # leaving Present mode closes side by side
    help_texts = [obj.object for obj in main.select(pn.pane.Markdown)]
    for text in [spec.help_text() for spec in VIEWS.values() if spec.help is not None] + [FILE_HELP, SIDE_BY_SIDE_HELP]:
        assert text in help_texts
    sidebar_titles = [card.title for card in sidebar.select(pn.Card)]
    assert sidebar_titles == ["Model", "Task and condition", "Conversion", "Sweep λ", "Artificial stimulation",
                              "Display", "Export"]
    assert lif_output(dashboard).size > 0
    spec = dashboard.session.trial.spec
    title = dashboard.views["output"].figure.title.text
    headline, verdict_line, model_line = title.split("\n")
    assert headline == f"Output, {dashboard.session.trial.stimulus.condition.name} trial, λ = 50, seed 0"
    assert re.match(r"(in)?correct . \(max in window", verdict_line) and model_line == spec.model.name


def test_the_page_is_a_viewer_of_the_session(assets):
    """What `panel serve explorer` displays: the page, a Viewer over the session (which knows no page)."""
    session = ExplorerSession()
    page = ExplorerPage(session)
    try:
        assert isinstance(page, pn.viewable.Viewer) and not isinstance(session, pn.viewable.Viewer)
        assert page.session is session
        template = page.__panel__()
        assert isinstance(template, pn.template.BootstrapTemplate)
        sliders = [w for w in pn.Column(*template.sidebar).select(pn.widgets.FloatSlider)
                   if w.label == "Scaling factor λ"]
        assert len(sliders) == 1 and sliders[0].value == session.scaling_factor
    finally:
        page.close()


def test_each_registered_view_is_on_the_page_and_drawn_from_its_frame(dashboard):
    """The registry is the page: each view's figure carries its key, its frame fills every data source of
    its figure, it reads session parameters, and opening each tab brings its views up to date."""
    session = dashboard.session
    dashboard.template()
    for key, spec in VIEWS.items():
        view = dashboard.views[key]
        assert view.figure.css_classes == [f"view-{key}"], key
        assert all(source.name == f"{key}-{entry}" for entry, source in view.sources.items()), key
        assert set(spec.frame_of(session).sources) == set(view.sources), key
        assert set(spec.reads) <= set(session.param.objects()), key
    assert dashboard.tab_titles == ["Spike raster", "Membrane voltage", "One unit", "Readout", "Rate vs LIF",
                                    "Firing rates"]
    session.scaling_factor = 29.0
    for title, specs in dashboard.tab_views.items():
        dashboard.tabs.active = dashboard.tab_titles.index(title)
        assert not {spec.key for spec in specs} & dashboard.stale, title
        for spec in specs:
            if "trial" in spec.reads:
                assert "λ = 29" in dashboard.views[spec.key].figure.title.text, spec.key


def test_present_mode_shows_its_registered_views_and_the_page_catches_up_when_it_ends(dashboard):
    session, present = dashboard.session, dashboard.present
    dashboard.present.toggle.value = True
    assert set(present.views) == {key for key, spec in VIEWS.items() if spec.present is not None}
    assert "λ = 50" in present.views["output"].figure.title.text
    session.scaling_factor = 33.0  # from Present mode's own λ slider
    assert "λ = 33" in present.views["output"].figure.title.text
    assert present.views["performance"].marker.location == 33.0
    page_output = dashboard.views["output"].figure
    assert "output" in dashboard.stale and "λ = 33" not in page_output.title.text  # hidden: not recomputed
    dashboard.present.toggle.value = False
    assert "λ = 33" in page_output.title.text and dashboard.views["performance"].marker.location == 33.0


def test_a_served_page_draws_recorded_views_from_the_trial_with_recordings_only(assets):
    """On a served page the trial with every recording is simulated off the event loop: a view that
    draws voltages waits for it, and the page never simulates it itself (``recorded_trial``)."""
    from test_server_bounds import FakeDocument

    doc = FakeDocument()
    session = ExplorerSession(doc=doc)
    try:
        wait_until(lambda: session.trial is not None)
        page = ExplorerPage(session)
        assert session.trial.recording.voltage is None and "voltage" in page.stale
        opened = []  # the tab opened on the page's loop, as a click is
        doc.add_next_tick_callback(lambda: opened.append(
            setattr(page.tabs, "active", page.tab_titles.index("Membrane voltage"))))
        wait_until(lambda: opened and "voltage" not in page.stale)
        assert session.has_recordings() and session._recorded is None  # recorded off the loop, never on it
        assert len(page.views["voltage"].sources["lines"].data["xs"]) == 2
    finally:
        doc.calls.put(None)
        session.close()


def test_a_findings_button_brings_up_the_view_that_shows_its_evidence(dashboard):
    """The Diagnosis card names each view as the registry does and opens its tab (or the file card)."""
    from types import SimpleNamespace

    findings = [SimpleNamespace(view=view) for view in ("decay", "file", "output", "nowhere")]
    diagnosis = SimpleNamespace(model_name="m.mat", measures={"scaling_factor": 50.0}, findings=findings,
                                lines=lambda: [f"{k}. finding" for k in range(1, len(findings) + 1)])
    dashboard.diagnosis.show(diagnosis, None)
    links = {button.css_classes[0]: button for button in dashboard.diagnosis.findings.select(pn.widgets.Button)}
    assert sorted(links) == ["finding-link-decay", "finding-link-file", "finding-link-output"]  # none for "nowhere"
    assert links["finding-link-decay"].label == f"Show {VIEWS['decay'].called}"
    links["finding-link-decay"].clicks += 1
    assert dashboard.tab_titles[dashboard.tabs.active] == VIEWS["decay"].tab == "Firing rates"
    assert "decay" not in dashboard.stale  # drawn as its tab opened
    links["finding-link-file"].clicks += 1
    assert not dashboard.file_card.collapsed


def wait_until(condition, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.02)


def test_the_lambda_slider_reacts_on_release_only(dashboard):
    state, slider = dashboard.session, dashboard.controls.scaling
    before = lif_output(dashboard)
    slider.value = 31.0  # dragging: no new trial yet
    assert state.scaling_factor == 50.0 and np.array_equal(lif_output(dashboard), before)
    with param.edit_constant(slider):  # what the browser sends on release
        slider.value_throttled = 31.0
    assert state.scaling_factor == 31.0 and state.trial.spec.scaling_factor == 31.0
    assert not np.array_equal(lif_output(dashboard), before)
    assert dashboard.views["performance"].marker.location == 31.0


def test_display_controls_update_their_views_without_resimulating(dashboard):
    trial = dashboard.session.trial
    dashboard.controls.raster_order.value = "rate"
    assert dashboard.views["raster"].figure.yaxis[0].axis_label == "Unit (sorted by firing rate, highest on top)"
    dashboard.controls.voltage_units.value = [3, 5, 7]
    assert dashboard.session.voltage_units == [3, 5, 7]
    # the voltage tab is not shown: its figure is brought up to date when it is
    voltage = dashboard.views["voltage"]
    assert len(voltage.sources["lines"].data["xs"]) != 3 and "voltage" in dashboard.stale
    dashboard.tabs.active = dashboard.tab_titles.index("Membrane voltage")
    assert len(voltage.sources["lines"].data["xs"]) == 3 and "voltage" not in dashboard.stale
    shown = dashboard.session.trial  # the same trial again, now with the voltages the tab draws
    assert shown.spec is trial.spec and np.array_equal(shown.recording.spikes, trial.recording.spikes)
    dashboard.controls.voltage_units.value = [2, 4]
    dashboard.controls.raster_order.value = "type"
    assert len(voltage.sources["lines"].data["xs"]) == 2 and dashboard.session.trial is shown


def test_a_lambda_change_updates_only_the_views_on_screen_and_the_others_when_shown(dashboard):
    s = dashboard.session
    readout, raster = dashboard.views["readout"], dashboard.views["raster"]
    readout_before = list(readout.sources["bars"].data["lif"])
    raster_before = np.asarray(raster.sources["exc"].data["time"])
    s.scaling_factor = 27.0
    raster_after = np.asarray(raster.sources["exc"].data["time"])
    assert not np.array_equal(raster_after, raster_before, equal_nan=True)  # the open tab follows
    assert list(readout.sources["bars"].data["lif"]) == readout_before  # hidden: not recomputed
    assert s.trial.recording.voltage is None  # a λ change simulates only what the output and raster need
    assert dashboard.views["performance"].marker.location == 27.0  # the accuracy curve marks the new λ
    dashboard.tabs.active = dashboard.tab_titles.index("Readout")
    assert "λ = 27" in readout.figure.title.text
    recorded = s.recorded_trial()
    assert recorded.recording.rate is not None and np.array_equal(recorded.recording.spikes, s.trial.recording.spikes)
    assert s.recorded_trial() is recorded  # simulated once per trial


def test_bad_upload_shows_the_error_on_the_page(dashboard):
    """A rejected file leaves an empty dropper in place of the one that took it: the browser marked
    that file 'Upload complete' when its bytes were sent, and only the error should speak."""
    trial, dropper = dashboard.session.trial, dashboard.controls.upload
    replaced_first = []  # the error is set with the fresh dropper in place: a file picked at once goes to it
    dashboard.session.param.watch(
        lambda _: replaced_first.append(dashboard.controls.upload_slot.objects[0] is not dropper), "error")
    dropper.value = {"notes.mat": b"no model in here" * 20}
    assert dashboard.error.visible and "notes.mat: is not a readable MAT file" in dashboard.error.object
    assert replaced_first[0] is True
    assert dashboard.session.trial is trial
    fresh = dashboard.controls.upload
    assert fresh is not dropper and fresh.value == {} and dashboard.controls.upload_slot.objects == [fresh]
    fresh.value = {"Task_go-nogo_N_25_ok.mat": mat_bytes(N=25)}
    assert dashboard.controls.upload is fresh  # an accepted upload keeps its dropper (and its file shown)
    dashboard.controls.upload.value = {"Task_go-nogo_N_25_ok.mat": mat_bytes(N=25)}
    assert not dashboard.error.visible and dashboard.session.model.N == 25
    assert dashboard.views["raster"].figure.y_range.end == pytest.approx(24.5)


def test_switching_task_resets_the_shared_time_axis(dashboard):
    dashboard.session.model_label = next(label for label in dashboard.session.catalog.labels if label.startswith("mante/"))
    task_widgets = [w.label for w in dashboard.controls.task_controls.panel.objects]
    assert task_widgets == ["Context (which input to attend)", "Sign of input 1", "Sign of input 2",
                            "Evidence strength (input mean)"]
    assert (dashboard.time_range.start, dashboard.time_range.end) == (0.0, 2.5)
    assert dashboard.views["output"].figure.x_range is dashboard.time_range is dashboard.views["voltage"].figure.x_range


def test_sweep_fills_the_curve_then_saves_after_confirmation(tmp_path, monkeypatch):
    monkeypatch.setenv("RATE2SPIKE_ASSETS", str(tmp_path / "no-assets"))
    write_model(tmp_path / "mine" / "Task_go-nogo_N_30_a.mat", N=30)
    page = ExplorerPage(ExplorerSession(models_dir=tmp_path / "mine", allow_save=True))
    try:
        _sweep_then_save(page)
    finally:
        page.close()


def test_the_save_button_is_hidden_where_the_page_may_not_write(dashboard):
    sweeps = dashboard.controls.sweeps
    assert not sweeps.save.visible and not sweeps.download_model.disabled
    assert sweeps.download_model.label == "Download model file"
    assert dashboard.session.start_sweep(20, 30, 10, 2, n_threads=1)
    wait_for_sweep(dashboard.session)
    assert not sweeps.save.visible and sweeps.download_model.label == "Download model file with this sweep's results"


def _sweep_then_save(page):
    state = page.session
    assert state.start_sweep(20, 40, 10, 3, n_threads=1)
    assert page.controls.sweeps.run.disabled and not page.controls.sweeps.cancel.disabled
    wait_for_sweep(state)
    assert list(page.views["performance"].sources["sweep"].data["scaling_factor"]) == [20.0, 30.0, 40.0]
    # an untrained model on 3 trials: no λ converts it; the page says so first, and draws no best λ
    assert state.sweep_result.verdict().failed and page.verdict.visible
    assert page.verdict.object.startswith('<div class="plain-text">No λ converts this model')
    assert len(page.views["performance"].sources["best"].data["accuracy"]) == 0
    assert "no λ converts this model" in page.views["performance"].figure.title.text
    assert page.controls.sweeps.progress.value == 100 and "Sweep finished" in page.controls.sweeps.status.value
    assert not page.controls.sweeps.csv.disabled and not page.controls.sweeps.save.disabled
    page.controls.sweeps._ask()
    assert page.controls.sweeps.confirm_box.visible and state.model.path.name in page.controls.sweeps.confirm_text.object
    assert "no opt_scaling_factor" in page.controls.sweeps.confirm_text.object
    page.controls.sweeps._write()
    assert not page.controls.sweeps.confirm_box.visible and state.sweep_status.startswith("Saved the verdict 'failed'")
    assert state.model.opt_scaling_factor is None and state.model.search_verdict.startswith("failed: ")
    assert len(page.views["performance"].sources["stored"].data["accuracy"]) == 3  # the stored curve now shows


def test_a_sweep_in_one_session_does_not_block_another(assets):
    first, second = Dashboard(), Dashboard()
    try:
        assert first.session.start_sweep(10, 100, 2, 40, n_threads=1)
        started = time.perf_counter()
        second.session.scaling_factor = 44.0  # simulated while the first session's sweep runs
        assert time.perf_counter() - started < 5.0
        assert second.session.trial.spec.scaling_factor == 44.0 and first.session.scaling_factor == 50.0
        assert first.session.poll_sweep()  # still running
    finally:
        first.close()
        second.close()
    wait_for_sweep(first.session)
    assert first.session.sweep.cancelled


def test_serve_command(tmp_path):
    command = serve_command(models=tmp_path, port=5100, show=True)
    assert command[1:4] == ["-m", "panel", "serve"] and command[4].endswith("explorer")
    assert command[5:] == ["--port", "5100", "--address", "127.0.0.1", "--allow-websocket-origin", "127.0.0.1:5100",
                           "--allow-websocket-origin", "localhost:5100", "--show", "--args", "--models",
                           str(tmp_path.resolve())]
    assert "--show" not in serve_command(port=5100, show=False)


def test_each_dropped_file_is_opened_once(dashboard):
    """The dropper keeps earlier files in its value (in place): only the new one is stored and opened."""
    session, dropper = dashboard.session, dashboard.controls.upload
    for name, n in (("Task_go-nogo_N_25_a.mat", 25), ("Task_go-nogo_N_26_b.mat", 26)):
        dropper.value[name] = mat_bytes(N=n)
        dropper.param.trigger("value")
    uploads = [label for label in session.catalog.labels if label.startswith("upload:")]
    assert uploads == ["upload: Task_go-nogo_N_25_a.mat", "upload: Task_go-nogo_N_26_b.mat"]
    assert session.model.N == 26 and sorted(p.name for p in session.catalog.upload_dir.iterdir()) == [
        "Task_go-nogo_N_25_a.mat", "Task_go-nogo_N_26_b.mat"]


def test_a_label_from_a_tampered_page_is_refused_on_the_page(dashboard):
    """The selector gets a label it never offered: an error on the page, the real model stays."""
    session, select = dashboard.session, dashboard.controls.model_select
    label, model = session.model_label, session.model
    select._process_events({"value": "/etc/passwd"})
    assert "'/etc/passwd' is not one of the models this page can open" in session.error
    assert dashboard.error.visible and session.model_label == label and session.model is model
    assert select.value == label


def test_the_number_box_sets_lambda_and_the_output_range_can_be_fixed(dashboard):
    session = dashboard.session
    dashboard.controls.scaling_number.value = 27.5
    assert session.trial.spec.scaling_factor == 27.5 and dashboard.controls.scaling.value == 27.5
    session.fix_output_range = True
    y_range = (dashboard.views["output"].figure.y_range.start, dashboard.views["output"].figure.y_range.end)
    session.scaling_factor = 3.0  # a much stronger output
    assert (dashboard.views["output"].figure.y_range.start, dashboard.views["output"].figure.y_range.end) == y_range
    session.fix_output_range = False
    session.scaling_factor = 4.0
    assert (dashboard.views["output"].figure.y_range.start, dashboard.views["output"].figure.y_range.end) != y_range
    # a small step of lambda leaves the axis where it is, while the trace still fills it
    session.scaling_factor = 27.5  # the axis fits this trace
    y_range = (dashboard.views["output"].figure.y_range.start, dashboard.views["output"].figure.y_range.end)
    session.scaling_factor = 28.0
    assert (dashboard.views["output"].figure.y_range.start, dashboard.views["output"].figure.y_range.end) == y_range
    out = session.trial.recording.out
    assert y_range[0] < out.min() and out.max() < y_range[1]


def test_the_single_precision_box_runs_the_sweep_in_float32_and_leaves_the_trial_on_screen_alone(dashboard):
    sweeps = dashboard.controls.sweeps
    sweeps.grid.value, sweeps.step.value, sweeps.n_trials.value = (20, 30), 10.0, 3
    sweeps.single.value = True
    sweeps._start()
    assert "float32" in dashboard.session.sweep_status
    wait_for_sweep(dashboard.session)
    result = dashboard.session.sweep_result
    assert result.base.precision == "float32" and "# precision: float32" in dashboard.session.sweep_csv()
    assert re.match(r"Sweep finished: \d+ / \d+ trials in float32, ", dashboard.session.sweep_status)
    assert dashboard.session.trial.spec.precision == "float64"
    sweeps.stop()

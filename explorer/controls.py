"""The sidebar: widgets bound to one session's parameters, in cards.

Widgets are made from the session's parameters (``from_param``, sliders through their
throttled value, so dragging simulates once, on release). The task's controls (one selector
per factor of its conditions, one slider per option) are built from the task object, so
nothing here names a task. The sweep card starts, follows, cancels, exports and saves the
session's sweep; a periodic callback on the session's own event loop brings its progress in.
"""

from __future__ import annotations

import io
import time

import panel as pn
from panel.io.document import hold, with_lock

from rate2spike.explorer.catalog import MAX_UPLOAD_BYTES, UPLOAD_CHUNK_BYTES
from rate2spike.explorer.internals import (GuardedFileDropper, Immediate, OnStep, OptionsOnlySelect,
                                          background_periodic_callback, page_connections)
from rate2spike.explorer.session import LAMBDA_BOUNDS, LAMBDA_STEP, ExplorerSession, has_initial_decay
from rate2spike.explorer.text import SMALL_TEXT, as_html, static_text, text_pane
from rate2spike.export import trial_bytes, trial_file_name
from rate2spike.interop import TARGETS
from rate2spike.search import SearchOptions
from rate2spike.sweep import DEFAULT_N_TRIALS, DEFAULT_SCALING_FACTORS
from rate2spike.tasks import RANDOM, Task
from rate2spike.trial import DEFAULT_SCALING_FACTOR

POLL_MS = 250  # how often a running sweep's progress is brought into the page
CLOSED_PAGE_GRACE_S = 5.0  # a sweep whose page has had no browser connection this long is cancelled
CARD = dict(sizing_mode="stretch_width", margin=(5, 0))
INSET = (5, 0)  # widgets inside a nested column: the column already has the card's side margin
LAMBDA_FORMAT = "0[.][0]"  # λ on its sliders as in its number boxes: 20, 20.5 (numbro format)


def hint(text: str) -> pn.pane.Markdown:
    """A line of small explanatory text under a control group."""
    return pn.pane.Markdown(text, styles=SMALL_TEXT, margin=(0, 10, 4, 10), sizing_mode="stretch_width")


EXPORT_CHOICES = {"Brian2 script": "brian2", "NEST script": "nest", "NIR graph (neuromorphic)": "nir",
                  "NWB file (this trial)": "nwb", "Neo file (this trial)": "neo"}
assert set(EXPORT_CHOICES.values()) == set(TARGETS)


class ImmediateFloatSlider(Immediate, OnStep, pn.widgets.FloatSlider):
    """A float slider whose release reaches the page in one message, at once (``Immediate``), its
    value on its step (``OnStep``)."""


def lambda_slider(session: ExplorerSession, **params) -> ImmediateFloatSlider:
    """A λ slider of the session (the sidebar's, Present mode's): on the step, acting on release, and
    spanning ``session.lambda_range`` (the model's search), which follows the session."""
    low, high = session.lambda_range
    slider = ImmediateFloatSlider.from_param(session.param.scaling_factor, throttled=True, step=LAMBDA_STEP,
                                             format=LAMBDA_FORMAT, start=low, end=high, **params)
    session.param.watch(lambda event: slider.param.update(start=event.new[0], end=event.new[1]), "lambda_range")
    return slider


class ImmediateFloatInput(Immediate, pn.widgets.FloatInput):
    """A number box whose value reaches the page in one message, at once (``Immediate``)."""


class ImmediateIntInput(Immediate, pn.widgets.IntInput):
    """An integer box whose value reaches the page in one message, at once (``Immediate``)."""


class ImmediateSelect(Immediate, pn.widgets.Select):
    """A selector (a condition's factor) whose choice reaches the page in one message, at once."""


class CatalogSelect(OptionsOnlySelect):
    """The model selector. A label that is not among the options (sent by a tampered page) is
    refused with a message on the page, and the page is shown the real current model again,
    instead of an exception in the server's log."""

    def __init__(self, session: ExplorerSession, **params):
        super().__init__(**params)
        self.session = session

    def refused(self, value) -> None:
        self.session.error = (f"'{value}' is not one of the models this page can open; "
                              f"{self.session.current_label() or 'no model'} stays open.")


class TaskControls:
    """One selector per factor of the task's conditions and one slider per task option (Present
    mode: ``with_options=False``, the factors only, in a row, with its ``css_prefix`` and
    ``stylesheets``)."""

    def __init__(self, session: ExplorerSession, with_options: bool = True, css_prefix: str = "",
                 stylesheets: list | None = None):
        self.session = session
        self.with_options = with_options
        self.css_prefix = css_prefix
        self.stylesheets = stylesheets or []
        self.factors: dict[str, pn.widgets.Select] = {}
        self.panel = (pn.Column(sizing_mode="stretch_width", margin=0) if with_options
                      else pn.Row(margin=0, css_classes=[f"{css_prefix}condition"]))
        pn.bind(self._build, session.param.task, watch=True)
        pn.bind(self._show_condition, session.param.condition, watch=True)
        self._build(session.task)

    def _build(self, task: Task | None) -> None:
        self.factors = {}
        widgets = []
        for factor in task.factors if task is not None else ():
            size = dict(sizing_mode="stretch_width") if self.with_options else dict(width=170)
            select = ImmediateSelect(label=factor.label, options=[RANDOM, *factor.levels],
                                     value=self.session.condition_level(factor.name), margin=INSET,
                                     css_classes=[f"{self.css_prefix}factor-{factor.name}"],
                                     stylesheets=self.stylesheets, **size)
            select.param.watch(lambda event, name=factor.name: self.session.choose_level(name, event.new), "value")
            self.factors[factor.name] = select
            widgets.append(select)
        for option in task.options if task is not None and self.with_options else ():
            slider = pn.widgets.FloatSlider(label=option.label, start=option.low, end=option.high, step=option.step,
                                            value=self.session.task_options.get(option.name, option.default),
                                            sizing_mode="stretch_width", margin=INSET,
                                            css_classes=[f"option-{option.name}"])
            slider.param.watch(lambda event, name=option.name: self._set_option(name, event.new), "value_throttled")
            widgets.append(slider)
        self.panel.objects = widgets

    def _set_option(self, name: str, value: float) -> None:
        self.session.task_options = {**self.session.task_options, name: float(value)}

    def _show_condition(self, condition: dict) -> None:
        for name, select in self.factors.items():
            level = condition.get(name, RANDOM)
            if select.value != level:
                select.value = level


class SweepCard:
    """Widgets that start, follow, cancel, export and save one session's sweeps. Saving into
    the model file takes two clicks: the first shows what will be written where."""

    def __init__(self, session: ExplorerSession):
        self.session = session
        step = DEFAULT_SCALING_FACTORS[1] - DEFAULT_SCALING_FACTORS[0]
        self.grid = pn.widgets.RangeSlider(label="λ range", start=LAMBDA_BOUNDS[0], end=LAMBDA_BOUNDS[1], step=1,
                                           value=(DEFAULT_SCALING_FACTORS[0], DEFAULT_SCALING_FACTORS[-1]),
                                           sizing_mode="stretch_width")
        self.step = pn.widgets.FloatInput(label="λ step", value=float(step), start=0.1, step=1, width=110,
                                          css_classes=["sweep-step"])
        self.n_trials = pn.widgets.IntInput(label="Trials per λ", value=DEFAULT_N_TRIALS, start=1, end=10_000,
                                            width=110, css_classes=["sweep-trials"])
        self.extend = pn.widgets.Checkbox(label="Extend past an edge optimum", value=True, css_classes=["sweep-extend"])
        self.refine = pn.widgets.Checkbox(label="Refine around the optimum (step / 5)", value=False,
                                          css_classes=["sweep-refine"])
        self.race = pn.widgets.Checkbox(label="Race: drop clearly worse λ early", value=False,
                                        css_classes=["sweep-race"])
        self.single = pn.widgets.Checkbox(label="Single precision (float32, faster)", value=False,
                                          css_classes=["sweep-float32"])
        self.run = pn.widgets.Button(label="Run sweep", color="primary", sizing_mode="stretch_width",
                                     css_classes=["sweep-run"], disabled=session.sweep_running or session.trial is None)
        self.cancel = pn.widgets.Button(label="Cancel", color="warning", sizing_mode="stretch_width",
                                        css_classes=["sweep-cancel"], disabled=not session.sweep_running)
        self.progress = pn.indicators.Progress(value=0, max=100, bar_color="primary", sizing_mode="stretch_width",
                                               height=16, margin=(6, 10))
        # a StaticText widget: updating it sends one string, where a Markdown pane update re-scans the page
        self.status = pn.widgets.StaticText(value=pn.bind(static_text, session.param.sweep_status),
                                            sizing_mode="stretch_width",
                                            margin=(0, 10))
        self.csv = pn.widgets.FileDownload(callback=self._csv, filename="sweep.csv", label="Sweep as CSV",
                                           embed=False, disabled=True, sizing_mode="stretch_width")
        self.download_model = pn.widgets.FileDownload(
            callback=self._model_file, filename="model.mat", label="Download model file", embed=False,
            disabled=session.model is None, sizing_mode="stretch_width", css_classes=["download-model"])
        self.save = pn.widgets.Button(label="Save into model file…", disabled=True, sizing_mode="stretch_width",
                                      visible=session.may_write_model_file(), css_classes=["sweep-save"])
        self.confirm_text = text_pane("", sizing_mode="stretch_width", margin=(0, 10))
        self.confirm = pn.widgets.Button(label="Yes, write it", color="danger", sizing_mode="stretch_width")
        self.dismiss = pn.widgets.Button(label="No", sizing_mode="stretch_width")
        self.confirm_box = pn.Column(self.confirm_text, pn.Row(self.confirm, self.dismiss, margin=0),
                                     visible=False, sizing_mode="stretch_width", margin=0)
        self._poller = None
        self._alone_since: float | None = None  # when the page lost its last browser connection

        self.run.on_click(self._start)
        self.cancel.on_click(lambda _: self.session.cancel_sweep())
        self.save.on_click(self._ask)
        self.confirm.on_click(self._write)
        self.dismiss.on_click(lambda _: setattr(self.confirm_box, "visible", False))
        pn.bind(self._show, session.param.sweep, session.param.sweep_running, session.param.trial, watch=True)
        self._show(session.sweep, session.sweep_running, session.trial)

    def _start(self, _=None) -> None:
        low, high = self.grid.value
        options = SearchOptions(extend=self.extend.value, refine=self.refine.value, race=self.race.value)
        with hold():  # what the start changes on the page goes in one message
            started = self.session.start_sweep(low, high, float(self.step.value), int(self.n_trials.value),
                                               options=options, precision="float32" if self.single.value else "float64")
            if started:
                self.confirm_box.visible = False
        if started:
            self._poller = background_periodic_callback(self._poll, POLL_MS)

    def _poll(self) -> None:
        """Bring the sweep's progress in. Everything one poll changes (status, curve, buttons, verdict)
        goes to the page in one message: Bokeh serializes each message against the page's whole
        document, so a dozen messages per poll, on forty pages, slowed the sweep they followed."""
        self._cancel_if_page_closed()
        with hold():
            still = self.session.poll_sweep()
        if not still and self._poller is not None:
            self._poller.stop()
            self._poller = None

    def _cancel_if_page_closed(self) -> None:
        """Cancel the sweep of a page that no browser shows any more: Bokeh ends a closed page's
        session only after its unused-session lifetime, and until then the sweep would go on."""
        connections = page_connections(pn.state.curdoc)
        if connections is None or connections > 0:
            self._alone_since = None
        elif self._alone_since is None:
            self._alone_since = time.monotonic()
        elif time.monotonic() - self._alone_since > CLOSED_PAGE_GRACE_S:
            self.session.cancel_sweep()

    def _show(self, snapshot, running, trial) -> None:
        session = self.session
        self.progress.value = int(round(100 * snapshot.fraction)) if snapshot is not None else 0
        self.run.disabled = running or trial is None
        self.cancel.disabled = not running
        self.csv.disabled = session.sweep_result is None
        self.save.visible = session.may_write_model_file()
        self.save.disabled = not session.can_save_sweep()
        self.download_model.disabled = session.model is None
        self.download_model.label = ("Download model file with this sweep's results" if session.finished_sweep()
                                     else "Download model file")
        if session.model is not None and session.model.path is not None:
            status = "" if session.sweep_result is None or session.sweep_result.status == "complete" \
                else f"_{session.sweep_result.status}"
            self.csv.filename = f"{session.model.path.stem}_sweep{status}.csv"

    def _model_file(self):
        """The open model file, with the finished sweep stored in it (named as the original). When the
        file on disk is no longer the one opened, the page says why and the download fails."""
        self.download_model.filename = self.session.model.path.name
        return io.BytesIO(self.session.model_file_bytes())

    def _csv(self):
        return io.StringIO(self.session.sweep_csv())

    def _ask(self, _=None) -> None:
        result = self.session.sweep_result
        lam, acc = result.optimum
        verdict = result.verdict()
        what = (f"the verdict '{verdict.kind}' (no λ converts this model, so no opt_scaling_factor)"
                if verdict is not None and verdict.failed else f"opt_scaling_factor = {lam:g} (accuracy {acc:.2f}), "
                "the verdict, the recommended λ")
        self.confirm_text.object = as_html(
            f"Write {what}, all_perfs, scaling_factors and scaling_factor_band into {self.session.model.path.name}? "
            "Every other variable in the file is kept; the file is replaced atomically.")
        self.confirm_box.visible = True

    def _write(self, _=None) -> None:
        self.confirm_box.visible = False
        try:
            self.session.sweep_status = self.session.save_sweep()
        except ValueError as exc:
            self.session.sweep_status = str(exc)
        self.save.disabled = not self.session.can_save_sweep()

    def stop(self) -> None:
        """End of the session: stop polling and cancel the sweep."""
        if self._poller is not None:
            self._poller.stop()
            self._poller = None
        self.session.cancel_sweep()

    def card(self) -> pn.Card:
        return pn.Card(
            self.grid, pn.Row(self.step, self.n_trials, margin=0), self.extend, self.refine, self.race, self.single,
            pn.Row(self.run, self.cancel, margin=0),
            self.progress, self.status, self.csv, self.download_model, self.save, self.confirm_box,
            hint("Scores n random trials at each λ (the same trials at every λ) with the current seed, task options, "
                 "downsampling, weights and stimulation, in the background; the curve fills in as it runs. "
                 "An optimum on the grid's edge adds λ beyond it; a race stops scoring λ that a paired test shows "
                 "worse than the leader. Single precision runs the sweep's spiking networks in float32, about 1.3x "
                 "faster, with the same accuracies within their intervals (not the same spikes). The green band marks λ not significantly below the best; the purple line "
                 "how closely the spiking output follows the rate network's. "
                 "The model file downloads with a complete sweep's optimum, accuracies and λ grid stored in it "
                 "(opt_scaling_factor, all_perfs, scaling_factors, scaling_factor_band); shipped models and uploads are never changed "
                 "on the server."),
            title="Sweep λ", **CARD)


class Controls:
    """All sidebar widgets of one session, grouped in cards."""

    def __init__(self, session: ExplorerSession):
        self.session = s = session
        self.model_select = CatalogSelect.from_param(s.param.model_label, session=s, sizing_mode="stretch_width",
                                                     css_classes=["model-select"])
        self._handled: dict = {}  # the dropper's files already opened, by name
        self.upload = self._new_dropper()
        self.upload_slot = pn.Column(self.upload, sizing_mode="stretch_width", margin=0)
        self.task = pn.widgets.Select.from_param(s.param.task_name, sizing_mode="stretch_width")
        self.task_controls = TaskControls(s)
        # the slider spans the model's search (session.lambda_range); the number box takes any λ allowed,
        # and one beyond the slider widens it
        self.scaling = lambda_slider(s, sizing_mode="stretch_width", css_classes=["lambda-slider"])
        self.scaling_number = ImmediateFloatInput.from_param(s.param.scaling_factor, step=LAMBDA_STEP, width=90,
                                                             label="λ", css_classes=["lambda-number"])
        self.fix_output_range = pn.widgets.Checkbox.from_param(s.param.fix_output_range)
        self.seed = ImmediateIntInput.from_param(s.param.seed, sizing_mode="stretch_width")
        self.downsample = pn.widgets.IntSlider.from_param(s.param.downsample, throttled=True,
                                                          sizing_mode="stretch_width")
        self.initial = pn.widgets.Checkbox.from_param(
            s.param.use_initial_weights, disabled=pn.bind(lambda m: m is None or m.w0 is None, s.param.model))
        self.initial_decay = pn.widgets.Checkbox.from_param(  # only with w0: the fully untrained network
            s.param.initial_decay, disabled=pn.bind(lambda m, on: not on or not has_initial_decay(m), s.param.model,
                                                    s.param.use_initial_weights))
        self.stim_mode = pn.widgets.RadioButtonGroup.from_param(s.param.stim_mode, color="default",
                                                                sizing_mode="stretch_width")
        self.stim_units = pn.widgets.TextInput.from_param(s.param.stim_units, placeholder="e.g. 0-9, 15 or inh",
                                                          sizing_mode="stretch_width")
        self.stim_window = pn.widgets.RangeSlider.from_param(s.param.stim_window, throttled=True, step=0.005,
                                                             sizing_mode="stretch_width")
        self.raster_order = pn.widgets.RadioButtonGroup.from_param(s.param.raster_order, sizing_mode="stretch_width")
        self.compared_unit = pn.widgets.IntInput.from_param(
            s.param.compared_unit, end=pn.bind(lambda m: None if m is None else m.N - 1, s.param.model),
            sizing_mode="stretch_width", css_classes=["compared-unit"])
        self.diagnostic_window = pn.widgets.RadioButtonGroup.from_param(s.param.diagnostic_window,
                                                                        sizing_mode="stretch_width")
        self.voltage_units = pn.widgets.MultiChoice.from_param(
            s.param.voltage_units, options=pn.bind(self._unit_choices, s.param.model), max_items=6,
            # 20 choices in the list, the rest found by typing: the page keeps fewer elements to restyle
            option_limit=20, search_option_limit=20, placeholder="type a unit number", sizing_mode="stretch_width")
        self.sweeps = SweepCard(s)
        missing = pn.bind(lambda trial: trial is None, s.param.trial)
        self.download_mat = pn.widgets.FileDownload(callback=lambda: self._trial_file("mat"), filename="trial.mat",
                                                    label="Trial as .mat", embed=False, disabled=missing,
                                                    sizing_mode="stretch_width")
        self.download_npz = pn.widgets.FileDownload(callback=lambda: self._trial_file("npz"), filename="trial.npz",
                                                    label="Trial as .npz", embed=False, disabled=missing,
                                                    sizing_mode="stretch_width")
        self.export_target = pn.widgets.Select(name="Export for", options=EXPORT_CHOICES, sizing_mode="stretch_width",
                                               css_classes=["export-target"])
        self.export_prepare = pn.widgets.Button(label="Prepare export", disabled=missing, sizing_mode="stretch_width",
                                                css_classes=["export-prepare"])
        # the prepared file is sent when the button is pressed (a callback): an embedded file's link is
        # made once in the browser, and every later export downloaded the first one (empty)
        self._prepared_export: bytes | None = None
        self.export_download = pn.widgets.FileDownload(callback=self._export_file, label="Download export", embed=False,
                                                       disabled=True, filename="export",
                                                       sizing_mode="stretch_width", css_classes=["export-download"])
        self.export_status = text_pane("", css_classes=["export-status"])
        self.export_prepare.on_click(self._prepare_export)
        self.export_target.param.watch(lambda _: self._forget_export(), "value")
        s.param.watch(lambda _: self._forget_export(), ["spec"])

    def _new_dropper(self) -> GuardedFileDropper:
        """An empty file dropper watched for uploads."""
        # no accepted_filetypes: the dropper would compare MIME types, and Chromium on Linux reports
        # none for .mat; the server checks the name and the content (catalog.safe_upload_name, load_model)
        dropper = GuardedFileDropper(MAX_UPLOAD_BYTES, self._refused, max_file_size=f"{MAX_UPLOAD_BYTES // 1000}KB",
                                     chunk_size=UPLOAD_CHUNK_BYTES, multiple=False, layout="compact",
                                     sizing_mode="stretch_width", height=70, css_classes=["model-upload"])
        dropper.param.watch(self._uploaded, "value")
        return dropper

    def _refuse_upload(self, problem: str) -> None:
        """After a refused or rejected upload: a fresh, empty dropper in its place, and the error. The
        browser marks a file 'Upload complete' once its bytes are sent, before the server has looked
        at them, and the server cannot take that back; a new dropper shows no file, so only the error
        speaks. Both reach the page in one message, the dropper first: a file picked as soon as the
        error shows goes to the new dropper, never to the old one on its way out."""
        with hold():
            self._handled = {}
            self.upload = self._new_dropper()
            self.upload_slot.objects = [self.upload]
            self.session.error = problem

    @staticmethod
    def _unit_choices(model) -> dict:
        return {} if model is None else {f"{u} ({'E' if model.exc[u] else 'I'})": u for u in range(model.N)}

    @with_lock  # this session's document stays locked while the file is checked; other sessions go on
    async def _uploaded(self, event) -> None:
        """Open each file once, when it arrives: the dropper keeps earlier files in its value
        (updated in place), and those were handled (or refused) already. Files are checked in a
        worker thread, off the server's event loop."""
        files = event.new or {}
        self._handled = {name: data for name, data in self._handled.items() if files.get(name) is data}
        for filename, data in list(files.items()):
            if self._handled.get(filename) is not data:
                self._handled[filename] = data
                content = data.encode() if isinstance(data, str) else data
                path, problem = await self.session.check_upload_async(filename, content)
                if path is None:
                    self._refuse_upload(problem)
                    return
                self.session.open_upload((path, problem))

    def _refused(self, filename: str, at_least: int) -> None:
        """An upload over the limit, refused at its first chunk (a page that skipped the browser's check)."""
        problem = (f"Upload refused; the previous model stays. '{filename}' is over {at_least / 1e6:.0f} MB; "
                   f"uploads are limited to {MAX_UPLOAD_BYTES / 1e6:.0f} MB (start the dashboard with "
                   "--models DIR for larger files)")
        pn.state.execute(lambda: self._refuse_upload(problem))  # after the event that refused it, not inside it

    def _trial_file(self, fmt: str):
        """The trial on screen, every array recorded, named after its own settings (when clicked:
        each widget update is a message to the page)."""
        trial = self.session.trial.with_everything_recorded()
        widget = self.download_mat if fmt == "mat" else self.download_npz
        widget.filename = trial_file_name(trial, fmt)
        return io.BytesIO(trial_bytes(trial, fmt))

    def _forget_export(self) -> None:
        """A prepared export belongs to the model, λ and trial it was made from: another one clears it."""
        self._prepared_export = None
        self.export_download.disabled = True
        self.export_status.object = ""

    def _export_file(self) -> io.BytesIO:
        """The prepared export, for the download button (disabled while there is none)."""
        if self._prepared_export is None:
            raise ValueError("no export is prepared: press Prepare export")
        return io.BytesIO(self._prepared_export)

    def _prepare_export(self, _event=None) -> None:
        """Export the model and λ on screen off the event loop; the download and the lines saying what
        it holds arrive when it is ready."""
        to, spec = self.export_target.value, self.session.spec
        self._forget_export()
        self.export_prepare.disabled = True
        self.export_status.object = as_html(f"preparing the {to} export"
                                                + (" (measuring its cost on 20 trials)…" if to == "nir" else "…"))

        def show(result, error) -> None:
            self.export_prepare.disabled = self.session.trial is None
            if error is not None:
                self.export_status.object = as_html(f"export failed: {error}")
                return
            if self.session.spec != spec or self.export_target.value != to:  # another network since: not this file
                self.export_status.object = as_html("the trial or the target changed while the export was prepared: "
                                                    "prepare it again")
                return
            name, data, exported = result
            self._prepared_export = data
            self.export_download.filename = name
            self.export_download.disabled = False
            self.export_status.object = as_html("\n".join(exported.lines[1:] or exported.lines))

        self.session.export_then(to, show)

    def cards(self) -> list:
        """The sidebar content, top to bottom."""
        return [
            pn.Card(self.model_select, self.upload_slot,
                    hint(f"Shipped models, .mat files under the folder given at start (--models DIR), or your own "
                         f"upload (at most {MAX_UPLOAD_BYTES // 10**6} MB, kept private to this page)."),
                    title="Model", **CARD),
            pn.Card(self.task, self.task_controls.panel,
                    hint("The task is inferred from the model; 'random' leaves a factor to the seed's draw."),
                    title="Task and condition", **CARD),
            pn.Card(pn.Row(self.scaling, self.scaling_number, margin=0, sizing_mode="stretch_width"),
                    self.fix_output_range, self.seed, self.downsample, self.initial, self.initial_decay,
                    hint("λ divides the recurrent and readout weights of the LIF network. It starts at the "
                         f"model's stored optimum (else {DEFAULT_SCALING_FACTOR:g}). The slider spans the model's "
                         "search (its grid and half its span on each side); type any λ in the box to go past it. "
                         "The trial is re-simulated when a slider is released."),
                    title="Conversion", **CARD),
            self.sweeps.card(),
            pn.Card(self.stim_mode, self.stim_units, self.stim_window,
                    hint("Pushes the chosen units up (exc) or down (inh) by 0.5 mV with probability 0.5 per step "
                         "during the window, as the reference's stims."),
                    title="Artificial stimulation", collapsed=True, **CARD),
            pn.Card(pn.pane.Markdown("Sort raster by", margin=(0, 10)), self.raster_order, self.voltage_units,
                    self.compared_unit, pn.pane.Markdown("Diagnostic over", margin=(0, 10)), self.diagnostic_window,
                    title="Display", **CARD),
            pn.Card(self.download_mat, self.download_npz,
                    hint("The whole trial on screen (voltages, spikes, rates, synaptic currents, output, stimulus) "
                         "under the reference's names, with its settings; each figure saves as PNG with its "
                         "toolbar's save button."),
                    self.export_target, self.export_prepare, self.export_download, self.export_status,
                    hint("The network on screen (model and λ) for another simulator: a Brian2 or NEST script, a "
                         "NIR graph with the accuracy it costs; or the trial on screen's spikes as NWB or Neo "
                         "(docs/interop.md)."),
                    title="Export", collapsed=True, **CARD),
        ]

"""The page of one session: sidebar controls, views with help lines, messages, template.

``ExplorerPage`` is what ``ExplorerSession.__panel__`` shows. It declares how the views follow
the session: a new trial swaps the data of the trial figures (in one held document update); a
new model redraws the decay histogram and the stored curve; a sweep snapshot redraws the
performance curve and the margins. Every view reads what it draws from the trial or sweep it
is given. Present mode and λ side by side are in ``teaching``.
"""

from __future__ import annotations

import html
import urllib.parse

import panel as pn
from panel.io.document import hold

from rate2spike.explorer import figures, frames
from rate2spike.explorer.controls import SMALL_TEXT, Controls, help_line, plot
from rate2spike.explorer.diagnosis_view import DiagnosisCard
from rate2spike.explorer.population_view import PopulationView
from rate2spike.explorer.session import ExplorerSession
from rate2spike.explorer.teaching import PresentMode, SideBySide
from rate2spike.explorer.text import alert, alert_styles, static_text, table_html, text_pane

TITLE = "rate2spike explorer"
INTRO = (
    "A rate network trained on a task becomes a network of leaky integrate-and-fire units whose recurrent and "
    "readout weights are divided by one scaling factor **λ** (Kim, Li & Sejnowski, PNAS 2019). Pick a model and "
    "a condition, move λ, and see whether the spiking network still solves the task, and why."
)


def load_extensions() -> None:
    """Panel's front-end pieces this page uses (idempotent)."""
    pn.extension("filedropper", notifications=False)


def file_card_text(model) -> str:
    """How the open file was read, as an HTML table (its values come from the file: shown as text)."""
    if model is None:
        return "No model open."
    return table_html(model.file_facts())


def summary(model, task) -> str:
    """The model on screen in one line, as HTML (its name comes from a file name: shown as text)."""
    if model is None:
        return ("<b>No model yet.</b> Upload a spikeRNN model file (.mat) in the sidebar, or start the dashboard "
                "with <code>panel serve explorer --args --models DIR</code>.")
    task_text = f"task <b>{html.escape(task.name)}</b>. {html.escape(task.description)}" if task else "task ?"
    return (f"<b>{html.escape(model.name)}</b>: N = {model.N} units ({int(model.exc.sum())} excitatory), "
            f"{task_text}")


class ExplorerPage:
    """One session's page: its controls and views, following the session."""

    def __init__(self, session: ExplorerSession):
        self.session = s = session
        self.controls = Controls(s)
        duration = s.trial.spec.duration if s.trial is not None else 1.0
        self.time_range = figures.time_range(duration)
        self.output = figures.OutputView(self.time_range)
        self.raster = figures.RasterView(self.time_range)
        self.voltage = figures.VoltageView(self.time_range)
        self.rates = figures.HistogramView.firing_rates()
        self.decay = figures.HistogramView.decay_constants()
        self.diagnostic = figures.DiagnosticView()
        self.unit = figures.UnitView(self.time_range)
        self.readout = figures.ReadoutView()
        self.performance = figures.PerformanceView()
        self.margins = figures.MarginView()
        self.present = PresentMode(s, duration)
        self.side_by_side = SideBySide(s, duration)
        self.diagnosis = DiagnosisCard(s, self)
        self.population = PopulationView.of(s.catalog.models_dir)  # None unless the folder holds a population

        self.error = alert(s.param.error, "danger", margin=(5, 12), css_classes=["page-error"])
        self.notes = alert(s.param.notes, "info", margin=(5, 12), css_classes=["page-notes"])
        kinds = {"failed": "danger", "below goal": "warning", "converted": "success"}
        self.verdict = text_pane(s.param.conclusion, visible=s.param.conclusion.rx.bool(), margin=(5, 12),
                                 styles=pn.bind(lambda kind: alert_styles(kinds.get(kind, "info")),
                                                s.param.conclusion_kind),
                                 sizing_mode="stretch_width", css_classes=["page-verdict"])
        self.summary = pn.pane.HTML(pn.bind(summary, s.param.model, s.param.task), sizing_mode="stretch_width",
                                    margin=(0, 12), css_classes=["model-summary"])
        self.rectify = pn.widgets.Checkbox.from_param(
            s.param.rectify_weights, disabled=pn.bind(lambda m: m is None or m.relu_zeroed == 0, s.param.model),
            css_classes=["rectify-weights"])
        self.file_card = pn.Card(
            pn.pane.HTML(pn.bind(file_card_text, s.param.model), sizing_mode="stretch_width",
                         css_classes=["file-facts"]),
            self.rectify, help_line("file"), title="How the file was read", collapsed=True,
            sizing_mode="stretch_width", margin=(0, 12, 10, 12), css_classes=["file-card"])
        self.sweep_line = pn.widgets.StaticText(value=pn.bind(static_text, s.param.sweep_status), styles=SMALL_TEXT, margin=(0, 12),
                                                sizing_mode="stretch_width", css_classes=["sweep-status"])

        # The trial views below the output sit in tabs; only what is on screen is recomputed and
        # sent when the trial changes (a hidden figure is brought up to date when it is shown):
        # a λ change then costs one or two figures in the browser, not nine.
        # Each view with the frame it draws; voltages and rates come from the trial re-simulated
        # with every recording (``recorded_trial``), the rest from the trial on screen.
        self.trial_views = {
            "output": (self.output, lambda: frames.output_frame(s.trial)),
            "raster": (self.raster, lambda: frames.raster_frame(s.trial, s.raster_order)),
            "voltage": (self.voltage, lambda: frames.voltage_frame(s.recorded_trial(), s.voltage_units)),
            "unit": (self.unit, lambda: frames.unit_frame(s.recorded_trial(), s.compared_unit)),
            "readout": (self.readout, lambda: frames.readout_frame(s.recorded_trial())),
            "diagnostic": (self.diagnostic, lambda: frames.diagnostic_frame(s.trial, s.diagnostic_window)),
            "rates": (self.rates, lambda: frames.firing_rate_frame(s.trial)),
        }
        self.stale: set[str] = set(self.trial_views)
        self.tabs = pn.Tabs(*[(title, content) for title, content in self.tab_contents()], dynamic=False,
                            sizing_mode="stretch_width", margin=(0, 12), css_classes=["trial-tabs"])
        pn.bind(self.show_trial, s.param.trial, watch=True)
        pn.bind(self.fix_output_range, s.param.fix_output_range, watch=True)
        pn.bind(self.update_link, s.param.trial, s.param.voltage_units, watch=True)
        self.copy_link = pn.widgets.Button(label="Copy link", color="light", width=110, css_classes=["copy-link"],
                                           description="Copy a link that restores this view")
        self.copy_link.js_on_click(code="navigator.clipboard.writeText(window.location.href)")
        for view, parameter in (("raster", s.param.raster_order), ("voltage", s.param.voltage_units),
                                ("unit", s.param.compared_unit), ("diagnostic", s.param.diagnostic_window)):
            pn.bind(lambda _value, view=view: self.invalidate(view), parameter, watch=True)
        pn.bind(lambda _active: self.views_shown(), self.tabs.param.active, watch=True)
        pn.bind(lambda _on: self.views_shown(), self.present.toggle.param.value, watch=True)
        pn.bind(self.show_model, s.param.model, s.param.use_initial_weights, s.param.initial_decay, watch=True)
        pn.bind(self.show_sweep, s.param.sweep, watch=True)
        self.show_model(s.model, s.use_initial_weights, s.initial_decay)
        self.show_trial(s.trial)
        pn.state.onload(self.update_link)  # once the page is in the browser, its URL links to it

    RECORDED_VIEWS = {"voltage", "unit", "readout"}  # drawn from the trial with every recording
    TABS = (("Spike raster", "raster"), ("Membrane voltage", "voltage"), ("One unit", "unit"),
            ("Readout", "readout"), ("Rate vs LIF", "diagnostic"), ("Firing rates", "rates"))

    def tab_contents(self):
        for title, key in self.TABS:
            if key == "rates":
                content = pn.Row(plot(self.rates, "rates"), plot(self.decay, "decay"), sizing_mode="stretch_width")
            else:
                content = plot(self.trial_views[key][0], key)
            yield title, pn.Column(content, help_line(key), sizing_mode="stretch_width", name=title)

    # --- session -> views ------------------------------------------------------------------
    def visible_views(self) -> set[str]:
        """The trial views on screen: none of the page's own in Present mode (it has its own)."""
        if self.present.on:
            return set()
        return {"output", self.TABS[self.tabs.active][1]}

    def show_view(self, tab: str | None, view: str) -> None:
        """Bring up the view a finding points at: open its tab, or the file card."""
        if tab is not None:
            self.tabs.active = [key for _, key in self.TABS].index(tab)
        if view == "file":
            self.file_card.collapsed = False

    def views_shown(self) -> None:
        """Other views came on screen: tell the session whether they need recordings, and draw them."""
        self.session.needs_recordings = bool(self.RECORDED_VIEWS & self.visible_views())
        self.refresh()

    def invalidate(self, view: str) -> None:
        """A view's input changed: redraw it now if it is on screen, else when it is shown."""
        self.stale.add(view)
        self.refresh()

    def refresh(self) -> None:
        """Bring the views on screen up to date with the session's trial, in one document update."""
        due = self.stale & self.visible_views()
        if self.session.offloaded and not self.session.has_recordings():
            due -= self.RECORDED_VIEWS  # drawn when the trial with recordings arrives (never simulated here)
        if not due:
            return
        trial = self.session.trial
        with hold():
            if trial is not None and self.time_range.bounds != (0.0, trial.recording.drive.T):
                figures.set_time_range(self.time_range, trial.recording.drive.T)
            for name in due:
                view, frame = self.trial_views[name]
                view.show(frame())
        self.stale -= due

    def show_trial(self, trial) -> None:
        with hold():
            self.stale = set(self.trial_views)
            self.refresh()
            self.performance.mark(None if trial is None else trial.spec.scaling_factor)
            if self.present.on:
                self.present.show_trial()

    def fix_output_range(self, fixed: bool) -> None:
        self.output.fixed = fixed
        self.present.fix_output_range(fixed)

    def update_link(self, *_) -> None:
        """Keep the page's URL a link to what it shows (opening it restores the view)."""
        if pn.state.location is not None and self.session.model is not None:
            pn.state.location.search = "?" + urllib.parse.urlencode(self.session.link_query())

    def show_model(self, model, use_initial_weights, initial_decay=False) -> None:
        self.decay.show(frames.decay_frame(model, use_initial_weights and initial_decay))  # the td simulated
        self.show_sweep(self.session.sweep)

    def show_sweep(self, snapshot) -> None:
        trial = self.session.trial
        performance = frames.performance_frame(snapshot, self.session.model,
                                               None if trial is None else trial.spec.scaling_factor)
        self.performance.show(performance)
        self.margins.show(frames.margin_frame(snapshot, self.session.task))
        if self.present.on:
            self.present.show_performance(performance)

    # --- layout ----------------------------------------------------------------------------
    def main(self) -> list:
        """The main area: Present mode's screen, or the summary and messages, then each view with
        its help line under it."""
        return [self.present.panel(), pn.Column(*self.all_views(), visible=self.present.toggle.param.value.rx.not_(),
                                                sizing_mode="stretch_width")]

    def all_views(self) -> list:
        return [
            pn.Column(pn.pane.Markdown(INTRO, margin=(0, 12)), self.summary, self.verdict, self.error, self.notes,
                      self.diagnosis.card, self.file_card,
                      sizing_mode="stretch_width"),
            pn.Column(plot(self.output, "output"), help_line("output"), sizing_mode="stretch_width"),
            self.tabs,
            pn.Row(pn.Column(plot(self.performance, "performance"), self.sweep_line, help_line("performance"),
                             sizing_mode="stretch_width"),
                   pn.Column(plot(self.margins, "margins"), help_line("margins"), sizing_mode="stretch_width"),
                   sizing_mode="stretch_width"),
            self.side_by_side.card(),
            *([self.population.card] if self.population is not None else []),
        ]

    def template(self) -> pn.template.BootstrapTemplate:
        """Bootstrap, whose design is bundled with Panel: the page loads nothing from the internet
        (the Fast and Material designs fetch web fonts, which fails offline with console errors).
        No busy indicator: Panel's follows one busy state for the whole server, so every slider
        move of one user made every other open page spin, and cost a message per page (a class of
        30 on one server: 30 messages per move). Sweeps show their own progress bar."""
        return pn.template.BootstrapTemplate(title=TITLE, sidebar=self.controls.cards(), main=self.main(),
                                             header=[pn.Row(self.present.toggle, self.copy_link)], sidebar_width=350,
                                             header_background="#1f4e79", busy_indicator=None)

    def layout(self) -> pn.Column:
        """The page without the server template, for a notebook cell: the header's buttons, then
        the sidebar's cards beside the main area."""
        return pn.Column(
            pn.Row(pn.pane.Markdown(f"### {TITLE}", margin=(0, 12)), self.present.toggle, self.copy_link),
            pn.Row(pn.Column(*self.controls.cards(), width=350), pn.Column(*self.main(), sizing_mode="stretch_width"),
                   sizing_mode="stretch_width"),
            sizing_mode="stretch_width", min_width=1100)

    def close(self) -> None:
        """End of the session: stop the sweep and delete uploads."""
        self.controls.sweeps.stop()
        self.session.close()

"""The page of one session: sidebar controls, views with help lines, messages, template.

``ExplorerPage`` is what ``ExplorerSession.__panel__`` shows. It declares how the views follow
the session: a new trial swaps the data of the trial figures (in one held document update); a
new model redraws the decay histogram and the stored curve; a sweep snapshot redraws the
performance curve and the margins. Every view reads what it draws from the trial or sweep it
is given. Present mode and λ side by side are in ``teaching``.
"""

from __future__ import annotations

import urllib.parse

import panel as pn
from panel.io.document import hold

from rate2spike.explorer import figures, frames
from rate2spike.explorer.controls import SMALL_TEXT, Controls, help_line, plot
from rate2spike.explorer.session import ExplorerSession
from rate2spike.explorer.teaching import PresentMode, SideBySide

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
    """How the open file was read, as a Markdown table."""
    if model is None:
        return "No model open."
    rows = "\n".join(f"| {what} | {finding} |" for what, finding in model.file_facts())
    return f"| | |\n|---|---|\n{rows}"


def summary(model, task) -> str:
    if model is None:
        return ("**No model yet.** Upload a spikeRNN model file (.mat) in the sidebar, or start the dashboard "
                "with `panel serve explorer --args --models DIR`.")
    return (f"**{model.name}**: N = {model.N} units ({int(model.exc.sum())} excitatory), task "
            f"**{task.name if task else '?'}**. {task.description if task else ''}")


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

        self.error = pn.pane.Alert(s.param.error, alert_type="danger", visible=s.param.error.rx.bool(),
                                   sizing_mode="stretch_width", css_classes=["page-error"])
        self.notes = pn.pane.Alert(s.param.notes, alert_type="info", visible=s.param.notes.rx.bool(),
                                   sizing_mode="stretch_width", css_classes=["page-notes"])
        self.summary = pn.pane.Markdown(pn.bind(summary, s.param.model, s.param.task), sizing_mode="stretch_width",
                                        margin=(0, 12), css_classes=["model-summary"])
        self.rectify = pn.widgets.Checkbox.from_param(
            s.param.rectify_weights, disabled=pn.bind(lambda m: m is None or m.relu_zeroed == 0, s.param.model),
            css_classes=["rectify-weights"])
        self.file_card = pn.Card(
            pn.pane.Markdown(pn.bind(file_card_text, s.param.model), sizing_mode="stretch_width",
                             css_classes=["file-facts"]),
            self.rectify, help_line("file"), title="How the file was read", collapsed=True,
            sizing_mode="stretch_width", margin=(0, 12, 10, 12), css_classes=["file-card"])
        self.sweep_line = pn.widgets.StaticText(value=s.param.sweep_status, styles=SMALL_TEXT, margin=(0, 12),
                                                sizing_mode="stretch_width", css_classes=["sweep-status"])

        pn.bind(self.show_trial, s.param.trial, watch=True)
        pn.bind(self.fix_output_range, s.param.fix_output_range, watch=True)
        pn.bind(self.update_link, s.param.trial, s.param.voltage_units, watch=True)
        self.copy_link = pn.widgets.Button(label="Copy link", color="light", width=110, css_classes=["copy-link"],
                                           description="Copy a link that restores this view")
        self.copy_link.js_on_click(code="navigator.clipboard.writeText(window.location.href)")
        pn.bind(lambda order: self.raster.show(frames.raster_frame(s.trial, order)), s.param.raster_order, watch=True)
        pn.bind(lambda units: self.voltage.show(frames.voltage_frame(s.trial, units)), s.param.voltage_units,
                watch=True)
        pn.bind(lambda unit: self.unit.show(frames.unit_frame(s.trial, unit)), s.param.compared_unit, watch=True)
        pn.bind(lambda window: self.diagnostic.show(frames.diagnostic_frame(s.trial, window)),
                s.param.diagnostic_window, watch=True)
        pn.bind(self.show_model, s.param.model, s.param.use_initial_weights, watch=True)
        pn.bind(self.show_sweep, s.param.sweep, watch=True)
        self.show_model(s.model, s.use_initial_weights)
        self.show_trial(s.trial)
        pn.state.onload(self.update_link)  # once the page is in the browser, its URL links to it

    # --- session -> views ------------------------------------------------------------------
    def show_trial(self, trial) -> None:
        s = self.session
        with hold():
            if trial is not None and self.time_range.bounds != (0.0, trial.recording.drive.T):
                figures.set_time_range(self.time_range, trial.recording.drive.T)
            output = frames.output_frame(trial)
            self.output.show(output)
            self.raster.show(frames.raster_frame(trial, s.raster_order))
            self.voltage.show(frames.voltage_frame(trial, s.voltage_units))
            self.rates.show(frames.firing_rate_frame(trial))
            self.diagnostic.show(frames.diagnostic_frame(trial, s.diagnostic_window))
            self.unit.show(frames.unit_frame(trial, s.compared_unit))
            self.readout.show(frames.readout_frame(trial))
            self.performance.mark(None if trial is None else trial.spec.scaling_factor)
            if self.present.on:
                self.present.show(output=output)

    def fix_output_range(self, fixed: bool) -> None:
        for view in (self.output, self.present.output):
            view.fixed = fixed

    def update_link(self, *_) -> None:
        """Keep the page's URL a link to what it shows (opening it restores the view)."""
        if pn.state.location is not None and self.session.model is not None:
            pn.state.location.search = "?" + urllib.parse.urlencode(self.session.link_query())

    def show_model(self, model, use_initial_weights) -> None:
        self.decay.show(frames.decay_frame(model, use_initial_weights))
        self.show_sweep(self.session.sweep)

    def show_sweep(self, snapshot) -> None:
        trial = self.session.trial
        performance = frames.performance_frame(snapshot, self.session.model,
                                               None if trial is None else trial.spec.scaling_factor)
        self.performance.show(performance)
        self.margins.show(frames.margin_frame(snapshot, self.session.task))
        if self.present.on:
            self.present.show(performance=performance)

    # --- layout ----------------------------------------------------------------------------
    def main(self) -> list:
        """The main area: Present mode's screen, or the summary and messages, then each view with
        its help line under it."""
        return [self.present.panel(), pn.Column(*self.all_views(), visible=self.present.toggle.param.value.rx.not_(),
                                                sizing_mode="stretch_width")]

    def all_views(self) -> list:
        return [
            pn.Column(pn.pane.Markdown(INTRO, margin=(0, 12)), self.summary, self.error, self.notes, self.file_card,
                      sizing_mode="stretch_width"),
            pn.Column(plot(self.output, "output"), help_line("output"),
                      plot(self.raster, "raster"), help_line("raster"),
                      plot(self.voltage, "voltage"), help_line("voltage"), sizing_mode="stretch_width"),
            pn.Column(pn.Row(plot(self.rates, "rates"), plot(self.decay, "decay"), sizing_mode="stretch_width"),
                      help_line("rates"), sizing_mode="stretch_width"),
            pn.Row(pn.Column(plot(self.diagnostic, "diagnostic"), help_line("diagnostic"),
                             sizing_mode="stretch_width"),
                   pn.Column(plot(self.performance, "performance"), self.sweep_line, help_line("performance"),
                             sizing_mode="stretch_width"),
                   sizing_mode="stretch_width"),
            self.side_by_side.card(),
            pn.Column(plot(self.unit, "unit"), help_line("unit"), sizing_mode="stretch_width"),
            pn.Row(pn.Column(plot(self.readout, "readout"), help_line("readout"), sizing_mode="stretch_width"),
                   pn.Column(plot(self.margins, "margins"), help_line("margins"), sizing_mode="stretch_width"),
                   sizing_mode="stretch_width"),
        ]

    def template(self) -> pn.template.BootstrapTemplate:
        """Bootstrap, whose design is bundled with Panel: the page loads nothing from the internet
        (the Fast and Material designs fetch web fonts, which fails offline with console errors)."""
        return pn.template.BootstrapTemplate(title=TITLE, sidebar=self.controls.cards(), main=self.main(),
                                             header=[pn.Row(self.present.toggle, self.copy_link)], sidebar_width=350,
                                             header_background="#1f4e79")

    def close(self) -> None:
        """End of the session: stop the sweep and delete uploads."""
        self.controls.sweeps.stop()
        self.session.close()

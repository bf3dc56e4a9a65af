"""The page of one session: sidebar controls, views with help lines, messages, template.

``ExplorerPage`` is what ``ExplorerSession.__panel__`` shows. It declares how the views follow
the session: a new trial swaps the data of five figures (in one held document update); a new
model redraws the decay histogram and the stored curve; a sweep snapshot redraws the
performance curve. Every view reads what it draws from the trial or sweep it is given.
"""

from __future__ import annotations

import urllib.parse

import panel as pn
from panel.io.document import hold

from rate2spike.explorer import figures, frames
from rate2spike.explorer.controls import SMALL_TEXT, Controls
from rate2spike.explorer.session import MAX_SIDE_BY_SIDE, ExplorerSession

TITLE = "rate2spike explorer"
INTRO = (
    "A rate network trained on a task becomes a network of leaky integrate-and-fire units whose recurrent and "
    "readout weights are divided by one scaling factor **λ** (Kim, Li & Sejnowski, PNAS 2019). Pick a model and "
    "a condition, move λ, and see whether the spiking network still solves the task, and why."
)


def load_extensions() -> None:
    """Panel's front-end pieces this page uses (idempotent)."""
    pn.extension("filedropper", notifications=False)


def help_line(key: str) -> pn.pane.Markdown:
    return pn.pane.Markdown(figures.HELP[key], styles=SMALL_TEXT, margin=(0, 12, 14, 12),
                            sizing_mode="stretch_width", css_classes=[f"help-{key}"])


def plot(view: figures.View, name: str) -> pn.pane.Bokeh:
    view.figure.css_classes = [f"view-{name}"]  # how the browser tests find each view
    return pn.pane.Bokeh(view.figure, sizing_mode="stretch_width", name=name)


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
        # Present mode: the output and the accuracy curve again, large, beside the λ controls
        self.present = pn.widgets.Toggle(label="Present", value=False, color="light", width=110,
                                         css_classes=["present-toggle"])
        self.present_output = figures.OutputView(figures.time_range(duration), height=430, name="present-output")
        self.present_performance = figures.PerformanceView(height=430, name="present-performance")
        for view in (self.present_output, self.present_performance):
            figures.present_style(view.figure)

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
        self.preset_buttons = pn.Row(sizing_mode="stretch_width", margin=(0, 12), css_classes=["presets"])
        self.preset_note = pn.widgets.StaticText(value="", styles=SMALL_TEXT, margin=(0, 12),
                                                 css_classes=["preset-note"])
        pn.bind(self.show_presets, s.param.model, s.param.sweep, s.param.sweep_running, watch=True)
        self.show_presets()
        self.side_lambdas = pn.widgets.TextInput(label="λ values (up to 3)", value=s.side_by_side_default(),
                                                 width=220, css_classes=["side-lambdas"])
        self.side_show = pn.widgets.Button(label="Show side by side", color="primary", css_classes=["side-show"])
        self.side_views = [(figures.OutputView(figures.time_range(duration), height=230, name=f"side{k}-output"),
                            figures.RasterView(figures.time_range(duration), height=230, name=f"side{k}-raster"))
                           for k in range(MAX_SIDE_BY_SIDE)]
        self.side_columns = [pn.Column(plot(out, f"side{k}-output"), plot(raster, f"side{k}-raster"),
                                       visible=False, sizing_mode="stretch_width")
                             for k, (out, raster) in enumerate(self.side_views)]
        self.side_show.on_click(lambda _: self.show_side_by_side())
        pn.bind(lambda _model: setattr(self.side_lambdas, "value", s.side_by_side_default()), s.param.model,
                watch=True)
        self.copy_link = pn.widgets.Button(label="Copy link", color="light", width=110, css_classes=["copy-link"],
                                           description="Copy a link that restores this view")
        self.copy_link.js_on_click(code="navigator.clipboard.writeText(window.location.href)")
        pn.bind(lambda on: on and self.show_present(), self.present.param.value, watch=True)
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
            self.output.show(frames.output_frame(trial))
            self.raster.show(frames.raster_frame(trial, s.raster_order))
            self.voltage.show(frames.voltage_frame(trial, s.voltage_units))
            self.rates.show(frames.firing_rate_frame(trial))
            self.diagnostic.show(frames.diagnostic_frame(trial, s.diagnostic_window))
            self.unit.show(frames.unit_frame(trial, s.compared_unit))
            self.readout.show(frames.readout_frame(trial))
            self.performance.mark(None if trial is None else trial.spec.scaling_factor)
            if self.present.value:
                self.show_present()

    def show_side_by_side(self) -> None:
        """Run the trial on screen at each λ typed and draw them next to each other."""
        try:
            lambdas = [float(x) for x in self.side_lambdas.value.replace(";", ",").split(",") if x.strip()]
            trials = self.session.side_by_side(lambdas)
        except ValueError as exc:
            self.session.error = f"Side by side: {exc}"
            return
        with hold():
            for k, column in enumerate(self.side_columns):
                column.visible = k < len(trials)
                if k < len(trials):
                    output, raster = self.side_views[k]
                    for view in (output, raster):
                        figures.set_time_range(view.figure.x_range, trials[k].recording.drive.T)
                    output.show(frames.output_frame(trials[k]))
                    raster.show(frames.raster_frame(trials[k], self.session.raster_order))

    def fix_output_range(self, fixed: bool) -> None:
        for view in (self.output, self.present_output):
            view.fixed = fixed

    def show_presets(self, *_) -> None:
        """One button per preset of the open model (none before any grid search)."""
        buttons = []
        for preset in self.session.presets():
            button = pn.widgets.Button(label=preset.name, color="light", description=preset.why,
                                       css_classes=[f"preset-{preset.name.split()[0].lower()}"])
            button.on_click(lambda _, name=preset.name: setattr(
                self.preset_note, "value", f"{name}: {self.session.apply_preset(name)}"))
            buttons.append(button)
        self.preset_buttons.objects = buttons or [pn.pane.Markdown(
            "Presets appear once the model has a grid search (stored in its file, or run a sweep).",
            styles=SMALL_TEXT)]

    def update_link(self, *_) -> None:
        """Keep the page's URL a link to what it shows (opening it restores the view)."""
        if pn.state.location is not None and self.session.model is not None:
            pn.state.location.search = "?" + urllib.parse.urlencode(self.session.link_query())

    def show_present(self) -> None:
        """Present mode's two views, from the same trial and sweep as the others."""
        s = self.session
        trial = s.trial
        if trial is not None:
            figures.set_time_range(self.present_output.figure.x_range, trial.recording.drive.T)
        self.present_output.show(frames.output_frame(trial))
        self.present_performance.show(frames.performance_frame(
            s.sweep, s.model, None if trial is None else trial.spec.scaling_factor))

    def show_model(self, model, use_initial_weights) -> None:
        self.decay.show(frames.decay_frame(model, use_initial_weights))
        self.show_sweep(self.session.sweep)

    def show_sweep(self, snapshot) -> None:
        trial = self.session.trial
        self.performance.show(frames.performance_frame(snapshot, self.session.model,
                                                       None if trial is None else trial.spec.scaling_factor))
        self.margins.show(frames.margin_frame(snapshot, self.session.task))
        if self.present.value:
            self.show_present()

    # --- layout ----------------------------------------------------------------------------
    def present_panel(self) -> pn.Column:
        """What fits one 1280 x 720 projector screen: λ (slider and number), the output and the
        accuracy curve. The other views are one click away (the Present toggle)."""
        s = self.session
        slider = pn.widgets.FloatSlider.from_param(s.param.scaling_factor, throttled=True, step=0.5,
                                                   sizing_mode="stretch_width", css_classes=["present-lambda"],
                                                   stylesheets=[":host { font-size: 18px; }"])
        number = pn.widgets.FloatInput.from_param(s.param.scaling_factor, step=0.5, width=110, label="λ",
                                                  css_classes=["present-lambda-number"])
        return pn.Column(
            pn.Row(slider, number, sizing_mode="stretch_width", margin=(0, 12)), self.preset_buttons, self.preset_note,
            pn.Row(plot(self.present_output, "present-output"), plot(self.present_performance, "present-performance"),
                   sizing_mode="stretch_width"),
            pn.pane.Alert(s.param.error, alert_type="danger", visible=s.param.error.rx.bool(),
                          sizing_mode="stretch_width"),
            visible=self.present.param.value, sizing_mode="stretch_width",
            css_classes=["present-panel"])

    def main(self) -> list:
        """The main area: Present mode's screen, or the summary and messages, then each view with
        its help line under it."""
        return [self.present_panel(), pn.Column(*self.all_views(), visible=self.present.param.value.rx.not_(),
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
            pn.Card(pn.Row(self.side_lambdas, self.side_show, margin=(0, 0, 6, 0)), pn.Row(*self.side_columns,
                    sizing_mode="stretch_width"), help_line("side"), title="λ side by side", collapsed=True,
                    sizing_mode="stretch_width", margin=(0, 12, 10, 12), css_classes=["side-card"]),
            pn.Column(plot(self.unit, "unit"), help_line("unit"), sizing_mode="stretch_width"),
            pn.Row(pn.Column(plot(self.readout, "readout"), help_line("readout"), sizing_mode="stretch_width"),
                   pn.Column(plot(self.margins, "margins"), help_line("margins"), sizing_mode="stretch_width"),
                   sizing_mode="stretch_width"),
        ]

    def template(self) -> pn.template.BootstrapTemplate:
        """Bootstrap, whose design is bundled with Panel: the page loads nothing from the internet
        (the Fast and Material designs fetch web fonts, which fails offline with console errors)."""
        return pn.template.BootstrapTemplate(title=TITLE, sidebar=self.controls.cards(), main=self.main(),
                                             header=[pn.Row(self.present, self.copy_link)], sidebar_width=350,
                                             header_background="#1f4e79")

    def close(self) -> None:
        """End of the session: stop the sweep and delete uploads."""
        self.controls.sweeps.stop()
        self.session.close()

"""Build the dashboard for one session: template, sidebar controls, views with help lines.

``Dashboard`` needs no server, so tests can build a session and drive it; ``explorer/main.py``
builds one per browser session of ``panel serve explorer``. The dashboard watches the session
state and pushes each change into the views it concerns: a new trial swaps the data of five
figures (in one held document update), a new λ only moves the marker on the performance curve.
"""

from __future__ import annotations

import time

import panel as pn
from panel.io.document import hold

from explorer import views
from explorer.controls import SMALL_TEXT, Controls
from explorer.state import ExplorerState
from explorer.sweep_controls import SweepControls

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
    return pn.pane.Markdown(views.HELP[key], styles=SMALL_TEXT, margin=(0, 12, 14, 12), sizing_mode="stretch_width",
                            css_classes=[f"help-{key}"])


def plot(view: views.View, name: str) -> pn.pane.Bokeh:
    view.figure.css_classes = [f"view-{name}"]  # how the browser tests find each view
    return pn.pane.Bokeh(view.figure, sizing_mode="stretch_width", name=name)


class Dashboard:
    """One session's page: the state, its controls and its views."""

    def __init__(self, models_dir=None, state: ExplorerState | None = None):
        self.state = s = state if state is not None else ExplorerState(models_dir=models_dir)
        self.controls = Controls(s)
        self.sweeps = SweepControls(s)
        self.time_range = views.time_range(s.task.duration)
        self.output = views.OutputView(self.time_range)
        self.raster = views.RasterView(self.time_range)
        self.voltage = views.VoltageView(self.time_range)
        self.rates = views.HistogramView(views.firing_rate_frame(None), "LIF firing rate (Hz)", "rates")
        self.decay = views.HistogramView(views.decay_frame(None), "Synaptic decay constant (ms)", "decay")
        self.diagnostic = views.DiagnosticView()
        self.performance = views.PerformanceView()
        self.render_seconds = 0.0  # time to push the last trial into the views

        self.error = pn.pane.Alert(s.error, alert_type="danger", visible=bool(s.error), sizing_mode="stretch_width")
        self.notes = pn.pane.Alert(s.notes, alert_type="info", visible=bool(s.notes), sizing_mode="stretch_width")
        self.summary = pn.pane.Markdown(self._summary(), sizing_mode="stretch_width", margin=(0, 12))
        self.sweep_line = pn.widgets.StaticText(value=s.sweep_status, styles=SMALL_TEXT, margin=(0, 12),
                                                sizing_mode="stretch_width", css_classes=["sweep-status"])

        s.param.watch(self._trial_changed, "trial")
        s.param.watch(lambda e: self.raster.show(views.raster_frame(s.trial, e.new)), "raster_order")
        s.param.watch(lambda e: self.voltage.show(views.voltage_frame(s.trial, e.new)), "voltage_units")
        s.param.watch(self._model_changed, ["model", "use_initial_weights", "task_name"])
        s.param.watch(self._sweep_changed, "sweep")
        s.param.watch(lambda e: self.performance.mark(e.new), "scaling_factor")
        s.param.watch(self._messages, ["error", "notes"])
        s.param.watch(lambda e: setattr(self.sweep_line, "value", e.new), "sweep_status")
        self._model_changed()
        self._trial_changed()

    # --- state -> views --------------------------------------------------------------------
    def _trial_changed(self, *_) -> None:
        started = time.perf_counter()
        s, sim = self.state, self.state.trial
        with hold():
            if sim is not None and self.time_range.bounds != (0.0, sim.lif.drive.T):
                views.set_time_range(self.time_range, sim.lif.drive.T)
            self.output.show(views.output_frame(sim))
            self.raster.show(views.raster_frame(sim, s.raster_order))
            self.voltage.show(views.voltage_frame(sim, s.voltage_units))
            self.rates.show(views.firing_rate_frame(sim))
            self.diagnostic.show(views.diagnostic_frame(sim))
        self.render_seconds = time.perf_counter() - started

    def _model_changed(self, *_) -> None:
        s = self.state
        self.decay.show(views.decay_frame(s.model, s.use_initial_weights))
        self._sweep_changed()
        summary = self._summary()
        if self.summary.object != summary:  # a text pane update re-scans the whole page: only when needed
            self.summary.object = summary

    def _sweep_changed(self, *_) -> None:
        s = self.state
        self.performance.show(views.performance_frame(s.sweep, s.model, s.scaling_factor))

    def _messages(self, *_) -> None:
        self.error.object, self.error.visible = self.state.error, bool(self.state.error)
        self.notes.object, self.notes.visible = self.state.notes, bool(self.state.notes)

    def _summary(self) -> str:
        s = self.state
        if s.model is None:
            return ("**No model yet.** Upload a spikeRNN model file (.mat) in the sidebar, or start the dashboard "
                    "with `panel serve explorer --args --models DIR`.")
        return (f"**{s.model.name}**: N = {s.model.N} units ({int(s.model.exc.sum())} excitatory), task "
                f"**{s.task.name}**. {s.task.description}")

    # --- layout ----------------------------------------------------------------------------
    def main(self) -> list:
        """The main area: summary and messages, then each view with its help line under it."""
        return [
            pn.Column(pn.pane.Markdown(INTRO, margin=(0, 12)), self.summary, self.error, self.notes,
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
        ]

    def template(self) -> pn.template.BootstrapTemplate:
        """Bootstrap, whose design is bundled with Panel: the page loads nothing from the internet
        (the Fast and Material designs fetch web fonts, which fails offline with console errors)."""
        cards = self.controls.cards()
        return pn.template.BootstrapTemplate(
            title=TITLE, sidebar=[*cards[:3], self.sweeps.card(), *cards[3:]], main=self.main(),
            sidebar_width=350, header_background="#1f4e79")

    def close(self) -> None:
        """End of the session: stop the sweep and delete uploads."""
        self.sweeps.stop()
        self.state.close()


def build_app(models_dir=None, state: ExplorerState | None = None) -> pn.template.BootstrapTemplate:
    """The page of one session (also usable without a server, e.g. in tests)."""
    load_extensions()
    return Dashboard(models_dir, state).template()

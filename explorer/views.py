"""The dashboard's views, each declared once: what it shows, from what, where, and its help line.

A ``ViewSpec`` says everything the page needs of one view: how a sentence names it, its help
line, the figure that draws it (``figures``), the function that computes what it shows
(``frames``) from the session values it ``reads``, and its place: the main area above or below
the tabs, or a tab (views of one tab side by side), and Present mode if it has a figure there.
``ExplorerPage`` builds its figures, tabs, help lines and the bindings that keep each view up to
date from ``VIEWS``; Present mode shows the views that have a Present-mode figure; the Diagnosis
card links to them; the tests iterate them. Adding a view is a frame function, a figure class
and an entry here.

A view's key names it on the page: its figure carries the css class ``view-<key>``, its help line
``help-<key>``, and its data sources are named ``<key>-<entry>`` (the browser tests find them so).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import partial
from typing import Any, Callable

import panel as pn
from bokeh.models import Range1d

from rate2spike.explorer import figures, frames
from rate2spike.explorer.text import SMALL_TEXT
from rate2spike.parameters import DEFAULT_PARAMETERS, LIFParameters
from rate2spike.tasks import TASKS

ABOVE_TABS, BELOW_TABS = "above the tabs", "below the tabs"  # the main area's places; any other is a tab's title
PRESENT_PREFIX = "present-"  # Present mode's figure of view <key> is named present-<key>

Figure = Callable[[Range1d, str], figures.View]  # (the page's shared time axis, the figure's name) -> figure


@dataclass(frozen=True)
class ViewSpec:
    """One view of the page."""

    key: str
    called: str  # how a sentence names it: "Show the spike raster"
    help: str | Callable[[LIFParameters], str] | None  # its help line (a function of the LIF constants it
    # quotes); None: the help line of the view beside it explains it
    figure: Figure  # builds its figure
    frame: Callable[..., frames.Frame]  # what it shows, from the session values named in ``reads``, in order
    reads: tuple[str, ...]  # session parameters ('trial': the trial on screen); a change of one redraws the view
    place: str  # ABOVE_TABS, BELOW_TABS or the title of its tab
    recorded: bool = False  # draws voltages or filtered spike trains: 'trial' is the trial with every recording
    on_trial: Callable[[figures.View, Any], None] | None = None  # what a new trial changes in the view,
    # instead of redrawing it (the accuracy curve moves its λ marker)
    status: str | None = None  # a session text shown under the figure (css class: its name with dashes)
    present: Figure | None = None  # its figure in Present mode (None: not shown there)
    present_frame: Callable[..., frames.Frame] | None = None  # Present mode's frame where it differs

    @property
    def tab(self) -> str | None:
        """The title of its tab, None in the main area."""
        return None if self.place in (ABOVE_TABS, BELOW_TABS) else self.place

    @property
    def redrawn_by(self) -> frozenset[str]:
        """The session parameters whose change redraws it."""
        return frozenset(self.reads) - ({"trial"} if self.on_trial is not None else set())

    def help_text(self, params: LIFParameters = DEFAULT_PARAMETERS) -> str | None:
        """Its help line, with the numbers of ``params`` (the reference's, which the dashboard runs)."""
        return self.help(params) if callable(self.help) else self.help

    def frame_of(self, session, present: bool = False) -> frames.Frame:
        """What it shows now: its frame function of the session's values (Present mode's with ``present``)."""
        values = [session.recorded_trial() if name == "trial" and self.recorded else getattr(session, name)
                  for name in self.reads]
        frame = self.present_frame if present and self.present_frame is not None else self.frame
        return frame(*values)


def view_css(name: str) -> str:
    """The css class of a figure on the page (how the browser tests and the Diagnosis links find it)."""
    return f"view-{name}"


def plot(view: figures.View, name: str) -> pn.pane.Bokeh:
    """A figure as a pane of the page."""
    view.figure.css_classes = [view_css(name)]
    return pn.pane.Bokeh(view.figure, sizing_mode="stretch_width", name=name)


def help_line(key: str, text: str) -> pn.pane.Markdown:
    """The explanation under a view or card (our own text: Markdown)."""
    return pn.pane.Markdown(text, styles=SMALL_TEXT, margin=(0, 12, 14, 12), sizing_mode="stretch_width",
                            css_classes=[f"help-{key}"])


def views_by_tab() -> dict[str, list[ViewSpec]]:
    """The tabs below the output, in order, each with its views."""
    found: dict[str, list[ViewSpec]] = {}
    for spec in VIEWS.values():
        if spec.tab is not None:
            found.setdefault(spec.tab, []).append(spec)
    return found


# --- what the views need beyond a frame function -------------------------------------------

def _lambda_of(trial) -> float | None:
    return None if trial is None else trial.spec.scaling_factor


def _performance_frame(sweep, model, trial, task) -> frames.Frame:
    return frames.performance_frame(sweep, model, _lambda_of(trial), task)


def _mark_lambda(view: figures.PerformanceView, trial) -> None:
    view.mark(_lambda_of(trial))


def _decay_frame(model, use_initial_weights: bool, initial_decay: bool) -> frames.Frame:
    """The decay constants simulated: the initial td0 only with the initial weights."""
    return frames.decay_frame(model, use_initial_weights and initial_decay)


def _voltage_help(params: LIFParameters) -> str:
    """The voltage view's help line, its levels read from the LIF constants."""
    held = (f"held for the {params.t_ref * 1e3:g} ms refractory period" if params.t_ref > 0
            else "integrates again at once (no refractory period)")
    return (
        "Membrane voltage of the chosen units (mV), one lane per unit, the first on top; the y axis gives each "
        f"lane's levels. A unit fires when it reaches the threshold, {params.v_threshold:g} mV (dashed); the spike is "
        f"drawn as a jump to {params.v_spike_drawn:+g} mV, then the unit is reset to {params.v_reset:g} mV (dotted) "
        f"and {held}. Min/max envelope of at most 4 000 points per unit."
    )


def _diagnostic_help(params: LIFParameters) -> str:
    """The diagnostic's help line, its pinned rate and refractory ceiling read from the LIF constants."""
    pinned = (f"purple diamonds: units above {frames.pinned_rate(params):.0f} Hz, pinned near the refractory limit "
              f"1/t_ref = {params.max_rate:.0f} Hz" if params.t_ref > 0
              else "no unit is pinned: without a refractory period there is no rate limit")
    return (
        "Each dot is a unit: its mean activity r in the rate model (x) against its LIF firing rate in this trial "
        "(y). A faithful conversion keeps units near the dashed line rate = λ·r, because the LIF readout divides "
        f"by λ. Grey crosses: silent units (no spike); {pinned}. 'Diagnostic over' under Display restricts both axes "
        "to the decision window."
    )


# --- the views, in the page's order ----------------------------------------------------------

VIEWS: dict[str, ViewSpec] = {spec.key: spec for spec in (
    ViewSpec(
        "output", called="the output",
        help=("The network output over time (readout w_out·r / λ, a.u.) in this trial, and the rate model's output "
              "for the same stimulus (orange); thin lines, the task's inputs on the right-hand axis. Green band: the "
              "decision window where the task scores the trial; grey: stimulus on; dashed lines: the thresholds ("
              + "; ".join(f"{task.name}: {task.threshold_help}" for task in TASKS.values())
              + "). The title gives the verdict. "
              "Traces are min/max envelopes of at most 4 000 points, so short peaks stay visible."),
        figure=lambda time, name: figures.OutputView(time, name=name),
        frame=frames.output_frame, reads=("trial", "fix_output_range"), place=ABOVE_TABS,
        present=lambda time, name: figures.OutputView(time, height=470, name=name),
        present_frame=partial(frames.output_frame, narrow=True)),
    ViewSpec(
        "raster", called="the spike raster",
        help=("One row per unit, one mark per spike: excitatory units blue, inhibitory red (row order: 'Sort raster "
              "by'). Up to 20 000 spikes are all drawn; above that a random subset of 20 000 is drawn (decimation, no "
              "aggregation) and the title says so. Purple band: artificial stimulation. Drag along the time axis, or "
              "choose the wheel zoom in the toolbar and scroll: raster, voltage and output move together."),
        figure=lambda time, name: figures.RasterView(time, name=name),
        frame=frames.raster_frame, reads=("trial", "raster_order"), place="Spike raster"),
    ViewSpec(
        "voltage", called="the membrane voltage", help=_voltage_help,
        figure=lambda time, name: figures.VoltageView(time, name=name),
        frame=frames.voltage_frame, reads=("trial", "voltage_units"), place="Membrane voltage", recorded=True),
    ViewSpec(
        "unit", called="one unit against the rate network",
        help=("One unit, same stimulus: its rate-network activity scaled by λ (orange, λ·r on the 5 ms grid) "
              "against the LIF unit's filtered spike train r (black, Hz: the very signal the readout weighs) and its "
              "spikes (ticks). A faithful unit's black trace follows the orange one; a silent or saturated one does "
              "not. Choose the unit under Display."),
        figure=lambda time, name: figures.UnitView(time, name=name),
        frame=frames.unit_frame, reads=("trial", "compared_unit"), place="One unit", recorded=True),
    ViewSpec(
        "readout", called="the readout",
        help=("Who moves the output in the decision window: each unit's contribution w_out·r/λ averaged over the "
              "window (bars, blue excitatory, red inhibitory) for the units that push most, beside the same unit's "
              "contribution in the rate network (black marks, w_out·r). Their sum is the mean output; units whose bar "
              "is far from their mark are the ones that push, say, a NoGo output over 0.3."),
        figure=lambda _time, name: figures.ReadoutView(name=name),
        frame=frames.readout_frame, reads=("trial",), place="Readout", recorded=True),
    ViewSpec(
        "diagnostic", called="rate vs LIF", help=_diagnostic_help,
        figure=lambda _time, name: figures.DiagnosticView(name=name),
        frame=frames.diagnostic_frame, reads=("trial", "diagnostic_window"), place="Rate vs LIF"),
    ViewSpec(
        "rates", called="the firing rates",
        help=("Left: how many units fire at each mean rate in this trial (spikes from step 10 on, divided by the "
              "trial length), excitatory and inhibitory apart. Right: the synaptic decay constants the rate model "
              "learned (ms), which the LIF synapses inherit unchanged."),
        figure=lambda _time, name: figures.HistogramView.firing_rates(name),
        frame=frames.firing_rate_frame, reads=("trial",), place="Firing rates"),
    ViewSpec(
        "decay", called="the decay constants", help=None,  # explained by the firing rates' help line
        figure=lambda _time, name: figures.HistogramView.decay_constants(name),
        frame=_decay_frame, reads=("model", "use_initial_weights", "initial_decay"), place="Firing rates"),
    ViewSpec(
        "performance", called="the accuracy curve",
        help=("Accuracy against λ: blue dots and line are this session's sweep with 95% Wilson intervals (blue "
              "band); thin dashed lines, the accuracy per condition (each condition in its colour, as in the "
              "margins), and their mean (balanced accuracy, dot-dashed); grey, the grid search stored in the model "
              "file. Star: the best λ of a finished sweep (first maximum over fully scored λ, as the reference); "
              "while a sweep runs the title names the leading λ so far. Green bars: the λ band, every λ not "
              "significantly below the best (paired test on the same trials). Crosses: λ a race dropped. Purple "
              "dashed line, on the right-hand axis: how closely the spiking output follows the rate network's "
              "(correlation over the trial), with the λ of the closest output (diamond). Red dashed line: the λ of "
              "the trial on screen. Notes (λ added past an edge, refinement, the race) and warnings (ties, a "
              "condition never answered) follow the status."),
        figure=lambda _time, name: figures.PerformanceView(name=name),
        frame=_performance_frame, reads=("sweep", "model", "trial", "task"), place=BELOW_TABS,
        on_trial=_mark_lambda,
        status="sweep_status",
        present=lambda _time, name: figures.PerformanceView(height=470, name=name, compact=True)),
    ViewSpec(
        "margins", called="the margins",
        help=("After a sweep: every trial's scored value (the output's maximum in the decision window, or its "
              "minimum for −1 answers) at each λ, one colour per condition, with the thresholds dashed. A condition "
              "fails where its points cross to the wrong side of its threshold: this shows at which λ each condition "
              "starts failing and whether any λ serves them all."),
        figure=lambda _time, name: figures.MarginView(name=name),
        frame=frames.margin_frame, reads=("sweep", "task"), place=BELOW_TABS),
)}

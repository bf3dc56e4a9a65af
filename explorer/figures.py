"""The dashboard's views: pure functions from core results to plot data, and Bokeh figures.

Each view has two halves. A pure ``*_frame`` function turns core results (or ``None`` before
anything is simulated) into a ``Frame``: plain columns per data source plus a title; tests
check these without a browser. A small view class builds one Bokeh figure once, with labelled
axes (units included), and ``show(frame)`` only swaps its data sources. Swapping columns is a
few milliseconds, which is what keeps a new trial on screen within the latency budget (a
HoloViews DynamicMap re-render of the same figures cost several times more). Raster, voltage
and output share one x range object, so zooming or panning time in one moves all three.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from bokeh.core.property.vectorization import Field
from bokeh.models import ColumnDataSource, HoverTool, Label, Range1d, Span
from bokeh.plotting import figure

from core.lif import TREF, VPEAK, VRESET
from core.model import RATE_STEP_SECONDS
from core.tasks import NOGO_CEILING, THRESHOLD

EXC_COLOR = "#1f77b4"  # excitatory: blue
INH_COLOR = "#d62728"  # inhibitory: red
RATE_MODEL_COLOR = "#ff7f0e"
WINDOW_COLOR = "#2ca02c"
STIMULUS_COLOR = "#777777"
STIMULATION_COLOR = "#9467bd"
SILENT_COLOR = "#555555"
PINNED_COLOR = "#9467bd"
GROUP_COLORS = ("#8c564b", "#e377c2", "#17becf", "#bcbd22", "#7f7f7f", "#9edae5", "#c49c94", "#f7b6d2")
VOLTAGE_COLORS = ("#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b")

RASTER_MAX_SPIKES = 20_000  # above this the raster draws a random subset (decimation)
TRACE_MAX_POINTS = 4_000  # voltage/output traces are reduced to a min/max envelope of this size
PINNED_FRACTION = 0.8  # a unit above 80% of 1/t_ref (400 Hz) is pinned at the refractory limit
PINNED_RATE = PINNED_FRACTION / TREF
HIST_BINS = 30
TIME_TOOLS = "xpan,xwheel_zoom,reset,save"
XY_TOOLS = "pan,wheel_zoom,box_zoom,reset,save"
LEFT_BORDER = 70  # same left margin on the time plots, so their time axes line up

HELP = {
    "output": (
        "The network output over time (readout w_out·r / λ, a.u.) in this trial, and the rate model's output for "
        "the same stimulus (orange). Green band: the decision window where the task scores the trial; grey: "
        "stimulus on; dashed lines: the thresholds (+0.7, and 0.3 that NoGo must stay under in go-nogo; ±0.7 in xor "
        "and mante). The title gives the verdict. Traces are min/max envelopes of at most 4 000 points, so short "
        "peaks stay visible."
    ),
    "raster": (
        "One row per unit, one mark per spike: excitatory units blue, inhibitory red (row order: 'Sort raster "
        "by'). Up to 20 000 spikes are all drawn; above that a random subset of 20 000 is drawn (decimation, no "
        "aggregation) and the title says so. Purple band: artificial stimulation. Scroll or drag on the time axis: "
        "raster, voltage and output move together."
    ),
    "voltage": (
        "Membrane voltage of the chosen units (mV). A unit fires when it reaches the threshold, -40 mV (dashed); "
        "the spike is drawn as a jump to +30 mV, then the unit is reset to -65 mV (dotted) and held for the 2 ms "
        "refractory period. Min/max envelope of at most 4 000 points per unit."
    ),
    "rates": (
        "Left: how many units fire at each mean rate in this trial (spikes from step 10 on, divided by the trial "
        "length), excitatory and inhibitory apart. Right: the synaptic decay constants the rate model learned "
        "(ms), which the LIF synapses inherit unchanged."
    ),
    "diagnostic": (
        "Each dot is a unit: its mean activity r in the rate model (x) against its LIF firing rate in this trial "
        "(y). A faithful conversion keeps units near the dashed line rate = λ·r, because the LIF readout divides "
        "by λ. Grey crosses: silent units (no spike); purple diamonds: units above 400 Hz, pinned near the "
        "refractory limit 1/t_ref = 500 Hz."
    ),
    "performance": (
        "Accuracy against λ: blue dots and line are this session's sweep with 95% Wilson intervals (band); thin "
        "dashed lines, the accuracy per condition; grey, the grid search stored in the model file. Star: the best "
        "λ (first maximum over fully scored λ); red dashed line: the slider's λ."
    ),
}


@dataclass
class Frame:
    """What one view shows at one moment: columns for each named data source, and a title."""

    sources: dict[str, dict[str, np.ndarray | list]]
    title: str
    extras: dict = field(default_factory=dict)  # view-specific settings (ranges, sizes, colours)


# --- pure helpers -------------------------------------------------------------------------

def envelope(times: np.ndarray, values: np.ndarray, max_points: int = TRACE_MAX_POINTS):
    """Reduce a trace to at most ``max_points`` by keeping each bin's minimum and maximum, in
    time order, so one-step events (spikes at +30 mV, threshold crossings) are never dropped."""
    times = np.asarray(times)
    values = np.asarray(values)
    n = values.shape[0]
    if n <= max_points:
        return times, values
    per_bin = int(np.ceil(2 * n / max_points))
    n_bins = n // per_bin
    head = values[: n_bins * per_bin].reshape(n_bins, per_bin)
    offsets = np.arange(n_bins) * per_bin
    low_at, high_at = head.argmin(axis=1), head.argmax(axis=1)
    index = np.empty(2 * n_bins, dtype=np.int64)
    index[0::2] = np.minimum(low_at, high_at) + offsets
    index[1::2] = np.maximum(low_at, high_at) + offsets
    if n_bins * per_bin < n:
        tail = np.arange(n_bins * per_bin, n)
        index = np.concatenate([index, [tail[values[tail].argmin()], tail[values[tail].argmax()]]])
    index = np.unique(index)  # sorted; a flat bin's minimum and maximum are one sample
    return times[index], values[index]


def unit_order(order: str, exc: np.ndarray, firing_rates: np.ndarray | None) -> np.ndarray:
    """Raster row of each unit: by index, by type (excitatory first) or by rate (highest on top)."""
    n = exc.size
    if order == "type":
        ranking = np.concatenate([np.flatnonzero(exc), np.flatnonzero(~exc)])
    elif order == "rate" and firing_rates is not None:
        ranking = np.argsort(-np.asarray(firing_rates), kind="stable")
    else:
        ranking = np.arange(n)
    rows = np.empty(n, dtype=np.int64)
    rows[ranking] = np.arange(n)
    return rows


def stimulus_spans(u: np.ndarray, dt_column: float = RATE_STEP_SECONDS) -> list[tuple[float, float]]:
    """Time spans (s) during which a time-varying input is on; constant inputs (context cues) are skipped."""
    u = np.atleast_2d(np.asarray(u))
    varying = u[np.ptp(u, axis=1) > 0]
    if varying.size == 0:
        return []
    active = (varying != 0).any(axis=0).astype(np.int8)
    edges = np.diff(np.concatenate([[0], active, [0]]))
    starts, stops = np.flatnonzero(edges == 1), np.flatnonzero(edges == -1)
    return [(float(a * dt_column), float(b * dt_column)) for a, b in zip(starts, stops)]


def stimulation_span(lif) -> list[tuple[float, float]]:
    """The artificial stimulation window in seconds (steps first <= i < stop; step i ends at i*dt)."""
    stim = lif.stimulation
    if stim.mode == "none" or stim.stop <= stim.first:
        return []
    dt = lif.drive.dt
    return [((stim.first - 1) * dt, (stim.stop - 1) * dt)]


def _compact(*columns):
    """float32 copies of plotted columns: half the bytes to send, far finer than a pixel."""
    return tuple(np.asarray(c, dtype=np.float32) for c in columns)


def _spans(spans) -> dict:
    spans = np.asarray(spans, dtype=float).reshape(-1, 2)
    return {"start": spans[:, 0], "end": spans[:, 1]}


def verdict(sim) -> str:
    """One line: the condition, whether the trial was correct, and why (the task's own comparison)."""
    if sim is None:
        return "no trial yet"
    outcome = sim.outcome
    statistic = "min" if outcome.label < 0 else "max"
    wants_above = outcome.label > 0
    holds = {True: ">" if wants_above else "<", False: "≤" if wants_above else "≥"}[outcome.correct]
    mark = "correct ✓" if outcome.correct else "incorrect ✗"
    return (f"{sim.stimulus.condition.name} trial, {mark} "
            f"({statistic} in window {outcome.extreme:.3f} {holds} {outcome.level:g})")


def _padded(low: float, high: float, fraction: float = 0.06) -> tuple[float, float]:
    if not np.isfinite(low) or not np.isfinite(high):
        return 0.0, 1.0
    pad = (high - low) * fraction if high > low else 0.5
    return low - pad, high + pad


# --- frames (pure) ------------------------------------------------------------------------

def output_frame(sim, max_points: int = TRACE_MAX_POINTS) -> Frame:
    """LIF and rate-model output, decision window, stimulus periods, thresholds, verdict."""
    empty = {"time": np.empty(0), "output": np.empty(0)}
    if sim is None:
        return Frame({"lif": empty, "rate": empty, "window": _spans([]), "stimulus": _spans([]),
                      "levels": {"level": np.empty(0)}}, "Network output: no trial yet", {"y_range": (-1, 1)})
    t, o = _compact(*envelope(sim.lif.times, sim.lif.out, max_points))
    rate = empty
    if sim.rate is not None:
        rate = {"time": np.arange(sim.rate.o.size) * RATE_STEP_SECONDS, "output": np.asarray(sim.rate.o)}
    levels = np.array([THRESHOLD, NOGO_CEILING] if sim.task.name == "go-nogo" else [THRESHOLD, -THRESHOLD])
    values = np.concatenate([o, rate["output"], levels])
    return Frame(
        {"lif": {"time": t, "output": o}, "rate": rate,
         "window": _spans([(sim.task.decision_start, sim.lif.drive.T)]),
         "stimulus": _spans(stimulus_spans(sim.stimulus.u)), "levels": {"level": levels}},
        f"Network output: {verdict(sim)}",
        {"y_range": _padded(values.min(), values.max()), "correct": sim.outcome.correct},
    )


def raster_frame(sim, order: str = "index", max_spikes: int = RASTER_MAX_SPIKES, seed: int = 0) -> Frame:
    """Spike times and rows by population; a random subset of ``max_spikes`` above that many."""
    empty = {"time": np.empty(0), "row": np.empty(0, dtype=np.int64), "unit": np.empty(0, dtype=np.int64)}
    if sim is None:
        return Frame({"exc": empty, "inh": empty, "stimulation": _spans([])}, "Spike raster",
                     {"n_units": 1, "order": order})
    lif = sim.lif
    steps, units = np.nonzero(lif.spikes)
    total = steps.size
    if total > max_spikes:
        keep = np.sort(np.random.default_rng(seed).choice(total, size=max_spikes, replace=False))
        steps, units = steps[keep], units[keep]
        title = f"Spike raster: {total:,} spikes; a random {max_spikes:,} are drawn (decimated)"
    else:
        title = f"Spike raster: {total:,} spikes, all drawn"
    rows = unit_order(order, lif.network.exc, lif.firing_rates)[units].astype(np.int32)
    times = ((steps + 1) * lif.drive.dt).astype(np.float32)  # step k+1 ends at (k+1)*dt
    units = units.astype(np.int32)
    is_exc = lif.network.exc[units]
    pick = lambda mask: {"time": times[mask], "row": rows[mask], "unit": units[mask]}  # noqa: E731
    return Frame({"exc": pick(is_exc), "inh": pick(~is_exc), "stimulation": _spans(stimulation_span(lif))},
                 title, {"n_units": lif.network.N, "order": order})


def voltage_frame(sim, units=(), max_points: int = TRACE_MAX_POINTS) -> Frame:
    """Envelopes of the chosen units' membrane voltage, one line each."""
    lines = {"xs": [], "ys": [], "label": [], "color": []}
    spans = []
    if sim is not None:
        lif = sim.lif
        times = lif.times
        for k, unit in enumerate(u for u in units if 0 <= u < lif.network.N):
            t, v = _compact(*envelope(times, lif.voltages[:, unit], max_points))
            lines["xs"].append(t)
            lines["ys"].append(v)
            lines["label"].append(f"unit {unit} ({'E' if lif.network.exc[unit] else 'I'})")
            lines["color"].append(VOLTAGE_COLORS[k % len(VOLTAGE_COLORS)])
        spans = stimulation_span(lif)
    shown = ", ".join(lines["label"]) if lines["label"] else "none chosen (see Display in the sidebar)"
    return Frame({"lines": lines, "stimulation": _spans(spans)}, f"Membrane voltage: {shown}")


def _histogram(values_exc, values_inh, bins: int = HIST_BINS) -> dict:
    values = np.concatenate([values_exc, values_inh])
    low, high = (float(values.min()), float(values.max())) if values.size else (0.0, 1.0)
    edges = np.linspace(low, high if high > low else low + 1.0, bins + 1)
    return {name: {"left": edges[:-1], "right": edges[1:], "top": np.histogram(v, edges)[0]}
            for name, v in (("exc", values_exc), ("inh", values_inh))}


def firing_rate_frame(sim) -> Frame:
    """Histogram of the LIF firing rates (Hz) by population."""
    if sim is None:
        return Frame(_histogram(np.empty(0), np.empty(0)), "Firing rates")
    rates, exc = sim.lif.firing_rates, sim.lif.network.exc
    mean = lambda x: f"{x.mean():.1f} Hz" if x.size else "none"  # noqa: E731
    return Frame(_histogram(rates[exc], rates[~exc]),
                 f"Firing rates: mean E {mean(rates[exc])}, I {mean(rates[~exc])}")


def decay_frame(model, use_initial_weights: bool = False) -> Frame:
    """Histogram of the synaptic decay constants (ms) by population."""
    if model is None:
        return Frame(_histogram(np.empty(0), np.empty(0)), "Synaptic decay constants")
    td = model.decay_constants(use_initial_weights and model.taus_gaus0 is not None) * 1e3
    return Frame(_histogram(td[model.exc], td[~model.exc]),
                 f"Decay constants: {td.min():.0f} to {td.max():.0f} ms")


def diagnostic_frame(sim) -> Frame:
    """LIF firing rate against rate-model activity per unit, silent and pinned units flagged."""
    empty = {"activity": np.empty(0), "rate": np.empty(0), "unit": np.empty(0, dtype=np.int64)}
    if sim is None or sim.rate is None:
        return Frame({"exc": empty, "inh": empty, "silent": empty, "pinned": empty,
                      "ideal": {"activity": np.empty(0), "rate": np.empty(0)}},
                     "Conversion diagnostic")
    lif = sim.lif
    activity = np.asarray(sim.rate.mean_rates)
    rates = lif.firing_rates
    units = np.arange(rates.size)
    pick = lambda mask: {"activity": activity[mask], "rate": rates[mask], "unit": units[mask]}  # noqa: E731
    exc = lif.network.exc
    silent = lif.spike_counts == 0
    pinned = rates >= PINNED_RATE
    top = float(max(activity.max(), 1e-9))
    lam = lif.network.scaling_factor
    return Frame(
        {"exc": pick(exc), "inh": pick(~exc), "silent": pick(silent), "pinned": pick(pinned),
         "ideal": {"activity": np.array([0.0, top]), "rate": np.array([0.0, top * lam])}},
        f"Conversion: {int(silent.sum())} silent, {int(pinned.sum())} pinned, of {rates.size} units",
    )


def performance_frame(snapshot=None, model=None, current_lambda: float | None = None) -> Frame:
    """Accuracy against lambda: sweep with 95% intervals, per-condition lines, stored grid, optimum."""
    nothing = np.empty(0)
    band = {"scaling_factor": nothing, "low": nothing, "high": nothing}
    sweep = {"scaling_factor": nothing, "accuracy": nothing, "n_trials": np.empty(0, dtype=np.int64)}
    groups = {"xs": [], "ys": [], "label": [], "color": []}
    best = {"scaling_factor": nothing, "accuracy": nothing}
    stored = {"scaling_factor": nothing, "accuracy": nothing}
    title = "Performance curve: run a sweep to draw it"
    if model is not None and model.all_perfs is not None and model.scaling_factors is not None \
            and model.all_perfs.size == model.scaling_factors.size:
        stored = {"scaling_factor": model.scaling_factors, "accuracy": model.all_perfs}
        title = "Performance curve: grid search stored in the model file (run a sweep for intervals)"
    if snapshot is not None:
        seen = snapshot.n_done > 0
        x = snapshot.scaling_factors[seen]
        band = {"scaling_factor": x, "low": snapshot.low[seen], "high": snapshot.high[seen]}
        sweep = {"scaling_factor": x, "accuracy": snapshot.accuracy[seen], "n_trials": snapshot.n_done[seen]}
        for k, (group, accuracy) in enumerate(snapshot.group_accuracy.items()):
            groups["xs"].append(x)
            groups["ys"].append(accuracy[seen])
            groups["label"].append(f"{group} trials")
            groups["color"].append(GROUP_COLORS[k % len(GROUP_COLORS)])
        if snapshot.optimum is not None:
            best = {"scaling_factor": np.array([snapshot.optimum[0]]), "accuracy": np.array([snapshot.optimum[1]])}
            title = f"Performance curve: best λ = {snapshot.optimum[0]:g} (accuracy {snapshot.optimum[1]:.2f})"
        elif not snapshot.finished:
            title = f"Performance curve: sweep running ({snapshot.done} / {snapshot.total} trials)"
    x_all = np.concatenate([np.asarray(band["scaling_factor"]), np.asarray(stored["scaling_factor"]),
                            [] if current_lambda is None else [current_lambda]])
    if band["scaling_factor"].size or stored["scaling_factor"].size:
        x_range = _padded(float(x_all.min()), float(x_all.max()))
    else:  # nothing scored yet: a generic range around the reference grid and the slider
        x_range = (0.0, max(100.0, 1.2 * float(x_all.max())) if x_all.size else 100.0)
    return Frame({"band": band, "sweep": sweep, "groups": groups, "best": best, "stored": stored}, title,
                 {"x_range": x_range, "lambda": current_lambda})


# --- figures ------------------------------------------------------------------------------

def _figure(title: str, x_label: str, y_label: str, height: int, tools: str = XY_TOOLS, **kwargs):
    fig = figure(title=title, height=height, sizing_mode="stretch_width", x_axis_label=x_label,
                 y_axis_label=y_label, tools=tools, toolbar_location="right", **kwargs)
    fig.toolbar.logo = None
    fig.title.text_font_size = "11pt"
    fig.min_border_left = LEFT_BORDER
    return fig


def _sources(frame: Frame, view_name: str) -> dict[str, ColumnDataSource]:
    """One data source per frame entry, named '<view>-<entry>' (the browser tests find them so)."""
    return {k: ColumnDataSource(dict(v), name=f"{view_name}-{k}") for k, v in frame.sources.items()}


def _finish_legend(fig, location="top_right"):
    """Inside the plot at ``location``, or 'above' it in a row (keeps the time axes aligned)."""
    if location == "above":
        legend = fig.legend[0]
        fig.add_layout(legend, "above")
        legend.orientation = "horizontal"
        legend.location = "top_left"
        legend.spacing = 14
    else:
        fig.legend.location = location
    fig.legend.click_policy = "hide"
    fig.legend.background_fill_alpha = 0.75
    fig.legend.label_text_font_size = "8pt"
    fig.legend.padding = 4
    if location != "above":
        fig.legend.spacing = 0


def _hide_empty_legend_items(fig) -> None:
    """A legend entry for a layer with nothing in it (no silent units, no stimulation) only confuses."""
    for legend in fig.legend:
        for item in legend.items:
            if isinstance(item.label, Field):
                continue  # one entry per data row (multi-line legends): empty data has no entries
            has_data = any(len(next(iter(r.data_source.data.values()), ())) > 0 for r in item.renderers)
            if item.visible != has_data:
                item.visible = has_data


def _same_columns(old: dict, new: dict) -> bool:
    if old.keys() != new.keys():
        return False
    for key, value in new.items():
        before = old[key]
        if isinstance(value, list) or isinstance(before, list):
            if len(value) != len(before) or any(not np.array_equal(a, b) for a, b in zip(value, before)):
                return False
        elif not np.array_equal(np.asarray(before), np.asarray(value)):
            return False
    return True


class View:
    """A Bokeh figure fed by named data sources; ``show`` swaps in a new frame."""

    def __init__(self, fig, sources: dict[str, ColumnDataSource]):
        self.figure = fig
        self.sources = sources

    def show(self, frame: Frame) -> None:
        """Swap in a frame; sources whose columns did not change are not sent again."""
        for name, data in frame.sources.items():
            source = self.sources[name]
            if not _same_columns(source.data, data):
                source.data = dict(data)
        if self.figure.title.text != frame.title:
            self.figure.title.text = frame.title
        self.apply(frame.extras)
        _hide_empty_legend_items(self.figure)

    def apply(self, extras: dict) -> None:
        """View-specific settings beyond the data (ranges, sizes)."""


def time_range(duration: float = 1.0) -> Range1d:
    """The x range shared by the time plots (bounded to the trial)."""
    return Range1d(0.0, duration, bounds=(0.0, duration), min_interval=0.002)


def set_time_range(x_range: Range1d, duration: float) -> None:
    x_range.update(bounds=(0.0, duration), start=0.0, end=duration, reset_start=0.0, reset_end=duration)


class OutputView(View):
    def __init__(self, x_range: Range1d, height: int = 280):
        frame = output_frame(None)
        sources = _sources(frame, "output")
        fig = _figure(frame.title, "Time (s)", "Network output (a.u.)", height, TIME_TOOLS, x_range=x_range,
                      y_range=Range1d(-1, 1), active_scroll="xwheel_zoom")
        fig.vstrip(x0="start", x1="end", source=sources["window"], fill_color=WINDOW_COLOR, fill_alpha=0.12,
                   line_alpha=0, legend_label="Decision window")
        fig.vstrip(x0="start", x1="end", source=sources["stimulus"], fill_color=STIMULUS_COLOR, fill_alpha=0.18,
                   line_alpha=0, legend_label="Stimulus on")
        fig.hspan(y="level", source=sources["levels"], line_color="black", line_dash="dashed", line_width=1,
                  legend_label="Thresholds")
        fig.line("time", "output", source=sources["rate"], color=RATE_MODEL_COLOR, line_width=2.5, alpha=0.85,
                 legend_label="Rate model, same stimulus")
        fig.line("time", "output", source=sources["lif"], color="black", line_width=1.3,
                 legend_label="LIF network")
        _finish_legend(fig, "above")
        super().__init__(fig, sources)

    def apply(self, extras):
        low, high = extras.get("y_range", (-1, 1))
        self.figure.y_range.update(start=low, end=high, reset_start=low, reset_end=high)
        correct = extras.get("correct")
        self.figure.title.text_color = {True: "#1a7f37", False: "#b42318"}.get(correct, "black")


class RasterView(View):
    def __init__(self, x_range: Range1d, height: int = 300):
        frame = raster_frame(None)
        sources = _sources(frame, "raster")
        fig = _figure(frame.title, "Time (s)", "Unit (row)", height, TIME_TOOLS, x_range=x_range,
                      y_range=Range1d(-0.5, 0.5), active_scroll="xwheel_zoom")
        fig.vstrip(x0="start", x1="end", source=sources["stimulation"], fill_color=STIMULATION_COLOR,
                   fill_alpha=0.15, line_alpha=0, legend_label="Stimulation")
        self.marks = [
            fig.scatter("time", "row", source=sources[name], marker="square", size=2.5, color=color,
                        line_alpha=0, legend_label=label)
            for name, color, label in (("exc", EXC_COLOR, "Excitatory"), ("inh", INH_COLOR, "Inhibitory"))
        ]
        fig.add_tools(HoverTool(renderers=self.marks, tooltips=[("unit", "@unit"), ("time", "@time{0.0000} s")]))
        _finish_legend(fig, "above")
        super().__init__(fig, sources)

    def apply(self, extras):
        n = extras.get("n_units", 1)
        self.figure.y_range.update(start=-0.5, end=n - 0.5, reset_start=-0.5, reset_end=n - 0.5, bounds=(-0.5, n - 0.5))
        size = float(np.clip(220.0 / max(n, 1), 2.0, 6.0))
        for mark in self.marks:
            mark.glyph.size = size
        order = {"index": "index", "type": "type: excitatory first", "rate": "firing rate"}
        self.figure.yaxis.axis_label = f"Unit (sorted by {order.get(extras.get('order'), 'index')})"


class VoltageView(View):
    def __init__(self, x_range: Range1d, height: int = 240):
        frame = voltage_frame(None)
        sources = _sources(frame, "voltage")
        fig = _figure(frame.title, "Time (s)", "Membrane voltage (mV)", height, TIME_TOOLS, x_range=x_range,
                      y_range=Range1d(-75, 38, bounds=(-90, 45)), active_scroll="xwheel_zoom")
        fig.vstrip(x0="start", x1="end", source=sources["stimulation"], fill_color=STIMULATION_COLOR,
                   fill_alpha=0.15, line_alpha=0)
        fig.multi_line("xs", "ys", source=sources["lines"], line_color="color", line_width=1, legend_field="label")
        for level, dash, text in ((VPEAK, "dashed", "threshold -40 mV"), (VRESET, "dotted", "reset -65 mV")):
            fig.add_layout(Span(location=level, dimension="width", line_color="black", line_dash=dash, line_width=1))
            fig.add_layout(Label(x=4, y=level, x_units="screen", text=text, text_font_size="8pt",
                                 text_color="#333333", y_offset=2))
        _finish_legend(fig, "above")
        super().__init__(fig, sources)


class HistogramView(View):
    def __init__(self, frame: Frame, x_label: str, name: str, height: int = 250):
        sources = _sources(frame, name)
        fig = _figure(frame.title, x_label, "Number of units", height)
        for name, color, label in (("exc", EXC_COLOR, "Excitatory"), ("inh", INH_COLOR, "Inhibitory")):
            fig.quad(left="left", right="right", bottom=0, top="top", source=sources[name], fill_color=color,
                     fill_alpha=0.45, line_color=color, line_alpha=0.6, legend_label=label)
        fig.y_range.start = 0
        _finish_legend(fig, "top_right")
        super().__init__(fig, sources)


class DiagnosticView(View):
    def __init__(self, height: int = 320):
        frame = diagnostic_frame(None)
        sources = _sources(frame, "diagnostic")
        fig = _figure(frame.title, "Rate-model activity r (mean over the trial)", "LIF firing rate (Hz)", height)
        fig.line("activity", "rate", source=sources["ideal"], color="black", line_dash="dashed",
                 legend_label="rate = λ·r")
        marks = [
            fig.scatter("activity", "rate", source=sources["exc"], color=EXC_COLOR, size=6, alpha=0.7,
                        legend_label="Excitatory"),
            fig.scatter("activity", "rate", source=sources["inh"], color=INH_COLOR, size=6, alpha=0.7,
                        legend_label="Inhibitory"),
            fig.scatter("activity", "rate", source=sources["silent"], marker="x", color=SILENT_COLOR, size=11,
                        line_width=2, legend_label="Silent"),
            fig.scatter("activity", "rate", source=sources["pinned"], marker="diamond", fill_alpha=0,
                        line_color=PINNED_COLOR, size=12, line_width=2, legend_label="Pinned (≥ 400 Hz)"),
        ]
        fig.add_tools(HoverTool(renderers=marks, tooltips=[("unit", "@unit"), ("r", "@activity{0.000}"),
                                                           ("rate", "@rate{0.0} Hz")]))
        _finish_legend(fig, "top_left")
        super().__init__(fig, sources)


class PerformanceView(View):
    def __init__(self, height: int = 320):
        frame = performance_frame(None)
        sources = _sources(frame, "performance")
        fig = _figure(frame.title, "Scaling factor λ", "Accuracy (fraction correct)", height,
                      x_range=Range1d(0, 100), y_range=Range1d(0, 1.03, bounds=(0, 1.03)))
        fig.varea(x="scaling_factor", y1="low", y2="high", source=sources["band"], fill_color="#1f77b4",
                  fill_alpha=0.18, legend_label="95% interval")
        fig.line("scaling_factor", "accuracy", source=sources["stored"], color="#999999", line_width=2,
                 legend_label="Stored in model file")
        fig.multi_line("xs", "ys", source=sources["groups"], line_color="color", line_dash="dashed", line_width=1.2,
                       legend_field="label")
        fig.line("scaling_factor", "accuracy", source=sources["sweep"], color="#1f77b4", line_width=2,
                 legend_label="Sweep")
        dots = fig.scatter("scaling_factor", "accuracy", source=sources["sweep"], color="#1f77b4", size=6,
                           legend_label="Sweep")
        fig.scatter("scaling_factor", "accuracy", source=sources["best"], marker="star", size=20,
                    fill_color="gold", line_color="black", legend_label="Best λ")
        self.marker = Span(location=0, dimension="height", line_color=INH_COLOR, line_dash="dashed", line_width=2,
                           visible=False)
        fig.add_layout(self.marker)
        fig.add_tools(HoverTool(renderers=[dots], tooltips=[("λ", "@scaling_factor"), ("accuracy", "@accuracy{0.00}"),
                                                            ("trials", "@n_trials")]))
        _finish_legend(fig, "bottom_left")  # accuracy is low at large lambda: keep the legend off the curve
        super().__init__(fig, sources)

    def apply(self, extras):
        low, high = extras.get("x_range", (0, 100))
        self.figure.x_range.update(start=low, end=high, reset_start=low, reset_end=high)
        self.mark(extras.get("lambda"))

    def mark(self, current_lambda: float | None) -> None:
        """Move the slider's λ marker (cheap: no data changes)."""
        self.marker.visible = current_lambda is not None
        if current_lambda is not None:
            self.marker.location = float(current_lambda)
            x_range = self.figure.x_range
            if not x_range.start <= current_lambda <= x_range.end:
                low, high = _padded(min(x_range.start, current_lambda), max(x_range.end, current_lambda), 0.02)
                x_range.update(start=low, end=high, reset_start=low, reset_end=high)

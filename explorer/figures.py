"""Bokeh figures for the dashboard's views, built once per session and fed frames.

A view class builds one figure with labelled axes (units included) and ``show(frame)`` swaps
its data sources. Swapping columns is a few milliseconds, which keeps a new trial on screen
quickly (a HoloViews DynamicMap re-render of the same figures cost several times more; the
population figures of reports use HoloViews). Raster, voltage and output share one x range,
so zooming or panning time in one moves all three.
"""

from __future__ import annotations

import math

import numpy as np
from bokeh.core.properties import value
from bokeh.core.property.vectorization import Field
from bokeh.models import (ColumnDataSource, FactorRange, FixedTicker, HoverTool, LabelSet, LinearAxis, Range1d,
                          Span)
from bokeh.plotting import figure

from rate2spike.explorer.frames import (EXC_COLOR, INH_COLOR, PINNED_COLOR, RATE_MODEL_COLOR, SILENT_COLOR,
                                        STIMULATION_COLOR, STIMULUS_COLOR, WINDOW_COLOR, Frame, decay_frame,
                                        diagnostic_frame, firing_rate_frame, lane_ticks, margin_frame,
                                        output_frame, padded, performance_frame, raster_frame, readout_frame,
                                        unit_frame, voltage_frame)
from rate2spike.explorer.text import canvas_text
from rate2spike.parameters import DEFAULT_PARAMETERS

TIME_TOOLS = "xpan,xwheel_zoom,reset,save"
XY_TOOLS = "pan,wheel_zoom,box_zoom,reset,save"
LEFT_BORDER = 70  # same left margin on the time plots, so their time axes line up


def _figure(title: str, x_label: str, y_label: str, height: int, tools: str = XY_TOOLS, **kwargs):
    """A figure of the page. No tool takes the mouse wheel until chosen in the toolbar: a wheel
    over a figure scrolls the page, as over any other part of it."""
    fig = figure(title=canvas_text(title), height=height, sizing_mode="stretch_width", x_axis_label=x_label,
                 y_axis_label=y_label, tools=tools, toolbar_location="right", active_scroll=None, **kwargs)
    fig.toolbar.logo = None
    fig.title.text_font_size = "11pt"
    fig.min_border_left = LEFT_BORDER
    return fig


def _sources(frame: Frame, view_name: str) -> dict[str, ColumnDataSource]:
    """One data source per frame entry, named '<view>-<entry>' (the browser tests find them so)."""
    return {k: ColumnDataSource(dict(v), name=f"{view_name}-{k}") for k, v in frame.sources.items()}


def _finish_legend(fig, location="top_right", ncols: int = 3):
    """Inside the plot at ``location``, or 'above' / 'below' it in rows (``ncols`` entries per row
    below), outside the data ('above' keeps the time axes aligned)."""
    if location in ("above", "below"):
        move_legend(fig, location, ncols if location == "below" else None)
        fig.legend.spacing = 14
    else:
        fig.legend.location = location
    fig.legend.click_policy = "hide"
    fig.legend.background_fill_alpha = 0.75
    fig.legend.label_text_font_size = "8pt"
    fig.legend.padding = 4
    if location not in ("above", "below"):
        fig.legend.spacing = 0


PRESENT_FONT_PX = 16  # Present mode: readable from the back of a lecture room (at least 14 px)


def present_style(fig, font_px: int = PRESENT_FONT_PX) -> None:
    """Large titles, axis labels, tick labels and legends, the legend beside the plot (outside
    the data): for a projector."""
    fig.title.text_font_size = f"{font_px + 2}px"
    for axis in (*fig.xaxis, *fig.yaxis):
        axis.axis_label_text_font_size = f"{font_px}px"
        axis.major_label_text_font_size = f"{font_px - 1}px"
    for legend in fig.legend:
        legend.label_text_font_size = f"{font_px - 1}px"
        legend.glyph_height = legend.glyph_width = font_px + 4
    move_legend(fig, "below", ncols=2)  # rows of two entries: a long legend wraps instead of running off


def move_legend(fig, side: str, ncols: int | None = None) -> None:
    """Put the figure's legend outside the data on ``side`` ('above' or 'below'), entries in a
    row (wrapped every ``ncols`` entries when given, so that a long legend in a narrow figure
    wraps instead of running off its edge), wherever the legend was before."""
    if not fig.legend:
        return
    legend = fig.legend[0]
    fig.center = [item for item in fig.center if item is not legend]
    fig.above = [item for item in fig.above if item is not legend]
    fig.below = [item for item in fig.below if item is not legend]
    fig.add_layout(legend, side)
    legend.orientation = "horizontal"
    legend.location = "top_left"
    if ncols is not None:
        legend.ncols = ncols


def _hide_empty_legend_items(fig) -> None:
    """A legend entry for a layer with nothing in it (no silent units, no stimulation) only
    confuses, and a legend with no entry left is not drawn at all (no empty box)."""
    for legend in fig.legend:
        shown = False
        for item in legend.items:
            has_data = any(len(next(iter(r.data_source.data.values()), ())) > 0 for r in item.renderers)
            if not isinstance(item.label, Field) and item.visible != has_data:
                item.visible = has_data  # field labels: one entry per data row, none for empty data
            shown = shown or has_data
        if legend.visible != shown:
            legend.visible = shown


def _arrays_equal(a: np.ndarray, b: np.ndarray) -> bool:
    """Equal shapes and values, NaN equal to NaN (the raster's ticks are separated by NaN)."""
    if a.dtype.kind == "f" or b.dtype.kind == "f":
        return a.shape == b.shape and np.array_equal(a, b, equal_nan=True)
    return np.array_equal(a, b)


def _same_columns(old: dict, new: dict) -> bool:
    if old.keys() != new.keys():
        return False
    for key, value in new.items():
        before = old[key]
        if isinstance(value, list) or isinstance(before, list):
            if len(value) != len(before) or any(not _arrays_equal(np.asarray(a), np.asarray(b))
                                                for a, b in zip(value, before)):
                return False
        elif not _arrays_equal(np.asarray(before), np.asarray(value)):
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
        title = canvas_text(frame.title)
        if self.figure.title.text != title:
            self.figure.title.text = title
        self.apply(frame.extras)
        _hide_empty_legend_items(self.figure)

    def apply(self, extras: dict) -> None:
        """View-specific settings beyond the data (ranges, sizes)."""


def time_range(duration: float = 1.0) -> Range1d:
    """The x range shared by the time plots (bounded to the trial)."""
    return Range1d(0.0, duration, bounds=(0.0, duration), min_interval=0.002)


def set_time_range(x_range: Range1d, duration: float) -> None:
    x_range.update(bounds=(0.0, duration), start=0.0, end=duration, reset_start=0.0, reset_end=duration)


def _time_figure(frame: Frame, name: str, y_label: str, height: int, x_range: Range1d, y_range: Range1d):
    """Sources and figure of a view over trial time (shared x range; the toolbar's wheel zoom zooms time)."""
    sources = _sources(frame, name)
    fig = _figure(frame.title, "Time (s)", y_label, height, TIME_TOOLS, x_range=x_range, y_range=y_range)
    return sources, fig


def _stimulation_band(fig, source, **style) -> None:
    fig.vstrip(x0="start", x1="end", source=source, fill_color=STIMULATION_COLOR, fill_alpha=0.15, line_alpha=0,
               **style)


class OutputView(View):
    def __init__(self, x_range: Range1d, height: int = 340, name: str = "output"):
        sources, fig = _time_figure(output_frame(None), name, "Network output (a.u.)", height, x_range,
                                    Range1d(-1, 1))
        fig.vstrip(x0="start", x1="end", source=sources["window"], fill_color=WINDOW_COLOR, fill_alpha=0.12,
                   line_alpha=0, legend_label="Decision window")
        fig.vstrip(x0="start", x1="end", source=sources["stimulus"], fill_color=STIMULUS_COLOR, fill_alpha=0.18,
                   line_alpha=0, legend_label="Stimulus on")
        # only while it is on; hatched, to read over the decision window's green
        _stimulation_band(fig, sources["stimulation"], legend_label="Stimulation", hatch_pattern="/",
                          hatch_color=STIMULATION_COLOR, hatch_alpha=0.5)
        fig.hspan(y="level", source=sources["levels"], line_color="black", line_dash="dashed", line_width=1,
                  legend_label="Thresholds")
        # the task's inputs as traces on their own axis (right): mante's noisy evidence, the pulses
        fig.extra_y_ranges = {"inputs": Range1d(-1, 1)}
        fig.add_layout(LinearAxis(y_range_name="inputs", axis_label="Task input (a.u.)"), "right")
        fig.multi_line("xs", "ys", source=sources["inputs"], line_color="color", line_width=1.2, alpha=0.8,
                       y_range_name="inputs", legend_field="label")
        fig.line("time", "output", source=sources["rate"], color=RATE_MODEL_COLOR, line_width=2.5, alpha=0.85,
                 legend_label="Rate model, same stimulus")
        fig.line("time", "output", source=sources["lif"], color="black", line_width=1.3,
                 legend_label="LIF network")
        _finish_legend(fig, "above")
        super().__init__(fig, sources)

    KEEP_WHILE_FILLED = 0.6  # keep the y-range while the data span at least this much of it

    def apply(self, extras):
        low, high = extras.get("y_range", (-1, 1))
        # a fixed range stays, so outputs at different λ compare
        if not extras.get("fixed_range") and not self._still_fits(extras.get("data_range")):
            self.figure.y_range.update(start=low, end=high, reset_start=low, reset_end=high)
        low, high = extras.get("input_range", (-1, 1))
        self.figure.extra_y_ranges["inputs"].update(start=low, end=high)
        correct = extras.get("correct")
        self.figure.title.text_color = {True: "#1a7f37", False: "#b42318"}.get(correct, "black")

    def _still_fits(self, data_range) -> bool:
        """True when the current y-range holds the new trace and is not much larger than it: the
        axis then stays put (steadier to read; a moved axis costs the browser a new layout)."""
        if data_range is None:
            return False
        low, high = data_range
        start, end = self.figure.y_range.start, self.figure.y_range.end
        return start < low and high < end and (high - low) >= self.KEEP_WHILE_FILLED * (end - start)


def spike_ticks(spikes: dict) -> dict:
    """Spikes (``time``, ``row``, ``unit`` per spike) as the vertices of one line of vertical
    ticks: each spike's lower and upper end, then a NaN that breaks the line. The browser strokes
    all ticks as one path; drawn as one marker each, 1,000 spikes cost Bokeh about 4.5 ms per
    paint (its per-marker style setting), 20,000 about 100 ms."""
    n = spikes["time"].size
    time = np.full(3 * n, np.nan, dtype=np.float32)
    row = np.full(3 * n, np.nan, dtype=np.float32)
    time[0::3] = time[1::3] = spikes["time"]
    rows = np.asarray(spikes["row"], dtype=np.float32)
    row[0::3] = rows - np.float32(TICK_HALF_HEIGHT)
    row[1::3] = rows + np.float32(TICK_HALF_HEIGHT)
    return {"time": time, "row": row, "unit": np.repeat(np.asarray(spikes["unit"], dtype=np.int32), 3)}


TICK_HALF_HEIGHT = 0.4  # a tick covers 80% of its row (rows: units, one per integer)


class RasterView(View):
    """Spike times by unit: one vertical tick per spike, excitatory and inhibitory in their
    colours. The frame gives spikes; the view draws them as ticks (``spike_ticks``)."""

    def __init__(self, x_range: Range1d, height: int = 360, name: str = "raster"):
        sources, fig = _time_figure(self._drawn(raster_frame(None)), name, "Unit (row)", height, x_range,
                                    Range1d(-0.5, 0.5))
        _stimulation_band(fig, sources["stimulation"], legend_label="Stimulation")
        # square caps: a tick stays at least one line width tall when rows are thinner than a pixel
        self.marks = [
            fig.line("time", "row", source=sources[name], color=color, line_width=2, line_cap="square",
                     legend_label=label)
            for name, color, label in (("exc", EXC_COLOR, "Excitatory"), ("inh", INH_COLOR, "Inhibitory"))
        ]
        fig.add_tools(HoverTool(renderers=self.marks, tooltips=[("unit", "@unit"), ("time", "@time{0.0000} s")]))
        _finish_legend(fig, "above")
        super().__init__(fig, sources)

    @staticmethod
    def _drawn(frame: Frame) -> Frame:
        return Frame({name: spike_ticks(data) if name in ("exc", "inh") else data
                      for name, data in frame.sources.items()}, frame.title, frame.extras)

    def show(self, frame: Frame) -> None:
        super().show(self._drawn(frame))

    def apply(self, extras):
        n = extras.get("n_units", 1)
        self.figure.y_range.update(start=-0.5, end=n - 0.5, reset_start=-0.5, reset_end=n - 0.5, bounds=(-0.5, n - 0.5))
        width = float(np.clip(300.0 / max(n, 1), 1.5, 3.0))  # px: thinner ticks when there are many rows
        for mark in self.marks:
            mark.glyph.line_width = width
        order = {"index": "index", "type": "type: excitatory on top", "rate": "firing rate, highest on top"}
        self.figure.yaxis.axis_label = f"Unit (sorted by {order.get(extras.get('order'), 'index')})"


class VoltageView(View):
    """The chosen units' membrane voltage, one lane per unit (stacked, never overlapping), the
    threshold (dashed) and reset (dotted) of each lane marked and labelled on the y axis, off the
    traces."""

    LANE_PX = 110  # height of one lane on screen

    def __init__(self, x_range: Range1d, height: int = 300, name: str = "voltage"):
        empty = voltage_frame(None)
        sources, fig = _time_figure(empty, name, "Membrane voltage (mV, one lane per unit)",
                                    height, x_range, Range1d(*empty.extras["y_range"]))
        _stimulation_band(fig, sources["stimulation"])
        fig.hspan(y="level", source=sources["thresholds"], line_color="black", line_dash="dashed", line_width=1)
        fig.hspan(y="level", source=sources["resets"], line_color="#555555", line_dash="dotted", line_width=1)
        fig.multi_line("xs", "ys", source=sources["lines"], line_color="color", line_width=1)
        fig.add_layout(LabelSet(x=6, y="y", x_units="screen", text="text", source=sources["lanes"],
                                text_font_size="9pt", text_color="#222222", background_fill_color="white",
                                background_fill_alpha=0.8, y_offset=-4, text_baseline="top"))
        fig.yaxis.ticker = FixedTicker(ticks=sorted(lane_ticks(DEFAULT_PARAMETERS, [0.0])))
        self.base_height = height
        super().__init__(fig, sources)

    def apply(self, extras):
        low, high = extras["y_range"]
        self.figure.y_range.update(start=low, end=high, reset_start=low, reset_end=high)
        ticks, axis = extras.get("ticks", {}), self.figure.yaxis[0]
        if ticks and list(axis.ticker.ticks) != sorted(ticks):  # changes only with the number of units
            axis.ticker.ticks = sorted(ticks)
            axis.major_label_overrides = dict(ticks)
        height = max(self.base_height, 60 + self.LANE_PX * extras.get("n_lanes", 1))
        if self.figure.height != height:
            self.figure.height = height


class HistogramView(View):
    def __init__(self, frame: Frame, x_label: str, name: str, height: int = 330):
        sources = _sources(frame, name)
        fig = _figure(frame.title, x_label, "Number of units", height)
        for name, color, label in (("exc", EXC_COLOR, "Excitatory"), ("inh", INH_COLOR, "Inhibitory")):
            fig.quad(left="left", right="right", bottom=0, top="top", source=sources[name], fill_color=color,
                     fill_alpha=0.45, line_color=color, line_alpha=0.6, legend_label=label)
        fig.y_range.start = 0
        _finish_legend(fig, "top_right")
        super().__init__(fig, sources)

    @classmethod
    def firing_rates(cls, name: str = "rates") -> "HistogramView":
        """LIF firing rates of the units in one trial, by population."""
        return cls(firing_rate_frame(None), "LIF firing rate (Hz)", name)

    @classmethod
    def decay_constants(cls, name: str = "decay") -> "HistogramView":
        """The synaptic decay constants of the model, by population."""
        return cls(decay_frame(None), "Synaptic decay constant (ms)", name)


class DiagnosticView(View):
    def __init__(self, height: int = 420, name: str = "diagnostic"):
        frame = diagnostic_frame(None)
        sources = _sources(frame, name)
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
                        line_color=PINNED_COLOR, size=12, line_width=2, legend_label=frame.extras["pinned_label"]),
        ]
        self.pinned_item = next(item for item in fig.legend[0].items if marks[-1] in item.renderers)
        fig.add_tools(HoverTool(renderers=marks, tooltips=[("unit", "@unit"), ("r", "@activity{0.000}"),
                                                           ("rate", "@rate{0.0} Hz")]))
        _finish_legend(fig, "below")
        super().__init__(fig, sources)

    def apply(self, extras):
        """The pinned units' legend entry names the trial's pinned rate (from its t_ref)."""
        label = value(extras["pinned_label"])
        if self.pinned_item.label != label:
            self.pinned_item.label = label


BAND_COLOR = "#2ca02c"  # the lambda band (green: "as good as the best")
STORED_COLOR = "#999999"  # the grid search stored in the model file
CURRENT_LAMBDA_COLOR = INH_COLOR  # the λ of the trial on screen (dashed)
FIDELITY_COLOR = "#9467bd"  # output fidelity (purple, apart from the accuracy blues and the E/I code)
RECOMMENDED_COLOR = "#2ca02c"  # the recommended λ (green, as the band it lies in)


class PerformanceView(View):
    """Accuracy against λ: the sweep with its intervals, condition lines, the λ band, the stored
    curve, the best and closest λ and the λ on screen; the output's correlation with the rate network
    on its own axis (right), so each axis names one quantity. ``compact`` (Present mode) keeps the
    legend to the entries a class needs; the other layers are drawn without an entry."""

    def __init__(self, height: int = 520, name: str = "performance", compact: bool = False):
        frame = performance_frame(None)
        sources = _sources(frame, name)
        fig = _figure(frame.title, "Scaling factor λ", "Accuracy (fraction correct)", height,
                      x_range=Range1d(0, 100), y_range=Range1d(0, 1.03, bounds=(0, 1.03)))
        fig.extra_y_ranges = {"correlation": Range1d(*frame.extras["correlation_range"])}
        fig.add_layout(LinearAxis(y_range_name="correlation", axis_label="Output correlation with the rate network",
                                  axis_label_text_color=FIDELITY_COLOR, major_label_text_color=FIDELITY_COLOR), "right")
        extra = (lambda label: {}) if compact else (lambda label: {"legend_label": label})  # noqa: E731
        short = (lambda long, brief: brief) if compact else (lambda long, brief: long)  # noqa: E731
        fig.vbar(x="scaling_factor", width="width", bottom=0, top=1.03, source=sources["lambda_band"],
                 fill_color=BAND_COLOR, fill_alpha=0.16, line_color=None,
                 legend_label=short("λ band (not significantly below the best)", "λ band"))
        fig.varea(x="scaling_factor", y1="low", y2="high", source=sources["band"], fill_color="#1f77b4",
                  fill_alpha=0.18, **extra("95% interval"))
        fig.line("scaling_factor", "accuracy", source=sources["stored"], color=STORED_COLOR, line_width=2,
                 legend_label=short("Grid search stored in the model file", "Stored in the file"))
        fig.multi_line("xs", "ys", source=sources["groups"], line_color="color", line_dash="dashed", line_width=1.2,
                       **({} if compact else {"legend_field": "label"}))
        fig.line("scaling_factor", "accuracy", source=sources["balanced"], color="#555555", line_width=1.5,
                 line_dash="dotdash", **extra("Balanced (mean over conditions)"))
        fig.line("scaling_factor", "accuracy", source=sources["sweep"], color="#1f77b4", line_width=2,
                 legend_label="Sweep")
        dots = fig.scatter("scaling_factor", "accuracy", source=sources["sweep"], color="#1f77b4", size=6,
                           legend_label="Sweep")
        fig.scatter("scaling_factor", "accuracy", source=sources["dropped"], marker="x", size=11, line_width=2,
                    color="#1f77b4", **extra("Dropped by the race"))
        fig.line("scaling_factor", "correlation", source=sources["fidelity"], color=FIDELITY_COLOR, line_width=2,
                 line_dash="dashed", y_range_name="correlation",
                 legend_label=short("Output vs rate network (correlation, right axis)", "Output correlation"))
        fig.scatter("scaling_factor", "correlation", source=sources["match"], marker="diamond", size=16,
                    fill_color=FIDELITY_COLOR, line_color="black", y_range_name="correlation",
                    legend_label=short("Closest output to the rate network", "Closest output"))
        fig.scatter("scaling_factor", "accuracy", source=sources["best"], marker="star", size=20,
                    fill_color="gold", line_color="black", legend_label=short("Best λ (first maximum, as the reference)",
                                                                                "Best λ"))
        fig.scatter("scaling_factor", "accuracy", source=sources["recommended"], marker="triangle", size=17,
                    fill_color=RECOMMENDED_COLOR, line_color="black",
                    legend_label=short("Recommended λ (output closest to the rate network's among the best)",
                                       "Recommended λ"))
        # on the overlay layer: moving it repaints that layer only, not the curves, axes and legend
        # (about 15 ms of the browser's time per λ change in headless Chromium)
        self.marker = Span(location=0, dimension="height", line_color=CURRENT_LAMBDA_COLOR, line_dash="dashed",
                           line_width=2, visible=False, level="overlay")
        fig.add_layout(self.marker)
        # its legend entry: an annotation has none, so a glyph of the same look stands for it, listed
        # while the marker shows; one point at NaN draws nothing on the plot (with no point at all,
        # Bokeh drew no line in the legend either)
        key = fig.line([math.nan], [math.nan], line_color=CURRENT_LAMBDA_COLOR, line_dash="dashed", line_width=2,
                       legend_label=short("λ of the trial on screen", "λ on screen"))
        self.marker_item = next(item for item in fig.legend[0].items if key in item.renderers)
        fig.add_tools(HoverTool(renderers=[dots], tooltips=[("λ", "@scaling_factor"), ("accuracy", "@accuracy{0.00}"),
                                                            ("trials", "@n_trials")]))
        _finish_legend(fig, "below", ncols=2)  # outside the data: the curve and its band stay uncovered
        super().__init__(fig, sources)

    def apply(self, extras):
        low, high = extras.get("x_range", (0, 100))
        self.figure.x_range.update(start=low, end=high, reset_start=low, reset_end=high)
        low, high = extras.get("correlation_range", (0.0, 1.03))
        self.figure.extra_y_ranges["correlation"].update(start=low, end=high)
        self.mark(extras.get("lambda"))

    def show(self, frame: Frame) -> None:
        super().show(frame)
        self.marker_item.visible = self.marker.visible  # the legend lists the marker while it shows

    def mark(self, current_lambda: float | None) -> None:
        """Move the slider's λ marker (cheap: no data changes)."""
        self.marker.visible = self.marker_item.visible = current_lambda is not None
        if current_lambda is not None:
            self.marker.location = float(current_lambda)
            x_range = self.figure.x_range
            if not x_range.start <= current_lambda <= x_range.end:
                low, high = padded(min(x_range.start, current_lambda), max(x_range.end, current_lambda), 0.02)
                x_range.update(start=low, end=high, reset_start=low, reset_end=high)


class MarginView(View):
    """Each sweep trial's scored value against lambda, by condition, with the thresholds."""

    def __init__(self, height: int = 520, name: str = "margins"):
        frame = margin_frame(None)
        sources = _sources(frame, name)
        fig = _figure(frame.title, "Scaling factor λ", "Scored value (window max, or min for −1 answers)", height,
                      x_range=Range1d(0, 100), y_range=Range1d(-1, 1))
        fig.hspan(y="level", source=sources["levels"], line_color="black", line_dash="dashed", line_width=1,
                  legend_label="Thresholds")
        dots = fig.scatter("scaling_factor", "value", source=sources["points"], color="color", size=5, alpha=0.6,
                           legend_field="group")
        fig.add_tools(HoverTool(renderers=[dots], tooltips=[("λ", "@lambda"), ("condition", "@group"),
                                                            ("value", "@value{0.000}")]))
        _finish_legend(fig, "top_right")
        super().__init__(fig, sources)

    def apply(self, extras):
        low, high = extras.get("x_range", (0, 100))
        self.figure.x_range.update(start=low, end=high, reset_start=low, reset_end=high)
        low, high = extras.get("y_range", (-1.0, 1.0))
        self.figure.y_range.update(start=low, end=high, reset_start=low, reset_end=high)


class UnitView(View):
    """λ·r of the rate network against one LIF unit's filtered spike train, over trial time."""

    def __init__(self, x_range: Range1d, height: int = 340, name: str = "unit"):
        sources, fig = _time_figure(unit_frame(None, 0), name, "Rate (Hz)", height, x_range, Range1d(0, 100))
        fig.line("time", "rate", source=sources["rate_model"], color=RATE_MODEL_COLOR, line_width=2.5, alpha=0.85,
                 legend_label="Rate network, λ·r")
        fig.line("time", "rate", source=sources["lif"], color="black", line_width=1.2,
                 legend_label="LIF unit, filtered spikes r")
        fig.scatter(x="time", y=0, source=sources["spikes"], marker="dash", angle=1.5708, size=10, color="black",
                    legend_label="Spikes")
        _finish_legend(fig, "above")
        super().__init__(fig, sources)

    def apply(self, extras):
        values = [v for v in (np.asarray(s.data["rate"]) for s in (self.sources["lif"], self.sources["rate_model"]))
                  if v.size]
        high = max((float(v.max()) for v in values), default=100.0)
        self.figure.y_range.update(start=-0.04 * high, end=1.08 * high if high > 0 else 1.0)


class ReadoutView(View):
    """The units that push the output most in the decision window (LIF bars, rate-network marks)."""

    def __init__(self, height: int = 400, name: str = "readout"):
        frame = readout_frame(None)
        sources = _sources(frame, name)
        fig = _figure(frame.title, "Unit (type)", "Contribution to the output (a.u.)", height,
                      x_range=FactorRange(factors=[]))
        fig.vbar(x="label", top="lif", source=sources["bars"], width=0.7, fill_color="color", line_color="color",
                 fill_alpha=0.6, legend_label="LIF: w_out·r/λ")
        fig.scatter("label", "rate_model", source=sources["bars"], marker="dash", size=22, line_width=3,
                    color="black", legend_label="Rate network: w_out·r")
        fig.add_layout(Span(location=0, dimension="width", line_color="#333333", line_width=1))
        fig.xaxis.major_label_orientation = 0.9
        _finish_legend(fig, "above")
        super().__init__(fig, sources)

    def apply(self, extras):
        labels = list(extras.get("labels", []))
        if list(self.figure.x_range.factors) != labels:
            self.figure.x_range.factors = labels
